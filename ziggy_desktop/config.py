"""Settings: the one place that reads and validates .env files and environment variables."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import platformdirs
from dotenv import dotenv_values, set_key

from .errors import ConfigError

APP_NAME = "ZiggyDesktop"


def is_loopback_name(host: str) -> bool:
    """localhost, *.localhost and loopback addresses (127.0.0.0/8, ::1), with or without [ ]."""
    host = host.strip().strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 3000
    data_dir: Path = field(default_factory=lambda: Path(platformdirs.user_data_dir(APP_NAME, False)))
    database_url: str = ""
    max_concurrent_jobs: int = 10
    max_system_queue_size: int = 10000
    max_body_bytes: int = 16 * 1024 * 1024
    allowed_hosts: tuple[str, ...] = ()
    shutdown_grace_seconds: float = 10.0
    log_level: str = "INFO"
    default_timeout_seconds: int = 300
    history_retention_days: int = 0  # 0 keeps every run

    @property
    def sqlite_path(self) -> Path | None:
        """The database file when the database is SQLite on disk, else None."""
        prefix = "sqlite:///"
        if self.database_url.startswith(prefix):
            rest = self.database_url[len(prefix):]
            if rest and rest != ":memory:":
                return Path(rest)
        return None

    @property
    def base_url(self) -> str:
        host = "localhost" if self.host in ("127.0.0.1", "0.0.0.0", "::") else self.host
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    @property
    def env_file(self) -> Path:
        """Where settings changed from the app are written (the data dir's .env)."""
        return self.data_dir / ".env"


def _int(raw: Mapping[str, str], name: str, default: int, *, low: int, high: int) -> int:
    value = raw.get(name)
    if value is None or value.strip() == "":
        return default
    try:
        number = int(value.strip())
    except ValueError:
        raise ConfigError(f"{name}={value!r} is not a whole number; set it to an integer from {low} to {high}.") from None
    if not low <= number <= high:
        raise ConfigError(f"{name}={number} is out of range; set it to an integer from {low} to {high}.")
    return number


def _float(raw: Mapping[str, str], name: str, default: float, *, low: float, high: float) -> float:
    value = raw.get(name)
    if value is None or value.strip() == "":
        return default
    try:
        number = float(value.strip())
    except ValueError:
        raise ConfigError(f"{name}={value!r} is not a number; set it to a number from {low} to {high}.") from None
    if not low <= number <= high:
        raise ConfigError(f"{name}={number} is out of range; set it to a number from {low} to {high}.")
    return number


def _collect_raw(environ: Mapping[str, str], cwd: Path) -> dict[str, str]:
    """Merge sources: data-dir .env < working-dir .env < environment variables."""
    cwd_values = {k: v for k, v in dotenv_values(cwd / ".env").items() if v is not None}
    data_dir_hint = environ.get("ZIGGY_DATA_DIR") or cwd_values.get("ZIGGY_DATA_DIR")
    data_dir = Path(data_dir_hint).expanduser() if data_dir_hint else Path(platformdirs.user_data_dir(APP_NAME, False))
    data_dir_values = {}
    if (data_dir / ".env").resolve() != (cwd / ".env").resolve():
        data_dir_values = {k: v for k, v in dotenv_values(data_dir / ".env").items() if v is not None}
    merged: dict[str, str] = {**data_dir_values, **cwd_values}
    merged.update({k: v for k, v in environ.items() if k.startswith(("ZIGGY_", "MAX_"))})
    merged["ZIGGY_DATA_DIR"] = str(data_dir)
    return merged


def load_settings(environ: Mapping[str, str] | None = None, cwd: Path | None = None) -> Settings:
    """Read and validate every setting; a bad value raises ConfigError naming the variable."""
    raw = _collect_raw(os.environ if environ is None else environ, Path.cwd() if cwd is None else cwd)
    data_dir = Path(raw["ZIGGY_DATA_DIR"])

    host = raw.get("ZIGGY_HOST", "").strip() or "127.0.0.1"
    port = _int(raw, "ZIGGY_PORT", 3000, low=0, high=65535)

    # Ziggy documents the misspelt MAX_CONCURENT_JOBS; the correct spelling is accepted too.
    jobs_name = "MAX_CONCURENT_JOBS" if raw.get("MAX_CONCURENT_JOBS", "").strip() else "MAX_CONCURRENT_JOBS"
    max_jobs = _int(raw, jobs_name, 10, low=1, high=1000)
    max_queue = _int(raw, "MAX_SYSTEM_QUEUE_SIZE", 10000, low=1, high=10_000_000)
    max_body = _int(raw, "ZIGGY_MAX_BODY_BYTES", 16 * 1024 * 1024, low=1024, high=1024 * 1024 * 1024)
    grace = _float(raw, "ZIGGY_SHUTDOWN_GRACE_SECONDS", 10.0, low=0.0, high=3600.0)
    default_timeout = _int(raw, "ZIGGY_DEFAULT_TIMEOUT_SECONDS", 300, low=1, high=7 * 24 * 3600)
    retention_days = _int(raw, "ZIGGY_HISTORY_RETENTION_DAYS", 0, low=0, high=36500)

    database_url = raw.get("ZIGGY_DATABASE_URL", "").strip()
    if not database_url:
        database_url = f"sqlite:///{data_dir / 'ziggy.db'}"
    elif "://" not in database_url:
        raise ConfigError(
            f"ZIGGY_DATABASE_URL={database_url!r} is not a database URL; use e.g. sqlite:////path/to/ziggy.db."
        )

    allowed_hosts = tuple(h.strip().lower() for h in raw.get("ZIGGY_ALLOWED_HOSTS", "").split(",") if h.strip())

    log_level = raw.get("ZIGGY_LOG_LEVEL", "INFO").strip().upper() or "INFO"
    if log_level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ConfigError(f"ZIGGY_LOG_LEVEL={log_level!r} is not a level; use DEBUG, INFO, WARNING or ERROR.")

    return Settings(
        host=host,
        port=port,
        data_dir=data_dir,
        database_url=database_url,
        max_concurrent_jobs=max_jobs,
        max_system_queue_size=max_queue,
        max_body_bytes=max_body,
        allowed_hosts=allowed_hosts,
        shutdown_grace_seconds=grace,
        log_level=log_level,
        default_timeout_seconds=default_timeout,
        history_retention_days=retention_days,
    )


def write_env_settings(settings: Settings, updates: Mapping[str, str]) -> Path:
    """Validate `updates` (variable -> value) and write them to the data dir's .env.

    They apply at the next start; a bad value raises ConfigError and nothing is written.
    """
    env_file = settings.env_file
    current = {k: v for k, v in dotenv_values(env_file).items() if v is not None} if env_file.exists() else {}
    load_settings({**current, **updates, "ZIGGY_DATA_DIR": str(settings.data_dir)}, cwd=settings.data_dir)
    env_file.parent.mkdir(parents=True, exist_ok=True)
    env_file.touch(exist_ok=True)
    for name, value in updates.items():
        set_key(env_file, name, str(value), quote_mode="never")
    return env_file
