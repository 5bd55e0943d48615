"""Execution History queries: filtered pages, counts and timing summaries, and flushing old runs."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, delete, func, or_, select
from sqlalchemy.engine import Engine

from .db import write_transaction
from .executions import VIEW_COLUMNS, ExecutionView, view_from_row
from .models import Execution
from .system_queue import FINISHED

_executions = Execution.__table__
TERMINATION_STATUSES = ("SUCCESS", "FATAL", "TIMED OUT", "KILLED")
LIVE_STATES = ("QUEUED", "RUNNING")


@dataclass(frozen=True)
class HistoryFilter:
    """What the dashboard shows; empty fields do not filter."""

    flow_uuid: str | None = None
    statuses: frozenset[str] = field(default_factory=frozenset)  # termination statuses and/or QUEUED/RUNNING
    mode: str | None = None
    since: float | None = None  # created at or after (epoch seconds)
    until: float | None = None  # created before
    text: str = ""  # part of the execution id

    def where(self) -> Any:
        conditions = []
        if self.flow_uuid:
            conditions.append(_executions.c.flow_uuid == self.flow_uuid)
        if self.statuses:
            finished = [s for s in self.statuses if s in TERMINATION_STATUSES]
            live = [s for s in self.statuses if s in LIVE_STATES]
            either = []
            if finished:
                either.append(and_(_executions.c.state == FINISHED, _executions.c.termination_status.in_(finished)))
            if live:
                either.append(_executions.c.state.in_(live))
            conditions.append(or_(*either))
        if self.mode:
            conditions.append(_executions.c.mode == self.mode)
        if self.since is not None:
            conditions.append(_executions.c.created_at >= self.since)
        if self.until is not None:
            conditions.append(_executions.c.created_at < self.until)
        if self.text.strip():
            escaped = self.text.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            conditions.append(_executions.c.execution_id.like(f"%{escaped}%", escape="\\"))
        return and_(True, *conditions)


@dataclass(frozen=True)
class HistoryRow:
    seq: int
    view: ExecutionView


@dataclass(frozen=True)
class HistorySummary:
    total: int
    by_status: dict[str, int]
    min_ms: int | None
    avg_ms: float | None
    max_ms: int | None


class HistoryService:
    """Reads for the Execution History; pages are by position, newest first."""

    def __init__(self, engine: Engine):
        self._engine = engine

    def count(self, history_filter: HistoryFilter) -> int:
        with self._engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(_executions)
                                .where(history_filter.where())).scalar_one()

    def page(self, history_filter: HistoryFilter, offset: int, limit: int) -> list[HistoryRow]:
        with self._engine.connect() as conn:
            rows = conn.execute(select(*VIEW_COLUMNS, _executions.c.seq).where(history_filter.where())
                                .order_by(_executions.c.seq.desc()).offset(offset).limit(limit)).all()
        return [HistoryRow(row.seq, view_from_row(row)) for row in rows]

    def summary(self, history_filter: HistoryFilter) -> HistorySummary:
        status_key = func.coalesce(_executions.c.termination_status, _executions.c.state)
        with self._engine.connect() as conn:
            counts = dict(conn.execute(select(status_key, func.count()).where(history_filter.where())
                                       .group_by(status_key)).all())
            low, mean, high = conn.execute(
                select(func.min(_executions.c.ms), func.avg(_executions.c.ms), func.max(_executions.c.ms))
                .where(history_filter.where(), _executions.c.state == FINISHED)).one()
        return HistorySummary(sum(counts.values()), counts, low, mean, high)

    def prune(self, retention_days: int, now: float | None = None) -> int:
        """Flush finished runs older than the retention (Global Settings > Flows); 0 keeps all."""
        if retention_days <= 0:
            return 0
        cutoff = (time.time() if now is None else now) - retention_days * 86400
        return self.flush(HistoryFilter(until=cutoff))

    def prune_time_limited(self, retention_hours_by_flow: dict[str, float], now: float | None = None) -> int:
        """Flush the finished runs of TIME_LIMITED_* flows older than each flow's retentionHours."""
        now = time.time() if now is None else now
        return sum(self.flush(HistoryFilter(flow_uuid=flow_uuid, until=now - hours * 3600))
                   for flow_uuid, hours in retention_hours_by_flow.items())

    def flush(self, history_filter: HistoryFilter) -> int:
        """Delete the finished runs the filter matches; queued and running runs are never flushed."""
        with write_transaction(self._engine) as conn:
            return conn.execute(delete(_executions).where(history_filter.where(),
                                                          _executions.c.state == FINISHED)).rowcount
