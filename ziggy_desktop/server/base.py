"""The base handler: JSON errors everywhere, loopback Host check, key extraction, off-loop DB calls."""

from __future__ import annotations

import asyncio
import json
import logging
from concurrent.futures import Executor
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Callable
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from sqlalchemy.exc import OperationalError
from tornado.web import HTTPError, RequestHandler

from ..config import Settings, is_loopback_name
from ..errors import ValidationError, ZiggyError
from ..executions import ExecutionService
from ..flows import FlowService
from ..named_queues import NamedQueueStore
from ..system_queue import SystemQueue

log = logging.getLogger("ziggy.server")

_HTTP_CODES = {400: "BAD_REQUEST", 401: "UNAUTHORIZED", 403: "FORBIDDEN", 404: "ROUTE_NOT_FOUND",
               405: "METHOD_NOT_ALLOWED", 413: "PAYLOAD_TOO_LARGE", 500: "INTERNAL_ERROR", 503: "UNAVAILABLE"}


@dataclass(frozen=True)
class ServerContext:
    """The core services a handler may use, injected through initialize()."""

    settings: Settings
    executions: ExecutionService
    queue: SystemQueue
    flows: FlowService
    db_pool: Executor  # SQLite reads run here so the loop never waits on the database
    version: str
    named_queues: NamedQueueStore | None = None


def host_name(host_header: str) -> str:
    """'localhost:3000' -> 'localhost', '[::1]:3000' -> '::1'."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1:host.find("]")] if "]" in host else host
    if host.count(":") == 1:
        return host.split(":", 1)[0]
    return host


def is_allowed_host(host_header: str | None, settings: Settings) -> bool:
    if "*" in settings.allowed_hosts:
        return True
    name = host_name(host_header or "")
    # The bound address is allowed too, unless it is the wildcard (browsers can address 0.0.0.0).
    bound = settings.host.lower() not in ("0.0.0.0", "::", "") and name == settings.host.lower()
    return is_loopback_name(name) or name in settings.allowed_hosts or bound


def _is_database_busy(exc: BaseException | None) -> bool:
    return isinstance(exc, OperationalError) and "locked" in str(exc).lower()


class BaseHandler(RequestHandler):
    ctx: ServerContext

    def initialize(self, ctx: ServerContext) -> None:
        self.ctx = ctx

    def set_default_headers(self) -> None:
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        self.set_header("X-Content-Type-Options", "nosniff")

    def prepare(self) -> None:
        # DNS-rebinding protection: a web page cannot reach us through a hostile name.
        if not is_allowed_host(self.request.headers.get("Host"), self.ctx.settings):
            raise ZiggyError(
                "This server only answers requests addressed to localhost. Use http://localhost:PORT, or add the "
                "host name to ZIGGY_ALLOWED_HOSTS.", code="HOST_NOT_ALLOWED", http_status=403)

    def check_xsrf_cookie(self) -> None:
        """Callers authenticate with an execution key, not cookies: there is nothing to forge."""

    def execution_key(self) -> str | None:
        key = self.request.headers.get("execution-key") or self.get_query_argument("execution-key", None)
        if key:
            return key.strip()
        authorization = self.request.headers.get("Authorization", "")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
        return None

    def write_json(self, data: Any, status: int = 200) -> None:
        self.set_status(status)
        self.finish(json.dumps(data, ensure_ascii=False, separators=(",", ":")))

    async def in_db_thread(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self.ctx.db_pool, fn, *args)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, ZiggyError):
            status_code, code, message = exc.http_status, exc.code, exc.message
            retry_after = getattr(exc, "retry_after_seconds", None)
            if retry_after:
                self.set_header("Retry-After", str(retry_after))
        elif _is_database_busy(exc):
            status_code, code = 503, "DATABASE_BUSY"
            message = "The database is busy (a large flush or import may be running); retry in a few seconds."
            self.set_header("Retry-After", "5")
        elif isinstance(exc, HTTPError) and exc.log_message and status_code < 500:
            code, message = _HTTP_CODES.get(status_code, "HTTP_ERROR"), exc.log_message % exc.args
        elif status_code == 405:
            code = "METHOD_NOT_ALLOWED"
            allowed = ", ".join(self.SUPPORTED_METHODS)
            message = f"{self.request.method} is not allowed on {self.request.path}; use {allowed}."
            self.set_header("Allow", allowed)
        elif status_code >= 500:
            code, message = "INTERNAL_ERROR", "Ziggy Desktop hit an internal error; the log has the details."
        else:
            code = _HTTP_CODES.get(status_code, "HTTP_ERROR")
            message = HTTPStatus(status_code).phrase if status_code in HTTPStatus._value2member_map_ else code
        self.set_status(status_code)
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.finish(json.dumps({"error": {"code": code, "message": message}}, ensure_ascii=False))

    def log_exception(self, typ, value, tb) -> None:  # noqa: ANN001 - Tornado's signature
        if isinstance(value, (ZiggyError, HTTPError)) or _is_database_busy(value):
            return  # the user's mistake or a busy database, answered in the body
        # Not Tornado's own logging: it writes the full URI, execution key included.
        log.error("internal error on %s %s", self.request.method, redacted_uri(self.request.uri or ""),
                  exc_info=(typ, value, tb))

    def decode_argument(self, value: bytes, name: str | None = None) -> str:
        """Tornado's version quotes the bytes in its error, which could echo an execution key."""
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            raise ValidationError(f"The {name or 'request'} parameter is not valid UTF-8 text.",
                                  code="INVALID_ENCODING") from None


class NotFoundHandler(BaseHandler):
    """Answers every unknown route with a JSON 404 rather than Tornado's HTML page."""

    def prepare(self) -> None:
        super().prepare()
        raise ZiggyError(f"There is no route {self.request.path}. GET /api/ziggy/openapi.json lists every route.",
                         code="ROUTE_NOT_FOUND", http_status=404)


def redacted_uri(uri: str) -> str:
    """The request URI with any execution key in the query replaced, for logs."""
    parts = urlsplit(uri)
    if not parts.query:
        return uri
    query = [(k, "***" if k.lower() in ("execution-key", "key", "token") else v)
             for k, v in parse_qsl(parts.query, keep_blank_values=True)]
    return urlunsplit(parts._replace(query=urlencode(query)))


access_log = logging.getLogger("ziggy.server.access")


def log_request(handler: RequestHandler) -> None:
    """Access log: method, path and status; the query (keys redacted) only at debug level."""
    status = handler.get_status()
    elapsed_ms = 1000.0 * handler.request.request_time()
    level = logging.WARNING if status >= 500 else logging.INFO if status >= 400 else logging.DEBUG
    if access_log.isEnabledFor(logging.DEBUG):
        access_log.log(level, "%d %s %s %.1fms", status, handler.request.method,
                       redacted_uri(handler.request.uri or ""), elapsed_ms)
    else:
        access_log.log(level, "%d %s %s %.1fms", status, handler.request.method, handler.request.path, elapsed_ms)
