"""Launch links for a flow: the full /api URL, an equivalent curl command and a Postman collection."""

from __future__ import annotations

import json
import shlex
from typing import Any
from urllib.parse import quote, urlencode

KEY_PLACEHOLDER = "<your execution key>"
MODES = ("DEV", "PROD")
POSTMAN_SCHEMA = "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"


def _base(base_url: str) -> str:
    return base_url.strip().rstrip("/")


def _check_mode(mode: str) -> str:
    mode = mode.upper()
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    return mode


def _query(pairs: list[tuple[str, str]]) -> str:
    # quote (not quote_plus): %20 for spaces reads the same in every client, '+' does not.
    return urlencode(pairs, quote_via=quote, safe="")


def launch_url(base_url: str, flow_uuid: str, mode: str = "DEV", execution_key: str | None = None,
               execution_id: str | None = None) -> str:
    """The URL that launches the flow with POST, the key in the query as the Ziggy web app shows it.

    Without a key the literal placeholder `<your execution key>` stands in, left unencoded so a
    reader sees at once what to replace.
    """
    key = execution_key.strip() if execution_key else ""
    head = _query([("flowUuid", flow_uuid)])
    key_part = "execution-key=" + (quote(key, safe="") if key else KEY_PLACEHOLDER)
    tail = [("executionEnvironmentMode", _check_mode(mode))]
    if execution_id:
        tail.append(("executionId", execution_id))
    return f"{_base(base_url)}/api?{head}&{key_part}&{_query(tail)}"


def _launch_url_without_key(base_url: str, flow_uuid: str, mode: str, execution_id: str | None) -> str:
    pairs = [("flowUuid", flow_uuid), ("executionEnvironmentMode", _check_mode(mode))]
    if execution_id:
        pairs.append(("executionId", execution_id))
    return f"{_base(base_url)}/api?{_query(pairs)}"


def status_url(base_url: str, execution_id: str) -> str:
    return f"{_base(base_url)}/api/ziggy/execution-status/{quote(execution_id, safe='')}"


def receiver_body_json(flow: dict[str, Any]) -> str | None:
    """The receiver's test data as JSON text, or None when the flow has none."""
    for block in flow.get("blocks", []):
        if block.get("type") == "receiver":
            data = (block.get("config") or {}).get("testData")
            return None if data is None else json.dumps(data, indent=2, ensure_ascii=False)
    return None


def curl_command(base_url: str, flow_uuid: str, mode: str = "DEV", execution_key: str | None = None,
                 execution_id: str | None = None, body_json: str | None = None) -> str:
    """A one-line POSIX-shell curl that launches the flow; the key travels in the `execution-key`
    header so it stays out of proxy and server logs. body_json is JSON text (None sends no body)."""
    key = execution_key.strip() if execution_key else KEY_PLACEHOLDER
    parts = ["curl", "-X", "POST", _launch_url_without_key(base_url, flow_uuid, mode, execution_id),
             "-H", f"execution-key: {key}", "-H", "Content-Type: application/json"]
    if body_json is not None:
        # Compact the body so the command stays on one line whatever the test data's layout.
        try:
            body = json.dumps(json.loads(body_json), ensure_ascii=False, separators=(",", ":"))
        except ValueError:
            body = body_json
        parts += ["-d", body]
    return " ".join(shlex.quote(part) for part in parts)


def _url_object(raw_path: str, query: list[tuple[str, str]] | None = None) -> dict[str, Any]:
    path = [segment for segment in raw_path.split("/") if segment]
    url: dict[str, Any] = {"raw": "{{baseUrl}}/" + "/".join(path), "host": ["{{baseUrl}}"], "path": path}
    if query:
        url["raw"] += "?" + "&".join(f"{k}={v}" for k, v in query)
        url["query"] = [{"key": k, "value": v} for k, v in query]
    return url


def postman_collection(base_url: str, flow: dict[str, Any], mode: str = "DEV",
                       execution_key: str | None = None) -> dict[str, Any]:
    """A Postman Collection v2.1 with the flow's launch and status requests ready to send.

    Each send of "Launch" uses a fresh executionId ({{$guid}}) and its test script stores the
    answer's executionId, so "Execution status" follows the latest run.
    """
    name = flow.get("name") or flow["uuid"]
    key_header = {"key": "execution-key", "value": "{{executionKey}}"}
    body = receiver_body_json(flow)
    launch_query = [("flowUuid", "{{flowUuid}}"), ("executionEnvironmentMode", "{{executionEnvironmentMode}}"),
                    ("executionId", "{{$guid}}")]
    launch = {
        "name": f"Launch {name}",
        "event": [{"listen": "test", "script": {"type": "text/javascript", "exec": [
            "pm.test('accepted', () => pm.expect(pm.response.code).to.be.oneOf([200, 202]));",
            "pm.collectionVariables.set('executionId', pm.response.json().executionId);",
        ]}}],
        "request": {
            "method": "POST",
            "description": "Launches the flow; the body is handed to its Receiver (the Receiver's test data "
                           "is not used for API launches, so it is copied here).",
            "header": [key_header, {"key": "Content-Type", "value": "application/json"}],
            "body": {"mode": "raw", "raw": body or "", "options": {"raw": {"language": "json"}}},
            "url": _url_object("api", launch_query),
        },
    }
    status = {
        "name": "Execution status",
        "event": [{"listen": "test", "script": {"type": "text/javascript", "exec": [
            "// 409 while queued or running: send again until 200.",
            "pm.test('finished or pending', () => pm.expect(pm.response.code).to.be.oneOf([200, 409]));",
        ]}}],
        "request": {
            "method": "GET",
            "header": [key_header],
            "url": _url_object("api/ziggy/execution-status/{{executionId}}"),
        },
    }
    return {
        "info": {
            "name": f"Ziggy Desktop: {name}",
            "description": f"Launch the flow {name!r} ({flow['uuid']}) on the local Ziggy Desktop API and poll "
                           "its status. Send 'Launch' first; it stores the executionId for 'Execution status'.",
            "schema": POSTMAN_SCHEMA,
        },
        "variable": [
            {"key": "baseUrl", "value": _base(base_url)},
            {"key": "executionKey", "value": execution_key.strip() if execution_key else KEY_PLACEHOLDER},
            {"key": "flowUuid", "value": flow["uuid"]},
            {"key": "executionEnvironmentMode", "value": _check_mode(mode)},
            {"key": "executionId", "value": ""},
        ],
        "item": [launch, status],
    }
