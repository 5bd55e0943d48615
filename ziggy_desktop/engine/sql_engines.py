"""A process-wide cache of SQLAlchemy engines for the sql block's connections, one per database URL."""

from __future__ import annotations

import os
import threading
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from ..errors import ZiggyError

# SQLite waits this long for another connection's write lock before "database is locked".
SQLITE_BUSY_TIMEOUT_SECONDS = 30
# PostgreSQL: how long connecting may take before the driver gives up.
CONNECT_TIMEOUT_SECONDS = 15

_lock = threading.Lock()
_engines: dict[str, Engine] = {}
_protected: list[URL] = []


class SqlUrlError(ZiggyError):
    """A connection's URL cannot be used (malformed, unknown driver, the app's own database)."""

    code = "SQL_CONNECTION_ERROR"


def safe_url(url: str | URL) -> str:
    """The URL as it may be shown or logged: the password replaced by ***."""
    try:
        parsed = url if isinstance(url, URL) else make_url(url)
    except (ArgumentError, ValueError):
        return "(an unreadable database URL)"
    return parsed.render_as_string(hide_password=True)


def normalize_url(url: str) -> URL:
    """Parse a connection's URL; plain postgres URLs use psycopg (3), the driver Ziggy ships."""
    try:
        parsed = make_url(url.strip())
    except (ArgumentError, ValueError):
        raise SqlUrlError("the connection's URL is not a database URL; use e.g. sqlite:////path/to/file.db or "
                          "postgresql://user:password@host:5432/dbname") from None
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def _database_identity(url: URL) -> tuple[Any, ...]:
    """What names one database, whatever the driver or credentials."""
    backend = url.get_backend_name()
    if backend == "sqlite":
        database = url.database or ""
        if database in ("", ":memory:") or database.startswith("file:"):
            return (backend, database)
        return (backend, os.path.normcase(os.path.realpath(database)))
    return (backend, (url.host or "localhost").lower(), url.port, url.database)


def protect_database(url: str) -> None:
    """Refuse this database to the sql block (the app's own database is not a flow's to change)."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        return
    with _lock:
        _protected.append(parsed)


def _check_usable(url: URL) -> None:
    identity = _database_identity(url)
    if identity[0] == "sqlite" and identity[1] in ("", ":memory:"):
        raise SqlUrlError("an in-memory SQLite database does not outlive its connection; point the connection "
                          "at a file, e.g. sqlite:////path/to/file.db")
    for protected in _protected:
        if _database_identity(protected) == identity:
            raise SqlUrlError(f"the connection points at Ziggy Desktop's own database ({safe_url(url)}); flows "
                              f"may not change it. Point the connection at another database.")


def _on_sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # Python's sqlite3 'timeout' sets this too; say it explicitly so it holds whatever the driver.
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_SECONDS * 1000}")
    cursor.close()


def _create(url: URL) -> Engine:
    backend = url.get_backend_name()
    connect_args: dict[str, Any] = {}
    if backend == "sqlite":
        # Blocks run queries on helper threads (RunContext.call_blocking), so a pooled connection is
        # used by more than the thread that opened it; the block never shares one between threads.
        connect_args = {"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_SECONDS}
    elif backend == "postgresql":
        connect_args = {"connect_timeout": CONNECT_TIMEOUT_SECONDS}
    try:
        engine = create_engine(url, pool_pre_ping=True, connect_args=connect_args)
    except NoSuchModuleError:
        raise SqlUrlError(f"no database driver for {url.drivername!r} ({safe_url(url)}); use sqlite:/// or "
                          f"postgresql:// URLs") from None
    except ImportError as exc:
        if backend == "postgresql":
            # The packaged app ships psycopg without its bundled libpq (10 MB): it uses the system's.
            raise SqlUrlError(f"PostgreSQL needs the libpq client library, which was not found ({exc}). Install "
                              f"it (Debian/Ubuntu: sudo apt install libpq5; Fedora: sudo dnf install libpq; "
                              f"macOS: brew install libpq; Windows: the PostgreSQL client tools) and retry.") from None
        raise SqlUrlError(f"the database driver for {url.drivername!r} is not installed ({exc.name}); use "
                          f"sqlite:/// or postgresql:// URLs") from None
    except (ArgumentError, TypeError) as exc:
        raise SqlUrlError(f"the connection's URL {safe_url(url)} cannot be used: {exc}") from None
    if backend == "sqlite":
        event.listen(engine, "connect", _on_sqlite_connect)
    return engine


def get_engine(url: str) -> Engine:
    """The shared engine (and so connection pool) for `url`; made on first use, reused by every run."""
    parsed = normalize_url(url)
    key = parsed.render_as_string(hide_password=False)
    with _lock:
        _check_usable(parsed)
        engine = _engines.get(key)
        if engine is None:
            engine = _engines[key] = _create(parsed)
        return engine


def dispose_all() -> None:
    """Close every pooled connection and forget the engines (at shutdown, or between tests)."""
    with _lock:
        engines = list(_engines.values())
        _engines.clear()
    for engine in engines:
        engine.dispose()
