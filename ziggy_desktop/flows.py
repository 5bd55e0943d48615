"""Flow documents: validation with errors that name the field or block, and the flow store."""

from __future__ import annotations

import json
import threading
import time
import uuid as uuid_module
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.engine import Engine

from .engine import CompiledFlow, compile_flow, get_block_type
from .engine.registry import validate_config
from .engine.runner import topological_order
from .db import write_transaction
from .errors import NotFoundError, ValidationError
from .models import Flow

FORMAT_VERSION = 1
HISTORY_LEVELS = ("ALL", "ERRORED_WITH_DATA", "ERRORED_NO_DATA", "TIME_LIMITED_WITH_DATA", "TIME_LIMITED_NO_DATA")
DEFAULT_SETTINGS = {"timeoutSeconds": 300, "historyLevel": "ERRORED_WITH_DATA", "retentionHours": 24}
_flows = Flow.__table__


def keeps_data(history_level: str, status: str) -> bool:
    """Whether a finished run keeps its data (input, result, edge samples) under the flow's level.

    The run's row (status, times, per-block counts, error) is always kept: the status API answers
    for every run. TIME_LIMITED_* levels also delete runs after the flow's retentionHours.
    """
    if history_level in ("ALL", "TIME_LIMITED_WITH_DATA"):
        return True
    if history_level == "ERRORED_WITH_DATA":
        return status != "SUCCESS"
    return False


@dataclass(frozen=True)
class FlowSummary:
    uuid: str
    name: str
    tags: tuple[str, ...]
    version: int
    created_at: float
    updated_at: float


