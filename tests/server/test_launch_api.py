"""POST /api over real HTTP: every row of DESIGN §3's launch table, key positions, payload and mode."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import concurrent.futures
import time
import uuid
from typing import Any
from urllib.parse import quote

import pytest
from sqlalchemy import func, select, update

from ziggy_desktop.models import Execution, ExecutionKey

from ..helpers import ApiClient, Response, assert_error, make_flow

LAUNCH_FIELDS = {"executionId", "flowUuid", "flowName", "executionEnvironmentMode", "state", "statusUrl"}
SLOW = {"id": "slow", "type": "delay", "config": {"ms": 60_000}}


def save_flow(runtime, *blocks: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    document = make_flow(*blocks, **kwargs)
    runtime.services.flows.save(document)
    return document


def detail(client: ApiClient, execution_id: str) -> dict[str, Any]:
    response = client.request("GET", f"/api/ziggy/executions/{quote(execution_id, safe='')}")
    assert response.status == 200, (response.status, response.body)
    return response.json


def kill(client: ApiClient, execution_id: str) -> Response:
    return client.request("DELETE", f"/api/ziggy/kill-flow/{quote(execution_id, safe='')}")


def count_executions(runtime) -> int:
    with runtime.services.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(Execution.__table__)).scalar_one()


class QueuedEvents:
    """Records the execution ids of QUEUED events (emitted once per run that enters the queue)."""

    def __init__(self, bus):
        self.ids: list[str] = []
        self._lock = threading.Lock()
        self._unsubscribe = bus.subscribe(self._on_event)

    def _on_event(self, event) -> None:
        if event.state == "QUEUED":
            with self._lock:
                self.ids.append(event.execution_id)


@pytest.fixture
def flow(runtime) -> dict[str, Any]:
    return save_flow(runtime, name="Launch target")


def wait_running(client: ApiClient, execution_id: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        response = client.status(execution_id)
        assert response.status == 409, (response.status, response.body)
        if response.json["state"] == "RUNNING":
            return
        assert time.monotonic() < deadline, f"{execution_id} never started: {response.json}"
        time.sleep(0.01)


# -- accepted -------------------------------------------------------------------------------------


def test_accepted_launch_is_202_with_exact_fields_and_committed_row(runtime, client, flow):
    response = client.launch(flow["uuid"], {"hello": "world"})

    assert response.status == 202, response.body
    body = response.json
    assert set(body) == LAUNCH_FIELDS
    assert body["state"] == "QUEUED"
    assert body["flowUuid"] == flow["uuid"]
    assert body["flowName"] == "Launch target"
    assert body["executionEnvironmentMode"] == "DEV"
    assert uuid.UUID(body["executionId"]).version == 4  # generated when absent
    assert body["statusUrl"].endswith(f"/api/ziggy/execution-status/{body['executionId']}")
    # The row was committed before the answer: readable at once, by the core and over HTTP.
    view = runtime.services.executions.get(body["executionId"])
    assert view.flow_uuid == flow["uuid"]
    assert client.status(body["executionId"]).status in (200, 409)
    client.wait_finished(body["executionId"])


def test_status_url_in_the_answer_is_usable(client, flow):
    response = client.launch(flow["uuid"], execution_id="order 42/é")
    assert response.status == 202, response.body
    status_url = response.json["statusUrl"]
    path = status_url.split("://", 1)[1].split("/", 1)[1]
    client.wait_finished("order 42/é")
    status = client.request("GET", "/" + path)
    assert status.status == 200, status.body
    assert status.json["executionId"] == "order 42/é"


@pytest.mark.parametrize("execution_id", ["x", "a" * 200, "order 42/é", "Ünïcødé-☃"])
def test_client_chosen_execution_id_is_kept(client, flow, execution_id):
    response = client.launch(flow["uuid"], [1], execution_id=execution_id)
    assert response.status == 202, response.body
    assert response.json["executionId"] == execution_id
    assert client.wait_finished(execution_id)["executionId"] == execution_id


# -- idempotent retries and conflicts -------------------------------------------------------------


@pytest.mark.parametrize("first, retry", [
    (b'{"a": 1, "b": [1, 2]}', b'{"a": 1, "b": [1, 2]}'),
    (b'{"a": 1, "b": [1, 2]}', b'{ "b" : [1,2],\n  "a":1 }'),
    (b"", b""),
], ids=["identical", "whitespace-and-key-order", "both-empty"])
def test_retry_with_same_id_flow_and_body_returns_existing_run(runtime, client, flow, first, retry):
    queued = QueuedEvents(runtime.services.events)
    original = client.launch(flow["uuid"], raw_body=first, execution_id="retry-1")
    assert original.status == 202, original.body
    rows_before = count_executions(runtime)

    again = client.launch(flow["uuid"], raw_body=retry, execution_id="retry-1")

    assert again.status == 200, again.body
    assert set(again.json) >= LAUNCH_FIELDS
    assert again.json["executionId"] == "retry-1"
    assert again.json["flowUuid"] == flow["uuid"]
    assert again.json["statusUrl"] == original.json["statusUrl"]
    assert count_executions(runtime) == rows_before
    assert queued.ids == ["retry-1"]
    client.wait_finished("retry-1")
    # A retry after the run finished is still the same run, not a new one.
    late = client.launch(flow["uuid"], raw_body=retry, execution_id="retry-1")
    assert late.status == 200, late.body
    assert late.json["state"] == "FINISHED"
    assert queued.ids == ["retry-1"]


@pytest.mark.parametrize("change", ["other-flow", "other-body", "body-then-none", "none-then-body"])
def test_same_id_with_another_flow_or_body_is_409(runtime, client, flow, change):
    other_flow = save_flow(runtime, name="Other flow")
    first_body = None if change == "none-then-body" else {"n": 1}
    second_flow = other_flow["uuid"] if change == "other-flow" else flow["uuid"]
    second_body = {"n": 1, "other-flow": {"n": 1}, "other-body": {"n": 2}, "body-then-none": None,
                   "none-then-body": {"n": 1}}[change]
    if change == "other-flow":
        second_body = first_body
    assert client.launch(flow["uuid"], first_body, execution_id="dup").status == 202
    rows_before = count_executions(runtime)

    response = client.launch(second_flow, second_body, execution_id="dup")

    assert_error(response, 409, "EXECUTION_ID_CONFLICT")
    assert count_executions(runtime) == rows_before
    status = client.wait_finished("dup")
    assert status["flowUuid"] == flow["uuid"]  # the original run is untouched


# -- keys -----------------------------------------------------------------------------------------


def test_missing_key_is_401(runtime, flow):
    anonymous = ApiClient(runtime.url, None)
    queued = QueuedEvents(runtime.services.events)
    assert_error(anonymous.launch(flow["uuid"], {"a": 1}), 401)
    assert queued.ids == []


def test_unknown_key_is_401_and_not_echoed(runtime, flow):
    bogus = "zgy_" + "A" * 43
    queued = QueuedEvents(runtime.services.events)
    for where in ("header", "query", "bearer"):
        response = ApiClient(runtime.url, bogus).launch(flow["uuid"], {"a": 1}, key_in=where)
        assert_error(response, 401)
        assert bogus not in response.body.decode()
        assert all(bogus not in value for value in response.headers.values())
    assert queued.ids == []


def test_revoked_key_fails_on_the_very_next_call(runtime, flow):
    info, key = runtime.services.keys.create("soon revoked")
    client = ApiClient(runtime.url, key)
    first = client.launch(flow["uuid"], {"a": 1})
    assert first.status == 202, first.body
    client.wait_finished(first.json["executionId"])
    runtime.services.writer.run(lambda conn, batch: None)  # background writes (last-used times) are done

    runtime.services.keys.revoke(str(info.id))

    assert_error(client.launch(flow["uuid"], {"a": 1}), 401, "REVOKED_EXECUTION_KEY")
    assert_error(client.status(first.json["executionId"]), 401, "REVOKED_EXECUTION_KEY")
    assert_error(client.request("GET", "/api/ziggy/system-queue-size"), 401, "REVOKED_EXECUTION_KEY")


def test_revoking_a_key_while_the_server_is_writing_succeeds(runtime, monkeypatch):
    """Revoking from the app while runs are being recorded must not fail with 'database is locked'."""
    from ziggy_desktop import keys as keys_module

    info, key = runtime.services.keys.create("revoked while busy")
    original_find = keys_module.KeyService.find

    background_writes = []

    def find_then_let_the_server_write(self, conn, ref):
        found = original_find(self, conn, ref)
        # What every authenticated request does in the background, between lookup and update. With a
        # deferred transaction it commits here and the revoke then fails; with the write lock taken up
        # front it waits for the revoke instead (so the short wait below times out).
        write = runtime.services.writer.submit(lambda c, batch: c.execute(
            update(ExecutionKey.__table__).values(last_used_at=time.time())))
        background_writes.append(write)
        try:
            write.result(timeout=1.0)
        except concurrent.futures.TimeoutError:
            pass
        return found

    monkeypatch.setattr(keys_module.KeyService, "find", find_then_let_the_server_write)
    runtime.services.keys.revoke(str(info.id))
    monkeypatch.undo()
    background_writes[0].result(timeout=30)  # and the server's write still lands afterwards

    assert_error(ApiClient(runtime.url, key).request("GET", "/api/ziggy/system-queue-size"), 401,
                 "REVOKED_EXECUTION_KEY")


@pytest.mark.parametrize("key_in", ["header", "query", "bearer"])
def test_key_in_header_query_or_bearer_works_and_is_never_echoed(runtime, api_key, flow, key_in):
    client = ApiClient(runtime.url, api_key)
    launched = client.launch(flow["uuid"], {"a": 1}, key_in=key_in)
    assert launched.status == 202, launched.body
    execution_id = launched.json["executionId"]
    responses = [launched]
    deadline = time.monotonic() + 20
    while True:
        status = client.status(execution_id, key_in=key_in)
        responses.append(status)
        if status.status == 200:
            break
        assert status.status == 409, status.body
        assert time.monotonic() < deadline
        time.sleep(0.02)
    responses.append(client.request("GET", f"/api/ziggy/executions/{execution_id}", key_in=key_in))
    responses.append(client.launch(flow["uuid"], {"a": 1}, key_in=key_in, execution_id=execution_id))  # a retry
    responses.append(client.launch(flow["uuid"], {"a": 2}, key_in=key_in, execution_id=execution_id))  # a conflict
    assert [r.status for r in responses[-3:]] == [200, 200, 409]
    for response in responses:
        assert api_key not in response.body.decode(), response.body
        assert all(api_key not in value for value in response.headers.values()), response.headers


# -- bad requests ---------------------------------------------------------------------------------


@pytest.mark.parametrize("params, raw_body, code", [
    ({"flowUuid": None}, b"{}", "MISSING_FLOW_UUID"),
    ({"flowUuid": ""}, b"{}", "MISSING_FLOW_UUID"),
    ({"executionEnvironmentMode": "STAGING"}, b"{}", "INVALID_MODE"),
    ({"executionEnvironmentMode": "production"}, b"{}", "INVALID_MODE"),
    ({"executionId": ""}, b"{}", "INVALID_EXECUTION_ID"),
    ({"executionId": "   "}, b"{}", "INVALID_EXECUTION_ID"),
    ({"executionId": "a" * 201}, b"{}", "INVALID_EXECUTION_ID"),
    ({"executionId": "a\tb"}, b"{}", "INVALID_EXECUTION_ID"),
    ({"executionId": "a\nb"}, b"{}", "INVALID_EXECUTION_ID"),
    ({"executionId": "a\x7fb"}, b"{}", "INVALID_EXECUTION_ID"),
    ({"executionId": "a\x01b"}, b"{}", "INVALID_EXECUTION_ID"),
    ({"executionId": "\x00abc"}, b"{}", "INVALID_EXECUTION_ID"),
    ({}, b"{not json", "INVALID_JSON"),
    ({}, b"{'single': 'quotes'}", "INVALID_JSON"),
    ({}, b'"\xff\xfe"', "INVALID_JSON"),
], ids=["no-flowUuid", "empty-flowUuid", "mode-STAGING", "mode-production", "id-empty", "id-blank",
        "id-201-chars", "id-tab", "id-newline", "id-DEL", "id-ctrl-A", "id-NUL", "body-not-json",
        "body-python-repr", "body-not-utf8"])
def test_bad_request_is_400_and_queues_nothing(runtime, client, flow, params, raw_body, code):
    queued = QueuedEvents(runtime.services.events)
    rows_before = count_executions(runtime)
    query = {"flowUuid": flow["uuid"], **params}
    response = client.request("POST", "/api", params=query, raw_body=raw_body)
    assert_error(response, 400, code)
    assert queued.ids == []
    assert count_executions(runtime) == rows_before


def test_unknown_flow_is_404(runtime, client):
    queued = QueuedEvents(runtime.services.events)
    assert_error(client.launch(str(uuid.uuid4()), {"a": 1}), 404, "FLOW_NOT_FOUND")
    assert_error(client.launch("not-a-uuid-at-all"), 404, "FLOW_NOT_FOUND")
    assert queued.ids == []


# -- body size ------------------------------------------------------------------------------------


@pytest.fixture
def small_body_server(start_server, make_settings):
    runtime = start_server(make_settings(max_body_bytes=2048))
    _, key = runtime.services.keys.create("tests")
    document = save_flow(runtime)
    return runtime, ApiClient(runtime.url, key), document["uuid"]


def json_of_size(size: int) -> bytes:
    """A JSON string literal exactly `size` bytes long."""
    return b'"' + b"x" * (size - 2) + b'"'


def test_body_at_the_limit_is_accepted(small_body_server):
    runtime, client, flow_uuid = small_body_server
    response = client.launch(flow_uuid, raw_body=json_of_size(2048))
    assert response.status == 202, response.body
    assert client.wait_finished(response.json["executionId"])["terminationStatus"] == "SUCCESS"


def test_body_over_the_limit_is_413(small_body_server):
    runtime, client, flow_uuid = small_body_server
    queued = QueuedEvents(runtime.services.events)
    response = client.launch(flow_uuid, raw_body=json_of_size(4096))
    assert_error(response, 413)
    assert queued.ids == []
    assert count_executions(runtime) == 0


def test_chunked_body_over_the_limit_is_413(small_body_server):
    """A client that streams (Transfer-Encoding: chunked, no Content-Length) gets the same answer."""
    runtime, client, flow_uuid = small_body_server
    queued = QueuedEvents(runtime.services.events)
    body = json_of_size(4096)
    request = (f"POST /api?flowUuid={flow_uuid} HTTP/1.1\r\nHost: localhost:{client.port}\r\n"
               f"execution-key: {client.key}\r\nContent-Type: application/json\r\n"
               f"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n").encode()
    request += f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n"
    with socket.create_connection((client.host, client.port), timeout=10) as sock:
        sock.sendall(request)
        raw = http.client.HTTPResponse(sock)
        raw.begin()
        response = Response(raw.status, {k.lower(): v for k, v in raw.getheaders()}, raw.read())
    assert_error(response, 413)
    assert queued.ids == []
    assert count_executions(runtime) == 0


# -- backlog full ---------------------------------------------------------------------------------


def test_full_backlog_is_503_queue_full_with_retry_after(start_server, make_settings):
    runtime = start_server(make_settings(max_concurrent_jobs=1, max_system_queue_size=2))
    _, key = runtime.services.keys.create("tests")
    client = ApiClient(runtime.url, key)
    slow = save_flow(runtime, SLOW)["uuid"]
    launched = []
    try:
        launched.append(client.launch(slow, execution_id="running").json["executionId"])
        wait_running(client, "running")
        for name in ("waiting-1", "waiting-2"):
            response = client.launch(slow, execution_id=name)
            assert response.status == 202, response.body
            launched.append(name)

        rejected = client.launch(slow, {"a": 1}, execution_id="rejected")

        assert_error(rejected, 503, "QUEUE_FULL")
        retry_after = rejected.headers.get("retry-after")
        assert retry_after is not None and retry_after.isdigit() and int(retry_after) >= 1, rejected.headers
        assert_error(client.status("rejected"), 404)  # nothing was recorded for it
        # Room again once a waiting run leaves the backlog.
        assert client.request("DELETE", "/api/ziggy/kill-system-queue-item/waiting-2").status == 200
        accepted = client.launch(slow, {"a": 1}, execution_id="rejected")
        assert accepted.status == 202, accepted.body
        launched.append("rejected")
    finally:
        for execution_id in reversed(launched):
            kill(client, execution_id)


# -- payload: the body, never the test data -------------------------------------------------------


@pytest.mark.parametrize("body", [{"name": "Ada", "tags": ["x", "y"]}, [1, 2, 3], "text", 0, False, None, {}],
                         ids=["object", "list", "string", "zero", "false", "null", "empty-object"])
def test_api_launch_result_is_the_body_not_the_test_data(runtime, client, body):
    document = save_flow(runtime, {"type": "console", "config": {"message": "got", "includeData": True}},
                         test_data={"from": "the test data"})
    response = client.request("POST", "/api", params={"flowUuid": document["uuid"]},
                              raw_body=json.dumps(body).encode())
    assert response.status == 202, response.body
    execution_id = response.json["executionId"]
    assert client.wait_finished(execution_id)["terminationStatus"] == "SUCCESS"
    run = detail(client, execution_id)
    assert run["result"] == body
    assert type(run["result"]) is type(body)
    assert "the test data" not in response.body.decode() + str(run["result"]) + str(run["console"])


def test_api_launch_with_empty_body_gives_null_never_the_test_data(runtime, client):
    document = save_flow(runtime, test_data={"from": "the test data"})
    response = client.launch(document["uuid"])  # no body at all
    assert response.status == 202, response.body
    execution_id = response.json["executionId"]
    assert client.wait_finished(execution_id)["terminationStatus"] == "SUCCESS"
    run = detail(client, execution_id)
    assert run["result"] is None
    assert run["input"] is None


def test_api_launch_with_whitespace_only_body_counts_as_empty(runtime, client):
    document = save_flow(runtime, test_data={"from": "the test data"})
    response = client.launch(document["uuid"], raw_body=b"  \n ")
    assert response.status == 202, response.body
    execution_id = response.json["executionId"]
    client.wait_finished(execution_id)
    assert detail(client, execution_id)["result"] is None


# -- executionEnvironmentMode ---------------------------------------------------------------------


@pytest.mark.parametrize("given, expected", [
    (None, "DEV"), ("DEV", "DEV"), ("dev", "DEV"), ("PROD", "PROD"), ("prod", "PROD"), ("Prod", "PROD"),
])
def test_mode_defaults_to_dev_accepts_prod_and_is_echoed(client, flow, given, expected):
    response = client.launch(flow["uuid"], {"a": 1}, mode=given)
    assert response.status == 202, response.body
    assert response.json["executionEnvironmentMode"] == expected
    execution_id = response.json["executionId"]
    assert client.wait_finished(execution_id)["executionEnvironmentMode"] == expected
    assert detail(client, execution_id)["executionEnvironmentMode"] == expected


def test_same_id_in_another_mode_is_not_a_retry(client, flow):
    assert client.launch(flow["uuid"], {"a": 1}, execution_id="moded", mode="DEV").status == 202
    assert_error(client.launch(flow["uuid"], {"a": 1}, execution_id="moded", mode="PROD"), 409,
                 "EXECUTION_ID_CONFLICT")
    assert client.launch(flow["uuid"], {"a": 1}, execution_id="moded", mode="dev").status == 200
    client.wait_finished("moded")
