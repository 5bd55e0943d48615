"""The flow-shaping blocks: branch, iterator, merger, key filter, has data, variables, console."""

from __future__ import annotations

from typing import Any

import pytest

from ziggy_desktop.engine import RunContext, compile_flow, run_flow
from ziggy_desktop.errors import ValidationError
from ziggy_desktop.flows import validate_flow


def graph(blocks: list[dict[str, Any]], edges: list[tuple], test_data: Any = None) -> dict[str, Any]:
    """A flow from (from, fromPort, to, toPort) tuples; blocks need id/type/config."""
    return {"ziggyFlow": 1, "uuid": "0b7f0a4e-1d2c-4e5f-8a9b-0c1d2e3f4a5b", "name": "t",
            "blocks": [{"id": "receiver", "type": "receiver", "config": {"testData": test_data}}, *blocks],
            "edges": [{"from": a, "fromPort": ap, "to": b, "toPort": bp} for a, ap, b, bp in edges]}


def run(document: dict[str, Any], payload: Any = None):
    compiled = compile_flow(validate_flow(document))
    ctx = RunContext("e1", "DEV", payload, False, timeout_seconds=30)
    return run_flow(compiled, ctx), ctx


PEOPLE = [{"name": "Ada", "country": "UK", "age": 36}, {"name": "Linus", "country": "FI", "age": 17},
          {"name": "Grace", "country": "US", "age": 85}, {"name": "Zed", "country": "FR", "age": 30}]


def branch_flow(target_port: str) -> dict[str, Any]:
    return graph(
        [{"id": "route", "type": "branch", "config": {"conditions": [
            {"port": "minors", "expression": "age < 18"},
            {"port": "europe", "expression": "country in ['UK', 'FI', 'FR']"}]}},
         {"id": "end", "type": "terminator"}],
        [("receiver", "out", "route", "in"), ("route", target_port, "end", "in")])


def test_branch_sends_each_record_to_the_first_matching_condition():
    assert [p["name"] for p in run(branch_flow("minors"), PEOPLE)[1].result] == ["Linus"]
    assert [p["name"] for p in run(branch_flow("europe"), PEOPLE)[1].result] == ["Ada", "Zed"]  # Linus went first
    assert [p["name"] for p in run(branch_flow("else"), PEOPLE)[1].result] == ["Grace"]


def test_branch_config_errors_name_the_condition():
    with pytest.raises(ValidationError, match=r"conditions\[0\]\.expression.*not valid"):
        validate_flow(graph([{"id": "b", "type": "branch", "config": {"conditions": [
            {"port": "x", "expression": "age <"}]}}, {"id": "end", "type": "terminator"}], []))
    with pytest.raises(ValidationError, match=r"conditions\[1\]\.port 'x' must be a unique name"):
        validate_flow(graph([{"id": "b", "type": "branch", "config": {"conditions": [
            {"port": "x", "expression": "1"}, {"port": "x", "expression": "2"}]}},
            {"id": "end", "type": "terminator"}], []))
    with pytest.raises(ValidationError, match=r"has no output port 'nope'"):
        validate_flow(branch_flow("nope"))


def test_branch_on_a_missing_field_fails_naming_the_field_and_block():
    outcome, _ = run(branch_flow("else"), [{"name": "no age"}])
    assert outcome.status == "FATAL" and outcome.failed_block == "route"
    assert "'age'" in outcome.reason


def test_iterator_explodes_nested_lists_with_parent_fields():
    orders = [{"orderId": 1, "customer": "Ada", "lines": [{"sku": "A", "qty": 2}, {"sku": "B", "qty": 1}]},
              {"orderId": 2, "customer": "Bob", "lines": []}, {"orderId": 3, "customer": "Cy"}]
    document = graph([{"id": "it", "type": "iterator", "config": {"path": "lines",
                                                                  "parentFields": ["orderId", "customer"]}},
                      {"id": "end", "type": "terminator"}],
                     [("receiver", "out", "it", "in"), ("it", "out", "end", "in")])
    outcome, ctx = run(document, orders)
    assert outcome.status == "SUCCESS"
    assert ctx.result == [{"parent_orderId": 1, "parent_customer": "Ada", "sku": "A", "qty": 2},
                          {"parent_orderId": 1, "parent_customer": "Ada", "sku": "B", "qty": 1}]
    bad, _ = run(document, [{"lines": "not a list"}])
    assert bad.status == "FATAL" and "must hold a list" in bad.reason


