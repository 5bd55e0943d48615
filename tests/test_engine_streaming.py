"""The engine's contract: batches stream depth first, edge samples, error paths, kill and timeout,
and what a finished run keeps under each history level."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest

from ziggy_desktop.engine import Block, BlockType, RunContext, compile_flow, run_flow, source_fields
from ziggy_desktop.engine.registry import REGISTRY, ConfigField
from ziggy_desktop.engine.runner import EDGE_SAMPLE_RECORDS
from ziggy_desktop.errors import ValidationError
from ziggy_desktop.executions import LaunchRequest, body_fingerprint
from ziggy_desktop.flows import validate_flow

from .blocks.test_core_blocks import graph
from .helpers import make_flow

EVENTS: list[str] = []


class Numbers(Block):
    """A test source: `count` numbers (0: forever) in batches, logging each batch it produces."""

    def process(self, port: str, data: Any):
        produced = 0
        batch_number = 0
        while not self.config["count"] or produced < self.config["count"]:
            size = self.config["batchSize"] or 10
            batch = list(range(produced, produced + size))
            produced += size
            batch_number += 1
            EVENTS.append(f"produce {batch_number}")
            yield "out", batch
            if self.config["maxIterations"] and batch_number >= self.config["maxIterations"]:
                return

    def close(self) -> None:
        EVENTS.append("closed")


class Recorder(Block):
    def process(self, port: str, data: Any):
        EVENTS.append(f"consume {len(data)}")
        yield "out", data


@pytest.fixture(autouse=True)
def test_blocks(monkeypatch):
    EVENTS.clear()
    monkeypatch.setitem(REGISTRY, "numbers", BlockType(
        "numbers", "Numbers", "test source", inputs=("in",), outputs=("out",),
        config=(ConfigField("count", "integer", default=0), *source_fields(10)), impl=Numbers))
    monkeypatch.setitem(REGISTRY, "recorder", BlockType(
        "recorder", "Recorder", "test sink", inputs=("in",), outputs=("out",), config=(), impl=Recorder))


def run(document: dict[str, Any], payload: Any = None, ctx: RunContext | None = None):
    compiled = compile_flow(validate_flow(document))
    ctx = ctx or RunContext("e1", "DEV", payload, False, timeout_seconds=compiled.timeout_seconds)
    return run_flow(compiled, ctx), ctx


def chain(*blocks: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    return make_flow(*blocks, **kwargs)


def test_batches_stream_depth_first_so_a_source_never_runs_ahead():
    outcome, _ = run(chain({"type": "numbers", "config": {"count": 30, "batchSize": 10}}, {"type": "recorder"}))
    assert outcome.status == "SUCCESS"
    # Each batch reaches the end of the flow before the source makes the next one.
    assert EVENTS == ["produce 1", "consume 10", "produce 2", "consume 10", "produce 3", "consume 10", "closed"]
    steps = {s["blockId"]: s for s in outcome.steps}
    assert steps["b1"]["batchesIn"] == 3 and steps["b1"]["recordsIn"] == 30
    assert steps["end"]["recordsIn"] == 30


def test_max_iterations_stops_a_source_early():
    outcome, ctx = run(chain({"type": "numbers", "config": {"count": 0, "batchSize": 5, "maxIterations": 3}}))
    assert outcome.status == "SUCCESS"
    assert ctx.result == list(range(15))


def test_receiver_batches_a_list_body():
    document = chain({"type": "recorder"})
    document["blocks"][0]["config"].update(batchSize=4, maxIterations=2)
    outcome, ctx = run(document, payload=list(range(10)))
    assert EVENTS == ["consume 4", "consume 4"]
    assert ctx.result == list(range(8))


def test_edge_samples_are_bounded_and_counted():
    outcome, _ = run(chain({"type": "recorder"}), payload=[{"i": i} for i in range(100)] + [{"big": "x" * 10_000}])
    edge = outcome.edges[0]
    assert (edge["from"], edge["to"], edge["records"], edge["batches"]) == ("receiver", "b0", 101, 1)
    assert edge["sample"] == [{"i": i} for i in range(EDGE_SAMPLE_RECORDS)]
    big_only, _ = run(chain({"type": "recorder"}), payload=[{"big": "x" * 10_000}])
    assert big_only.edges[0]["sample"] == ["(a record of 10,010 characters; not kept)"]


def test_a_failure_runs_the_error_path_then_ends_fatal_naming_the_block():
    document = graph([{"id": "boom", "type": "fail", "config": {"message": "bad row"}},
                      {"id": "note", "type": "console", "config": {"message": "error path", "includeData": True}},
                      {"id": "end", "type": "terminator"}],
                     [("receiver", "out", "boom", "in"), ("boom", "error", "note", "in"),
                      ("note", "out", "end", "error")])
    outcome, ctx = run(document, [1])
    assert outcome.status == "FATAL" and outcome.failed_block == "boom"
    assert "Block 'boom' (fail) failed: bad row" == outcome.reason
    (line,) = ctx.console
    record = json.loads(line["message"].removeprefix("error path "))[0]
    assert record["blockId"] == "boom" and record["message"] == "bad row" and record["executionId"] == "e1"
    steps = {s["blockId"]: s["status"] for s in outcome.steps}
    assert steps == {"receiver": "SUCCESS", "boom": "FATAL", "note": "SUCCESS", "end": "FATAL"}


def test_data_on_the_terminators_error_input_ends_the_run_fatal_after_the_path_ran():
    document = graph([{"id": "check", "type": "has_data"},
                      {"id": "note", "type": "console", "config": {"message": "nothing came"}},
                      {"id": "end", "type": "terminator"}],
                     [("receiver", "out", "check", "in"), ("check", "data", "end", "in"),
                      ("check", "empty", "note", "in"), ("note", "out", "end", "error")])
    ok, _ = run(document, [1])
    assert ok.status == "SUCCESS"
    failed, ctx = run(document, [])
    assert failed.status == "FATAL" and failed.failed_block == "end"
    assert [line["message"] for line in ctx.console] == ["nothing came"]


def test_kill_reaches_a_source_between_batches_and_blocks_are_closed():
    ctx = RunContext("e1", "DEV", None, False, timeout_seconds=60)
    killer = threading.Thread(target=lambda: (threading.Event().wait(0.2), ctx.kill("stop it")))
    killer.start()
    outcome, _ = run(chain({"type": "numbers", "config": {"count": 0, "batchSize": 10}}), ctx=ctx)
    killer.join()
    assert outcome.status == "KILLED" and outcome.reason == "stop it"
    assert EVENTS[-1] == "closed"


def test_timeout_reaches_an_endless_source():
    outcome, _ = run(chain({"type": "numbers", "config": {"count": 0}}, timeout_seconds=0.2))
    assert outcome.status == "TIMED OUT" and "0.2 s" in outcome.reason
    assert EVENTS[-1] == "closed"


@pytest.mark.parametrize("level, status, keeps", [
    ("ALL", "SUCCESS", True), ("ALL", "FATAL", True),
    ("ERRORED_WITH_DATA", "SUCCESS", False), ("ERRORED_WITH_DATA", "FATAL", True),
    ("ERRORED_NO_DATA", "SUCCESS", False), ("ERRORED_NO_DATA", "FATAL", False),
    ("TIME_LIMITED_WITH_DATA", "SUCCESS", True), ("TIME_LIMITED_NO_DATA", "FATAL", False),
])
def test_history_level_decides_what_a_finished_run_keeps(start_server, level, status, keeps):
    runtime = start_server()
    middle = [{"type": "console", "config": {"message": "hi"}}]
    if status == "FATAL":
        middle.append({"type": "fail", "config": {"message": "boom"}})
    document = make_flow(*middle, history_level=level)
    runtime.services.flows.save(document)
    launched = runtime.services.executions.launch(LaunchRequest(document["uuid"], body_json='{"email": "a@b.c"}',
                                                                trigger="UI"))
    execution_id = launched.view.execution_id
    view = runtime.services.executions.wait_finished(execution_id, timeout=20)
    assert view.termination_status == status
    detail = runtime.services.executions.detail(execution_id)
    assert [s["blockId"] for s in detail.steps][:2] == ["receiver", "b0"]  # counts and states always stay
    assert (detail.input is not None, detail.edges is not None) == (keeps, keeps)
    if status == "SUCCESS":
        assert (detail.result is not None) == keeps


def test_time_limited_runs_are_flushed_after_their_retention(services):
    document = make_flow(history_level="TIME_LIMITED_WITH_DATA")
    document["settings"]["retentionHours"] = 2
    services.flows.save(document)
    kept = make_flow(history_level="ALL")
    services.flows.save(kept)
    assert services.flows.time_limited_retention() == {document["uuid"]: 2.0}
    for flow in (document, kept):
        services.executions.launch(LaunchRequest(flow["uuid"], trigger="UI"))
    with services.engine.begin() as conn:  # as if both had finished three hours ago
        conn.exec_driver_sql("UPDATE execution SET state='FINISHED', termination_status='SUCCESS', "
                             "created_at = created_at - 3 * 3600")
    assert services.history.prune_time_limited(services.flows.time_limited_retention()) == 1
    with services.engine.connect() as conn:
        assert [r[0] for r in conn.exec_driver_sql("SELECT flow_uuid FROM execution")] == [kept["uuid"]]


def test_a_long_run_reports_its_block_states_while_it_runs(start_server):
    runtime = start_server()
    document = make_flow({"type": "numbers", "config": {"count": 0, "batchSize": 1}},
                         {"type": "delay", "config": {"ms": 50}})
    runtime.services.flows.save(document)
    changed = threading.Event()
    runtime.services.events.subscribe(lambda event: changed.set() if event.state == "RUNNING" else None)
    execution_id = runtime.services.executions.launch(LaunchRequest(document["uuid"], trigger="UI")).view.execution_id
    steps: list[dict[str, Any]] = []
    for _ in range(100):
        changed.wait(10)
        changed.clear()
        steps = runtime.services.executions.detail(execution_id).steps
        if steps:
            break
    assert runtime.services.executions.get(execution_id).state == "RUNNING"
    by_block = {s["blockId"]: s for s in steps}
    assert by_block["b1"]["status"] == "RUNNING" and by_block["b1"]["recordsIn"] >= 1
    assert by_block["end"]["recordsIn"] >= 1
    live_edges = runtime.services.executions.detail(execution_id).edges
    from_source = next(edge for edge in live_edges if edge["from"] == "b0")
    assert from_source["records"] >= 1 and all(edge["sample"] == [] for edge in live_edges)  # counts, no data
    runtime.services.queue.kill_running(execution_id)
    assert runtime.services.executions.get(execution_id).termination_status == "KILLED"


def test_a_run_whose_input_was_not_kept_cannot_be_rerun_and_says_why(start_server):
    runtime = start_server()
    document = make_flow(history_level="ERRORED_NO_DATA")
    runtime.services.flows.save(document)
    body = '{"email": "a@b.c"}'
    request = LaunchRequest(document["uuid"], body_json=body, body_hash=body_fingerprint(json.loads(body), True),
                            trigger="UI")
    execution_id = runtime.services.executions.launch(request).view.execution_id
    runtime.services.executions.wait_finished(execution_id, timeout=20)
    with pytest.raises(ValidationError, match="input was not kept"):
        runtime.services.executions.rerun(execution_id)
    test_data_run = runtime.services.executions.launch(LaunchRequest(document["uuid"], trigger="UI",
                                                                     use_test_data=True)).view.execution_id
    runtime.services.executions.wait_finished(test_data_run, timeout=20)
    assert runtime.services.executions.rerun(test_data_run).created  # test data is in the flow, not the run
