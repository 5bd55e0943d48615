"""Database tables (SQLModel) and the plain dataclasses passed between threads."""

from __future__ import annotations

from typing import Optional

from sqlmodel import Field, SQLModel

# Times are stored as float seconds since the epoch (UTC): exact, sortable, and cheap on hot paths.


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
