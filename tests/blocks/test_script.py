"""The script block and its worker pool: user Python in another process, timeouts, kills, errors."""

from __future__ import annotations

import multiprocessing
import os
import threading
from typing import Any, Iterator

import pytest

from ziggy_desktop.engine import RunContext, RunResources, compile_flow, run_flow
from ziggy_desktop.engine.script_pool import ScriptPool
from ziggy_desktop.errors import ValidationError
from ziggy_desktop.flows import validate_flow

from ..helpers import make_flow

WAIT = 30  # seconds: a generous bound for events, never a duration the test asserts


@pytest.fixture(scope="module")
def pool() -> Iterator[ScriptPool]:
    shared = ScriptPool(max_workers=2)
    yield shared
    shared.close()


class WatchedContext(RunContext):
    """A run context that signals each console line, so a test can wait for the script to be running."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.logged = threading.Event()

    def log(self, message: str) -> None:
        super().log(message)
        self.logged.set()


def script(code: str, timeout: float = 30, **flow: Any) -> dict[str, Any]:
    return make_flow({"type": "script", "id": "s", "config": {"code": code, "timeoutSeconds": timeout}}, **flow)


def run(document: dict[str, Any], pool: ScriptPool | None, payload: Any = None, ctx: RunContext | None = None):
    compiled = compile_flow(validate_flow(document))
    ctx = ctx or RunContext("exec-1", "DEV", payload, False, resources=RunResources(scripts=pool))
    ctx.start_clock(compiled.timeout_seconds)
    return run_flow(compiled, ctx), ctx


def run_in_thread(document: dict[str, Any], ctx: RunContext) -> tuple[threading.Thread, dict[str, Any]]:
    result: dict[str, Any] = {}
    thread = threading.Thread(target=lambda: result.update(outcome=run(document, None, ctx=ctx)[0]))
    thread.start()
    return thread, result


def assert_pool_works(pool: ScriptPool) -> None:
    outcome, _ = run(script("def transform(records, ctx):\n    return [{'ok': True}]\n"), pool, payload=[])
    assert outcome.status == "SUCCESS", outcome.reason
    assert outcome.result == [{"ok": True}]
    assert pool.worker_count <= pool.max_workers


def test_transform_runs_in_a_worker_process_and_its_lines_reach_the_console(pool: ScriptPool):
    code = ("import os, sys\n"
            "def transform(records, ctx):\n"
            "    ctx.log(f'got {len(records)}')\n"
            "    print('printed', 'too')\n"
            "    qt = any(name.startswith('PySide6') for name in sys.modules)\n"
            "    return [dict(r, doubled=r['n'] * 2, pid=os.getpid(), qt=qt) for r in records]\n")
    outcome, ctx = run(script(code), pool, payload=[{"n": 1}, {"n": 2}])
    assert outcome.status == "SUCCESS", outcome.reason
    assert [{k: v for k, v in r.items() if k != "pid"} for r in outcome.result] == [
        {"n": 1, "doubled": 2, "qt": False}, {"n": 2, "doubled": 4, "qt": False}]
    assert outcome.result[0]["pid"] != os.getpid()  # another process, and one without Qt
    assert [(line["blockId"], line["message"]) for line in ctx.console] == [("s", "got 2"), ("s", "printed too")]


def test_the_script_gets_execution_id_mode_secrets_and_a_copy_of_the_variables(pool: ScriptPool, services):
    services.vault.set_secret("token", "dev-token", "prod-token")
    code = ("def transform(records, ctx):\n"
            "    ctx.variables['changed'] = True\n"
            "    return [{'id': ctx.execution_id, 'mode': ctx.mode, 'token': ctx.secrets['token'],\n"
            "             'greeting': ctx.variables['greeting'], 'ctx': repr(ctx)}]\n")
    document = make_flow({"type": "variable_set", "config": {"name": "greeting", "field": "greeting"}},
                         {"type": "script", "id": "s", "config": {"code": code}})
    ctx = RunContext("exec-42", "PROD", [{"greeting": "hi"}], False,
                     resources=RunResources(vault=services.vault, scripts=pool))
    outcome, _ = run(document, pool, ctx=ctx)
    assert outcome.status == "SUCCESS", outcome.reason
    [record] = outcome.result
    assert record["id"] == "exec-42" and record["mode"] == "PROD" and record["token"] == "prod-token"
    assert record["greeting"] == "hi"
    assert "prod-token" not in record["ctx"]  # the context's repr never shows secrets
    assert ctx.variables == {"greeting": "hi"}  # the script changed its copy only


def test_an_exception_names_its_type_message_and_line(pool: ScriptPool):
    code = ("def helper(value):\n"
            "    return 10 / value\n"
            "\n"
            "def transform(records, ctx):\n"
            "    return [{'x': helper(r['v'])} for r in records]\n")
    outcome, _ = run(script(code), pool, payload=[{"v": 0}])
    assert outcome.status == "FATAL" and outcome.failed_block == "s"
    assert "the script raised ZeroDivisionError: division by zero at line 2: return 10 / value" in outcome.reason
    assert_pool_works(pool)  # a script's exception leaves its worker usable


def test_a_runaway_script_times_out_fatal_and_its_worker_is_replaced(pool: ScriptPool):
    outcome, _ = run(script("def transform(records, ctx):\n    while True:\n        pass\n", timeout=0.5), pool,
                     payload=[])
    assert outcome.status == "FATAL"
    assert "the script timed out after 0.5 s" in outcome.reason
    assert_pool_works(pool)


def test_killing_the_run_stops_the_script_at_once(pool: ScriptPool):
    code = ("import time\n"
            "def transform(records, ctx):\n"
            "    ctx.log('looping')\n"
            "    while True:\n"
            "        time.sleep(0.01)\n")
    ctx = WatchedContext("exec-k", "DEV", [], False, resources=RunResources(scripts=pool))
    thread, result = run_in_thread(script(code, timeout=3600), ctx)
    assert ctx.logged.wait(WAIT), "the script never started"
    ctx.kill("stopped by the test")
    thread.join(WAIT)
    assert not thread.is_alive()
    assert result["outcome"].status == "KILLED"
    assert result["outcome"].reason == "stopped by the test"
    assert_pool_works(pool)


def test_the_runs_own_timeout_ends_it_timed_out(pool: ScriptPool):
    outcome, _ = run(script("def transform(records, ctx):\n    while True:\n        pass\n", timeout=3600,
                            timeout_seconds=1), pool, payload=[])
    assert outcome.status == "TIMED OUT"
    assert_pool_works(pool)


def test_a_worker_that_dies_is_an_error_and_is_replaced(pool: ScriptPool):
    outcome, _ = run(script("import os\ndef transform(records, ctx):\n    os._exit(3)\n"), pool, payload=[])
    assert outcome.status == "FATAL"
    assert "worker process ended unexpectedly (exit code 3)" in outcome.reason
    assert_pool_works(pool)


@pytest.mark.parametrize(("body", "message"), [
    ("return [{'tags': {1, 2}}]", "transform() returned data that is not JSON"),
    ("return [{'x': float('nan')}]", "transform() returned data that is not JSON"),
    ("return {'one': 'record'}", "must return a list of records (or None for no output), not a value of type dict"),
])
def test_results_that_are_not_lists_of_json_are_clear_errors(pool: ScriptPool, body: str, message: str):
    outcome, _ = run(script(f"def transform(records, ctx):\n    {body}\n"), pool, payload=[])
    assert outcome.status == "FATAL"
    assert message in outcome.reason


def test_none_means_no_output(pool: ScriptPool):
    outcome, ctx = run(script("def transform(records, ctx):\n    ctx.log('side effect only')\n"), pool,
                       payload=[{"a": 1}])
    assert outcome.status == "SUCCESS"
    assert outcome.result is None
    assert next(step for step in outcome.steps if step["blockId"] == "s")["recordsOut"] == 0
    assert ctx.console[0]["message"] == "side effect only"


def test_each_batch_is_one_call():
    code = "def transform(records, ctx):\n    return [{'size': len(records)}]\n"
    document = script(code)
    document["blocks"][0]["config"]["batchSize"] = 2
    pool = ScriptPool(max_workers=1)
    try:
        outcome, _ = run(document, pool, payload=[{"i": i} for i in range(5)])
    finally:
        pool.close()
    assert outcome.result == [{"size": 2}, {"size": 2}, {"size": 1}]


def test_without_an_app_pool_the_block_uses_its_own_and_stops_it():
    before = set(multiprocessing.active_children())
    outcome, _ = run(script("def transform(records, ctx):\n    return records\n"), None, payload=[{"a": 1}])
    assert outcome.status == "SUCCESS", outcome.reason
    assert outcome.result == [{"a": 1}]
    assert set(multiprocessing.active_children()) == before


def test_concurrent_calls_share_the_pool_safely():
    pool = ScriptPool(max_workers=1)
    results: dict[int, Any] = {}
    code = "def transform(records, ctx):\n    return [{'n': r['n'] + 1} for r in records]\n"

    def call(n: int) -> None:
        results[n] = pool.run(code, [{"n": n}], {"execution_id": str(n), "mode": "DEV", "secrets": {},
                                                 "variables": {}}, 30)
    try:
        threads = [threading.Thread(target=call, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(WAIT)
        assert results == {n: [{"n": n + 1}] for n in range(4)}
        assert pool.worker_count == 1
    finally:
        pool.close()
    assert pool.worker_count == 0


@pytest.mark.parametrize(("config", "message"), [
    ({}, "config.code is required"),
    ({"code": "def transform(records, ctx):\n    return [\n"}, "config.code has a syntax error at line 2"),
    ({"code": "def other(records, ctx):\n    return records\n"}, "must define a top-level function "
                                                                 "`def transform(records, ctx):`"),
    ({"code": "def transform(records):\n    return records\n"}, "transform must take two arguments"),
    ({"code": "async def transform(records, ctx):\n    return records\n"}, "not `async def`"),
    ({"code": "def transform(records, ctx):\n    return records\n", "timeoutSeconds": 0},
     "config.timeoutSeconds must be at least 0.1"),
])
def test_bad_config_is_refused_naming_the_block_and_problem(config: dict[str, Any], message: str):
    with pytest.raises(ValidationError) as caught:
        validate_flow(make_flow({"type": "script", "id": "s", "config": config}))
    assert "'s'" in str(caught.value) and message in str(caught.value)


def test_checking_the_code_never_runs_it(tmp_path):
    marker = tmp_path / "ran"
    code = f"open({str(marker)!r}, 'w').close()\ndef transform(records, ctx):\n    return records\n"
    compile_flow(validate_flow(make_flow({"type": "script", "config": {"code": code}})))
    assert not marker.exists()


def test_a_flow_launched_over_http_runs_its_script_in_the_apps_pool(runtime, client):
    code = "def transform(records, ctx):\n    return [dict(r, mode=ctx.mode) for r in records]\n"
    flow_uuid = runtime.services.flows.save(script(code))[0].uuid
    response = client.launch(flow_uuid, [{"id": 1}], mode="PROD")
    assert response.status == 202, response.body
    status = client.wait_finished(response.json["executionId"])
    assert status["terminationStatus"] == "SUCCESS", status
    assert runtime.services.executions.detail(response.json["executionId"]).result == [{"id": 1, "mode": "PROD"}]
    assert runtime.services.scripts.worker_count == 1  # the app's shared pool did the work
