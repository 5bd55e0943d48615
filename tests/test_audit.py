"""The audit log service on a real SQLite database: writing, filters, paging and bounded data."""

from __future__ import annotations

import json

import pytest

from ziggy_desktop.audit import MAX_DATA_CHARS, MAX_TEXT_CHARS, AuditEntry, AuditLog, parse_time
from ziggy_desktop.errors import ValidationError


@pytest.fixture
def audit(services) -> AuditLog:
    return AuditLog(services.engine, services.writer)


def entry(**changes) -> AuditEntry:
    values = {"execution_id": "e1", "flow_uuid": "f1", "block_id": "audit", "topic": "import"}
    values.update(changes)
    return AuditEntry(**values)


def test_lines_come_back_newest_first_with_every_field(audit):
    audit.record_many([entry(identifier="a@x.com", primary_key="101", secondary_key="s-1", data={"id": 1}),
                       entry(topic="reject", is_error=True, created_at=1_700_000_000.25)])
    page = audit.query()
    assert [line.topic for line in page.items] == ["reject", "import"]
    assert page.next_cursor is None
    newest, oldest = page.items
    assert (oldest.execution_id, oldest.flow_uuid, oldest.block_id) == ("e1", "f1", "audit")
    assert (oldest.identifier, oldest.primary_key, oldest.secondary_key) == ("a@x.com", "101", "s-1")
    assert oldest.data == {"id": 1} and oldest.is_error is False
    assert newest.data is None and newest.is_error is True
    assert newest.to_json()["createdAt"] == "2023-11-14T22:13:20.250Z"
    assert set(newest.to_json()) == {"id", "executionId", "flowUuid", "blockId", "topic", "identifier",
                                     "primaryKey", "secondaryKey", "data", "isError", "createdAt"}


def test_a_batch_is_one_writer_operation(audit, services, monkeypatch):
    calls = []
    original = services.writer.run
    monkeypatch.setattr(services.writer, "run", lambda op, timeout=60: calls.append(op) or original(op, timeout))
    assert audit.record_many([entry(primary_key=str(i)) for i in range(300)]) == 300
    assert len(calls) == 1
    assert audit.count() == 300
    assert audit.record_many([]) == 0 and len(calls) == 1


def test_filters_combine(audit):
    audit.record_many([
        entry(execution_id="e1", flow_uuid="f1", topic="import", identifier="a", primary_key="1"),
        entry(execution_id="e1", flow_uuid="f1", topic="reject", identifier="b", primary_key="2", is_error=True),
        entry(execution_id="e2", flow_uuid="f2", topic="import", identifier="a", primary_key="3", is_error=True),
    ])

    def keys(**filters):
        return sorted(line.primary_key for line in audit.query(**filters).items)

    assert keys(execution_id="e1") == ["1", "2"]
    assert keys(flow_uuid="f2") == ["3"]
    assert keys(topic="import") == ["1", "3"]
    assert keys(identifier="a", is_error=True) == ["3"]
    assert keys(is_error=False) == ["1"]
    assert keys(primary_key="2") == ["2"]
    assert keys(topic="nothing") == []
    assert audit.count(topic="import") == 2 and audit.count(execution_id="e1", is_error=True) == 1


def test_since_and_until_select_a_time_window(audit):
    audit.record_many([entry(primary_key=str(t), created_at=float(t)) for t in (100, 200, 300)])
    assert [line.primary_key for line in audit.query(since=200).items] == ["300", "200"]
    assert [line.primary_key for line in audit.query(until=200).items] == ["100"]
    assert [line.primary_key for line in audit.query(since=150, until=300).items] == ["200"]


def test_cursor_pages_through_everything_once_even_while_lines_arrive(audit):
    audit.record_many([entry(primary_key=str(i)) for i in range(25)])
    seen = []
    page = audit.query(limit=10)
    seen += [line.primary_key for line in page.items]
    audit.record_many([entry(primary_key="late")])  # newer than the first page: not in the next ones
    while page.next_cursor:
        page = audit.query(limit=10, cursor=page.next_cursor)
        seen += [line.primary_key for line in page.items]
    assert seen == [str(i) for i in reversed(range(25))]
    assert [line.primary_key for line in audit.query(limit=2, offset=1).items] == ["24", "23"]


def test_bad_limits_and_cursors_are_refused(audit):
    for limit in (0, 1001):
        with pytest.raises(ValidationError):
            audit.query(limit=limit)
    for cursor in ("not-a-cursor", "YWJj", "!!"):
        with pytest.raises(ValidationError) as caught:
            audit.query(cursor=cursor)
        assert caught.value.code == "INVALID_CURSOR"


def test_for_execution_is_oldest_first_and_bounded(audit):
    audit.record_many([entry(execution_id="run", primary_key=str(i)) for i in range(5)])
    audit.record_many([entry(execution_id="other")])
    assert [line.primary_key for line in audit.for_execution("run")] == ["0", "1", "2", "3", "4"]
    assert [line.primary_key for line in audit.for_execution("run", limit=2)] == ["0", "1"]
    assert audit.for_execution("unknown") == []


def test_big_data_is_kept_as_a_note_and_long_labels_are_cut(audit):
    big = {"blob": "x" * MAX_DATA_CHARS}
    audit.record_many([entry(data=big, identifier="i" * (MAX_TEXT_CHARS + 50), primary_key=12345)])
    line = audit.query().items[0]
    assert line.data["truncated"] is True
    assert line.data["characters"] == len(json.dumps(big, separators=(",", ":")))
    assert len(line.data["preview"]) <= 1000
    assert line.identifier == "i" * MAX_TEXT_CHARS
    assert line.primary_key == "12345"


def test_a_line_needs_a_topic(audit):
    with pytest.raises(ValidationError):
        audit.record_many([entry(), entry(topic="")])
    assert audit.count() == 0


@pytest.mark.parametrize("text, expected", [("2024-05-01T12:00:00Z", 1714564800.0),
                                            ("2024-05-01T14:00:00+02:00", 1714564800.0),
                                            ("2024-05-01T12:00:00", 1714564800.0),
                                            ("2024-05-01", 1714521600.0)])
def test_parse_time_reads_iso_8601_as_utc(text, expected):
    assert parse_time(text, "since") == expected


def test_parse_time_names_the_parameter():
    with pytest.raises(ValidationError) as caught:
        parse_time("yesterday", "until")
    assert caught.value.message.startswith("until must be an ISO-8601")


def test_lines_the_database_does_not_take_in_time_are_a_clear_error(services):
    from ziggy_desktop.db import DatabaseWriter
    from ziggy_desktop.errors import ZiggyError

    stalled = DatabaseWriter(services.engine)  # never started: nothing it is given is committed
    with pytest.raises(ZiggyError) as caught:
        AuditLog(services.engine, stalled, write_timeout=0.01).record_many([entry()])
    assert caught.value.code == "DATABASE_BUSY"
