"""Launching runs and reading them back: the service behind POST /api, the status API, UI and CLI."""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from concurrent.futures import Future
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.engine import Connection, Engine

from . import keys
from .audit import AuditLine, AuditLog
from .db import CompiledStatement, DatabaseWriter, WriteBatch
from .errors import ConflictError, NotFoundError, QueueFullError, ValidationError
from .models import Execution, Flow, iso_utc
from .system_queue import FINISHED, QUEUED, QueueItem, SystemQueue

MODES = ("DEV", "PROD")
TRIGGERS = ("API", "UI", "CLI", "RERUN")
MAX_EXECUTION_ID_LENGTH = 200
_executions = Execution.__table__
_flows = Flow.__table__


def parse_mode(value: str | None) -> str:
    if value is None or value == "":
        return "DEV"
    mode = value.strip().upper()
    if mode not in MODES:
        raise ValidationError(f"executionEnvironmentMode must be DEV or PROD (got {value!r}).", code="INVALID_MODE")
    return mode


def check_execution_id(value: str | None) -> str | None:
    """None means 'generate one'; otherwise 1-200 printable characters."""
    if value is None:
        return None
    if not 1 <= len(value) <= MAX_EXECUTION_ID_LENGTH or not value.isprintable() or not value.strip():
        raise ValidationError(
            f"executionId must be 1 to {MAX_EXECUTION_ID_LENGTH} printable characters, or left out to get a UUID.",
            code="INVALID_EXECUTION_ID")
    return value


def body_fingerprint(value: Any, has_body: bool) -> str:
    """The same JSON value gives the same fingerprint whatever its spacing or key order."""
    canonical = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False) if has_body else ""
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class LaunchRequest:
    flow_uuid: str
    mode: str = "DEV"
    execution_id: str | None = None
    body_json: str | None = None  # the body as received; None for an empty body
    body_hash: str = ""
    trigger: str = "API"
    execution_key: str | None = None  # required for API launches
    use_test_data: bool = False


@dataclass(frozen=True)
class ExecutionView:
    execution_id: str
    flow_uuid: str
    flow_name: str
    mode: str
    trigger: str
    key_name: str | None
    state: str
    termination_status: str | None
    reason: str | None
    failed_block: str | None
    created_at: float
    started_at: float | None
    finished_at: float | None
    ms: int | None

    @property
    def finished(self) -> bool:
        return self.state == FINISHED

    def status_json(self) -> dict[str, Any]:
        """Exactly the seven fields Ziggy's execution-status answer has."""
        return {"executionId": self.execution_id, "terminationStatus": self.termination_status, "ms": self.ms or 0,
                "executionEnvironmentMode": self.mode, "createdAt": iso_utc(self.created_at),
                "flowUuid": self.flow_uuid, "flowName": self.flow_name}


@dataclass(frozen=True)
class ExecutionDetail:
    view: ExecutionView
    input: Any
    result: Any
    steps: list[dict[str, Any]]
    console: list[dict[str, Any]]
    edges: list[dict[str, Any]] | None = None  # per-edge counts and samples; None when not kept
    audit: list[AuditLine] = field(default_factory=list)  # the first lines its audit blocks wrote


@dataclass(frozen=True)
class LaunchResult:
    created: bool  # False: a client retry that matched an existing execution
    view: ExecutionView


VIEW_COLUMNS = [_executions.c[name] for name in (
    "execution_id", "flow_uuid", "flow_name", "mode", "trigger", "key_name", "state", "termination_status",
    "reason", "failed_block", "created_at", "started_at", "finished_at", "ms")]


_FLOW_FOR_LAUNCH = select(_flows.c.name, _flows.c.version).where(_flows.c.uuid == bindparam("b_uuid"))
_EXISTING_EXECUTION = select(*VIEW_COLUMNS, _executions.c.input_hash).where(
    _executions.c.execution_id == bindparam("b_id"))
_LAUNCH_COLUMNS = ("execution_id", "flow_uuid", "flow_name", "mode", "trigger", "key_name", "state", "created_at",
                   "use_test_data", "input_json", "input_hash")
_INSERT_EXECUTION = _executions.insert().values({name: bindparam(f"b_{name}") for name in _LAUNCH_COLUMNS})
INLINE_INPUT_BYTES = 64 * 1024
_KILL_QUEUED_ROW = (update(_executions)
                    .where(_executions.c.execution_id == bindparam("b_id"), _executions.c.state == QUEUED)
                    .values(state=FINISHED, termination_status="KILLED", reason="removed from the system queue",
                            finished_at=bindparam("b_now"), ms=0))


def view_from_row(row) -> ExecutionView:
    return ExecutionView(*(row[i] for i in range(len(VIEW_COLUMNS))))


