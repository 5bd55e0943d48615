"""hubspot_read and hubspot_write against the HubSpot stand-in (a real HTTP server on loopback)."""

from __future__ import annotations

import threading
from collections import defaultdict
from typing import Any, Iterator

import pytest

from ziggy_desktop.engine import RunContext, compile_flow, run_flow
from ziggy_desktop.engine import http as zhttp
from ziggy_desktop.engine.context import BlockError, RunResources
from ziggy_desktop.engine.registry import REGISTRY, validate_config
from ziggy_desktop.engine.runner import CompiledBlock
from ziggy_desktop.errors import ValidationError
from ziggy_desktop.flows import validate_flow

from ..hubspot_standin import HubSpotStandIn, _Refusal
from .test_rest import FakeVault, RecordingContext, feed_block


class LostAnswers(HubSpotStandIn):
    """Does the work, then answers 500 (or nothing in time) for the calls numbered in `lose`: the
    client cannot know whether its write happened."""

    def __init__(self, *args: Any, lose: set[int] = frozenset(), stall: set[int] = frozenset(), **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.lose, self.stall = set(lose), set(stall)
        self.number = 0
        self.unstall = threading.Event()
        self.stalled = threading.Event()  # set when a stalled call has arrived

    def handle(self, method, raw_path, headers, body):
        status, extra, result = super().handle(method, raw_path, headers, body)
        with self.lock:
            self.number += 1
            number = self.number
        if number in self.stall:
            self.stalled.set()
            self.unstall.wait(30)  # longer than the block's timeout: the answer never arrives in time
        if number in self.lose:
            return 500, {}, {"status": "error", "message": "internal error", "category": "INTERNAL_ERROR"}
        return status, extra, result


class Poisoned(HubSpotStandIn):
    """Refuses a whole batch upsert holding a poisoned email with a 400 (naming it or not), writing nothing."""

    def __init__(self, *args: Any, poison: set[str], name_them: bool, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.poison, self.name_them = poison, name_them

    def _batch_upsert(self, object_type, payload, inputs):
        bad = [item["id"] for item in inputs if item.get("id") in self.poison]
        if bad:
            extra = {"context": {"ids": bad}} if self.name_them else {}
            raise _Refusal(400, "VALIDATION_ERROR", "Property values were not valid", **extra)
        return super()._batch_upsert(object_type, payload, inputs)


@pytest.fixture(autouse=True)
def quick_backoff(monkeypatch):
    monkeypatch.setattr(zhttp, "BACKOFF_BASE_SECONDS", 0.01)


@pytest.fixture
def hub() -> Iterator[HubSpotStandIn]:
    with HubSpotStandIn(token="test-token", retry_after_seconds=0.05) as stand_in:
        yield stand_in


def vault(hub: HubSpotStandIn, token: str = "test-token") -> FakeVault:
    return FakeVault({("crm", "hubspot"): {"baseUrl": hub.base_url, "token": token}})


def context(hub: HubSpotStandIn, cls: type[RunContext] = RunContext, **kwargs: Any) -> RunContext:
    return cls("exec-hub", "DEV", None, False, timeout_seconds=60, resources=RunResources(vault=vault(hub, **kwargs)))


def run_block(block_type_name: str, config: dict[str, Any], batches: list[Any], ctx: RunContext):
    """The block's records per output port (its batches joined)."""
    emitted = feed_block(block_type_name, {"connection": "crm", "callsPerSecond": 0, **config}, batches, ctx)
    return defaultdict(list, {port: [record for batch in sent for record in batch] for port, sent in emitted.items()})


def contacts(count: int, start: int = 0) -> list[dict[str, Any]]:
    return [{"email": f"person{i}@example.com", "firstname": f"P{i}", "score": i} for i in range(start, start + count)]


def upserts(hub: HubSpotStandIn) -> list[int]:
    return [call.inputs for call in hub.calls if call.path.endswith("/batch/upsert")]


# -- hubspot_write ------------------------------------------------------------------------------------------

def test_a_migration_through_the_engine_upserts_each_record_once_and_lists_the_rejects(hub):
    records = contacts(250)
    records[10]["email"] = "not-an-email"
    records[20]["email"] = ""
    flow = {"ziggyFlow": 1, "uuid": "6a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", "name": "migration",
            "blocks": [{"id": "receiver", "type": "receiver", "config": {"batchSize": 30}},
                       {"id": "write", "type": "hubspot_write", "config": {"connection": "crm", "callsPerSecond": 50}},
                       {"id": "done", "type": "terminator"}, {"id": "rejects", "type": "terminator"}],
            "edges": [{"from": "receiver", "to": "write"}, {"from": "write", "to": "done"},
                      {"from": "write", "fromPort": "rejected", "to": "rejects"}]}
    ctx = context(hub)
    ctx.payload = records
    outcome = run_flow(compile_flow(validate_flow(flow)), ctx)
    assert outcome.status == "SUCCESS", outcome.reason
    written = [r for r in outcome.result if "hubspotId" in r]
    rejected = [r for r in outcome.result if "reason" in r]
    assert len(written) == 248 and len(rejected) == 2
    assert upserts(hub) == [100, 100, 49]  # batches of 30 were gathered into chunks of 100; one was refused early
    counts = hub.upsert_counts[("contacts", "email")]
    assert set(counts.values()) == {1} and len(counts) == 248
    ada = written[0]
    assert ada["email"] == "person0@example.com" and hub.objects["contacts"][ada["hubspotId"]]["properties"]["score"] == "0"
    by_email = {r["record"]["email"]: r for r in rejected}
    assert by_email[""]["category"] == "MISSING_ID" and by_email[""]["status"] is None
    assert by_email["not-an-email"]["status"] == 207 and by_email["not-an-email"]["category"] == "VALIDATION_ERROR"
    assert "not-an-email is invalid" in by_email["not-an-email"]["reason"]


def test_records_that_cannot_be_sent_are_rejected_without_a_call(hub):
    out = run_block("hubspot_write", {}, [[{"firstname": "no email"}, {"email": "  "}, ["a list"],
                                           {"email": "x@example.com", "tags": ["a", "b"]},
                                           {"email": "y@example.com", "props": 1}]],
                    context(hub))
    assert hub.calls[:-1] == [] and len(hub.calls) == 1  # only the one good record was sent
    reasons = [r["reason"] for r in out["rejected"]]
    assert "the id field 'email' is missing or empty" in reasons[0] and reasons[0] == reasons[1]
    assert "must be an object" in reasons[2] and "property 'tags' holds a list" in reasons[3]
    assert [r["email"] for r in out["out"]] == ["y@example.com"]


def test_per_record_errors_and_the_properties_field(hub):
    hub.reject = lambda object_type, props: "lifecycle stage is unknown" if props.get("stage") == "??" else None
    records = [{"email": "a@example.com", "fields": {"stage": "lead"}},
               {"email": "b@example.com", "fields": {"stage": "??"}},
               {"email": "c@example.com", "fields": "oops"}]
    out = run_block("hubspot_write", {"propertiesField": "fields"}, [records], context(hub))
    assert [r["email"] for r in out["out"]] == ["a@example.com"]
    assert hub.find("contacts", "email", "a@example.com")["properties"]["stage"] == "lead"
    assert [(r["record"]["email"], r["reason"]) for r in out["rejected"]] == [
        ("c@example.com", "field 'fields' must hold an object of HubSpot properties"),
        ("b@example.com", "lifecycle stage is unknown")]


def test_a_repeated_id_waits_for_the_next_chunk_so_both_writes_happen_in_order(hub):
    records = [{"email": "same@example.com", "firstname": "First"}, {"email": "other@example.com"},
               {"email": "SAME@example.com", "firstname": "Second"}]
    out = run_block("hubspot_write", {}, [records], context(hub))
    assert len(out["out"]) == 3 and not out["rejected"]
    assert upserts(hub) == [2, 1]
    assert hub.find("contacts", "email", "same@example.com")["properties"]["firstname"] == "Second"
    assert len(hub.objects["contacts"]) == 2


def test_429s_wait_for_retry_after_and_5xx_are_retried_without_duplicates():
    with HubSpotStandIn(inject_429_every=3, inject_500_every=7, retry_after_seconds=0.05) as hub:
        ctx = context(hub, RecordingContext)
        out = run_block("hubspot_write", {"callsPerSecond": 0}, [contacts(1000)], ctx)
        assert len(out["out"]) == 1000 and not out["rejected"]
        counts = hub.upsert_counts[("contacts", "email")]
        assert len(counts) == 1000 and set(counts.values()) == {1}
        assert hub.calls_with_status(429) and hub.calls_with_status(500)
        assert ctx.sleeps.count(0.05) == len(hub.calls_with_status(429))  # each 429 waited its Retry-After


def test_an_upsert_whose_answer_was_lost_is_sent_again_safely():
    with LostAnswers(retry_after_seconds=0.05, lose={1}) as hub:
        out = run_block("hubspot_write", {}, [contacts(5)], context(hub))
        assert len(out["out"]) == 5 and not out["rejected"]
        assert upserts(hub) == [5, 5]  # written, answer lost, written again: the same five contacts
        assert len(hub.objects["contacts"]) == 5


@pytest.mark.parametrize("lost", ["500", "timeout"])
def test_a_create_whose_answer_was_lost_is_never_repeated(lost):
    knobs = {"lose": {1}} if lost == "500" else {"stall": {1}}
    with LostAnswers(**knobs) as hub:
        try:
            out = run_block("hubspot_write", {"operation": "create", "timeoutSeconds": 0.3}, [contacts(3)],
                            context(hub))
        finally:
            hub.unstall.set()
        assert not out["out"] and len(out["rejected"]) == 3
        assert {r["category"] for r in out["rejected"]} == {"UNKNOWN_OUTCOME"}
        assert "may or may not have taken effect" in out["rejected"][0]["reason"]
        assert len([c for c in hub.calls if c.path.endswith("/batch/create")]) == 1
        assert len(hub.objects["contacts"]) == 3  # HubSpot did create them, once


@pytest.mark.parametrize("name_them", [True, False])
def test_a_whole_chunk_refused_because_of_one_record_is_sent_again_without_it(name_them):
    records = contacts(8)
    with Poisoned(poison={"person5@example.com"}, name_them=name_them) as hub:
        out = run_block("hubspot_write", {}, [records], context(hub))
        assert [r["record"]["email"] for r in out["rejected"]] == ["person5@example.com"]
        assert out["rejected"][0] | {"record": None} == {"record": None, "reason": "Property values were not valid",
                                                         "status": 400, "category": "VALIDATION_ERROR"}
        assert sorted(r["email"] for r in out["out"]) == sorted(r["email"] for r in records if r is not records[5])
        assert set(hub.upsert_counts[("contacts", "email")].values()) == {1}
        assert len(upserts(hub)) == (2 if name_them else 7)  # named: one retry; unnamed: halved down to it


def test_a_batch_refused_as_a_whole_for_every_record_ends_the_run():
    with Poisoned(poison={f"person{i}@example.com" for i in range(4)}, name_them=False) as hub:
        with pytest.raises(BlockError, match="refused every record of a batch with the same answer"):
            run_block("hubspot_write", {}, [contacts(4)], context(hub))


def test_a_wrong_token_is_fatal_and_says_what_to_do(hub):
    with pytest.raises(BlockError, match="HubSpot refused the token of connection 'crm'"):
        run_block("hubspot_write", {}, [contacts(1)], context(hub, token="wrong"))
    assert "wrong" not in str(hub.calls)


def test_kill_while_hubspot_hangs_ends_the_run_killed():
    with LostAnswers(stall={1}) as hub:
        flow = {"ziggyFlow": 1, "uuid": "7b2c3d4e-5f60-4a7b-8c9d-0e1f2a3b4c5d", "name": "hang",
                "blocks": [{"id": "receiver", "type": "receiver", "config": {}},
                           {"id": "write", "type": "hubspot_write", "config": {"connection": "crm",
                                                                               "timeoutSeconds": 120}},
                           {"id": "end", "type": "terminator"}],
                "edges": [{"from": "receiver", "to": "write"}, {"from": "write", "to": "end"}]}
        ctx = context(hub)
        ctx.payload = contacts(3)
        result: dict[str, Any] = {}
        worker = threading.Thread(target=lambda: result.update(outcome=run_flow(compile_flow(validate_flow(flow)),
                                                                                ctx)))
        worker.start()
        try:
            assert hub.stalled.wait(10), "the write never reached the stand-in"
            ctx.kill("stop it")
            worker.join(5)
            assert not worker.is_alive()
            assert result["outcome"].status == "KILLED" and result["outcome"].failed_block == "write"
        finally:
            hub.unstall.set()


# -- hubspot_read -------------------------------------------------------------------------------------------

def test_batch_read_by_email_in_chunks_with_not_found(hub):
    for i in range(150):
        hub.seed("contacts", {"email": f"person{i}@example.com", "firstname": f"P{i}", "city": "Paris"})
    inputs = [{"mail": f"Person{i}@Example.com", "row": i} for i in range(150)]
    inputs += [{"mail": f"ghost{i}@example.com"} for i in range(9)] + [{"row": "no mail"}]
    out = run_block("hubspot_read", {"idField": "mail", "properties": ["firstname", "city"], "inputField": "input"},
                    [inputs], context(hub))
    assert len(out["out"]) == 150 and len(out["notFound"]) == 10
    first = out["out"][0]
    assert first["firstname"] == "P0" and first["city"] == "Paris" and first["email"] == "person0@example.com"
    assert first["id"] == first["hs_object_id"] and first["input"] == {"mail": "Person0@Example.com", "row": 0}
    assert [c.inputs for c in hub.calls] == [100, 59]


def test_search_by_a_property_with_paging_in_and_not_found(hub):
    for i in range(130):
        hub.seed("companies", {"name": f"Acme {i}", "domain": f"acme{i}.com", "industry": "TOOLS" if i < 120 else "FOOD"})
    ctx = context(hub)
    out = run_block("hubspot_read", {"objectType": "companies", "operation": "search", "propertyName": "domain",
                                     "value": "{{ site }}", "flatten": False},
                    [[{"site": "acme3.com"}, {"site": "nowhere.com"}, {"site": ""}]], ctx)
    assert [o["properties"]["name"] for o in out["out"]] == ["Acme 3"]
    assert out["notFound"] == [{"site": "nowhere.com"}, {"site": ""}]
    out = run_block("hubspot_read", {"objectType": "companies", "operation": "search", "propertyName": "industry",
                                     "operator": "IN", "value": "{{ kinds }}", "batchSize": 0},
                    [[{"kinds": ["tools"]}]], ctx)
    assert len(out["out"]) == 120 and out["out"][0]["name"] == "Acme 0"  # two pages of search results


def test_list_pages_through_every_object_once_per_run(hub):
    for i in range(250):
        hub.seed("deals", {"dealname": f"D{i}", "amount": str(i)})
    out = run_block("hubspot_read", {"objectType": "deals", "operation": "list", "batchSize": 100}, [None, None],
                    context(hub))
    assert len(out["out"]) == 250 and out["out"][249]["dealname"] == "D249"
    assert len([c for c in hub.calls if c.method == "GET"]) == 3
    hub.reset()
    for i in range(250):
        hub.seed("deals", {"dealname": f"D{i}"})
    block_type = REGISTRY["hubspot_read"]
    config = validate_config(block_type, {"connection": "crm", "objectType": "deals", "operation": "list",
                                          "batchSize": 40, "maxIterations": 2, "callsPerSecond": 0}, "h")
    block = block_type.impl(context(hub), config, CompiledBlock("h", "h", block_type, config, None))
    try:
        batches = [data for _, data in block.process("in", None)]
    finally:
        block.close()
    assert [len(b) for b in batches] == [40, 40] and len(hub.calls) == 2  # no page read beyond what was sent


# -- bad config ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("block_type, config, message", [
    ("hubspot_write", {"objectType": "Contacts!"}, r"config.objectType 'Contacts!' must be an object type"),
    ("hubspot_write", {"idProperty": ""}, r"idProperty must name a unique property for upsert"),
    ("hubspot_write", {"operation": "update", "idField": ""}, r"idField is required for update"),
    ("hubspot_write", {"operation": "merge"}, r"config.operation must be one of upsert, create, update"),
    ("hubspot_read", {"operation": "search", "value": ""}, r"config.value is required for operator EQ"),
    ("hubspot_read", {"operation": "search", "value": "{{ email ) }}"}, r"config.value .*not valid"),
    ("hubspot_read", {"operation": "batch_read", "idField": " "}, r"idField is required for batch_read"),
    ("hubspot_read", {"properties": [""]}, r"config.properties\[0\] is empty"),
    ("hubspot_read", {"connection": ""}, r"config.connection is required"),
])
def test_bad_config_is_refused_naming_the_field(block_type, config, message):
    document = {"ziggyFlow": 1, "uuid": "8c3d4e5f-6071-4b8c-9d0e-1f2a3b4c5d6e", "name": "bad",
                "blocks": [{"id": "receiver", "type": "receiver", "config": {}},
                           {"id": "h", "type": block_type, "config": {"connection": "crm", **config}},
                           {"id": "end", "type": "terminator"}],
                "edges": [{"from": "receiver", "to": "h"}, {"from": "h", "to": "end"}]}
    with pytest.raises(ValidationError, match=message):
        validate_flow(document)
