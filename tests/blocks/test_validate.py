"""The validate block: JSON Schema on records, the invalid output with reasons, and abortOnInvalid."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from ziggy_desktop.engine import RunContext, compile_flow, run_flow
from ziggy_desktop.errors import ValidationError
from ziggy_desktop.flows import validate_flow

CONTACT = {"type": "object", "required": ["email", "age"],
           "properties": {"email": {"type": "string", "format": "email"},
                          "age": {"type": "integer", "minimum": 0},
                          "address": {"type": "object", "properties": {"zip": {"type": "string"}}}}}


def validate_flow_doc(config: dict[str, Any], rows: Any, batch_size: int = 0) -> dict[str, Any]:
    """receiver -> validate; `valid` -> terminator, `invalid` -> a console (seen through the edge samples)."""
    return {"ziggyFlow": 1, "uuid": str(uuid.uuid4()), "name": "validate test",
            "blocks": [{"id": "receiver", "type": "receiver", "config": {"testData": rows, "batchSize": batch_size}},
                       {"id": "check", "type": "validate", "config": config},
                       {"id": "end", "type": "terminator"},
                       {"id": "bad", "type": "console", "config": {"message": "invalid"}}],
            "edges": [{"from": "receiver", "to": "check"}, {"from": "check", "fromPort": "valid", "to": "end"},
                      {"from": "check", "fromPort": "invalid", "to": "bad"}]}


def run(config: dict[str, Any], rows: Any, batch_size: int = 0):
    compiled = compile_flow(validate_flow(validate_flow_doc(config, rows, batch_size)))
    return run_flow(compiled, RunContext("e1", "DEV", None, True, timeout_seconds=30))


def invalid_edge(outcome) -> dict[str, Any]:
    return next(edge for edge in outcome.edges if edge["fromPort"] == "invalid")


def test_valid_records_pass_and_invalid_ones_go_out_with_their_errors():
    rows = [{"email": "ada@example.com", "age": 36},
            {"email": "linus@example.com", "age": "17", "address": {"zip": 75001}},
            {"age": -1},
            {"email": "grace@example.com", "age": 85}]
    outcome = run({"schema": CONTACT}, rows)
    assert outcome.status == "SUCCESS", outcome.reason
    assert outcome.result == [rows[0], rows[3]]
    edge = invalid_edge(outcome)
    assert edge["records"] == 2
    first, second = edge["sample"]
    assert first["record"] == rows[1]
    assert sorted(first["errors"], key=lambda e: e["path"]) == [
        {"path": "address.zip", "message": "75001 is not of type 'string'"},
        {"path": "age", "message": "'17' is not of type 'integer'"}]
    assert {"path": "", "message": "'email' is a required property"} in second["errors"]
    assert {"path": "age", "message": "-1 is less than the minimum of 0"} in second["errors"]


def test_abort_on_invalid_fails_the_run_naming_the_record_index_and_reasons():
    rows = [{"email": "a@example.com", "age": 1}, {"email": "b@example.com", "age": 2},
            {"email": "c@example.com", "age": 3}, {"email": "d@example.com", "age": "four"}]
    outcome = run({"schema": CONTACT, "abortOnInvalid": True}, rows, batch_size=2)  # the bad one is in batch 2
    assert outcome.status == "FATAL"
    assert outcome.failed_block == "check"
    assert "record 3 (counting from 0) is invalid" in outcome.reason
    assert "age: 'four' is not of type 'integer'" in outcome.reason


def test_formats_are_checked_only_when_asked():
    rows = [{"email": "not an address", "age": 1}]
    assert run({"schema": CONTACT}, rows).result == rows
    outcome = run({"schema": CONTACT, "formats": True}, rows)
    assert outcome.result is None
    assert invalid_edge(outcome)["sample"][0]["errors"] == [
        {"path": "email", "message": "'not an address' is not a 'email'"}]


def test_the_draft_decides_what_a_schema_means():
    tuple_items = {"type": "array", "items": [{"type": "string"}, {"type": "integer"}]}  # draft 7 tuple form
    assert run({"schema": tuple_items, "draft": "7"}, [["a", 1]]).result == [["a", 1]]
    with pytest.raises(ValidationError, match="not a valid JSON Schema \\(draft 2020-12\\) at items"):
        validate_flow(validate_flow_doc({"schema": tuple_items}, []))


def test_local_refs_work_and_remote_refs_are_never_fetched():
    local = {"$defs": {"id": {"type": "integer"}}, "properties": {"id": {"$ref": "#/$defs/id"}}}
    outcome = run({"schema": local}, [{"id": 1}, {"id": "x"}])
    assert outcome.result == [{"id": 1}] and invalid_edge(outcome)["records"] == 1
    remote = {"properties": {"id": {"$ref": "http://127.0.0.1:9/id.json"}}}
    outcome = run({"schema": remote}, [{"id": 1}])
    assert outcome.status == "FATAL"
    assert "cannot be resolved" in outcome.reason and "inside the schema" in outcome.reason


def test_non_object_data_is_just_invalid():
    outcome = run({"schema": CONTACT}, ["text", 3, None])
    assert outcome.status == "SUCCESS"
    assert invalid_edge(outcome)["records"] == 3
    assert invalid_edge(outcome)["sample"][0]["errors"] == [{"path": "", "message": "'text' is not of type 'object'"}]


@pytest.mark.parametrize(("config", "message"), [
    ({}, "config.schema is required"),
    ({"schema": [1, 2]}, "config.schema must be a JSON Schema object"),
    ({"schema": {"type": "strin"}}, "config.schema is not a valid JSON Schema (draft 2020-12) at type: "
                                    "'strin' is not valid under any of the given schemas"),
    ({"schema": {"required": "email"}, "draft": "7"}, "(draft 7) at required: 'email' is not of type 'array'"),
    ({"schema": {}, "draft": "4"}, "config.draft must be one of 2020-12, 7"),
])
def test_bad_config_is_refused_naming_the_block_and_problem(config: dict[str, Any], message: str):
    with pytest.raises(ValidationError) as caught:
        validate_flow(validate_flow_doc(config, []))
    assert "'check'" in str(caught.value) and message in str(caught.value)
