"""The map block: mappings, transforms, defaults, required fields and the rejected output."""

from __future__ import annotations

import copy
import uuid
from typing import Any

import pytest

from ziggy_desktop.engine import RunContext, RunStopped, compile_flow, run_flow
from ziggy_desktop.engine.registry import get_block_type, validate_config
from ziggy_desktop.engine.runner import CompiledBlock
from ziggy_desktop.errors import ValidationError
from ziggy_desktop.flows import validate_flow


def map_block(config: dict[str, Any], ctx: RunContext | None = None):
    """A map block of one run, configured as a flow would configure it."""
    block_type = get_block_type("map")
    checked = validate_config(block_type, config, "block 'm'")
    node = CompiledBlock("m", "m", block_type, checked, block_type.impl.prepare(checked, "block 'm'"))
    return block_type.impl(ctx or RunContext("e1", "DEV", None, False), checked, node)


def outputs(block, data: Any) -> dict[str, Any]:
    return dict(block.process("in", data))


def map_flow(config: dict[str, Any], rows: list[dict[str, Any]]) -> dict[str, Any]:
    """receiver -> map; `out` -> terminator, `rejected` -> a console (seen through the edge samples)."""
    return {"ziggyFlow": 1, "uuid": str(uuid.uuid4()), "name": "map test",
            "blocks": [{"id": "receiver", "type": "receiver", "config": {"testData": rows}},
                       {"id": "m", "type": "map", "config": config},
                       {"id": "end", "type": "terminator"},
                       {"id": "rejects", "type": "console", "config": {"message": "rejected"}}],
            "edges": [{"from": "receiver", "to": "m"}, {"from": "m", "fromPort": "out", "to": "end"},
                      {"from": "m", "fromPort": "rejected", "to": "rejects"}]}


CONTACTS_MAPPING = {"mappings": [
    {"target": "email", "source": "Email", "transform": "lower", "required": True},
    {"target": "name", "expression": "concat(trim(First), ' ', trim(Last))"},
    {"target": "age", "source": "Age", "transform": "int"},
    {"target": "vip", "source": "VIP", "transform": "bool", "default": False},
    {"target": "signup.date", "source": "Signed", "transform": "date"},
    {"target": "signup.ms", "source": "Signed", "transform": "epoch_ms"},
    {"target": "country", "source": "Country", "transform": "upper", "default": "FR"},
]}


def test_csv_like_rows_become_typed_records_through_the_engine():
    rows = [{"Email": "Ada@Example.COM", "First": " Ada ", "Last": "Lovelace", "Age": "36", "VIP": "yes",
             "Signed": "2024-01-05", "Country": "uk"},
            {"Email": "linus@example.com", "First": "Linus", "Last": "T", "Age": "17.0", "VIP": "",
             "Signed": "2024-01-05T10:30:00+00:00", "Country": ""}]
    document = map_flow(CONTACTS_MAPPING, rows)
    compiled = compile_flow(validate_flow(document))
    ctx = RunContext("e1", "DEV", None, True, timeout_seconds=30)
    outcome = run_flow(compiled, ctx)
    assert outcome.status == "SUCCESS", outcome.reason
    assert outcome.result == [
        {"email": "ada@example.com", "name": "Ada Lovelace", "age": 36, "vip": True,
         "signup": {"date": "2024-01-05", "ms": 1704412800000}, "country": "UK"},
        {"email": "linus@example.com", "name": "Linus T", "age": 17, "vip": False,
         "signup": {"date": "2024-01-05T10:30:00+00:00", "ms": 1704450600000}, "country": "FR"},
    ]
    assert not any(edge["fromPort"] == "rejected" and edge["records"] for edge in outcome.edges)
    assert rows[0]["Email"] == "Ada@Example.COM"  # the input is never changed


def test_failing_records_go_to_rejected_with_the_mapping_and_reason_and_the_run_goes_on():
    rows = [{"Email": "ok@example.com", "Age": "40"},
            {"Email": "", "Age": "41"},  # required email is empty
            {"Email": "x@example.com", "Age": "forty"},  # not a number
            {"Email": "y@example.com", "Age": "12.5"},  # not a whole number
            ["not", "an", "object"]]
    config = {"mappings": [{"target": "email", "source": "Email", "required": True},
                           {"target": "age", "source": "Age", "transform": "int"}]}
    outcome = run_flow(compile_flow(validate_flow(map_flow(config, rows))),
                       RunContext("e1", "DEV", None, True, timeout_seconds=30))
    assert outcome.status == "SUCCESS", outcome.reason
    assert outcome.result == [{"email": "ok@example.com", "age": 40}]
    rejected = next(edge for edge in outcome.edges if edge["fromPort"] == "rejected")
    assert rejected["records"] == 4
    reasons = [item["reason"] for item in rejected["sample"]]
    assert [item["record"] for item in rejected["sample"]] == rows[1:]
    assert "mappings[0] (email)" in reasons[0] and "required" in reasons[0] and "'Email'" in reasons[0]
    assert "mappings[1] (age)" in reasons[1] and "int" in reasons[1] and "'forty'" in reasons[1]
    assert "not a whole number" in reasons[2]
    assert reasons[3] == "not an object (got a list)"


