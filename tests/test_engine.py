"""The minimal engine: block order, receiver data, console lines, failures, kill and timeout."""

import threading
import time

import pytest

from ziggy_desktop.engine import RunContext, compile_flow, run_flow
from ziggy_desktop.engine.registry import REGISTRY
from ziggy_desktop.flows import validate_flow

from .helpers import make_flow


def run(flow: dict, payload=None, use_test_data=False, ctx: RunContext | None = None):
    compiled = compile_flow(validate_flow(flow))
    ctx = ctx or RunContext("e1", "DEV", payload, use_test_data)
    ctx.start_clock(compiled.timeout_seconds)
    return run_flow(compiled, ctx), ctx


def test_api_payload_vs_test_data():
    flow = make_flow(test_data={"from": "test data"})
    assert run(flow, payload=[1, 2])[0].result == [1, 2]
    assert run(flow, payload=None)[0].result is None  # an empty API body is not the test data
    assert run(flow, use_test_data=True)[0].result == {"from": "test data"}


def test_steps_and_console_lines():
    outcome, ctx = run(make_flow({"type": "console", "config": {"message": "got", "includeData": True}}),
                       payload=[{"id": 1}, {"id": 2}])
    assert outcome.status == "SUCCESS"
    assert [s["blockId"] for s in outcome.steps] == ["receiver", "b0", "end"]
    assert outcome.steps[1]["recordsIn"] == 2 and outcome.steps[1]["recordsOut"] == 2
    assert ctx.console[0]["message"] == 'got [{"id": 1}, {"id": 2}]'
    assert ctx.console[0]["blockId"] == "b0"


def test_failure_names_the_block():
    outcome, _ = run(make_flow({"type": "fail", "id": "boom", "config": {"message": "no way"}}))
    assert outcome.status == "FATAL"
    assert outcome.failed_block == "boom"
    assert "boom" in outcome.reason and "no way" in outcome.reason


def test_a_crashing_block_is_fatal_not_fatal_to_the_worker(monkeypatch):
    class Broken(REGISTRY["console"].impl):
        def transform(self, data):
            raise KeyError("surprise")
    import dataclasses
    monkeypatch.setitem(REGISTRY, "console", dataclasses.replace(REGISTRY["console"], impl=Broken))
    outcome, _ = run(make_flow({"type": "console"}))
    assert outcome.status == "FATAL" and "KeyError" in outcome.reason


def test_timeout_interrupts_a_long_delay():
    outcome, _ = run(make_flow({"type": "delay", "config": {"ms": 60_000}}, timeout_seconds=0.05))
    assert outcome.status == "TIMED OUT"
    assert outcome.failed_block == "b0"
    assert outcome.steps[-1]["status"] == "SKIPPED"


def test_kill_reaches_a_running_delay():
    flow = make_flow({"type": "delay", "config": {"ms": 60_000}})
    ctx = RunContext("e2", "DEV", None, False)
    result = {}
    worker = threading.Thread(target=lambda: result.update(outcome=run(flow, ctx=ctx)[0]))
    worker.start()
    deadline = time.monotonic() + 10
    while ctx.current_block_id != "b0":
        assert time.monotonic() < deadline, "the delay block never started"
        time.sleep(0.005)
    ctx.kill("stop it")
    worker.join(10)
    assert not worker.is_alive()
    assert result["outcome"].status == "KILLED"
    assert result["outcome"].reason == "stop it"


def test_block_schema_is_data():
    schema = REGISTRY["delay"].to_json()
    assert schema["inputs"] == ["in"] and schema["outputs"] == ["out", "error"]
    assert schema["config"][0]["name"] == "ms" and schema["config"][0]["required"] is True


@pytest.mark.parametrize("block_type", sorted(REGISTRY))
def test_every_block_documents_its_config(block_type):
    block = REGISTRY[block_type]
    assert block.title and block.description
    assert all(field.help for field in block.config)
