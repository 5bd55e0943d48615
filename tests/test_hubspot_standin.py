"""The HubSpot stand-in answers like HubSpot's CRM v3 objects API (auth, batches, 207s, 429s, paging)."""

from __future__ import annotations

from typing import Iterator

import httpx
import pytest

from .hubspot_standin import HubSpotStandIn

AUTH = {"Authorization": "Bearer test-token"}


@pytest.fixture
def hub() -> Iterator[HubSpotStandIn]:
    with HubSpotStandIn() as standin:
        yield standin


@pytest.fixture
def api(hub: HubSpotStandIn) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=hub.base_url, headers=AUTH, timeout=10) as client:
        yield client


def upsert_input(email: str, **properties: str) -> dict:
    return {"idProperty": "email", "id": email, "properties": properties}


def test_missing_or_wrong_token_is_401_with_hubspots_error_body(hub: HubSpotStandIn) -> None:
    missing = httpx.get(f"{hub.base_url}/crm/v3/objects/contacts")
    wrong = httpx.get(f"{hub.base_url}/crm/v3/objects/contacts", headers={"Authorization": "Bearer nope"})
    for response in (missing, wrong):
        assert response.status_code == 401
        body = response.json()
        assert body["status"] == "error" and body["category"] == "INVALID_AUTHENTICATION"
        assert body["message"] and body["correlationId"]
    assert [call.status for call in hub.calls] == [401, 401]


def test_upsert_creates_then_updates_by_email_and_counts_writes(hub: HubSpotStandIn, api: httpx.Client) -> None:
    first = api.post("/crm/v3/objects/contacts/batch/upsert",
                     json={"inputs": [upsert_input("Ada@Example.com", firstname="Ada"),
                                      upsert_input("alan@example.com", firstname="Alan")]})
    assert first.status_code == 200
    body = first.json()
    assert body["status"] == "COMPLETE" and "errors" not in body
    assert [r["new"] for r in body["results"]] == [True, True]
    assert body["results"][0]["properties"]["email"] == "ada@example.com"  # HubSpot lowercases emails
    ada_id = body["results"][0]["id"]

    second = api.post("/crm/v3/objects/contacts/batch/upsert",
                      json={"inputs": [upsert_input("ada@example.com", lastname="Lovelace", age=36)]})
    assert second.status_code == 200
    result = second.json()["results"][0]
    assert result["id"] == ada_id and result["new"] is False
    assert result["properties"]["age"] == "36"  # values come back as strings

    stored = hub.objects["contacts"][ada_id]["properties"]
    assert (stored["firstname"], stored["lastname"]) == ("Ada", "Lovelace")
    assert hub.upsert_counts[("contacts", "email")] == {"ada@example.com": 2, "alan@example.com": 1}
    assert hub.write_counts["contacts"][ada_id] == 2
    assert len(hub.objects["contacts"]) == 2


def test_upsert_needs_id_property_and_refuses_duplicate_ids(api: httpx.Client) -> None:
    no_id_property = api.post("/crm/v3/objects/contacts/batch/upsert", json={"inputs": [{"id": "a@b.co"}]})
    assert no_id_property.status_code == 400 and no_id_property.json()["category"] == "VALIDATION_ERROR"
    duplicates = api.post("/crm/v3/objects/contacts/batch/upsert",
                          json={"inputs": [upsert_input("a@b.co"), upsert_input("A@B.co")]})
    assert duplicates.status_code == 400 and "Duplicate IDs" in duplicates.json()["message"]


def test_more_than_100_inputs_is_a_validation_error(hub: HubSpotStandIn, api: httpx.Client) -> None:
    inputs = [upsert_input(f"p{i}@example.com") for i in range(101)]
    response = api.post("/crm/v3/objects/contacts/batch/upsert", json={"inputs": inputs})
    assert response.status_code == 400
    assert response.json()["category"] == "VALIDATION_ERROR" and "100" in response.json()["message"]
    assert not hub.objects["contacts"]
    assert api.post("/crm/v3/objects/contacts/batch/upsert", json={"inputs": inputs[:100]}).status_code == 200
    assert hub.calls[-1].inputs == 100