def test_an_expression_that_fails_on_a_record_rejects_that_record_only():
    block = map_block({"mappings": [{"target": "total", "expression": "price * quantity"}]})
    result = outputs(block, [{"price": 2, "quantity": 3}, {"price": 2}, {"price": "a", "quantity": None}])
    assert result["out"] == [{"total": 6}]
    first, second = result["rejected"]
    assert "no field or name 'quantity'" in first["reason"] and "mappings[0] (total)" in first["reason"]
    assert "TypeError" in second["reason"]


def test_keep_unmapped_copies_the_input_and_never_changes_it():
    record = {"id": 7, "address": {"city": "paris", "zip": "75001"}, "tags": ["a"]}
    original = copy.deepcopy(record)
    block = map_block({"keepUnmapped": True, "mappings": [
        {"target": "address.city", "transform": "upper"},  # no source: the field keeps its name
        {"target": "id", "transform": "string"},
        {"target": "tags", "transform": "string"}]})
    assert outputs(block, [record])["out"] == [{"id": "7", "address": {"city": "PARIS", "zip": "75001"},
                                               "tags": '["a"]'}]
    assert record == original


def test_defaults_fill_missing_and_empty_values_but_not_present_ones():
    block = map_block({"mappings": [{"target": "status", "default": "new", "required": True},
                                    {"target": "note", "source": "comment", "transform": "trim"}]})
    result = outputs(block, [{"status": ""}, {"status": "won", "comment": "  hi  "}, {"comment": "   "}])
    assert result["out"] == [{"status": "new", "note": None}, {"status": "won", "note": "hi"},
                             {"status": "new", "note": ""}]


@pytest.mark.parametrize(("transform", "value", "expected"), [
    ("int", 12.0, 12), ("int", " 12 ", 12), ("float", "1.5", 1.5), ("float", 3, 3.0),
    ("bool", "No", False), ("bool", "on", True), ("bool", 0, False), ("string", 1.0, "1"),
    ("string", True, "true"), ("date", "2024-02-29T08:00:00", "2024-02-29T08:00:00"),
    ("epoch_ms", "1970-01-01T00:00:01Z", 1000), ("epoch_ms", 1234, 1234), ("trim", " a b ", "a b"),
])
def test_transforms(transform: str, value: Any, expected: Any):
    block = map_block({"mappings": [{"target": "v", "transform": transform}]})
    result = outputs(block, [{"v": value}])
    assert result == {"out": [{"v": expected}]}
    assert type(result["out"][0]["v"]) is type(expected)


@pytest.mark.parametrize(("transform", "value"), [
    ("int", "1e400"), ("int", [1]), ("float", "nan"), ("float", "x"), ("bool", "maybe"), ("date", "05/01/2024"),
    ("date", 20240105), ("epoch_ms", "yesterday"),
])
def test_bad_values_are_rejected_not_fatal(transform: str, value: Any):
    result = outputs(map_block({"mappings": [{"target": "v", "transform": transform}]}), [{"v": value}])
    assert "out" not in result
    assert f"transform {transform} failed" in result["rejected"][0]["reason"]


def test_single_record_and_empty_batches():
    block = map_block({"mappings": [{"target": "a"}]})
    assert outputs(block, {"a": 1}) == {"out": [{"a": 1}]}  # one object is one record
    assert outputs(block, []) == {"out": []}  # an empty batch goes on (has_data can see it)
    assert outputs(block, None) == {"out": []}


def test_a_kill_stops_a_long_batch():
    ctx = RunContext("e1", "DEV", None, False)
    block = map_block({"mappings": [{"target": "a"}]}, ctx)
    ctx.kill("stop")
    with pytest.raises(RunStopped):
        outputs(block, [{"a": i} for i in range(5000)])


@pytest.mark.parametrize(("config", "message"), [
    ({"mappings": [{"target": "a", "transform": "reverse"}]}, "config.mappings[0].transform must be one of"),
    ({"mappings": [{"target": "a", "expression": "1 +"}]}, "config.mappings[0].expression"),
    ({"mappings": [{"target": "a..b"}]}, "config.mappings[0].target 'a..b' must be a field name"),
    ({"mappings": [{"target": "a", "source": "x."}]}, "config.mappings[0].source 'x.' must be a field name"),
    ({"mappings": [{"source": "x"}]}, "config.mappings[0].target is required"),
    ({"mappings": [{"target": "a", "sauce": "x"}]}, "unknown field(s) sauce"),
    ({"mappings": []}, "config.mappings is empty; add a mapping or turn on keepUnmapped"),
])
def test_bad_config_is_refused_naming_the_block_and_field(config: dict[str, Any], message: str):
    with pytest.raises(ValidationError) as caught:
        validate_flow(map_flow(config, []))
    assert "'m'" in str(caught.value) and message in str(caught.value)
