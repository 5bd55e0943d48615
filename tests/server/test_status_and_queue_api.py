"""Execution status, the system queue routes, kills, detail, health and OpenAPI over real HTTP."""

from __future__ import annotations

import re
import threading
import time
from datetime import datetime, timedelta
from typing import Any, Iterator
from urllib.parse import quote

import pytest

from ziggy_desktop.server.handlers import make_routes

from ..helpers import ApiClient, Response, assert_error, make_flow

STATUS_FIELDS = {"executionId", "terminationStatus", "ms", "executionEnvironmentMode", "createdAt", "flowUuid",
                 "flowName"}
SLOW = {"id": "slow", "type": "delay", "config": {"ms": 60_000}}


def save_flow(runtime, *blocks: dict[str, Any], **kwargs: Any) -> str:
    document = make_flow(*blocks, **kwargs)
    runtime.services.flows.save(document)
    return document["uuid"]


def launch_id(client: ApiClient, flow_uuid: str, body: Any = None, **kwargs: Any) -> str:
    response = client.launch(flow_uuid, body, **kwargs)
    assert response.status == 202, (response.status, response.body)
    return response.json["executionId"]


def kill_flow(client: ApiClient, execution_id: str, **kwargs: Any) -> Response:
    return client.request("DELETE", f"/api/ziggy/kill-flow/{quote(execution_id, safe='')}", **kwargs)


def kill_queued(client: ApiClient, execution_id: str, **kwargs: Any) -> Response:
    return client.request("DELETE", f"/api/ziggy/kill-system-queue-item/{quote(execution_id, safe='')}", **kwargs)


def detail(client: ApiClient, execution_id: str) -> dict[str, Any]:
    response = client.request("GET", f"/api/ziggy/executions/{quote(execution_id, safe='')}")
    assert response.status == 200, (response.status, response.body)
    return response.json


def wait_state(client: ApiClient, execution_id: str, state: str, timeout: float = 10.0) -> dict[str, Any]:
    """Poll the status API until the run reports `state` (QUEUED or RUNNING) with a 409."""
    deadline = time.monotonic() + timeout
    while True:
        response = client.status(execution_id)
        assert response.status == 409, (response.status, response.body)
        if response.json["state"] == state:
            return response.json
        assert time.monotonic() < deadline, f"{execution_id} never reached {state}: {response.json}"
        time.sleep(0.01)


def assert_iso_utc(value: str) -> datetime:
    assert isinstance(value, str) and value.endswith("Z"), value
    parsed = datetime.fromisoformat(value)
    assert parsed.utcoffset() == timedelta(0), value
    return parsed


def assert_finished_status(body: dict[str, Any], execution_id: str, flow_uuid: str, termination: str,
                           mode: str = "DEV") -> None:
    assert set(body) == STATUS_FIELDS, body
    assert body["executionId"] == execution_id
    assert body["terminationStatus"] == termination
    assert body["flowUuid"] == flow_uuid
    assert body["flowName"] == "Test flow"
    assert body["executionEnvironmentMode"] == mode
    assert isinstance(body["ms"], int) and not isinstance(body["ms"], bool) and body["ms"] >= 0
    assert_iso_utc(body["createdAt"])


class Blocked:
    """A server with one worker, held busy by a long delay run, so later launches stay QUEUED."""

    def __init__(self, runtime, client: ApiClient):
        self.runtime = runtime
        self.client = client
        self.slow = save_flow(runtime, SLOW)
        self.quick = save_flow(runtime)
        self.launched: list[str] = []

    def launch(self, flow_uuid: str | None = None, **kwargs: Any) -> str:
        execution_id = launch_id(self.client, flow_uuid or self.slow, **kwargs)
        self.launched.append(execution_id)
        return execution_id

    def cleanup(self) -> None:
        for execution_id in reversed(self.launched):  # queued first, so nothing new starts
            kill_flow(self.client, execution_id)


@pytest.fixture
def blocked(start_server, make_settings) -> Iterator[Blocked]:
    runtime = start_server(make_settings(max_concurrent_jobs=1))
    _, key = runtime.services.keys.create("tests")
    queue = Blocked(runtime, ApiClient(runtime.url, key))
    yield queue
    queue.cleanup()


# -- finished runs --------------------------------------------------------------------------------