def test_invalid_records_get_a_207_naming_them_and_the_rest_are_written() -> None:
    hub_rejects = HubSpotStandIn(reject=lambda kind, props: "Lifecycle stage is not valid"
                                 if props.get("lifecyclestage") == "bogus" else None)
    with hub_rejects, httpx.Client(base_url=hub_rejects.base_url, headers=AUTH) as client:
        response = client.post("/crm/v3/objects/contacts/batch/upsert", json={"inputs": [
            upsert_input("good@example.com"),
            {**upsert_input("not-an-email"), "objectWriteTraceId": "row-2"},
            upsert_input("stage@example.com", lifecyclestage="bogus"),
        ]})
        assert response.status_code == 207
        body = response.json()
        assert body["numErrors"] == 2
        assert [r["properties"]["email"] for r in body["results"]] == ["good@example.com"]
        email_error, custom_error = body["errors"]
        assert email_error["category"] == "VALIDATION_ERROR" and "INVALID_EMAIL" in email_error["message"]
        assert email_error["context"] == {"ids": ["not-an-email"], "objectWriteTraceId": ["row-2"]}
        assert email_error["errors"][0]["in"] == "email"
        assert custom_error["message"] == "Lifecycle stage is not valid"
        assert custom_error["context"]["ids"] == ["stage@example.com"]
        assert set(hub_rejects.upsert_counts[("contacts", "email")]) == {"good@example.com"}


def test_unknown_properties_are_rejected_per_record_when_the_schema_is_given() -> None:
    with HubSpotStandIn(known_properties={"companies": {"name", "domain"}}) as hub, \
            httpx.Client(base_url=hub.base_url, headers=AUTH) as client:
        response = client.post("/crm/v3/objects/companies/batch/create", json={"inputs": [
            {"properties": {"name": "Acme", "domain": "acme.example"}},
            {"properties": {"name": "Typo", "domian": "typo.example"}},
        ]})
        assert response.status_code == 207
        assert response.json()["errors"][0]["errors"][0]["code"] == "PROPERTY_DOESNT_EXIST"
        assert [o["properties"]["name"] for o in hub.objects["companies"].values()] == ["Acme"]


def test_create_update_and_read_by_id_or_unique_property(hub: HubSpotStandIn, api: httpx.Client) -> None:
    created = api.post("/crm/v3/objects/2-12345/batch/create",
                       json={"inputs": [{"properties": {"code": "A1", "size": 3}}]})
    assert created.status_code == 201
    object_id = created.json()["results"][0]["id"]

    updated = api.post("/crm/v3/objects/2-12345/batch/update",
                       json={"inputs": [{"id": object_id, "properties": {"size": 4}},
                                        {"id": "999999", "properties": {"size": 1}}]})
    assert updated.status_code == 207
    assert updated.json()["errors"][0]["category"] == "OBJECT_NOT_FOUND"
    assert updated.json()["errors"][0]["context"]["ids"] == ["999999"]

    read = api.post("/crm/v3/objects/2-12345/batch/read",
                    json={"idProperty": "code", "properties": ["size", "missing"],
                          "inputs": [{"id": "A1"}]})
    assert read.status_code == 200
    properties = read.json()["results"][0]["properties"]
    assert properties["size"] == "4" and properties["missing"] is None and properties["hs_object_id"] == object_id

    partial = api.post("/crm/v3/objects/2-12345/batch/read", json={"inputs": [{"id": object_id}, {"id": "404"}]})
    assert partial.status_code == 207
    assert partial.json()["errors"][0]["context"]["ids"] == ["404"]
    assert len(partial.json()["results"]) == 1

    single = api.get("/crm/v3/objects/2-12345/A1", params={"idProperty": "code", "properties": "size"})
    assert single.status_code == 200 and single.json()["properties"]["size"] == "4"
    assert api.get("/crm/v3/objects/2-12345/nope").status_code == 404


def test_create_of_an_existing_contact_is_a_conflict(hub: HubSpotStandIn, api: httpx.Client) -> None:
    hub.seed("contacts", {"email": "taken@example.com"})
    response = api.post("/crm/v3/objects/contacts/batch/create",
                        json={"inputs": [{"properties": {"email": "TAKEN@example.com"}}]})
    assert response.status_code == 409 and response.json()["category"] == "CONFLICT"


def test_unknown_object_type_and_bad_json_are_400(api: httpx.Client) -> None:
    assert api.get("/crm/v3/objects/spaceships").status_code == 400
    bad = api.post("/crm/v3/objects/contacts/search", content=b"{not json",
                   headers={"Content-Type": "application/json"})
    assert bad.status_code == 400 and bad.json()["category"] == "VALIDATION_ERROR"


