"""GET /api/ziggy/audit and the audit lines of the execution detail, over real HTTP."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote

import pytest

from ziggy_desktop.audit import AuditEntry

from ..helpers import ApiClient, Response, assert_error, make_flow

ITEM_FIELDS = {"id", "executionId", "flowUuid", "blockId", "topic", "identifier", "primaryKey", "secondaryKey",
               "data", "isError", "createdAt"}


def audit(client: ApiClient, **params: Any) -> Response:
    return client.request("GET", "/api/ziggy/audit", params=params)


def items(client: ApiClient, **params: Any) -> list[dict[str, Any]]:
    response = audit(client, **params)
    assert response.status == 200, (response.status, response.body)
    return response.json["items"]


def write_lines(runtime, *entries: dict[str, Any]) -> None:
    base = {"execution_id": "e-1", "flow_uuid": "f-1", "block_id": "log", "topic": "import"}
    runtime.services.audit.record_many([AuditEntry(**{**base, **entry}) for entry in entries])


def test_a_run_s_audit_lines_are_served_and_in_its_detail(runtime, client):
    document = make_flow({"id": "log", "type": "audit", "config": {
        "topic": "contact-import", "identifier": "email", "primaryKey": "{{ id }}", "includeData": True}})
    runtime.services.flows.save(document)
    contacts = [{"email": "ada@x.com", "id": 1}, {"email": "bob@x.com", "id": 2}]
    launched = client.launch(document["uuid"], contacts)
    assert launched.status == 202, launched.body
    execution_id = launched.json["executionId"]
    assert client.wait_finished(execution_id)["terminationStatus"] == "SUCCESS"

    response = audit(client, executionId=execution_id)
    assert response.status == 200, response.body
    body = response.json
    assert set(body) == {"items", "nextCursor"} and body["nextCursor"] is None
    assert [item["identifier"] for item in body["items"]] == ["bob@x.com", "ada@x.com"]  # newest first
    first = body["items"][1]
    assert set(first) == ITEM_FIELDS
    assert (first["executionId"], first["flowUuid"], first["blockId"]) == (execution_id, document["uuid"], "log")
    assert (first["topic"], first["primaryKey"], first["secondaryKey"]) == ("contact-import", "1", None)
    assert first["data"] == contacts[0] and first["isError"] is False
    assert first["createdAt"].endswith("Z") and datetime.fromisoformat(first["createdAt"])

    detail = client.request("GET", f"/api/ziggy/executions/{quote(execution_id, safe='')}")
    assert detail.status == 200, detail.body
    assert [line["identifier"] for line in detail.json["audit"]] == ["ada@x.com", "bob@x.com"]  # in run order
    assert detail.json["audit"][0] == first


def test_filters_select_lines(runtime, client):
    write_lines(runtime,
                {"topic": "import", "identifier": "a", "primary_key": "1"},
                {"topic": "reject", "identifier": "b", "primary_key": "2", "is_error": True},
                {"topic": "import", "identifier": "c", "primary_key": "3", "execution_id": "e-2",
                 "flow_uuid": "f-2", "created_at": 1_700_000_000.0})

    def keys(**params: Any) -> list[str]:
        return [item["primaryKey"] for item in items(client, **params)]

    assert keys() == ["3", "2", "1"]
    assert keys(topic="import") == ["3", "1"]
    assert keys(isError="true") == ["2"] and keys(isError="FALSE") == ["3", "1"]
    assert keys(executionId="e-1", identifier="a") == ["1"]
    assert keys(flowUuid="F-2") == ["3"]  # flow ids are matched as the flow store keeps them, in lower case
    assert keys(primaryKey="2") == ["2"]
    assert keys(until="2023-11-14T22:13:21Z") == ["3"]
    assert keys(since="2023-11-14T22:13:21Z") == ["2", "1"]
    assert keys(since="2023-11-14T23:13:20+01:00", until="2023-11-14T22:13:20.001") == ["3"]
    assert keys(topic="nothing") == []


def test_pages_follow_the_cursor(runtime, client):
    write_lines(runtime, *({"primary_key": str(i)} for i in range(5)))
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        response = audit(client, limit=2, cursor=cursor)
        assert response.status == 200, response.body
        pages += 1
        seen += [item["primaryKey"] for item in response.json["items"]]
        cursor = response.json["nextCursor"]
        if cursor is None:
            break
    assert seen == ["4", "3", "2", "1", "0"] and pages == 3


@pytest.mark.parametrize("key_in", ["header", "query", "bearer"])
def test_every_way_of_passing_the_key_works(runtime, client, key_in):
    write_lines(runtime, {"primary_key": "1"})
    response = client.request("GET", "/api/ziggy/audit", key_in=key_in)
    assert response.status == 200, response.body
    assert len(response.json["items"]) == 1


def test_a_key_is_needed(runtime):
    write_lines(runtime, {"primary_key": "secret-ish"})
    anonymous = ApiClient(runtime.url, None)
    error = assert_error(anonymous.request("GET", "/api/ziggy/audit"), 401)
    assert "secret-ish" not in error["message"]
    assert_error(anonymous.request("GET", "/api/ziggy/audit", key="zgy_" + "x" * 43), 401)
    # An anonymous caller does not learn which parameters are wrong either.
    assert_error(anonymous.request("GET", "/api/ziggy/audit", params={"limit": "0"}), 401)


@pytest.mark.parametrize("params, code, words", [
    ({"isError": "maybe"}, "INVALID_FILTER", "isError must be true or false"),
    ({"since": "yesterday"}, "INVALID_FILTER", "since must be an ISO-8601"),
    ({"until": "2024-13-01"}, "INVALID_FILTER", "until must be an ISO-8601"),
    ({"limit": "0"}, "INVALID_LIMIT", "from 1 to 1000"),
    ({"limit": "1001"}, "INVALID_LIMIT", "from 1 to 1000"),
    ({"limit": "ten"}, "INVALID_LIMIT", "from 1 to 1000"),
    ({"cursor": "forged"}, "INVALID_CURSOR", "nextCursor"),
    ({"primarykey": "1"}, "INVALID_FILTER", "Unknown audit filter(s) primarykey"),
])
def test_bad_filters_answer_400_saying_what_to_send(client, params, code, words):
    error = assert_error(audit(client, **params), 400, code)
    assert words in error["message"]


def test_an_unknown_parameter_that_looks_like_a_key_is_not_echoed(client):
    error = assert_error(audit(client, **{"zgy_" + "a1" * 20: "x"}), 400, "INVALID_FILTER")
    assert "zgy_" not in error["message"] and "(a parameter)" in error["message"]


def test_only_get_is_allowed(client):
    assert_error(client.request("POST", "/api/ziggy/audit", body={}), 405)