def _loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


class ExecutionService:
    """Launch (committed before it is acknowledged), read status and detail, kill, re-run."""

    def __init__(self, engine: Engine, writer: DatabaseWriter, queue: SystemQueue | None, max_backlog: int,
                 audit: AuditLog | None = None):
        self._engine = engine
        self._writer = writer
        # The run detail shows the run's audit lines; the audit API reads through this too.
        self.audit = audit or AuditLog(engine, writer)
        self.queue = queue  # None in a command-line process while a server owns the queue
        self._max_backlog = max_backlog
        # Every launch inserts a row: on SQLite it goes straight to the driver (lastrowid is the seq).
        self._raw_insert = (CompiledStatement(_INSERT_EXECUTION, engine.dialect)
                            if engine.dialect.name == "sqlite" else None)

    # -- launching -------------------------------------------------------------------------------

    def launch_async(self, request: LaunchRequest) -> Future:
        """Resolve to a LaunchResult once the QUEUED row is durably committed."""
        if request.mode not in MODES or request.trigger not in TRIGGERS:
            raise ValidationError("bad mode or trigger")
        return self._writer.submit(lambda conn, batch: self._launch_op(conn, batch, request))

    def launch(self, request: LaunchRequest, timeout: float = 60) -> LaunchResult:
        return self.launch_async(request).result(timeout)

    def _launch_op(self, conn: Connection, batch: WriteBatch, request: LaunchRequest) -> LaunchResult:
        key_name = None
        if request.trigger == "API":
            key_name = keys.authenticate(conn, request.execution_key, cache=batch.cache).name
        flow_uuid = request.flow_uuid.strip().lower()
        flow = batch.cache.get(("flow", flow_uuid))
        if flow is None:
            flow = conn.execute(_FLOW_FOR_LAUNCH, {"b_uuid": flow_uuid}).first()
            if flow is None:
                raise NotFoundError(f"No flow has flowUuid {request.flow_uuid!r}. Copy the Flow identifier from the "
                                    f"flow's settings, or list flows with 'ziggy-desktop flows list'.",
                                    code="FLOW_NOT_FOUND")
            batch.cache[("flow", flow_uuid)] = flow
        execution_id = request.execution_id
        if execution_id is not None:
            existing = conn.execute(_EXISTING_EXECUTION, {"b_id": execution_id}).first()
            if existing is not None:
                view = view_from_row(existing)
                if (view.flow_uuid, view.mode, existing.input_hash) == (flow_uuid, request.mode, request.body_hash):
                    return LaunchResult(False, view)
                raise ConflictError(
                    f"executionId {execution_id!r} was already used for another launch (a different flow, mode or "
                    f"body). Use a new executionId, or leave it out to get one.", code="EXECUTION_ID_CONFLICT")
        else:
            execution_id = str(uuid.uuid4())
        if self.queue is not None:
            self.queue.check_capacity(batch)
        else:
            self._check_capacity_from_database(conn, batch)
        now = time.time()
        row = {"b_execution_id": execution_id, "b_flow_uuid": flow_uuid, "b_flow_name": flow.name,
               "b_mode": request.mode, "b_trigger": request.trigger, "b_key_name": key_name, "b_state": QUEUED,
               "b_created_at": now, "b_use_test_data": request.use_test_data, "b_input_json": request.body_json,
               "b_input_hash": request.body_hash}
        if self._raw_insert is not None:
            self._raw_insert.execute(batch.cursor, row)
            seq = batch.cursor.lastrowid
        else:
            seq = conn.execute(_INSERT_EXECUTION, row).inserted_primary_key[0]
        if self.queue is not None:
            # Small inputs travel with the queue item, so starting the run needs no database read.
            inline = request.body_json is None or len(request.body_json) <= INLINE_INPUT_BYTES
            item = QueueItem(execution_id, seq, flow_uuid, flow.name, request.mode, request.trigger, now,
                             flow_version=flow.version, input_inline=inline,
                             input_json=request.body_json if inline else None, use_test_data=request.use_test_data)
            batch.after_commit(partial(self.queue.enqueue, item))
        view = ExecutionView(execution_id, flow_uuid, flow.name, request.mode, request.trigger, key_name, QUEUED,
                             None, None, None, now, None, None, None)
        return LaunchResult(True, view)

    def _check_capacity_from_database(self, conn: Connection, batch: WriteBatch) -> None:
        waiting = conn.execute(select(func.count()).select_from(_executions)
                               .where(_executions.c.state == QUEUED)).scalar_one()
        pending = batch.pending.get("queue", 0)
        if waiting + pending >= self._max_backlog:
            raise QueueFullError(f"The system queue is full ({self._max_backlog} runs waiting). Retry later.",
                                 retry_after_seconds=5)
        batch.pending["queue"] = pending + 1

    def rerun(self, execution_id: str) -> LaunchResult:
        """Launch again with the same payload and mode, under a new executionId."""
        with self._engine.connect() as conn:
            row = conn.execute(select(_executions.c.flow_uuid, _executions.c.mode, _executions.c.input_json,
                                      _executions.c.input_hash, _executions.c.use_test_data)
                               .where(_executions.c.execution_id == execution_id)).first()
        if row is None:
            raise NotFoundError(f"No execution has id {execution_id!r}.", code="EXECUTION_NOT_FOUND")
        had_body = row.input_hash not in ("", body_fingerprint(None, has_body=False))
        if row.input_json is None and had_body and not row.use_test_data:
            raise ValidationError("This run's input was not kept (the flow's history level keeps no data for it), "
                                  "so it cannot be re-run. Launch the flow again with its data.",
                                  code="INPUT_NOT_KEPT")
        return self.launch(LaunchRequest(row.flow_uuid, row.mode, None, row.input_json, row.input_hash, "RERUN",
                                         use_test_data=row.use_test_data))

    # -- reading ---------------------------------------------------------------------------------

    def authenticate(self, execution_key: str | None) -> keys.KeyInfo:
        """Check a key for read-only routes; its last-used time is recorded in the background."""
        with self._engine.connect() as conn:
            info = keys.authenticate(conn, execution_key, touch=False)
        now = time.time()
        self._writer.submit(lambda conn, _batch: keys.touch_key(conn, info.id, now))
        return info

    def get(self, execution_id: str) -> ExecutionView:
        with self._engine.connect() as conn:
            row = conn.execute(select(*VIEW_COLUMNS).where(_executions.c.execution_id == execution_id)).first()
        if row is None:
            raise NotFoundError(f"No execution has executionId {execution_id!r}. Check the id returned by POST /api.",
                                code="EXECUTION_NOT_FOUND")
        return view_from_row(row)

    def detail(self, execution_id: str) -> ExecutionDetail:
        with self._engine.connect() as conn:
            row = conn.execute(select(*VIEW_COLUMNS, _executions.c.input_json, _executions.c.result_json,
                                      _executions.c.steps_json, _executions.c.console_json, _executions.c.edges_json)
                               .where(_executions.c.execution_id == execution_id)).first()
        if row is None:
            raise NotFoundError(f"No execution has executionId {execution_id!r}.", code="EXECUTION_NOT_FOUND")
        return ExecutionDetail(view_from_row(row), _loads(row.input_json), _loads(row.result_json),
                               _loads(row.steps_json) or [], _loads(row.console_json) or [], _loads(row.edges_json),
                               self.audit.for_execution(execution_id))

    def queue_position(self, execution_id: str) -> int | None:
        if self.queue is not None:
            return self.queue.position(execution_id)
        return None

    def wait_finished(self, execution_id: str, timeout: float, poll_seconds: float = 0.1) -> ExecutionView:
        """Block until the run has finished (or the timeout passes) and return its latest view."""
        deadline = time.monotonic() + timeout
        while True:
            view = self.get(execution_id)
            if view.finished or time.monotonic() >= deadline:
                return view
            time.sleep(poll_seconds)

    # -- killing ---------------------------------------------------------------------------------

    def kill(self, execution_id: str, *, allow_running: bool, wait_seconds: float = 10.0) -> ExecutionView:
        """Kill a queued (and, when allowed, running) run; raise with what to do otherwise.

        A running run is asked to stop and given `wait_seconds` to end; the returned view says
        whether it has.
        """
        view = self.get(execution_id)
        if view.finished:
            raise ConflictError(f"Execution {execution_id!r} already finished ({view.termination_status}).",
                                code="ALREADY_FINISHED")
        if self.queue is None:
            raise ConflictError("This process does not run flows; kill the run in the app or server that runs it.",
                                code="NOT_OWNER")
        if self.queue.kill_queued(execution_id):
            return self.get(execution_id)
        if self.queue.position(execution_id) is None and view.state == QUEUED:
            # Queued in the database but not (yet) in this queue's memory, e.g. just queued by the CLI.
            killed = self._writer.run(lambda conn, _batch: conn.execute(
                _KILL_QUEUED_ROW, {"b_id": execution_id, "b_now": time.time()}).rowcount)
            if killed:
                return self.get(execution_id)
        if not allow_running:
            raise ConflictError(f"Execution {execution_id!r} is running, not queued; stop it with "
                                f"DELETE /api/ziggy/kill-flow/{execution_id}.", code="NOT_QUEUED")
        self.queue.kill_running(execution_id, wait_seconds=wait_seconds)
        return self.get(execution_id)