def test_search_filters_and_pages(hub: HubSpotStandIn, api: httpx.Client) -> None:
    for index in range(25):
        hub.seed("companies", {"name": f"Company {index}", "domain": f"c{index}.example",
                               "industry": "SOFTWARE" if index % 2 else "RETAIL"})
    response = api.post("/crm/v3/objects/companies/search", json={
        "filterGroups": [{"filters": [{"propertyName": "industry", "operator": "EQ", "value": "software"}]}],
        "properties": ["name"], "limit": 5})
    body = response.json()
    assert response.status_code == 200 and body["total"] == 12 and len(body["results"]) == 5
    names = [r["properties"]["name"] for r in body["results"]]
    after = body["paging"]["next"]["after"]
    seen = list(names)
    while after:
        page = api.post("/crm/v3/objects/companies/search", json={
            "filterGroups": [{"filters": [{"propertyName": "industry", "operator": "EQ", "value": "SOFTWARE"}]}],
            "properties": ["name"], "limit": 5, "after": after}).json()
        seen += [r["properties"]["name"] for r in page["results"]]
        after = page.get("paging", {}).get("next", {}).get("after")
    assert seen == [f"Company {i}" for i in range(1, 25, 2)]

    either = api.post("/crm/v3/objects/companies/search", json={"filterGroups": [
        {"filters": [{"propertyName": "domain", "operator": "IN", "values": ["c3.example", "c4.example"]}]},
        {"filters": [{"propertyName": "name", "operator": "CONTAINS_TOKEN", "value": "2*"}]},
    ], "limit": 100}).json()
    assert {r["properties"]["domain"] for r in either["results"]} == {"c3.example", "c4.example", "c2.example",
                                                                      *(f"c{i}.example" for i in range(20, 25))}
    too_many = api.post("/crm/v3/objects/companies/search", json={"limit": 201})
    assert too_many.status_code == 400


def test_list_pages_with_after_and_properties(hub: HubSpotStandIn, api: httpx.Client) -> None:
    ids = [hub.seed("deals", {"dealname": f"Deal {i}", "amount": i * 100}) for i in range(7)]
    seen: list[str] = []
    params: dict = {"limit": 3, "properties": "dealname,amount"}
    while True:
        body = api.get("/crm/v3/objects/deals", params=params).json()
        seen += [r["id"] for r in body["results"]]
        assert all(set(r["properties"]) >= {"dealname", "amount"} for r in body["results"])
        if "paging" not in body:
            break
        params["after"] = body["paging"]["next"]["after"]
    assert seen == ids
    assert api.get("/crm/v3/objects/deals", params={"limit": 101}).status_code == 400


def test_rate_limit_answers_429_with_retry_after_and_hubspots_body() -> None:
    now = [100.0]
    with HubSpotStandIn(rate_limit_per_second=2, retry_after_seconds=30, clock=lambda: now[0]) as hub, \
            httpx.Client(base_url=hub.base_url, headers=AUTH) as client:
        first, second, third = (client.get("/crm/v3/objects/contacts") for _ in range(3))
        assert (first.status_code, second.status_code, third.status_code) == (200, 200, 429)
        assert second.headers["X-HubSpot-RateLimit-Remaining"] == "0"
        assert third.headers["Retry-After"] == "1"  # the first call leaves the window a second after it came
        body = third.json()
        assert body["errorType"] == "RATE_LIMIT" and body["policyName"] == "SECONDLY"
        assert body["category"] == "RATE_LIMITS" and body["status"] == "error"
        now[0] += 0.75  # still inside the window of the first two calls
        refused = client.get("/crm/v3/objects/contacts")
        assert refused.status_code == 429 and refused.headers["Retry-After"] == "0.25"
        now[0] += 0.25  # the window has moved past them
        assert client.get("/crm/v3/objects/contacts").status_code == 200
        assert [call.status for call in hub.calls] == [200, 200, 429, 429, 200]


def test_injected_429s_and_500s_come_every_nth_call() -> None:
    with HubSpotStandIn(inject_429_every=3, inject_500_every=5, retry_after_seconds=0.05) as hub, \
            httpx.Client(base_url=hub.base_url, headers=AUTH) as client:
        responses = [client.get("/crm/v3/objects/contacts") for _ in range(10)]
        assert [r.status_code for r in responses] == [200, 200, 429, 200, 500, 429, 200, 200, 429, 500]
        assert responses[2].headers["Retry-After"] == "0.05"
        assert responses[2].json()["errorType"] == "RATE_LIMIT"
        assert [call.status for call in hub.calls_with_status(500)] == [500, 500]
        hub.reset()
        assert hub.calls == [] and client.get("/crm/v3/objects/contacts").status_code == 200


def test_a_create_conflict_refuses_the_whole_batch_and_creates_nothing(hub: HubSpotStandIn,
                                                                      api: httpx.Client) -> None:
    path = "/crm/v3/objects/contacts/batch/create"
    assert api.post(path, json={"inputs": [{"properties": {"email": "ada@example.com"}}]}).status_code == 201
    conflict = api.post(path, json={"inputs": [{"properties": {"email": "new@example.com"}},
                                               {"properties": {"email": "ada@example.com"}}]})
    assert conflict.status_code == 409 and conflict.json()["category"] == "CONFLICT"
    emails = {obj["properties"].get("email") for obj in hub.objects["contacts"].values()}
    assert emails == {"ada@example.com"}  # new@example.com was not half-created
