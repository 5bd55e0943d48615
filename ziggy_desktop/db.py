"""Database engine, schema creation and versioned migrations, and the batching writer thread."""

from __future__ import annotations

import logging
import queue
import threading
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from sqlalchemy import event, select
from sqlalchemy.engine import Connection, Engine
from sqlmodel import SQLModel, create_engine

from .errors import ConfigError, ZiggyError
from .models import SchemaInfo

log = logging.getLogger("ziggy.db")

SCHEMA_VERSION = 2


def _add_edge_samples(conn: Connection) -> None:
    # New tables (audit, data store, secrets, ...) come from create_all; only new columns need this.
    conn.exec_driver_sql("ALTER TABLE execution ADD COLUMN edges_json TEXT")


# Each entry upgrades the schema from its key to key + 1; later releases append here so a user's
# data is migrated rather than lost.
MIGRATIONS: dict[int, Callable[[Connection], None]] = {1: _add_edge_samples}


def create_db_engine(database_url: str) -> Engine:
    """An engine with SQLite tuned for a shared desktop database: WAL, durable commits, waits."""
    is_sqlite = database_url.startswith("sqlite")
    connect_args = {"check_same_thread": False, "timeout": 30} if is_sqlite else {}
    engine = create_engine(database_url, connect_args=connect_args)
    if is_sqlite:
        # pysqlite's own transaction handling breaks SAVEPOINTs and cannot BEGIN IMMEDIATE; take
        # it over, as SQLAlchemy's SQLite documentation recommends.
        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection, _record):
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            # FULL: a 202 means the row survives a power cut, not only a crash.
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _on_begin(connection):
            mode = connection.get_execution_options().get("sqlite_begin", "")
            connection.exec_driver_sql(f"BEGIN {mode}".strip())

    return engine


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A transaction that takes SQLite's write lock up front.

    A deferred transaction that reads and then writes fails at once with 'database is locked' when
    another connection commits in between (busy_timeout does not apply to that upgrade); BEGIN
    IMMEDIATE waits its turn instead.
    """
    with engine.connect().execution_options(sqlite_begin="IMMEDIATE") as conn, conn.begin():
        yield conn


def init_schema(engine: Engine) -> int:
    """Create the tables on first start, migrate older databases; return the schema version."""
    # Under the write lock: several processes opening a new database at once must queue, not
    # race between "which tables exist" and "create them".
    with write_transaction(engine) as conn:
        SQLModel.metadata.create_all(conn)
        row = conn.execute(select(SchemaInfo.version).where(SchemaInfo.id == 1)).first()
        version = row[0] if row else None
        if version is None:
            conn.execute(SchemaInfo.__table__.insert().values(id=1, version=SCHEMA_VERSION))
            version = SCHEMA_VERSION
        elif version > SCHEMA_VERSION:
            raise ConfigError(
                f"The database was written by a newer Ziggy Desktop (schema {version}, this one knows "
                f"{SCHEMA_VERSION}). Install the newer version or set ZIGGY_DATABASE_URL to another database."
            )
        while version < SCHEMA_VERSION:
            log.info("migrating database schema %d -> %d", version, version + 1)
            MIGRATIONS[version](conn)
            version += 1
            conn.execute(SchemaInfo.__table__.update().where(SchemaInfo.id == 1).values(version=version))
    return version


class CompiledStatement:
    """A SQLAlchemy statement compiled once for a dialect and executed on the raw DBAPI cursor.

    For the few statements every run executes: SQLAlchemy's per-execution bookkeeping costs
    several times what SQLite spends on the statement itself. Values must be plain Python
    types (str, int, float, bool, None) that the driver takes as they are.
    """

    def __init__(self, statement: Any, dialect: Any):
        self._compiled = statement.compile(dialect=dialect)
        self.sql = str(self._compiled)
        self._order = self._compiled.positiontup if self._compiled.positional else None

    def execute(self, cursor: Any, values: dict[str, Any]) -> int:
        """Run it with `values` (by bind name); returns the number of rows it changed."""
        params = self._compiled.construct_params(values)
        cursor.execute(self.sql, tuple(params[name] for name in self._order) if self._order else params)
        return cursor.rowcount


@dataclass
class WriteBatch:
    """Shared by the operations of one batch (one transaction): after-commit callbacks, counters,
    a cache of rows that cannot change within the transaction (a key, a flow), and the raw cursor
    for CompiledStatements."""

    cursor: Any = None
    pending: dict[str, int] = field(default_factory=dict)
    cache: dict[Any, Any] = field(default_factory=dict)
    _after_commit: list[Callable[[], None]] = field(default_factory=list)

    def after_commit(self, callback: Callable[[], None]) -> None:
        self._after_commit.append(callback)


WriteOp = Callable[[Connection, WriteBatch], Any]


@dataclass
class _Job:
    op: WriteOp
    future: Future
    callbacks: list[Callable[[], None]] = field(default_factory=list)


class DatabaseWriter:
    """One thread that owns all hot-path writes and commits them in groups.

    Many launches arriving together share one durable commit (group commit), so a fsync per
    request does not cap throughput; each caller still hears back only after its row is on disk.
    Each operation runs in its own SAVEPOINT so one failing request never spoils its neighbours.
    """

    MAX_BATCH = 500

    def __init__(self, engine: Engine):
        self._engine = engine
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._loop, name="ziggy-db-writer", daemon=True)
        self._stopped = threading.Event()
        self._started = False

    def start(self) -> None:
        if not self._started:
            self._started = True
            self._thread.start()

    def submit(self, op: WriteOp) -> Future:
        """Queue `op(conn, batch)`; the future resolves with its return value after the commit.

        Cancelling the future before the writer reaches it means the op never runs.
        """
        if self._stopped.is_set():
            raise ZiggyError("The database writer has stopped; restart Ziggy Desktop.", code="SHUTTING_DOWN",
                             http_status=503)
        future: Future = Future()
        self._jobs.put(_Job(op, future))
        return future

    def run(self, op: WriteOp, timeout: float | None = 60) -> Any:
        """Submit and wait: for callers on worker threads and the command line."""
        return self.submit(op).result(timeout)

    def stop(self) -> None:
        """Commit everything already submitted, then end the thread."""
        if self._started and not self._stopped.is_set():
            self._stopped.set()
            self._jobs.put(None)
            self._thread.join()

    def _loop(self) -> None:
        conn = self._engine.connect().execution_options(sqlite_begin="IMMEDIATE")
        try:
            while True:
                first = self._jobs.get()
                if first is None:
                    return
                jobs = [first]
                stop_after = False
                while len(jobs) < self.MAX_BATCH:
                    try:
                        nxt = self._jobs.get_nowait()
                    except queue.Empty:
                        break
                    if nxt is None:
                        stop_after = True
                        break
                    jobs.append(nxt)
                # A caller that gave up (its server loop was cancelled at shutdown) gets no row.
                jobs = [job for job in jobs if job.future.set_running_or_notify_cancel()]
                if jobs:
                    self._run_batch(conn, jobs)
                if stop_after:
                    return
        finally:
            conn.close()

    def _run_batch(self, conn: Connection, jobs: list[_Job]) -> None:
        results: list[tuple[_Job, Any, BaseException | None]] = []
        try:
            with conn.begin():
                # Savepoints go straight to the driver: through SQLAlchemy each one cost more than the
                # insert it protects.
                cursor = conn.connection.cursor()
                batch = WriteBatch(cursor=cursor)
                for job in jobs:
                    batch._after_commit = job.callbacks
                    cursor.execute("SAVEPOINT ziggy_op")
                    try:
                        value = job.op(conn, batch)
                    except BaseException as exc:  # noqa: BLE001 - handed to the caller's future
                        cursor.execute("ROLLBACK TO SAVEPOINT ziggy_op")
                        cursor.execute("RELEASE SAVEPOINT ziggy_op")
                        job.callbacks.clear()
                        if not isinstance(exc, ZiggyError):
                            log.exception("database write failed")
                        results.append((job, None, exc))
                    else:
                        cursor.execute("RELEASE SAVEPOINT ziggy_op")
                        results.append((job, value, None))
                cursor.close()
        except BaseException as exc:  # noqa: BLE001 - the commit itself failed: nobody's row is safe
            log.exception("database commit failed")
            for job in jobs:
                job.future.set_exception(exc)
            return
        for job, value, error in results:
            for callback in job.callbacks:
                try:
                    callback()
                except Exception:  # noqa: BLE001 - a listener's bug must not lose the answer
                    log.exception("after-commit callback failed")
            if error is None:
                job.future.set_result(value)
            else:
                job.future.set_exception(error)
