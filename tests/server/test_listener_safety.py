"""Listener safety: loopback bind, Host allow-list, JSON errors everywhere, no CORS, nothing secret logged."""

from __future__ import annotations

import errno
import logging
import socket
import sys
import time

import pytest

from ..helpers import ApiClient, assert_error, make_flow


@pytest.fixture
def flow_uuid(runtime) -> str:
    document = make_flow()
    runtime.services.flows.save(document)
    return document["uuid"]


# -- Host header (DNS-rebinding protection) -------------------------------------------------------


@pytest.mark.parametrize("host", ["evil.example", "evil.example:3000", "localhost.evil.example",
                                  "127.0.0.1.evil.example", "10.0.0.5", "[2001:db8::1]:80"])
def test_foreign_host_header_is_403_on_every_route(runtime, client, flow_uuid, api_key, host):
    headers = {"Host": host}
    responses = [
        client.request("GET", "/api/ziggy/health", headers=headers, key=None),
        client.request("GET", "/api/ziggy/openapi.json", headers=headers, key=None),
        client.launch(flow_uuid, {"a": 1}, headers=headers),
        client.status("anything", headers=headers),
        client.request("GET", "/api/ziggy/system-queue-list", headers=headers),
        client.request("DELETE", "/api/ziggy/kill-flow/anything", headers=headers),
        client.request("GET", "/no/such/route", headers=headers),
    ]
    for response in responses:
        assert_error(response, 403, "HOST_NOT_ALLOWED")
        assert api_key not in response.body.decode()
    assert runtime.services.queue.depth() == 0 and runtime.services.queue.running_count() == 0


@pytest.mark.parametrize("host", ["localhost", "LOCALHOST", "127.0.0.1", "[::1]", "localhost:{port}",
                                  "127.0.0.1:{port}", "[::1]:{port}"])
def test_loopback_host_headers_are_accepted(runtime, client, flow_uuid, host):
    headers = {"Host": host.format(port=client.port)}
    health = client.request("GET", "/api/ziggy/health", headers=headers, key=None)
    assert health.status == 200, health.body
    launched = client.launch(flow_uuid, {"a": 1}, headers=headers)
    assert launched.status == 202, launched.body
    assert client.wait_finished(launched.json["executionId"])["terminationStatus"] == "SUCCESS"


def test_configured_allowed_host_is_accepted(start_server, make_settings):
    runtime = start_server(make_settings(allowed_hosts=("myhost.test",)))
    _, key = runtime.services.keys.create("tests")
    client = ApiClient(runtime.url, key)
    document = make_flow()
    runtime.services.flows.save(document)
    for host in ("myhost.test", f"myhost.test:{client.port}"):
        assert client.request("GET", "/api/ziggy/health", headers={"Host": host}).status == 200
        launched = client.launch(document["uuid"], {"a": 1}, headers={"Host": host})
        assert launched.status == 202, launched.body
        client.wait_finished(launched.json["executionId"])
    # Allowing one name does not open the door to others.
    assert_error(client.request("GET", "/api/ziggy/health", headers={"Host": "evil.example"}), 403,
                 "HOST_NOT_ALLOWED")
    assert_error(client.request("GET", "/api/ziggy/health", headers={"Host": "sub.myhost.test"}), 403,
                 "HOST_NOT_ALLOWED")


# -- routes and methods ---------------------------------------------------------------------------


@pytest.mark.parametrize("method, path", [
    ("GET", "/"), ("GET", "/nope"), ("GET", "/api/ziggy"), ("GET", "/api/ziggy/"), ("POST", "/api/nope"),
    ("GET", "/api/ziggy/execution-status/"), ("GET", "/favicon.ico"),
])
def test_unknown_route_is_404_json(client, method, path):
    assert_error(client.request(method, path), 404)


@pytest.mark.parametrize("method, path", [
    ("PUT", "/api"), ("GET", "/api"), ("DELETE", "/api"), ("PATCH", "/api"),
    ("POST", "/api/ziggy/health"), ("DELETE", "/api/ziggy/openapi.json"),
    ("POST", "/api/ziggy/execution-status/x"), ("PUT", "/api/ziggy/system-queue-size"),
    ("GET", "/api/ziggy/kill-flow/x"), ("POST", "/api/ziggy/kill-system-queue-item/x"),
    ("OPTIONS", "/api"),
])
def test_wrong_method_is_405_json(client, method, path):
    body = b"{}" if method in ("PUT", "POST", "PATCH") else None
    assert_error(client.request(method, path, raw_body=body), 405, "METHOD_NOT_ALLOWED")


def test_server_binds_loopback_by_default(runtime, settings):
    assert settings.host == "127.0.0.1"
    assert runtime.services.settings.host == "127.0.0.1"
    port = runtime.server.port
    assert port > 0
    assert runtime.url in (f"http://localhost:{port}", f"http://127.0.0.1:{port}")
    with socket.create_connection(("127.0.0.1", port), timeout=5):
        pass
    if sys.platform.startswith("linux"):
        # All of 127/8 is loopback on Linux: a listener bound to every interface would answer here.
        with pytest.raises(OSError) as refused:
            socket.create_connection(("127.0.0.2", port), timeout=5).close()
        assert refused.value.errno == errno.ECONNREFUSED


# -- error bodies, CORS ---------------------------------------------------------------------------