def _require_str(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(f"{where} must be a non-empty string")
    return value.strip()


def _validate_settings(settings: Any) -> dict[str, Any]:
    if settings is None:
        settings = {}
    if not isinstance(settings, dict):
        raise ValidationError("settings must be an object")
    result = {**DEFAULT_SETTINGS, **settings}
    timeout = result["timeoutSeconds"]
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout <= 7 * 24 * 3600:
        raise ValidationError("settings.timeoutSeconds must be a number of seconds above 0 (at most a week)")
    if result["historyLevel"] not in HISTORY_LEVELS:
        raise ValidationError(f"settings.historyLevel must be one of {', '.join(HISTORY_LEVELS)}")
    hours = result["retentionHours"]
    if isinstance(hours, bool) or not isinstance(hours, (int, float)) or not 0 < hours <= 24 * 3650:
        raise ValidationError("settings.retentionHours must be a number of hours above 0 (the TIME_LIMITED_* "
                              "history levels delete runs older than this)")
    unknown = sorted(set(result) - set(DEFAULT_SETTINGS))
    if unknown:
        raise ValidationError(f"settings: unknown field(s) {', '.join(unknown)} (allowed: "
                              f"{', '.join(DEFAULT_SETTINGS)})")
    return result


def _validate_blocks(blocks: Any) -> list[dict[str, Any]]:
    if not isinstance(blocks, list) or not blocks:
        raise ValidationError("blocks must be a non-empty list")
    seen: set[str] = set()
    result = []
    for index, block in enumerate(blocks):
        where = f"blocks[{index}]"
        if not isinstance(block, dict):
            raise ValidationError(f"{where} must be an object")
        block_id = _require_str(block.get("id"), f"{where}.id")
        where = f"block {block_id!r} ({where})"
        if block_id in seen:
            raise ValidationError(f"{where}: the id is used by another block; block ids must be unique")
        seen.add(block_id)
        type_name = _require_str(block.get("type"), f"{where}.type")
        try:
            block_type = get_block_type(type_name)
        except ValidationError as exc:
            raise ValidationError(f"{where}: {exc.message}") from None
        name = block.get("name") or block_id
        if not isinstance(name, str):
            raise ValidationError(f"{where}: name must be a string")
        position = block.get("position", [0, 0])
        if (not isinstance(position, list) or len(position) != 2
                or not all(isinstance(p, (int, float)) and not isinstance(p, bool) for p in position)):
            raise ValidationError(f"{where}: position must be [x, y]")
        config = validate_config(block_type, block.get("config"), where)
        result.append({"id": block_id, "type": type_name, "name": name, "config": config, "position": position})
    counts = {t: sum(1 for b in result if b["type"] == t) for t in ("receiver", "terminator")}
    if counts["receiver"] != 1:
        raise ValidationError(f"a flow needs exactly one receiver block (found {counts['receiver']})")
    if counts["terminator"] < 1:
        raise ValidationError("a flow needs at least one terminator block")
    return result


def _validate_edges(edges: Any, blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if edges is None:
        edges = []
    if not isinstance(edges, list):
        raise ValidationError("edges must be a list")
    types = {b["id"]: get_block_type(b["type"]) for b in blocks}
    configs = {b["id"]: b["config"] for b in blocks}
    result = []
    seen = set()
    for index, edge in enumerate(edges):
        where = f"edges[{index}]"
        if not isinstance(edge, dict):
            raise ValidationError(f"{where} must be an object")
        src = _require_str(edge.get("from"), f"{where}.from")
        dst = _require_str(edge.get("to"), f"{where}.to")
        from_port = edge.get("fromPort", "out")
        to_port = edge.get("toPort", "in")
        for block_id, port, direction in ((src, from_port, "outputs"), (dst, to_port, "inputs")):
            if block_id not in types:
                raise ValidationError(f"{where}: there is no block with id {block_id!r}")
            ports = types[block_id].inputs if direction == "inputs" else types[block_id].output_ports(configs[block_id])
            if port not in ports:
                listed = ", ".join(ports) or "none"
                raise ValidationError(f"{where}: block {block_id!r} ({types[block_id].type}) has no "
                                      f"{direction[:-1]} port {port!r} (it has: {listed})")
        key = (src, from_port, dst, to_port)
        if key in seen:
            raise ValidationError(f"{where}: duplicate edge {src}.{from_port} -> {dst}.{to_port}")
        seen.add(key)
        result.append({"from": src, "fromPort": from_port, "to": dst, "toPort": to_port})
    try:
        topological_order([b["id"] for b in blocks], [(e["from"], e["to"]) for e in result])
    except ValueError as exc:
        raise ValidationError(f"block {exc.args[0]!r} is on a cycle; flows must not loop back") from None
    return result


def validate_flow(document: Any) -> dict[str, Any]:
    """Check a flow document (DESIGN §6) and return it normalised with defaults filled in."""
    if isinstance(document, (str, bytes)):
        try:
            document = json.loads(document)
        except json.JSONDecodeError as exc:
            raise ValidationError(f"the flow is not valid JSON: {exc}") from None
    if not isinstance(document, dict):
        raise ValidationError("a flow must be a JSON object")
    if document.get("ziggyFlow") != FORMAT_VERSION:
        raise ValidationError(f"ziggyFlow must be {FORMAT_VERSION} (the flow format version)")
    flow_uuid = _require_str(document.get("uuid"), "uuid")
    try:
        uuid_module.UUID(flow_uuid)
    except ValueError:
        raise ValidationError(f"uuid {flow_uuid!r} is not a UUID") from None
    name = _require_str(document.get("name"), "name")
    tags = document.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) and t.strip() for t in tags):
        raise ValidationError("tags must be a list of non-empty strings")
    blocks = _validate_blocks(document.get("blocks"))
    edges = _validate_edges(document.get("edges"), blocks)
    return {"ziggyFlow": FORMAT_VERSION, "uuid": flow_uuid.lower(), "name": name,
            "tags": [t.strip() for t in tags], "settings": _validate_settings(document.get("settings")),
            "blocks": blocks, "edges": edges}


def blank_flow(name: str, timeout_seconds: int = 300) -> dict[str, Any]:
    """A new flow: a receiver wired to a terminator, ready to be built on."""
    return {"ziggyFlow": FORMAT_VERSION, "uuid": str(uuid_module.uuid4()), "name": name, "tags": [],
            "settings": {**DEFAULT_SETTINGS, "timeoutSeconds": timeout_seconds},
            "blocks": [{"id": "receiver", "type": "receiver", "name": "Receiver", "config": {"testData": None},
                        "position": [80, 120]},
                       {"id": "terminator", "type": "terminator", "name": "Terminator", "config": {},
                        "position": [360, 120]}],
            "edges": [{"from": "receiver", "fromPort": "out", "to": "terminator", "toPort": "in"}]}


def _summary(row) -> FlowSummary:
    return FlowSummary(row.uuid, row.name, tuple(json.loads(row.tags)), row.version, row.created_at, row.updated_at)


