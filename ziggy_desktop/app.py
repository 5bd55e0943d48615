"""The composition root: builds the core services and wires the server, the queue and the GUI together."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

from . import __version__
from .config import Settings
from .services import Services, open_services

if TYPE_CHECKING:
    from .server.api_server import ApiServer

log = logging.getLogger("ziggy.app")


def configure_logging(settings: Settings) -> None:
    logging.basicConfig(level=settings.log_level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s")
    # Tornado's own access/app loggers repeat what ours say, with full URIs: keep them quiet.
    logging.getLogger("tornado.access").setLevel(logging.WARNING)
    # httpx logs every request's full URL at INFO, and a REST block's URL may carry an API key in its
    # query: only at debug level, when the user asked for everything.
    if settings.log_level != "DEBUG":
        for name in ("httpx", "httpcore"):
            logging.getLogger(name).setLevel(logging.WARNING)


@dataclass
class Runtime:
    """A running core: services, the queue's workers and (unless its port was taken) the API server."""

    services: Services
    server: "ApiServer | None"
    db_pool: ThreadPoolExecutor
    api_error: str | None = None
    stop_housekeeping: threading.Event | None = None

    @property
    def url(self) -> str:
        if self.server is None:
            raise RuntimeError(self.api_error or "the API is not running")
        return self.server.url

    def shutdown(self, grace_seconds: float | None = None) -> None:
        """New runs refused, running runs given the grace period then marked, server stopped."""
        settings = self.services.settings
        grace = settings.shutdown_grace_seconds if grace_seconds is None else grace_seconds
        log.info("shutting down: refusing new runs, giving running runs %.0f s", grace)
        if self.stop_housekeeping is not None:
            self.stop_housekeeping.set()
        if self.services.queue is not None:
            self.services.queue.stop(grace)
        if self.server is not None:
            self.server.stop()
        self.db_pool.shutdown(wait=True)
        self.services.queue = None
        self.services.close()
        log.info("stopped")


def start_runtime(settings: Settings, *, require_api: bool = True) -> Runtime:
    """Open the services as queue owner, bind the port, resume the queue, serve.

    A taken port is an error for `serve`; the window (require_api=False) runs without the API and
    says why in its status bar.
    """
    from .errors import ZiggyError
    from .server.api_server import ApiServer
    from .server.base import ServerContext

    services = open_services(settings, run_flows=True)
    assert services.queue is not None
    db_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="ziggy-api-db")
    server: ApiServer | None = ApiServer(ServerContext(settings, services.executions, services.queue,
                                                       services.flows, db_pool, __version__,
                                                       named_queues=services.named_queues))
    api_error = None
    try:
        server.bind()
    except ZiggyError as exc:
        if require_api:
            db_pool.shutdown()
            services.close(0)
            raise
        server, api_error = None, exc.message
        log.warning("API not started: %s", exc.message)
    housekeep(services)
    services.queue.start(recover=True)
    if server is not None:
        server.start()
    stop_housekeeping = threading.Event()
    threading.Thread(target=_housekeeping_loop, args=(services, stop_housekeeping), name="ziggy-housekeeping",
                     daemon=True).start()
    return Runtime(services, server, db_pool, api_error, stop_housekeeping)


HOUSEKEEPING_INTERVAL = 600.0


def housekeep(services: Services) -> None:
    """Flush runs past the global retention (days) and past their flow's TIME_LIMITED_* retention (hours)."""
    days = services.settings.history_retention_days
    pruned = services.history.prune(days)
    if pruned:
        log.info("flushed %d run(s) older than %d days", pruned, days)
    expired = services.history.prune_time_limited(services.flows.time_limited_retention())
    if expired:
        log.info("flushed %d run(s) past their flow's retention hours", expired)


def _housekeeping_loop(services: Services, stop: threading.Event) -> None:
    while not stop.wait(HOUSEKEEPING_INTERVAL):
        try:
            housekeep(services)
        except Exception:  # noqa: BLE001 - a busy database now is fine next time
            log.warning("history housekeeping failed", exc_info=True)


def serve(settings: Settings) -> int:
    """`ziggy-desktop serve`: the API and the queue, headless, until SIGINT or SIGTERM."""
    configure_logging(settings)
    runtime = start_runtime(settings)
    print(f"Ziggy Desktop {__version__} is serving {runtime.url} (data in {settings.data_dir}). "
          f"Press Ctrl+C to stop.", file=sys.stderr, flush=True)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    while not stop.wait(0.5):
        pass
    runtime.shutdown()
    return 0


def run_gui(settings: Settings, argv: list[str] | None = None, quit_after_seconds: float | None = None) -> int:
    """`ziggy-desktop` with no sub-command: the window, with the server and the queue inside."""
    configure_logging(settings)
    from .errors import ZiggyError
    from .ui.application import create_application, show_startup_error
    from .ui.context import UiContext
    from .ui.main_window import MainWindow

    app = create_application(argv or sys.argv)
    try:
        runtime = start_runtime(settings, require_api=False)
    except ZiggyError as exc:
        show_startup_error(exc.message)
        return 2
    context = UiContext(runtime.services, runtime.server.url if runtime.server else None, runtime.api_error,
                        runtime.shutdown)
    window = MainWindow(context)
    window.show()
    log.info("window shown")
    if quit_after_seconds is not None:
        from PySide6.QtCore import QTimer

        QTimer.singleShot(int(quit_after_seconds * 1000), window.close)
    if runtime.api_error:
        from PySide6.QtWidgets import QMessageBox

        QMessageBox.warning(window, "The local API is off", f"{runtime.api_error}\n\nFlows still run from the "
                            "window; API launches need the port. Change it in Global Settings > Server.")
    return app.exec()
