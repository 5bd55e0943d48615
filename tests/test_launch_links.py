"""Launch links: the URL, curl command and Postman collection are exact and really launch the flow."""

from __future__ import annotations

import http.client
import json
import re
import shlex
import shutil
import subprocess
import urllib.request
import uuid
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from ziggy_desktop.launch_links import (KEY_PLACEHOLDER, POSTMAN_SCHEMA, curl_command, launch_url, postman_collection,
                                        receiver_body_json, status_url)

from .helpers import ApiClient, make_flow

FLOW_UUID = "5f0c6a3e-2d1b-4c7a-9e0f-1a2b3c4d5e6f"


def test_url_matches_the_documented_shape_with_the_placeholder():
    url = launch_url("http://localhost:3000", FLOW_UUID, "DEV", None, "0b8e7c9a-1111-4222-8333-444455556666")
    assert url == ("http://localhost:3000/api?flowUuid=5f0c6a3e-2d1b-4c7a-9e0f-1a2b3c4d5e6f"
                   "&execution-key=<your execution key>&executionEnvironmentMode=DEV"
                   "&executionId=0b8e7c9a-1111-4222-8333-444455556666")


def test_url_with_key_and_no_execution_id():
    url = launch_url("http://localhost:3000/", FLOW_UUID, "PROD", "zgy_abc-DEF_123")
    assert url == (f"http://localhost:3000/api?flowUuid={FLOW_UUID}&execution-key=zgy_abc-DEF_123"
                   f"&executionEnvironmentMode=PROD")
    assert "executionId" not in url


def test_url_encodes_values_that_need_it():
    odd_id = "order #12/3 & more?"
    url = launch_url("http://127.0.0.1:3000", FLOW_UUID, "dev", "k+ey=&x", odd_id)
    query = dict(parse_qsl(urlsplit(url).query))
    assert query == {"flowUuid": FLOW_UUID, "execution-key": "k+ey=&x", "executionEnvironmentMode": "DEV",
                     "executionId": odd_id}
    assert " " not in url


def test_bad_mode_is_refused():
    with pytest.raises(ValueError, match="DEV, PROD"):
        launch_url("http://localhost:3000", FLOW_UUID, "TEST")


def test_curl_parts_parse_back_and_keep_the_key_out_of_the_url():
    body = json.dumps({"name": "O'Brien", "tags": ["a b", "$HOME", "`x`"]}, indent=2)
    command = curl_command("http://localhost:3000", FLOW_UUID, "PROD", "zgy_secret", "run-1", body)
    parts = shlex.split(command)
    assert parts[:3] == ["curl", "-X", "POST"]
    url = parts[3]
    assert dict(parse_qsl(urlsplit(url).query)) == {"flowUuid": FLOW_UUID, "executionEnvironmentMode": "PROD",
                                                     "executionId": "run-1"}
    assert "zgy_secret" not in url
    headers = [parts[i + 1] for i, part in enumerate(parts) if part == "-H"]
    assert headers == ["execution-key: zgy_secret", "Content-Type: application/json"]
    assert json.loads(parts[parts.index("-d") + 1]) == json.loads(body)
    assert "\n" not in command


def test_curl_without_key_or_body_uses_the_placeholder_and_sends_nothing():
    parts = shlex.split(curl_command("http://localhost:3000", FLOW_UUID))
    assert f"execution-key: {KEY_PLACEHOLDER}" in parts
    assert "-d" not in parts
    assert "executionId" not in parts[3]


def test_receiver_body_is_the_test_data():
    assert json.loads(receiver_body_json(make_flow(test_data=[{"id": 1}]))) == [{"id": 1}]
    assert receiver_body_json(make_flow()) is None


def test_postman_collection_shape():
    flow = make_flow({"type": "console"}, test_data={"name": "Ada"}, name="Contacts sync", flow_uuid=FLOW_UUID)
    collection = postman_collection("http://localhost:4000/", flow, "PROD", None)
    json.dumps(collection)  # serialisable as is
    assert collection["info"]["schema"] == POSTMAN_SCHEMA
    variables = {v["key"]: v["value"] for v in collection["variable"]}
    assert variables == {"baseUrl": "http://localhost:4000", "executionKey": KEY_PLACEHOLDER, "flowUuid": FLOW_UUID,
                         "executionEnvironmentMode": "PROD", "executionId": ""}
    launch, status = collection["item"]
    assert launch["name"] == "Launch Contacts sync"
    request = launch["request"]
    assert request["method"] == "POST"
    assert {"key": "execution-key", "value": "{{executionKey}}"} in request["header"]
    assert json.loads(request["body"]["raw"]) == {"name": "Ada"}
    assert request["body"]["options"]["raw"]["language"] == "json"
    assert request["url"]["host"] == ["{{baseUrl}}"] and request["url"]["path"] == ["api"]
    assert {q["key"] for q in request["url"]["query"]} == {"flowUuid", "executionEnvironmentMode", "executionId"}
    script = "\n".join(launch["event"][0]["script"]["exec"])
    assert "pm.collectionVariables.set('executionId', pm.response.json().executionId)" in script
    assert status["name"] == "Execution status"
    assert status["request"]["method"] == "GET"
    assert status["request"]["url"]["raw"] == "{{baseUrl}}/api/ziggy/execution-status/{{executionId}}"
    assert status["request"]["header"] == [{"key": "execution-key", "value": "{{executionKey}}"}]


