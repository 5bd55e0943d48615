"""The data_store block on a real SQLite store: each operation, the failed output, state across runs."""

from __future__ import annotations

from typing import Any

import pytest

from ziggy_desktop.data_store import DataStore
from ziggy_desktop.engine import RunContext, RunResources, compile_flow, run_flow
from ziggy_desktop.errors import ValidationError
from ziggy_desktop.flows import validate_flow

FLOW_UUID = "5d1c0a4e-1d2c-4e5f-8a9b-0c1d2e3f4a5b"


@pytest.fixture
def store(services) -> DataStore:
    return DataStore(services.engine, services.writer)


def graph(blocks: list[dict[str, Any]], edges: list[tuple], batch_size: int = 0) -> dict[str, Any]:
    """receiver + blocks + edges given as (from, fromPort, to, toPort); `end` and `bad` are terminators."""
    return {"ziggyFlow": 1, "uuid": FLOW_UUID, "name": "t",
            "blocks": [{"id": "receiver", "type": "receiver", "config": {"batchSize": batch_size}}, *blocks,
                       {"id": "end", "type": "terminator"}, {"id": "bad", "type": "terminator"}],
            "edges": [{"from": a, "fromPort": ap, "to": b, "toPort": bp} for a, ap, b, bp in edges]}


def store_flow(batch_size: int = 0, **config: Any) -> dict[str, Any]:
    """receiver -> data_store -> end (out) / bad (failed, into the terminator's input: kept as its result)."""
    return graph([{"id": "ds", "type": "data_store", "config": {"namespace": "ns", **config}}],
                 [("receiver", "out", "ds", "in"), ("ds", "out", "end", "in")], batch_size)


def failed_flow(**config: Any) -> dict[str, Any]:
    """The same block with only its `failed` output wired to the terminator."""
    return graph([{"id": "ds", "type": "data_store", "config": {"namespace": "ns", **config}}],
                 [("receiver", "out", "ds", "in"), ("ds", "failed", "end", "in")])


def run(document: dict[str, Any], payload: Any, store: DataStore | None, mode: str = "DEV"):
    compiled = compile_flow(validate_flow(document))
    ctx = RunContext("e1", mode, payload, False, timeout_seconds=30, resources=RunResources(data_store=store),
                     flow_uuid=FLOW_UUID)
    outcome = run_flow(compiled, ctx)
    return outcome, ctx.result


def test_upsert_stores_a_field_or_the_whole_record_and_passes_records_on(store):
    contacts = [{"email": "a@x.com", "hubspotId": 11}, {"email": "b@x.com", "hubspotId": 12}]
    outcome, result = run(store_flow(keyField="email", valueField="hubspotId"), contacts, store)
    assert outcome.status == "SUCCESS", outcome.reason
    assert result == contacts
    assert store.read_many("ns", ["a@x.com", "b@x.com"]) == {"a@x.com": 11, "b@x.com": 12}
    run(store_flow(key="contact-{{ hubspotId }}"), contacts, store)
    assert store.read("ns", "contact-12") == {"email": "b@x.com", "hubspotId": 12}


def test_read_puts_the_value_on_each_record_or_emits_the_values(store):
    store.upsert_many("ns", [("11", {"name": "Ada"}), ("12", {"name": "Bob"})])
    records = [{"id": 11}, {"id": 12.0}]
    _, result = run(store_flow(operation="read", keyField="id", targetField="stored.profile"), records, store)
    assert result == [{"id": 11, "stored": {"profile": {"name": "Ada"}}},
                      {"id": 12.0, "stored": {"profile": {"name": "Bob"}}}]
    assert records == [{"id": 11}, {"id": 12.0}]  # the input records were not changed
    _, result = run(store_flow(operation="read", keyField="id"), records, store)
    assert result == [{"name": "Ada"}, {"name": "Bob"}]


def test_read_of_absent_keys_goes_to_failed_unless_there_is_a_default(store):
    store.upsert("ns", "here", 1)
    records = [{"k": "here"}, {"k": "gone"}]
    _, result = run(failed_flow(operation="read", keyField="k", targetField="v"), records, store)
    assert result == [{"namespace": "ns", "key": "gone", "reason": "key not found", "record": {"k": "gone"}}]
    _, result = run(store_flow(operation="read", keyField="k", targetField="v", defaultValue={"n": 0}), records,
                    store)
    assert result == [{"k": "here", "v": 1}, {"k": "gone", "v": {"n": 0}}]