def test_every_error_has_the_json_error_shape_and_never_the_key(runtime, client, flow_uuid, api_key):
    bogus = "zgy_" + "C" * 43
    answers = [
        (client.launch(flow_uuid, raw_body=b"nope"), 400),
        (client.launch(None), 400),
        (client.launch(flow_uuid, mode="QA"), 400),
        (client.request("GET", "/api/ziggy/system-queue-list", params={"limit": "-1"}), 400),
        (client.launch(flow_uuid, key=None), 401),
        (client.launch(flow_uuid, key=bogus, key_in="query"), 401),
        (client.status("x", key=bogus, key_in="bearer"), 401),
        (client.request("GET", "/api/ziggy/system-queue-size", key=None), 401),
        (client.request("GET", "/api/ziggy/health", headers={"Host": "evil.example"}), 403),
        (client.launch("00000000-0000-4000-8000-000000000000"), 404),
        (client.status("missing"), 404),
        (client.request("GET", "/api/ziggy/executions/missing"), 404),
        (client.request("GET", "/missing"), 404),
        (client.request("PUT", "/api", raw_body=b"{}"), 405),
    ]
    first = client.launch(flow_uuid, {"a": 1}, execution_id="same")
    assert first.status == 202
    answers.append((client.launch(flow_uuid, {"a": 2}, execution_id="same"), 409))
    client.wait_finished("same")
    answers.append((client.request("DELETE", "/api/ziggy/kill-flow/same"), 409))
    for response, status in answers:
        assert_error(response, status)
        text = response.body.decode()
        assert api_key not in text and bogus not in text, text


def test_no_cors_headers_by_default(runtime, client, flow_uuid):
    origin = {"Origin": "https://evil.example"}
    responses = [
        client.request("GET", "/api/ziggy/health", headers=origin, key=None),
        client.launch(flow_uuid, {"a": 1}, headers=origin),
        client.status("missing", headers=origin),
        client.request("OPTIONS", "/api", key=None, headers={
            **origin, "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "execution-key, content-type"}),
    ]
    for response in responses:
        assert not any(name.startswith("access-control-") for name in response.headers), response.headers
    assert responses[-1].status >= 400  # a preflight is not approved


# -- logs -----------------------------------------------------------------------------------------


def test_logs_hold_neither_the_key_nor_the_body(start_server, caplog):
    caplog.set_level(logging.INFO)
    runtime = start_server()
    _, key = runtime.services.keys.create("logged?")
    document = make_flow({"type": "console", "config": {"message": "data", "includeData": True}},
                         {"type": "fail", "config": {"message": "stop here"}})
    runtime.services.flows.save(document)
    client = ApiClient(runtime.url, key)
    secret = "s3cr3t-payload-value-7f1c"

    launched = client.launch(document["uuid"], {"customer": {"email": secret}}, key_in="query")
    assert launched.status == 202, launched.body
    assert client.wait_finished(launched.json["executionId"])["terminationStatus"] == "FATAL"
    # Rejected calls are logged at INFO (4xx): they must not leak either.
    assert client.launch(document["uuid"], raw_body=f'{{"bad": "{secret}"'.encode(), key_in="query").status == 400
    assert client.launch(document["uuid"], {"x": secret}, key=key + "x", key_in="query").status == 401
    assert client.request("GET", "/nowhere", params={"execution-key": key, "q": secret}).status == 404
    # The access line is written just after the answer is sent: wait for it rather than race it.
    deadline = time.monotonic() + 5
    while not any("/nowhere" in record.getMessage() for record in caplog.records):
        assert time.monotonic() < deadline, [record.getMessage() for record in caplog.records]
        time.sleep(0.01)

    assert caplog.records, "expected the server to log something at INFO"
    for record in caplog.records:
        text = record.getMessage() + (record.exc_text or "")
        assert key not in text, (record.name, text)
        assert key[:20] not in text, (record.name, text)
        assert secret not in text, (record.name, text)
    assert key not in caplog.text and secret not in caplog.text


def test_an_internal_error_logs_no_key(start_server, caplog, monkeypatch):
    caplog.set_level(logging.INFO)
    runtime = start_server()
    _, key = runtime.services.keys.create("logged?")

    def broken(*_args, **_kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(runtime.services.queue, "snapshot", broken)
    response = ApiClient(runtime.url).request("GET", "/api/ziggy/system-queue-list", key=key, key_in="query")
    assert_error(response, 500, "INTERNAL_ERROR")
    assert "boom" not in response.body.decode()
    assert any("internal error" in record.getMessage() for record in caplog.records)
    assert key not in caplog.text


def test_a_key_with_bad_encoding_is_not_echoed(start_server):
    runtime = start_server()
    _, key = runtime.services.keys.create("echo?")
    response = ApiClient(runtime.url).request("GET", f"/api/ziggy/system-queue-size?execution-key={key}%FF", key=None)
    assert_error(response, 400, "INVALID_ENCODING")
    assert key[4:20] not in response.body.decode()


def test_a_limit_in_other_digits_is_a_400(start_server):
    runtime = start_server()
    _, key = runtime.services.keys.create("digits")
    response = ApiClient(runtime.url, key).request("GET", "/api/ziggy/system-queue-list?limit=%C2%B2")
    assert_error(response, 400, "INVALID_LIMIT")
