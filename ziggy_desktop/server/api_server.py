"""Runs the Tornado application on its own thread and asyncio loop, bound before it starts."""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
import threading

from tornado.httpserver import HTTPServer
from tornado.ioloop import IOLoop
from tornado.netutil import bind_sockets
from tornado.web import Application

from ..errors import ZiggyError
from .base import NotFoundHandler, ServerContext, log_request
from .handlers import make_routes

log = logging.getLogger("ziggy.server")


def make_application(ctx: ServerContext) -> Application:
    return Application(make_routes(ctx), default_handler_class=NotFoundHandler,
                       default_handler_args={"ctx": ctx}, log_function=log_request, xsrf_cookies=False,
                       serve_traceback=False, compress_response=False)


class ApiServer:
    """bind() in the caller's thread (so 'port in use' is a clean error), then start() the thread."""

    def __init__(self, ctx: ServerContext):
        self.ctx = ctx
        self._sockets: list[socket.socket] = []
        self._thread: threading.Thread | None = None
        self._ioloop: IOLoop | None = None
        self._stopped: asyncio.Event | None = None
        self._ready = threading.Event()
        self.port = ctx.settings.port

    def bind(self) -> None:
        settings = self.ctx.settings
        try:
            self._sockets = bind_sockets(settings.port, address=settings.host, backlog=1024)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise ZiggyError(
                    f"Port {settings.port} on {settings.host} is already in use: another Ziggy Desktop (or another "
                    f"program) is listening there. Close it, or set ZIGGY_PORT to a free port.",
                    code="PORT_IN_USE") from None
            raise ZiggyError(f"Cannot listen on {settings.host}:{settings.port}: {exc.strerror}. Check ZIGGY_HOST "
                             f"and ZIGGY_PORT.", code="BIND_FAILED") from None
        self.port = self._sockets[0].getsockname()[1]

    def start(self) -> None:
        if not self._sockets:
            self.bind()
        self._thread = threading.Thread(target=self._run, name="ziggy-api-server", daemon=True)
        self._thread.start()
        self._ready.wait(10)

    def _run(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        self._ioloop = IOLoop.current()
        self._stopped = asyncio.Event()
        server = HTTPServer(make_application(self.ctx), max_body_size=self.ctx.settings.max_body_bytes,
                            idle_connection_timeout=120, body_timeout=120)
        server.add_sockets(self._sockets)
        log.info("API listening on %s", self.url)
        self._ready.set()
        await self._stopped.wait()
        server.stop()
        await server.close_all_connections()

    def stop(self) -> None:
        """Stop listening and close connections; safe to call from any thread, more than once."""
        if self._ioloop is not None and self._stopped is not None and self._thread is not None:
            # The only call from another thread into Tornado's loop: add_callback.
            self._ioloop.add_callback(self._stopped.set)
            self._thread.join(10)
            self._thread = None
        for sock in self._sockets:
            sock.close()
        self._sockets = []

    @property
    def url(self) -> str:
        host = self.ctx.settings.base_url.rsplit(":", 1)[0]
        return f"{host}:{self.port}"
