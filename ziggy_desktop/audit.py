"""The audit log: lines written by audit blocks, and the queries behind GET /api/ziggy/audit."""

from __future__ import annotations

import base64
import binascii
import json
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Sequence

from sqlalchemy import func, insert, select
from sqlalchemy.engine import Engine

from .db import DatabaseWriter
from .errors import ValidationError, ZiggyError
from .models import AuditRecord, iso_utc

MAX_QUERY_LIMIT = 1000
MAX_TEXT_CHARS = 1000  # topic, identifier and keys are labels; longer text is cut
MAX_DATA_CHARS = 64 * 1024  # a bigger record is kept as a note of its size and a preview
DATA_PREVIEW_CHARS = 1000
EXECUTION_DETAIL_LINES = 1000  # the execution detail shows this many; the audit API pages through all

_table = AuditRecord.__table__
_c = _table.c


@dataclass(frozen=True)
class AuditEntry:
    """One line to write; `data` is any JSON value (None: no data kept)."""

    execution_id: str
    flow_uuid: str
    block_id: str
    topic: str
    identifier: str | None = None
    primary_key: str | None = None
    secondary_key: str | None = None
    data: Any = None
    is_error: bool = False
    created_at: float | None = None  # None: the time it is recorded


@dataclass(frozen=True)
class AuditLine:
    """One stored line, as the API and the history detail show it."""

    id: int
    execution_id: str
    flow_uuid: str
    block_id: str
    topic: str
    identifier: str | None
    primary_key: str | None
    secondary_key: str | None
    data: Any
    is_error: bool
    created_at: float

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "executionId": self.execution_id, "flowUuid": self.flow_uuid,
                "blockId": self.block_id, "topic": self.topic, "identifier": self.identifier,
                "primaryKey": self.primary_key, "secondaryKey": self.secondary_key, "data": self.data,
                "isError": self.is_error, "createdAt": iso_utc(self.created_at)}


@dataclass(frozen=True)
class AuditPage:
    items: list[AuditLine]
    next_cursor: str | None  # None: this was the last page


@dataclass(frozen=True)
class AuditFilter:
    """What query() and count() select; None means 'any'."""

    execution_id: str | None = None
    flow_uuid: str | None = None
    topic: str | None = None
    identifier: str | None = None
    primary_key: str | None = None
    is_error: bool | None = None
    since: float | None = None  # created_at >= since (seconds since the epoch)
    until: float | None = None  # created_at < until


def parse_time(text: str, name: str) -> float:
    """ISO-8601 date or date-time to epoch seconds; a time without an offset is taken as UTC."""
    try:
        parsed = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ValidationError(f"{name} must be an ISO-8601 date or time such as 2024-05-01T12:00:00Z (got "
                              f"{text[:60]!r}).", code="INVALID_FILTER") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.timestamp()


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"audit:{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    """The id the next page starts below; a cursor we did not hand out is the caller's mistake."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
        tag, _, number = text.partition(":")
        if tag != "audit" or not number.isdigit():
            raise ValueError(text)
        return int(number)
    except (ValueError, UnicodeDecodeError, binascii.Error):
        raise ValidationError("cursor is not one this server handed out; pass the nextCursor of the previous page "
                              "unchanged, or leave it out for the first page.", code="INVALID_CURSOR") from None


def _label(value: Any) -> str | None:
    if value is None:
        return None
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text[:MAX_TEXT_CHARS]


def encode_data(data: Any) -> str | None:
    """The data as JSON text, or a note of its size and a preview when it is too big to keep."""
    if data is None:
        return None
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=str)
    if len(text) <= MAX_DATA_CHARS:
        return text
    note = {"truncated": True, "characters": len(text), "preview": text[:DATA_PREVIEW_CHARS]}
    return json.dumps(note, ensure_ascii=False, separators=(",", ":"))


def _row(entry: AuditEntry, now: float) -> dict[str, Any]:
    topic = _label(entry.topic)
    if not topic:
        raise ValidationError("An audit line needs a topic (it is empty).", code="INVALID_AUDIT_LINE")
    return {"execution_id": entry.execution_id, "flow_uuid": entry.flow_uuid, "block_id": entry.block_id,
            "topic": topic, "identifier": _label(entry.identifier), "primary_key": _label(entry.primary_key),
            "secondary_key": _label(entry.secondary_key), "data_json": encode_data(entry.data),
            "is_error": bool(entry.is_error), "created_at": now if entry.created_at is None else entry.created_at}


_COLUMNS = (_c.id, _c.execution_id, _c.flow_uuid, _c.block_id, _c.topic, _c.identifier, _c.primary_key,
            _c.secondary_key, _c.data_json, _c.is_error, _c.created_at)