def test_create_sends_existing_keys_to_failed(store):
    store.upsert("ns", "1", "old")
    records = [{"id": 1}, {"id": 2}]
    _, result = run(failed_flow(operation="create", keyField="id"), records, store)
    assert result == [{"namespace": "ns", "key": "1", "reason": "key exists", "record": {"id": 1}}]
    assert store.read_many("ns", ["1", "2"]) == {"1": "old", "2": {"id": 2}}


def test_create_or_error_ends_the_run_naming_the_key_and_writes_nothing_of_the_batch(store):
    store.upsert("ns", "taken", "old")
    outcome, _ = run(store_flow(operation="create_or_error", keyField="k"), [{"k": "new"}, {"k": "taken"}], store)
    assert outcome.status == "FATAL" and outcome.failed_block == "ds"
    assert "key exists: 'taken'" in outcome.reason and "create_or_error" in outcome.reason
    assert store.read("ns", "new") is None


def test_update_only_touches_existing_keys(store):
    store.upsert("ns", "a", 1)
    _, result = run(failed_flow(operation="update", keyField="k", valueField="v"),
                    [{"k": "a", "v": 2}, {"k": "b", "v": 3}], store)
    assert [(r["key"], r["reason"]) for r in result] == [("b", "key not found")]
    assert store.read_many("ns", ["a", "b"]) == {"a": 2}


def test_delete_removes_keys_and_passes_records_on(store):
    store.upsert_many("ns", [("a", 1), ("b", 2)])
    outcome, result = run(store_flow(operation="delete", keyField="k"), [{"k": "a"}, {"k": "zz"}], store)
    assert outcome.status == "SUCCESS" and result == [{"k": "a"}, {"k": "zz"}]
    assert store.read_many("ns", ["a", "b"]) == {"b": 2}


def test_records_without_a_usable_key_go_to_failed_with_the_reason(store):
    records = [{"other": 1}, {"id": None}, {"id": True}, {"id": ""}, {"id": [1]}, {"id": "ok"}]
    _, result = run(failed_flow(keyField="id"), records, store)
    reasons = [r["reason"] for r in result]
    assert reasons[0] == "the record has no field 'id' (keyField)"
    assert "missing" in reasons[1] and "not true" in reasons[2] and "non-empty" in reasons[3]
    assert "not list" in reasons[4]
    assert [r["record"] for r in result] == records[:5]
    assert store.read("ns", "ok") == {"id": "ok"}
    _, result = run(failed_flow(key="{{ nested.id }}"), [{"x": 1}], store)
    assert "no field or name 'nested'" in result[0]["reason"]
    _, result = run(failed_flow(keyField="id", valueField="value"), [{"id": "k"}], store)
    assert result[0]["reason"] == "the record has no field 'value' (valueField)"


def test_target_field_needs_object_records(store):
    store.upsert("ns", "lastId", 5)
    outcome, _ = run(store_flow(operation="read", key="lastId", targetField="v"), [1, 2], store)
    assert outcome.status == "FATAL" and "targetField needs records that are objects" in outcome.reason


def test_each_batch_is_one_database_write(store, services, monkeypatch):
    calls = []
    original = services.writer.run
    monkeypatch.setattr(services.writer, "run", lambda op, timeout=60: calls.append(op) or original(op, timeout))
    records = [{"id": i} for i in range(5)]
    outcome, result = run(store_flow(batch_size=2, keyField="id"), records, store)
    assert outcome.status == "SUCCESS" and result == records
    assert len(calls) == 3
    assert outcome.steps[1]["batchesIn"] == 3