@pytest.mark.parametrize("blocks, flow_options, termination", [
    ((), {}, "SUCCESS"),
    (({"type": "fail", "config": {"message": "boom"}},), {}, "FATAL"),
    (({"type": "delay", "config": {"ms": 5000}},), {"timeout_seconds": 0.2}, "TIMED OUT"),
], ids=["success", "fatal", "timed-out"])
def test_finished_run_status_is_200_with_exactly_seven_fields(runtime, client, blocks, flow_options, termination):
    flow_uuid = save_flow(runtime, *blocks, **flow_options)
    execution_id = launch_id(client, flow_uuid, {"a": 1}, mode="PROD")
    status = client.wait_finished(execution_id)
    assert_finished_status(status, execution_id, flow_uuid, termination, mode="PROD")
    again = client.status(execution_id)
    assert again.status == 200 and again.json == status  # stable once finished


def test_killed_run_status_is_200_killed(blocked):
    client = blocked.client
    execution_id = blocked.launch()
    wait_state(client, execution_id, "RUNNING")
    assert kill_flow(client, execution_id).status == 200
    status = client.status(execution_id)
    assert status.status == 200, status.body
    assert_finished_status(status.json, execution_id, blocked.slow, "KILLED")


# -- unfinished runs ------------------------------------------------------------------------------


def test_running_and_queued_runs_answer_409_with_state_and_position(blocked):
    client = blocked.client
    running = blocked.launch()
    wait_state(client, running, "RUNNING")
    first, second, third = (blocked.launch(blocked.quick, body={"n": n}) for n in range(3))

    answers = {execution_id: client.status(execution_id) for execution_id in (running, first, second, third)}

    for response in answers.values():
        assert response.status == 409, response.body
        assert set(response.json) == {"executionId", "state", "queuePosition"}, response.json
    assert answers[running].json == {"executionId": running, "state": "RUNNING", "queuePosition": 0}
    assert [answers[i].json["state"] for i in (first, second, third)] == ["QUEUED"] * 3
    assert [answers[i].json["queuePosition"] for i in (first, second, third)] == [1, 2, 3]
    # Positions move up when the head of the queue leaves.
    assert kill_queued(client, first).status == 200
    assert [client.status(i).json["queuePosition"] for i in (second, third)] == [1, 2]


def test_status_of_unknown_id_is_404(client):
    assert_error(client.status("no-such-execution"), 404)


def test_status_needs_a_key(runtime, client):
    execution_id = launch_id(client, save_flow(runtime))
    client.wait_finished(execution_id)
    assert_error(ApiClient(runtime.url, None).status(execution_id), 401)
    assert_error(ApiClient(runtime.url, "zgy_" + "B" * 43).status(execution_id), 401)
    assert_error(ApiClient(runtime.url, None).status("no-such-execution"), 401)  # no probing ids without a key


# -- the concurrency cap --------------------------------------------------------------------------


def test_thirty_runs_never_exceed_three_at_once_and_start_in_fifo_order(start_server, make_settings):
    runtime = start_server(make_settings(max_concurrent_jobs=3))
    _, key = runtime.services.keys.create("tests")
    client = ApiClient(runtime.url, key)
    flow_uuid = save_flow(runtime, {"type": "delay", "config": {"ms": 150}})
    lock = threading.Lock()
    running: set[str] = set()
    peak = [0]
    started: list[str] = []
    finished: list[str] = []
    all_done = threading.Event()
    total = 30

    def on_event(event) -> None:
        with lock:
            if event.state == "RUNNING":
                running.add(event.execution_id)
                started.append(event.execution_id)
                peak[0] = max(peak[0], len(running))
            elif event.state == "FINISHED":
                running.discard(event.execution_id)
                finished.append(event.execution_id)
                if len(finished) == total:
                    all_done.set()

    runtime.services.events.subscribe(on_event)
    launched = [launch_id(client, flow_uuid, {"n": n}, execution_id=f"run-{n:02d}") for n in range(total)]
    sizes = []
    while not all_done.wait(0.05):
        sizes.append(client.request("GET", "/api/ziggy/system-queue-size").json["running"])
        assert len(sizes) < 400, f"only {len(finished)} of {total} finished"

    assert peak[0] == 3, peak  # the cap is used, and never exceeded
    assert max(sizes, default=0) <= 3, sizes
    assert sorted(started) == sorted(launched)
    for execution_id in launched:
        assert client.status(execution_id).json["terminationStatus"] == "SUCCESS"
    # FIFO: each run was taken from the queue no earlier than the one launched before it.
    start_times = [assert_iso_utc(detail(client, i)["startedAt"]) for i in launched]
    assert start_times == sorted(start_times), list(zip(launched, start_times))


# -- kills ----------------------------------------------------------------------------------------