def _line(row: Any) -> AuditLine:
    return AuditLine(row.id, row.execution_id, row.flow_uuid, row.block_id, row.topic, row.identifier,
                     row.primary_key, row.secondary_key, None if row.data_json is None else json.loads(row.data_json),
                     bool(row.is_error), row.created_at)


def _conditions(where: AuditFilter) -> list[Any]:
    conditions = []
    for column, value in ((_c.execution_id, where.execution_id), (_c.flow_uuid, where.flow_uuid),
                          (_c.topic, where.topic), (_c.identifier, where.identifier),
                          (_c.primary_key, where.primary_key), (_c.is_error, where.is_error)):
        if value is not None:
            conditions.append(column == value)
    if where.since is not None:
        conditions.append(_c.created_at >= where.since)
    if where.until is not None:
        conditions.append(_c.created_at < where.until)
    return conditions


class AuditLog:
    """Writes audit lines through the app's DatabaseWriter and reads them back.

    Built once per process (`AuditLog(services.engine, services.writer)`) and handed to runs as
    `RunResources(audit=...)`; the server's audit route and the execution detail read through it.
    Lines are ordered by id: the writer commits them in the order they are recorded, so the
    highest id is the newest line.
    """

    def __init__(self, engine: Engine, writer: DatabaseWriter, write_timeout: float = 60):
        self._engine = engine
        self._writer = writer
        self._write_timeout = write_timeout

    def record_many(self, entries: Sequence[AuditEntry]) -> int:
        """Write the lines in one writer op (one batch of a block); returns how many were written."""
        if not entries:
            return 0
        rows = [_row(entry, time.time()) for entry in entries]

        def op(conn, _batch) -> int:
            conn.execute(insert(_table), rows)
            return len(rows)

        try:
            return self._writer.run(op, timeout=self._write_timeout)
        except TimeoutError:  # the lines may still land; the caller must not assume either way
            raise ZiggyError(f"The database did not take the audit lines within {self._write_timeout:g} s (it is "
                             f"busy); retry the run later.", code="DATABASE_BUSY", http_status=503) from None

    def record(self, entry: AuditEntry) -> None:
        self.record_many([entry])

    def query(self, *, execution_id: str | None = None, flow_uuid: str | None = None, topic: str | None = None,
              identifier: str | None = None, primary_key: str | None = None, is_error: bool | None = None,
              since: float | None = None, until: float | None = None, limit: int = 100,
              cursor: str | None = None, offset: int = 0) -> AuditPage:
        """Lines matching every given filter, newest first, one page at a time.

        `since`/`until` are epoch seconds (created_at >= since, < until). Pass the page's
        next_cursor to get the next one (stable while new lines arrive); `offset` skips lines
        instead, for simple paging in the GUI.
        """
        if not 1 <= limit <= MAX_QUERY_LIMIT:
            raise ValidationError(f"limit must be a whole number from 1 to {MAX_QUERY_LIMIT}.",
                                  code="INVALID_LIMIT")
        if offset < 0:
            raise ValidationError("offset must be 0 or more.", code="INVALID_FILTER")
        conditions = _conditions(AuditFilter(execution_id, flow_uuid, topic, identifier, primary_key, is_error,
                                             since, until))
        if cursor:
            conditions.append(_c.id < decode_cursor(cursor))
        # One row more than asked tells whether there is a next page without a count.
        query = select(*_COLUMNS).where(*conditions).order_by(_c.id.desc()).limit(limit + 1).offset(offset)
        with self._engine.connect() as conn:
            rows = conn.execute(query).all()
        lines = [_line(row) for row in rows[:limit]]
        next_cursor = encode_cursor(lines[-1].id) if len(rows) > limit else None
        return AuditPage(lines, next_cursor)

    def count(self, *, execution_id: str | None = None, flow_uuid: str | None = None, topic: str | None = None,
              identifier: str | None = None, primary_key: str | None = None, is_error: bool | None = None,
              since: float | None = None, until: float | None = None) -> int:
        conditions = _conditions(AuditFilter(execution_id, flow_uuid, topic, identifier, primary_key, is_error,
                                             since, until))
        with self._engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(_table).where(*conditions)).scalar_one()

    def for_execution(self, execution_id: str, limit: int = EXECUTION_DETAIL_LINES) -> list[AuditLine]:
        """The first `limit` lines a run wrote, oldest first (the order its blocks wrote them)."""
        query = select(*_COLUMNS).where(_c.execution_id == execution_id).order_by(_c.id).limit(limit)
        with self._engine.connect() as conn:
            return [_line(row) for row in conn.execute(query).all()]


__all__ = ["AuditEntry", "AuditLine", "AuditLog", "AuditPage", "parse_time"]
