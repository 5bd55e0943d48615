"""The composition root: builds the core services and wires the server, the queue (and later the GUI)."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.engine import Engine

from . import __version__
from .config import Settings
from .db import DatabaseWriter, create_db_engine, init_schema
from .events import EventBus
from .executions import ExecutionService
from .flows import FlowService
from .history import HistoryService
from .keys import KeyService
from .owner_lock import OwnerLock
from .system_queue import SystemQueue

if TYPE_CHECKING:
    from .server.api_server import ApiServer

log = logging.getLogger("ziggy.app")


def configure_logging(settings: Settings) -> None:
    logging.basicConfig(level=settings.log_level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s")
    # Tornado's own access/app loggers repeat what ours say, with full URIs: keep them quiet.
    logging.getLogger("tornado.access").setLevel(logging.WARNING)


def owner_lock_path(settings: Settings) -> Path:
    sqlite_path = settings.sqlite_path
    return Path(f"{sqlite_path}.lock") if sqlite_path else settings.data_dir / "queue.lock"


@dataclass
class Services:
    settings: Settings
    engine: Engine
    writer: DatabaseWriter
    keys: KeyService
    flows: FlowService
    events: EventBus
    executions: ExecutionService
    history: HistoryService
    queue: SystemQueue | None = None
    lock: OwnerLock | None = None

    def close(self, grace_seconds: float | None = None) -> None:
        """Stop in order: no new runs, running runs get the grace period, then the database closes."""
        if self.queue is not None:
            self.queue.stop(self.settings.shutdown_grace_seconds if grace_seconds is None else grace_seconds)
        self.writer.stop()
        self.engine.dispose()
        if self.lock is not None:
            self.lock.release()


def open_services(settings: Settings, *, run_flows: bool | None) -> Services:
    """Open the database and services.

    run_flows=True: this process must own the queue (server, window); fails if another does.
    run_flows=None: own the queue if nobody else does (the CLI's `run`). False: never (keys, flows).
    """
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    if settings.sqlite_path is not None:
        settings.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
    engine = create_db_engine(settings.database_url)
    init_schema(engine)
    writer = DatabaseWriter(engine)
    writer.start()
    flows = FlowService(engine)
    events = EventBus()
    lock = None
    queue = None
    if run_flows is not False:
        lock = OwnerLock(owner_lock_path(settings))
        if run_flows:
            lock.acquire()
        elif not lock.try_acquire():
            lock = None
        if lock is not None:
            queue = SystemQueue(engine, writer, flows, events, settings.max_concurrent_jobs,
                                settings.max_system_queue_size)
    executions = ExecutionService(engine, writer, queue, settings.max_system_queue_size)
    return Services(settings, engine, writer, KeyService(engine), flows, events, executions, HistoryService(engine),
                    queue, lock)


@dataclass
class Runtime:
    """A running core: services, the queue's workers and the API server thread."""

    services: Services
    server: "ApiServer"
    db_pool: ThreadPoolExecutor

    @property
    def url(self) -> str:
        return self.server.url

    def shutdown(self, grace_seconds: float | None = None) -> None:
        """New runs refused, running runs given the grace period then marked, server stopped."""
        settings = self.services.settings
        grace = settings.shutdown_grace_seconds if grace_seconds is None else grace_seconds
        log.info("shutting down: refusing new runs, giving running runs %.0f s", grace)
        if self.services.queue is not None:
            self.services.queue.stop(grace)
        self.server.stop()
        self.db_pool.shutdown(wait=True)
        self.services.queue = None
        self.services.close()
        log.info("stopped")


def start_runtime(settings: Settings) -> Runtime:
    """Open the services as queue owner, bind the port (failing cleanly), resume the queue, serve."""
    from .server.api_server import ApiServer
    from .server.base import ServerContext

    services = open_services(settings, run_flows=True)
    assert services.queue is not None
    db_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="ziggy-api-db")
    server = ApiServer(ServerContext(settings, services.executions, services.queue, services.flows, db_pool,
                                     __version__))
    try:
        server.bind()
    except Exception:
        db_pool.shutdown()
        services.close(0)
        raise
    pruned = services.history.prune(settings.history_retention_days)
    if pruned:
        log.info("flushed %d run(s) older than %d days", pruned, settings.history_retention_days)
    services.queue.start(recover=True)
    server.start()
    return Runtime(services, server, db_pool)


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