def test_kill_system_queue_item_drops_a_queued_run(blocked):
    client = blocked.client
    running = blocked.launch()
    wait_state(client, running, "RUNNING")
    doomed = blocked.launch(blocked.quick, body={"doomed": True})
    survivor = blocked.launch(blocked.quick, body={"survivor": True})
    assert wait_state(client, doomed, "QUEUED")["queuePosition"] == 1
    started: list[str] = []
    blocked.runtime.services.events.subscribe(
        lambda event: started.append(event.execution_id) if event.state == "RUNNING" else None)

    response = kill_queued(client, doomed)

    assert response.status == 200, response.body
    assert response.json["executionId"] == doomed
    assert response.json["state"] == "FINISHED"
    assert response.json["terminationStatus"] == "KILLED"
    assert_finished_status(client.status(doomed).json, doomed, blocked.quick, "KILLED")
    assert client.status(survivor).json["queuePosition"] == 1
    # Free the slot: the survivor runs, the killed run never does.
    assert kill_flow(client, running).status == 200
    assert client.wait_finished(survivor)["terminationStatus"] == "SUCCESS"
    assert doomed not in started
    assert client.status(doomed).json["terminationStatus"] == "KILLED"


def test_kill_system_queue_item_refuses_running_and_finished_runs(blocked):
    client = blocked.client
    running = blocked.launch()
    wait_state(client, running, "RUNNING")

    assert_error(kill_queued(client, running), 409, "NOT_QUEUED")
    assert wait_state(client, running, "RUNNING")  # still running after the refusal

    assert kill_flow(client, running).status == 200
    assert_error(kill_queued(client, running), 409, "ALREADY_FINISHED")
    assert_error(kill_queued(client, "no-such-execution"), 404)
    assert_error(kill_queued(client, running, key=None), 401)


def test_kill_flow_stops_a_running_delay(blocked):
    client = blocked.client
    running = blocked.launch(body={"a": 1})
    wait_state(client, running, "RUNNING")

    response = kill_flow(client, running)

    # 200 (not 202 "still stopping"): the 60 s delay was interrupted at once.
    assert response.status == 200, response.body
    assert response.json["state"] == "FINISHED"
    assert response.json["terminationStatus"] == "KILLED"
    assert_finished_status(client.status(running).json, running, blocked.slow, "KILLED")
    run = detail(client, running)
    assert run["reason"]
    assert run["failedBlock"] == "slow"
    # The slot is free again.
    assert client.wait_finished(launch_id(client, blocked.quick))["terminationStatus"] == "SUCCESS"


def test_kill_flow_on_a_queued_run_and_on_errors(blocked):
    client = blocked.client
    running = blocked.launch()
    wait_state(client, running, "RUNNING")
    queued = blocked.launch(blocked.quick)

    killed = kill_flow(client, queued)
    assert killed.status == 200 and killed.json["terminationStatus"] == "KILLED", killed.body

    assert_error(kill_flow(client, queued), 409, "ALREADY_FINISHED")
    assert_error(kill_flow(client, "no-such-execution"), 404)
    assert_error(kill_flow(client, running, key=None), 401)
    assert wait_state(client, running, "RUNNING")


# -- around it ------------------------------------------------------------------------------------


def test_health_needs_no_key(runtime):
    response = ApiClient(runtime.url, None).request("GET", "/api/ziggy/health")
    assert response.status == 200, response.body
    assert response.json["status"] == "ok"


def _route_template(pattern: str) -> str:
    """'/api/ziggy/kill-flow/(.+)' -> '/api/ziggy/kill-flow/{executionId}'; '/api/?' -> '/api';
    '(?P<name>[^/]+)' -> '{name}'."""
    path = re.sub(r"\(\?P<(\w+)>[^)]*\)", r"{\1}", pattern)
    path = path.replace("(.+)", "{executionId}").replace("\\.", ".")
    return path[:-2] if path.endswith("/?") else path


def test_openapi_is_3_1_and_documents_every_route_and_method(runtime):
    response = ApiClient(runtime.url, None).request("GET", "/api/ziggy/openapi.json")
    assert response.status == 200, response.body
    document = response.json
    assert document["openapi"].startswith("3.1"), document["openapi"]
    paths = document["paths"]
    expected = {"/api", "/api/ziggy/health", "/api/ziggy/openapi.json", "/api/ziggy/execution-status/{executionId}",
                "/api/ziggy/executions/{executionId}", "/api/ziggy/system-queue-size",
                "/api/ziggy/system-queue-list", "/api/ziggy/kill-system-queue-item/{executionId}",
                "/api/ziggy/kill-flow/{executionId}"}
    assert expected <= set(paths), expected - set(paths)
    # Every route the server really has is documented, with the methods it really supports.
    for pattern, handler, *_ in make_routes(None):
        template = _route_template(pattern)
        assert re.fullmatch(r"[/a-z{}A-Z.\-]+", template), template
        assert template in paths, template
        assert set(paths[template]) == {m.lower() for m in handler.SUPPORTED_METHODS}, template
    assert set(paths) == {_route_template(route[0]) for route in make_routes(None)}


