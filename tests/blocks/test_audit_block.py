"""The audit block on a real SQLite audit log: one line per record, per-batch writes, error paths."""

from __future__ import annotations

from typing import Any

import pytest

from ziggy_desktop.audit import AuditLog
from ziggy_desktop.engine import RunContext, RunResources, compile_flow, run_flow
from ziggy_desktop.errors import ValidationError
from ziggy_desktop.flows import validate_flow

FLOW_UUID = "7a2c0a4e-1d2c-4e5f-8a9b-0c1d2e3f4a5b"


@pytest.fixture
def audit(services) -> AuditLog:
    return AuditLog(services.engine, services.writer)


def audit_flow(batch_size: int = 0, **config: Any) -> dict[str, Any]:
    return {"ziggyFlow": 1, "uuid": FLOW_UUID, "name": "t",
            "blocks": [{"id": "receiver", "type": "receiver", "config": {"batchSize": batch_size}},
                       {"id": "log", "type": "audit", "config": {"topic": "import", **config}},
                       {"id": "end", "type": "terminator"}],
            "edges": [{"from": "receiver", "to": "log"}, {"from": "log", "to": "end"}]}


def run(document: dict[str, Any], payload: Any, audit: AuditLog | None, execution_id: str = "run-1"):
    compiled = compile_flow(validate_flow(document))
    ctx = RunContext(execution_id, "DEV", payload, False, timeout_seconds=30, resources=RunResources(audit=audit),
                     flow_uuid=FLOW_UUID)
    return run_flow(compiled, ctx), ctx.result


CONTACTS = [{"email": "ada@x.com", "id": 101, "source": {"crmId": "c-1"}, "country": "UK"},
            {"email": "bob@x.com", "id": 102, "source": {"crmId": "c-2"}, "country": "FR"}]


def test_one_line_per_record_and_the_records_pass_on_unchanged(audit):
    document = audit_flow(topic="import-{{ lower(country) }}", identifier="email", primaryKey="{{ id }}",
                          secondaryKey="source.crmId", includeData=True)
    outcome, result = run(document, CONTACTS, audit)
    assert outcome.status == "SUCCESS", outcome.reason
    assert result == CONTACTS
    lines = audit.for_execution("run-1")
    assert [(line.topic, line.identifier, line.primary_key, line.secondary_key) for line in lines] == [
        ("import-uk", "ada@x.com", "101", "c-1"), ("import-fr", "bob@x.com", "102", "c-2")]
    assert all(line.flow_uuid == FLOW_UUID and line.block_id == "log" and not line.is_error for line in lines)
    assert [line.data for line in lines] == CONTACTS


def test_data_is_kept_only_when_asked_and_is_error_marks_the_lines(audit):
    run(audit_flow(isError=True, identifier="email"), CONTACTS[:1], audit)
    line = audit.for_execution("run-1")[0]
    assert line.data is None and line.is_error is True
    assert audit.count(is_error=True, identifier="ada@x.com") == 1


def test_missing_fields_give_empty_labels_and_each_batch_is_one_write(audit, services, monkeypatch):
    calls = []
    original = services.writer.run
    monkeypatch.setattr(services.writer, "run", lambda op, timeout=60: calls.append(op) or original(op, timeout))
    records = [{"id": i} for i in range(5)]
    outcome, _ = run(audit_flow(batch_size=2, identifier="email", primaryKey="{{ id }}"), records, audit)
    assert outcome.status == "SUCCESS", outcome.reason
    assert len(calls) == 3
    lines = audit.for_execution("run-1")
    assert [line.primary_key for line in lines] == ["0", "1", "2", "3", "4"]
    assert {line.identifier for line in lines} == {None}


def test_a_failing_block_is_audited_on_the_error_path_before_the_run_ends(audit):
    document = {"ziggyFlow": 1, "uuid": FLOW_UUID, "name": "t",
                "blocks": [{"id": "receiver", "type": "receiver"},
                           {"id": "boom", "type": "fail", "config": {"message": "HubSpot said no"}},
                           {"id": "log", "type": "audit", "config": {"topic": "failure", "identifier": "blockId",
                                                                    "primaryKey": "{{ executionId }}",
                                                                    "isError": True, "includeData": True}},
                           {"id": "end", "type": "terminator"}],
                "edges": [{"from": "receiver", "to": "boom"}, {"from": "boom", "fromPort": "error", "to": "log"},
                          {"from": "log", "to": "end", "toPort": "error"}]}
    outcome, _ = run(document, [{"id": 1}], audit, execution_id="run-err")
    assert outcome.status == "FATAL" and outcome.failed_block == "boom"
    (line,) = audit.for_execution("run-err")
    assert (line.topic, line.identifier, line.primary_key, line.is_error) == ("failure", "boom", "run-err", True)
    assert line.data["message"] == "HubSpot said no"


def test_an_empty_batch_writes_nothing_and_passes_on(audit):
    outcome, result = run(audit_flow(), [], audit)
    assert outcome.status == "SUCCESS" and result == []
    assert audit.count() == 0


def test_a_template_failing_on_a_record_ends_the_run_naming_the_record(audit):
    outcome, _ = run(audit_flow(primaryKey="{{ hubspot.id }}"), [{"id": 1}], audit)
    assert outcome.status == "FATAL" and outcome.failed_block == "log"
    assert "primaryKey of record 0" in outcome.reason and "'hubspot'" in outcome.reason
    assert audit.count() == 0
    outcome, _ = run(audit_flow(topic="{{ kind }}"), [{"kind": ""}], audit)
    assert outcome.status == "FATAL" and "topic of record 0 is empty" in outcome.reason


def test_without_an_audit_log_the_run_fails_saying_so():
    outcome, _ = run(audit_flow(), [{"id": 1}], None)
    assert outcome.status == "FATAL" and "no audit" in outcome.reason


@pytest.mark.parametrize("config, message", [
    ({"topic": ""}, "config.topic is required"),
    ({"topic": "   "}, "config.topic is empty"),
    ({"topic": "{{ 1 + }}"}, "config.topic"),
    ({"identifier": "{{ )( }}"}, "config.identifier"),
    ({"isError": "yes"}, "config.isError must be true or false"),
    ({"primaryKeys": "id"}, "unknown field(s) primaryKeys"),
])
def test_bad_config_is_refused_naming_the_field(config, message):
    with pytest.raises(ValidationError) as caught:
        validate_flow(audit_flow(**config))
    assert message in caught.value.message and "'log'" in caught.value.message
