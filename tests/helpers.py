"""Test helpers: a tiny JSON HTTP client and flow builders shared by the test modules."""

from __future__ import annotations

import http.client
import json
import socket
import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


def assert_error(response: Response, status: int, code: str | None = None) -> dict[str, Any]:
    """The response is `status` with exactly {"error": {"code", "message"}}, both non-empty strings."""
    assert response.status == status, (response.status, response.body)
    assert response.headers.get("content-type", "").startswith("application/json"), response.headers
    body = response.json
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message"}, body
    assert isinstance(body["error"]["code"], str) and body["error"]["code"], body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"], body
    if code is not None:
        assert body["error"]["code"] == code, body
    return body["error"]


class ApiClient:
    """Real HTTP over loopback; one connection per call so tests never share state by accident."""

    def __init__(self, base_url: str, key: str | None = None):
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname, parts.port
        self.key = key

    def request(self, method: str, path: str, *, params: dict[str, Any] | None = None, body: Any = None,
                raw_body: bytes | None = None, headers: dict[str, str] | None = None, key: str | None = "default",
                key_in: str = "header") -> Response:
        params = {k: v for k, v in (params or {}).items() if v is not None}
        headers = dict(headers or {})
        key = self.key if key == "default" else key
        if key is not None:
            if key_in == "header":
                headers["execution-key"] = key
            elif key_in == "query":
                params["execution-key"] = key
            elif key_in == "bearer":
                headers["Authorization"] = f"Bearer {key}"
        if params:
            path = f"{path}?{urlencode(params)}"
        payload = raw_body if raw_body is not None else (None if body is None else json.dumps(body).encode())
        if payload is not None:
            headers.setdefault("Content-Type", "application/json")
        conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        try:
            conn.request(method, path, body=payload, headers=headers)
            response = conn.getresponse()
            return Response(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
        finally:
            conn.close()

    def launch(self, flow_uuid: str | None, body: Any = None, **kwargs: Any) -> Response:
        params = {"flowUuid": flow_uuid, "executionEnvironmentMode": kwargs.pop("mode", None),
                  "executionId": kwargs.pop("execution_id", None)}
        return self.request("POST", "/api", params=params, body=body, **kwargs)

    def status(self, execution_id: str, **kwargs: Any) -> Response:
        from urllib.parse import quote

        return self.request("GET", f"/api/ziggy/execution-status/{quote(execution_id, safe='')}", **kwargs)

    def wait_finished(self, execution_id: str, timeout: float = 30.0) -> dict[str, Any]:
        """Poll the status API until the run has finished, as a Postman script would."""
        deadline = time.monotonic() + timeout
        while True:
            response = self.status(execution_id)
            if response.status == 200:
                return response.json
            assert response.status == 409, (response.status, response.body)
            if time.monotonic() > deadline:
                raise AssertionError(f"{execution_id} still {response.json} after {timeout} s")
            time.sleep(0.02)



def free_port() -> int:
    """A port nobody listens on right now (the OS picks it for a bound socket, which we then close)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_flow(*middle: dict[str, Any], test_data: Any = None, timeout_seconds: float = 60,
              name: str = "Test flow", flow_uuid: str | None = None, history_level: str = "ALL") -> dict[str, Any]:
    """receiver -> middle blocks in a chain -> terminator; keeps every run's data unless told otherwise."""
    blocks = [{"id": "receiver", "type": "receiver", "config": {"testData": test_data}}]
    for index, block in enumerate(middle):
        blocks.append({"id": block.get("id", f"b{index}"), "type": block["type"], "config": block.get("config", {})})
    blocks.append({"id": "end", "type": "terminator"})
    edges = [{"from": a["id"], "to": b["id"]} for a, b in zip(blocks, blocks[1:]) if a["type"] != "fail"]
    return {"ziggyFlow": 1, "uuid": flow_uuid or str(uuid.uuid4()), "name": name, "tags": ["test"],
            "settings": {"timeoutSeconds": timeout_seconds, "historyLevel": history_level}, "blocks": blocks, "edges": edges}