# -- over real HTTP ---------------------------------------------------------------------------------


def _post(url: str, body: bytes = b"", headers: dict[str, str] | None = None) -> tuple[int, Any]:
    request = urllib.request.Request(url, data=body, method="POST", headers=headers or {})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status, json.loads(response.read())


def test_generated_url_plus_a_real_key_launches_the_flow(runtime, api_key):
    flow = runtime.services.flows.save(make_flow({"type": "console", "config": {"message": "hi"}}))[0]
    execution_id = str(uuid.uuid4())
    url = launch_url(runtime.url, flow.uuid, "PROD", api_key, execution_id)
    status, answer = _post(url)
    assert status == 202
    assert answer["executionId"] == execution_id and answer["executionEnvironmentMode"] == "PROD"
    finished = ApiClient(runtime.url, api_key).wait_finished(execution_id)
    assert finished["terminationStatus"] == "SUCCESS"
    assert finished["executionEnvironmentMode"] == "PROD"
    # The same URL again is a client retry: the existing run, nothing new queued.
    assert _post(url)[0] == 200


def test_url_without_execution_id_gets_a_generated_one(runtime, api_key):
    flow = runtime.services.flows.save(make_flow())[0]
    status, answer = _post(launch_url(runtime.url, flow.uuid, "DEV", api_key))
    assert status == 202
    uuid.UUID(answer["executionId"])


def _send_parsed_curl(parts: list[str]) -> tuple[int, Any]:
    url = parts[3]
    headers = dict(parts[i + 1].split(": ", 1) for i, part in enumerate(parts) if part == "-H")
    body = parts[parts.index("-d") + 1].encode() if "-d" in parts else b""
    split = urlsplit(url)
    conn = http.client.HTTPConnection(split.hostname, split.port, timeout=30)
    try:
        conn.request(parts[2], f"{split.path}?{split.query}", body=body, headers=headers)
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


def test_curl_command_launches_the_flow_with_the_test_data(runtime, api_key):
    flow_doc = make_flow({"type": "console"}, test_data=[{"email": "ada@example.com", "note": "it's here"}])
    flow = runtime.services.flows.save(flow_doc)[0]
    command = curl_command(runtime.url, flow.uuid, "DEV", api_key, str(uuid.uuid4()), receiver_body_json(flow_doc))
    status, answer = _send_parsed_curl(shlex.split(command))
    assert status == 202
    ApiClient(runtime.url, api_key).wait_finished(answer["executionId"])
    detail = runtime.services.executions.detail(answer["executionId"])
    assert detail.result == [{"email": "ada@example.com", "note": "it's here"}]


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl_command_runs_in_a_real_shell(runtime, api_key):
    flow_doc = make_flow(test_data={"n": 1})
    flow = runtime.services.flows.save(flow_doc)[0]
    command = curl_command(runtime.url, flow.uuid, "DEV", api_key, None, receiver_body_json(flow_doc))
    output = subprocess.run(["sh", "-c", command + " --silent --show-error"], capture_output=True, text=True,
                            timeout=30, check=True).stdout
    answer = json.loads(output)
    assert answer["state"] == "QUEUED"
    assert ApiClient(runtime.url, api_key).wait_finished(answer["executionId"])["terminationStatus"] == "SUCCESS"


def _resolve(text: str, variables: dict[str, str]) -> str:
    """Postman's variable substitution, including the {{$guid}} dynamic variable."""
    return re.sub(r"\{\{(\$?\w+)\}\}",
                  lambda m: str(uuid.uuid4()) if m.group(1) == "$guid" else variables[m.group(1)], text)


def _send_postman(request: dict[str, Any], variables: dict[str, str]) -> tuple[int, Any]:
    url = urlsplit(_resolve(request["url"]["raw"], variables))
    headers = {h["key"]: _resolve(h["value"], variables) for h in request.get("header", [])}
    body = _resolve(request.get("body", {}).get("raw", ""), variables).encode()
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    try:
        target = f"{url.path}?{url.query}" if url.query else url.path
        conn.request(request["method"], target, body=body or None, headers=headers)
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


def test_postman_requests_work_when_sent_as_postman_would(runtime, api_key):
    flow_doc = make_flow({"type": "delay", "config": {"ms": 50}}, test_data={"name": "Ada"})
    runtime.services.flows.save(flow_doc)
    collection = json.loads(json.dumps(postman_collection(runtime.url, flow_doc, "DEV", api_key)))
    variables = {v["key"]: v["value"] for v in collection["variable"]}
    launch, status = (item["request"] for item in collection["item"])
    code, answer = _send_postman(launch, variables)
    assert code == 202
    variables["executionId"] = answer["executionId"]  # what the launch's test script does
    for _ in range(1500):
        code, answer = _send_postman(status, variables)
        if code == 200:
            break
        assert code == 409 and answer["state"] in ("QUEUED", "RUNNING")
    assert answer["terminationStatus"] == "SUCCESS"
    assert runtime.services.executions.detail(answer["executionId"]).result == {"name": "Ada"}


def test_status_url_quotes_the_id():
    assert status_url("http://localhost:3000/", "a/b c") == "http://localhost:3000/api/ziggy/execution-status/a%2Fb%20c"