def test_system_queue_size_and_list_need_a_key_and_reflect_the_queue(blocked):
    client = blocked.client
    anonymous = ApiClient(blocked.runtime.url, None)
    assert_error(anonymous.request("GET", "/api/ziggy/system-queue-size"), 401)
    assert_error(anonymous.request("GET", "/api/ziggy/system-queue-list"), 401)
    empty = client.request("GET", "/api/ziggy/system-queue-size")
    assert empty.status == 200 and (empty.json["size"], empty.json["running"]) == (0, 0), empty.body

    running = blocked.launch()
    wait_state(client, running, "RUNNING")
    first = blocked.launch(blocked.quick, body={"n": 1})
    second = blocked.launch(blocked.quick, body={"n": 2}, mode="PROD")

    size = client.request("GET", "/api/ziggy/system-queue-size")
    assert size.status == 200, size.body
    assert (size.json["size"], size.json["running"], size.json["maxConcurrentJobs"]) == (2, 1, 1)
    listing = client.request("GET", "/api/ziggy/system-queue-list")
    assert listing.status == 200, listing.body
    body = listing.json
    assert [item["executionId"] for item in body["running"]] == [running]
    assert body["running"][0]["state"] == "RUNNING" and body["running"][0]["queuePosition"] == 0
    assert [item["executionId"] for item in body["queued"]] == [first, second]
    assert [item["queuePosition"] for item in body["queued"]] == [1, 2]
    assert [item["executionEnvironmentMode"] for item in body["queued"]] == ["DEV", "PROD"]
    assert all(item["state"] == "QUEUED" and item["flowUuid"] == blocked.quick for item in body["queued"])
    assert body["queuedTotal"] == 2
    limited = client.request("GET", "/api/ziggy/system-queue-list", params={"limit": 1}).json
    assert [item["executionId"] for item in limited["queued"]] == [first] and limited["queuedTotal"] == 2
    assert_error(client.request("GET", "/api/ziggy/system-queue-list", params={"limit": "zero"}), 400)

    assert kill_queued(client, first).status == 200
    assert client.request("GET", "/api/ziggy/system-queue-size").json["size"] == 1


def test_execution_detail_of_a_failed_run(runtime, client, api_key):
    flow_uuid = save_flow(runtime, {"id": "say", "type": "console", "config": {"message": "hello",
                                                                               "includeData": True}},
                          {"id": "explode", "type": "fail", "config": {"message": "boom"}})
    execution_id = launch_id(client, flow_uuid, {"n": 1})
    client.wait_finished(execution_id)

    run = detail(client, execution_id)

    assert run["executionId"] == execution_id
    assert run["state"] == "FINISHED"
    assert run["terminationStatus"] == "FATAL"
    assert run["trigger"] == "API"
    assert run["keyName"] == "tests"
    assert "boom" in run["reason"]
    assert run["failedBlock"] == "explode"
    steps = {step["blockId"]: step for step in run["steps"]}
    assert steps["receiver"]["status"] == "SUCCESS"
    assert steps["say"]["status"] == "SUCCESS"
    assert steps["explode"]["status"] == "FATAL"
    assert [line["message"] for line in run["console"]] == ['hello {"n": 1}']
    assert run["console"][0]["blockId"] == "say"
    assert_iso_utc(run["console"][0]["at"])
    assert run["input"] == {"n": 1}
    for field in ("createdAt", "startedAt", "finishedAt"):
        assert_iso_utc(run[field])
    assert api_key not in str(run)


def test_execution_detail_of_a_successful_run_and_errors(runtime, client, api_key):
    flow_uuid = save_flow(runtime, {"id": "say", "type": "console", "config": {"message": "hi"}})
    execution_id = launch_id(client, flow_uuid, [1, 2])
    client.wait_finished(execution_id)
    run = detail(client, execution_id)
    assert (run["state"], run["terminationStatus"], run["reason"], run["failedBlock"]) == (
        "FINISHED", "SUCCESS", None, None)
    assert run["result"] == [1, 2]
    assert [step["status"] for step in run["steps"]] == ["SUCCESS"] * 3
    assert run["keyName"] == "tests" and run["trigger"] == "API"
    assert isinstance(run["ms"], int)
    path = f"/api/ziggy/executions/{execution_id}"
    assert_error(client.request("GET", path, key=None), 401)
    assert_error(client.request("GET", "/api/ziggy/executions/no-such-execution"), 404)
