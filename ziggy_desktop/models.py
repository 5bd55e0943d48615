"""Database tables (SQLModel) and the plain dataclasses passed between threads."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Optional

from sqlmodel import Field, SQLModel

# Times are stored as float seconds since the epoch (UTC): exact, sortable, and cheap on hot paths.


def iso_utc(timestamp: float | None) -> str | None:
    """How the API and the CLI show a stored time: ISO-8601 UTC with milliseconds and a Z."""
    if timestamp is None:
        return None
    return datetime.fromtimestamp(timestamp, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class SchemaInfo(SQLModel, table=True):
    __tablename__ = "schema_info"

    id: int = Field(default=1, primary_key=True)
    version: int


class ExecutionKey(SQLModel, table=True):
    __tablename__ = "execution_key"

    id: Optional[int] = Field(default=None, primary_key=True)
    name: str
    key_hash: str = Field(index=True, unique=True)
    prefix: str
    created_at: float
    last_used_at: Optional[float] = None
    revoked_at: Optional[float] = None


class Flow(SQLModel, table=True):
    __tablename__ = "flow"

    uuid: str = Field(primary_key=True)
    name: str = Field(index=True)
    tags: str = "[]"  # JSON list
    document: str  # the whole flow JSON, as imported (normalised)
    version: int = 1  # bumped on every save, so compiled flows can be cached safely
    created_at: float
    updated_at: float


class Execution(SQLModel, table=True):
    __tablename__ = "execution"

    # seq orders the FIFO queue across processes; execution_id is what users see.
    seq: Optional[int] = Field(default=None, primary_key=True)
    execution_id: str = Field(index=True, unique=True)
    flow_uuid: str = Field(index=True)
    flow_name: str
    mode: str  # DEV | PROD
    trigger: str  # API | UI | CLI | RERUN
    key_name: Optional[str] = None
    state: str = Field(index=True)  # QUEUED | RUNNING | FINISHED
    termination_status: Optional[str] = Field(default=None, index=True)  # SUCCESS | FATAL | TIMED OUT | KILLED
    reason: Optional[str] = None
    failed_block: Optional[str] = None
    created_at: float = Field(index=True)
    started_at: Optional[float] = None
    finished_at: Optional[float] = None
    ms: Optional[int] = None
    use_test_data: bool = False
    input_json: Optional[str] = None  # the launch body as received (None: empty body)
    input_hash: str = ""  # identifies a client retry of the same request
    result_json: Optional[str] = None
    steps_json: Optional[str] = None
    console_json: Optional[str] = None
    edges_json: Optional[str] = None  # per-edge samples, kept as the flow's history level says


class NamedQueue(SQLModel, table=True):
    """A Ziggy Queue: flows whose receiver names it start at most `rate_per_second` runs a second."""

    __tablename__ = "named_queue"

    name: str = Field(primary_key=True)
    rate_per_second: float = 0.0  # 0: no limit
    paused: bool = False
    created_at: float


class SecretRecord(SQLModel, table=True):
    """A named secret; both values are Fernet tokens (see vault.py), never plain text."""

    __tablename__ = "secret"

    name: str = Field(primary_key=True)
    description: str = ""
    dev_value: str  # encrypted
    prod_value: str  # encrypted; an encrypted empty string falls back to dev
    created_at: float
    updated_at: float


class ConnectionRecord(SQLModel, table=True):
    """A named connection (hubspot | sql | rest); its DEV and PROD settings are encrypted JSON objects."""

    __tablename__ = "connection"

    name: str = Field(primary_key=True)
    kind: str = Field(index=True)
    description: str = ""
    dev_settings: str  # encrypted JSON object
    prod_settings: str  # encrypted JSON object; empty fields fall back to dev
    created_at: float
    updated_at: float


class DataStoreRecord(SQLModel, table=True):
    """One key of the data_store block: state that outlives a run (e.g. the last synced id)."""

    __tablename__ = "data_store"

    namespace: str = Field(primary_key=True)
    key: str = Field(primary_key=True)
    value_json: str
    created_at: float
    updated_at: float


class AuditRecord(SQLModel, table=True):
    """One line written by an audit block; queried by GET /api/ziggy/audit and the history detail."""

    __tablename__ = "audit"

    id: Optional[int] = Field(default=None, primary_key=True)
    execution_id: str = Field(index=True)
    flow_uuid: str = Field(index=True)
    block_id: str
    topic: str = Field(index=True)
    identifier: Optional[str] = Field(default=None, index=True)
    primary_key: Optional[str] = Field(default=None, index=True)
    secondary_key: Optional[str] = None
    data_json: Optional[str] = None
    is_error: bool = Field(default=False, index=True)
    created_at: float = Field(index=True)