@pytest.mark.parametrize("mode, expected", [
    # collect lists path a then path b; zip merges record i of each path.
    ("collect", [{"n": 1}, {"n": 2}, {"n": 1, "label": "x", "v": "x"}, {"n": 2, "v": "x"}]),
    ("zip", [{"n": 1, "label": "x", "v": "x"}, {"n": 2, "v": "x"}]),
])
def test_merger_waits_for_both_paths(mode, expected):
    document = graph([{"id": "tag", "type": "variable_get", "config": {"name": "v", "targetField": "v"}},
                      {"id": "set", "type": "variable_set", "config": {"name": "v", "field": "label"}},
                      {"id": "plain", "type": "key_filter", "config": {"mode": "include", "keys": ["n"]}},
                      {"id": "merge", "type": "merger", "config": {"mode": mode}},
                      {"id": "end", "type": "terminator"}],
                     [("receiver", "out", "set", "in"), ("set", "out", "plain", "in"), ("set", "out", "tag", "in"),
                      ("plain", "out", "merge", "a"), ("tag", "out", "merge", "b"), ("merge", "out", "end", "in")])
    outcome, ctx = run(document, [{"n": 1, "label": "x"}, {"n": 2}])
    assert outcome.status == "SUCCESS"
    assert ctx.result == expected


def test_merger_concat_streams_each_batch():
    document = graph([{"id": "merge", "type": "merger", "config": {"mode": "concat"}},
                      {"id": "end", "type": "terminator"}],
                     [("receiver", "out", "merge", "a"), ("merge", "out", "end", "in")])
    document["blocks"][0]["config"]["batchSize"] = 2
    outcome, ctx = run(document, [1, 2, 3, 4, 5])
    assert ctx.result == [1, 2, 3, 4, 5]
    assert outcome.steps[1]["batchesIn"] == 3


@pytest.mark.parametrize("config, expected", [
    ({"mode": "include", "keys": ["id", "address.city"]}, {"id": 7, "address": {"city": "Paris"}}),
    ({"mode": "exclude", "keys": ["secret", "address.zip"]}, {"id": 7, "address": {"city": "Paris"}}),
    ({"mode": "flatten"}, {"id": 7, "secret": "s", "address.city": "Paris", "address.zip": "75001"}),
    ({"mode": "flatten", "separator": "_"}, {"id": 7, "secret": "s", "address_city": "Paris",
                                             "address_zip": "75001"}),
])
def test_key_filter(config, expected):
    document = graph([{"id": "kf", "type": "key_filter", "config": config}, {"id": "end", "type": "terminator"}],
                     [("receiver", "out", "kf", "in"), ("kf", "out", "end", "in")])
    record = {"id": 7, "secret": "s", "address": {"city": "Paris", "zip": "75001"}}
    outcome, ctx = run(document, [record])
    assert ctx.result == [expected]
    assert record["address"] == {"city": "Paris", "zip": "75001"}  # the input is not changed in place


def test_key_filter_bad_config_and_bad_data():
    with pytest.raises(ValidationError, match=r"config\.mode must be one of include, exclude, flatten"):
        validate_flow(graph([{"id": "kf", "type": "key_filter", "config": {"mode": "keep"}},
                             {"id": "end", "type": "terminator"}], []))
    document = graph([{"id": "kf", "type": "key_filter", "config": {"keys": ["a"]}},
                      {"id": "end", "type": "terminator"}],
                     [("receiver", "out", "kf", "in"), ("kf", "out", "end", "in")])
    outcome, _ = run(document, [1, 2])
    assert outcome.status == "FATAL" and "works on objects" in outcome.reason


@pytest.mark.parametrize("payload, port", [([1], "data"), ({"a": 1}, "data"), ([], "empty"), (None, "empty")])
def test_has_data_routes_empty_and_non_empty(payload, port):
    document = graph([{"id": "hd", "type": "has_data"}, {"id": "end", "type": "terminator"}],
                     [("receiver", "out", "hd", "in"), ("hd", port, "end", "in")])
    outcome, _ = run(document, payload)
    assert next(s for s in outcome.steps if s["blockId"] == "end")["status"] == "SUCCESS"


def test_variable_get_before_set_is_a_clear_error():
    document = graph([{"id": "get", "type": "variable_get", "config": {"name": "lastId"}},
                      {"id": "end", "type": "terminator"}],
                     [("receiver", "out", "get", "in"), ("get", "out", "end", "in")])
    outcome, _ = run(document, [1])
    assert outcome.status == "FATAL" and "'lastId' has not been set" in outcome.reason
    with pytest.raises(ValidationError, match=r"config\.name is required"):
        validate_flow(graph([{"id": "get", "type": "variable_get"}, {"id": "end", "type": "terminator"}], []))


def test_variables_reach_expressions():
    document = graph([{"id": "set", "type": "variable_set", "config": {"name": "limit", "field": "max"}},
                      {"id": "route", "type": "branch", "config": {"conditions": [
                          {"port": "over", "expression": "value > vars['limit']"}]}},
                      {"id": "end", "type": "terminator"}],
                     [("receiver", "out", "set", "in"), ("set", "out", "route", "in"), ("route", "over", "end", "in")])
    outcome, ctx = run(document, [{"max": 5, "value": 1}, {"value": 9}])
    assert ctx.result == [{"value": 9}]