def test_the_last_synced_id_carries_over_to_the_next_run(store):
    """Read state/lastId, keep only newer records, then store the newest id for the next run."""
    document = graph(
        [{"id": "last", "type": "data_store", "config": {"namespace": "state", "operation": "read", "key": "lastId",
                                                          "targetField": "lastId", "defaultValue": 0}},
         {"id": "newer", "type": "branch", "config": {"conditions": [{"port": "new", "expression": "id > lastId"}]}},
         {"id": "save", "type": "data_store", "config": {"namespace": "state", "key": "lastId", "valueField": "id"}}],
        [("receiver", "out", "last", "in"), ("last", "out", "newer", "in"), ("newer", "new", "save", "in"),
         ("save", "out", "end", "in")], batch_size=2)
    outcome, result = run(document, [{"id": 1}, {"id": 2}, {"id": 3}], store)
    assert outcome.status == "SUCCESS", outcome.reason
    assert [r["id"] for r in result] == [1, 2, 3]
    assert [r["lastId"] for r in result] == [0, 0, 2]  # the second batch saw the first batch's write
    assert store.read("state", "lastId") == 3
    _, result = run(document, [{"id": 2}, {"id": 3}, {"id": 4}, {"id": 5}], store)
    assert [r["id"] for r in result] == [4, 5]
    assert store.read("state", "lastId") == 5
    outcome, result = run(document, [{"id": 5}], store)
    assert outcome.status == "SUCCESS" and result is None  # nothing new: nothing reaches the end


def test_a_read_with_a_fixed_key_runs_once_when_no_data_came_in(store):
    store.upsert("ns", "lastId", 42)
    _, result = run(store_flow(operation="read", key="lastId"), None, store)
    assert result == [42]
    _, result = run(store_flow(operation="read", key="lastId"), [], store)
    assert result == []  # an empty list is data: no records, nothing read


def test_the_namespace_template_keeps_dev_and_prod_apart(store):
    document = store_flow(keyField="k", valueField="v")
    document["blocks"][1]["config"]["namespace"] = "sync-{{ lower(mode) }}"
    run(document, [{"k": "a", "v": "dev value"}], store, mode="DEV")
    run(document, [{"k": "a", "v": "prod value"}], store, mode="PROD")
    assert store.read("sync-dev", "a") == "dev value" and store.read("sync-prod", "a") == "prod value"


def test_without_a_store_the_run_fails_saying_so():
    outcome, _ = run(store_flow(keyField="id"), [{"id": 1}], None)
    assert outcome.status == "FATAL" and "no data store" in outcome.reason


@pytest.mark.parametrize("config, message", [
    ({"keyField": "id", "key": "x"}, "exactly one of config.keyField"),
    ({}, "exactly one of config.keyField"),
    ({"namespace": "", "keyField": "id"}, "config.namespace is required"),
    ({"namespace": "  ", "keyField": "id"}, "config.namespace is empty"),
    ({"keyField": "id", "operation": "merge"}, "config.operation must be one of upsert, create"),
    ({"key": "{{ id + }}"}, "config.key"),
    ({"keyField": "id", "targetFeld": "x"}, "unknown field(s) targetFeld"),
])
def test_bad_config_is_refused_naming_the_field(config, message):
    with pytest.raises(ValidationError) as caught:
        validate_flow(store_flow(**config))
    assert message in caught.value.message and "'ds'" in caught.value.message


def test_a_kill_ends_a_run_waiting_on_a_busy_database(services):
    import threading

    from ziggy_desktop.db import DatabaseWriter

    class StalledWriter(DatabaseWriter):
        """Never started: a write waits as on a database that another process keeps locked."""

        def __init__(self, engine):
            super().__init__(engine)
            self.waiting = threading.Event()

        def run(self, op, timeout=None):
            self.waiting.set()
            return super().run(op, timeout)

    writer = StalledWriter(services.engine)
    compiled = compile_flow(validate_flow(store_flow(keyField="id")))
    ctx = RunContext("e-kill", "DEV", [{"id": 1}], False, timeout_seconds=60,
                     resources=RunResources(data_store=DataStore(services.engine, writer, write_timeout=30)))
    outcome = {}
    worker = threading.Thread(target=lambda: outcome.update(result=run_flow(compiled, ctx)))
    worker.start()
    assert writer.waiting.wait(10), "the block never wrote"
    ctx.kill("stop it")
    worker.join(10)
    assert not worker.is_alive()
    assert outcome["result"].status == "KILLED" and outcome["result"].failed_block == "ds"
