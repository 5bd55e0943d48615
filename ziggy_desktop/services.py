"""The core services of one process: opened together, closed in order (no Qt, no tornado)."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from .audit import AuditLog
from .config import Settings
from .data_store import DataStore
from .db import DatabaseWriter, create_db_engine, init_schema
from .engine import RunResources
from .engine.script_pool import ScriptPool
from .engine.sql_engines import protect_database
from .errors import ZiggyError
from .events import EventBus
from .executions import ExecutionService
from .flows import FlowService
from .history import HistoryService
from .keys import KeyService
from .named_queues import NamedQueueStore
from .owner_lock import OwnerLock
from .system_queue import SystemQueue
from .vault import KEY_FILE_NAME, Vault

log = logging.getLogger("ziggy.services")


def owner_lock_path(settings: Settings) -> Path:
    sqlite_path = settings.sqlite_path
    return Path(f"{sqlite_path}.lock") if sqlite_path else settings.data_dir / "queue.lock"


def vault_key_path(settings: Settings) -> Path:
    return settings.data_dir / KEY_FILE_NAME


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
    named_queues: NamedQueueStore
    vault: Vault
    data_store: DataStore
    audit: AuditLog
    scripts: ScriptPool
    queue: SystemQueue | None = None
    lock: OwnerLock | None = None

    def close(self, grace_seconds: float | None = None) -> None:
        """Stop in order: no new runs, running runs get the grace period, then the database closes."""
        if self.queue is not None:
            self.queue.stop(self.settings.shutdown_grace_seconds if grace_seconds is None else grace_seconds)
        self.scripts.close()
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
    protect_database(settings.database_url)  # the sql block must never write to the app's own database
    try:
        init_schema(engine)
    except SQLAlchemyError as exc:
        engine.dispose()
        raise ZiggyError(f"Cannot open the database {settings.database_url}: {getattr(exc, 'orig', exc)}. Check "
                         f"ZIGGY_DATABASE_URL and that the folder is writable.", code="DATABASE_ERROR") from None
    writer = DatabaseWriter(engine)
    writer.start()
    flows = FlowService(engine)
    events = EventBus()
    named_queues = NamedQueueStore(engine)
    vault = Vault(engine, vault_key_path(settings))
    data_store = DataStore(engine, writer)
    audit = AuditLog(engine, writer)
    # Script workers are processes: a few are plenty, they are reused between calls.
    scripts = ScriptPool(max_workers=max(2, min(4, os.cpu_count() or 2)))
    resources = RunResources(vault=vault, data_store=data_store, audit=audit, scripts=scripts)
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
                                settings.max_system_queue_size, resources=resources, named_queues=named_queues)
    executions = ExecutionService(engine, writer, queue, settings.max_system_queue_size, audit=audit)
    return Services(settings, engine, writer, KeyService(engine), flows, events, executions, HistoryService(engine),
                    named_queues, vault, data_store, audit, scripts, queue, lock)