class FlowService:
    """Import, export, list and delete flows; hands the queue compiled flows, cached by version."""

    def __init__(self, engine: Engine):
        self._engine = engine
        self._compiled: dict[str, CompiledFlow] = {}
        self._lock = threading.Lock()

    def save(self, document: Any) -> tuple[FlowSummary, bool]:
        """Validate and store a flow (replacing one with the same uuid); True when it was new."""
        flow = validate_flow(document)
        now = time.time()
        values = {"name": flow["name"], "tags": json.dumps(flow["tags"]), "document": json.dumps(flow, indent=2),
                  "updated_at": now}
        with write_transaction(self._engine) as conn:
            existing = conn.execute(select(_flows.c.version, _flows.c.created_at)
                                    .where(_flows.c.uuid == flow["uuid"])).first()
            if existing is None:
                conn.execute(_flows.insert().values(uuid=flow["uuid"], version=1, created_at=now, **values))
                return FlowSummary(flow["uuid"], flow["name"], tuple(flow["tags"]), 1, now, now), True
            version = existing.version + 1
            conn.execute(_flows.update().where(_flows.c.uuid == flow["uuid"]).values(version=version, **values))
            return FlowSummary(flow["uuid"], flow["name"], tuple(flow["tags"]), version,
                               existing.created_at, now), False

    def list(self) -> list[FlowSummary]:
        with self._engine.connect() as conn:
            rows = conn.execute(select(_flows.c.uuid, _flows.c.name, _flows.c.tags, _flows.c.version,
                                       _flows.c.created_at, _flows.c.updated_at).order_by(_flows.c.name))
            return [_summary(r) for r in rows]

    def time_limited_retention(self) -> dict[str, float]:
        """uuid -> retentionHours of the flows whose history level is TIME_LIMITED_*."""
        with self._engine.connect() as conn:
            documents = [json.loads(row.document) for row in conn.execute(select(_flows.c.document))]
        return {d["uuid"]: float(d["settings"].get("retentionHours", DEFAULT_SETTINGS["retentionHours"]))
                for d in documents if d.get("settings", {}).get("historyLevel", "").startswith("TIME_LIMITED")}

    def get_document(self, flow_uuid: str) -> dict[str, Any]:
        with self._engine.connect() as conn:
            row = conn.execute(select(_flows.c.document).where(_flows.c.uuid == flow_uuid.strip().lower())).first()
        if row is None:
            raise NotFoundError(f"No flow has uuid {flow_uuid!r}; 'ziggy-desktop flows list' shows them.",
                                code="FLOW_NOT_FOUND")
        return json.loads(row.document)

    def export(self, flow_uuid: str) -> str:
        return json.dumps(self.get_document(flow_uuid), indent=2, ensure_ascii=False) + "\n"

    def duplicate(self, flow_uuid: str) -> FlowSummary:
        """Copy a flow under a new uuid and the name '<name> (copy)'."""
        document = self.get_document(flow_uuid)
        document.update(uuid=str(uuid_module.uuid4()), name=f"{document['name']} (copy)")
        return self.save(document)[0]

    def delete(self, flow_uuid: str) -> None:
        with write_transaction(self._engine) as conn:
            deleted = conn.execute(delete(_flows).where(_flows.c.uuid == flow_uuid.strip().lower())).rowcount
        if not deleted:
            raise NotFoundError(f"No flow has uuid {flow_uuid!r}; 'ziggy-desktop flows list' shows them.",
                                code="FLOW_NOT_FOUND")

    def cached(self, flow_uuid: str, version: int | None) -> CompiledFlow | None:
        """The compiled flow at exactly `version` if it is in the cache (no database read)."""
        if version is None:
            return None
        with self._lock:
            flow = self._compiled.get(flow_uuid)
        return flow if flow is not None and flow.version == version else None

    def queue_name_of(self, flow_uuid: str, version: int | None) -> str | None:
        """The named queue the flow's receiver selects (the cached compile when it is current)."""
        flow = self.cached(flow_uuid, version)
        if flow is None:
            with self._engine.connect() as conn:
                flow = self.compiled(conn, flow_uuid)
        return flow.queue_name

    def compiled(self, conn, flow_uuid: str) -> CompiledFlow:
        """The executable flow, recompiled only when its stored version changed."""
        version_row = conn.execute(select(_flows.c.version).where(_flows.c.uuid == flow_uuid)).first()
        if version_row is None:
            raise NotFoundError(f"The flow {flow_uuid} was deleted after this run was queued.",
                                code="FLOW_NOT_FOUND")
        with self._lock:
            cached = self._compiled.get(flow_uuid)
        if cached is not None and cached.version == version_row.version:
            return cached
        row = conn.execute(select(_flows.c.document, _flows.c.version).where(_flows.c.uuid == flow_uuid)).first()
        flow = compile_flow(json.loads(row.document), row.version)
        with self._lock:
            self._compiled[flow_uuid] = flow
        return flow
