"""The bundled sample flows validate and do their job against the HubSpot stand-in (and SQLite)."""

from __future__ import annotations

import copy
import csv
import json
import sqlite3
from pathlib import Path
from typing import Any, Iterator

import pytest

from ziggy_desktop.app import Runtime
from ziggy_desktop.bundled import resource, resource_file
from ziggy_desktop.executions import ExecutionDetail, LaunchRequest
from ziggy_desktop.flows import validate_flow

from .helpers import ApiClient
from .hubspot_standin import HubSpotStandIn

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = sorted(node.name for node in resource("flows").iterdir() if node.name.endswith(".json"))


def sample(name: str) -> dict[str, Any]:
    return json.loads(resource("flows", name).read_text(encoding="utf-8"))


def block_config(document: dict[str, Any], block_id: str) -> dict[str, Any]:
    return next(b for b in document["blocks"] if b["id"] == block_id)["config"]


def run_to_end(runtime: Runtime, document: dict[str, Any], **launch: Any) -> ExecutionDetail:
    runtime.services.flows.save(document)
    request = LaunchRequest(document["uuid"], trigger="UI", use_test_data=True, **launch)
    execution_id = runtime.services.executions.launch(request).view.execution_id
    runtime.services.executions.wait_finished(execution_id, timeout=60)
    return runtime.services.executions.detail(execution_id)


@pytest.fixture
def hub() -> Iterator[HubSpotStandIn]:
    with HubSpotStandIn(token="pat-na1-sample") as standin:
        yield standin


@pytest.fixture
def hubspot_connection(runtime: Runtime, hub: HubSpotStandIn) -> None:
    runtime.services.vault.set_connection("hubspot", "hubspot", {"baseUrl": hub.base_url, "token": hub.token})


@pytest.mark.parametrize("name", SAMPLES)
def test_every_bundled_sample_validates(name: str) -> None:
    document = validate_flow(resource("flows", name).read_text(encoding="utf-8"))
    assert document["name"] and "sample" in document["tags"]


def test_the_samples_this_issue_ships_are_bundled_with_their_data() -> None:
    assert {"contacts-migration.json", "company-webhook.json"} <= set(SAMPLES)
    # The migration's path is relative to where the app starts: a source checkout's root.
    relative = block_config(sample("contacts-migration.json"), "read_csv")["path"]
    assert (ROOT / relative).read_bytes() == resource_file("flows", "data", "contacts.csv").read_bytes()


def test_contacts_migration_sample_upserts_good_rows_and_audits_the_rest(runtime: Runtime, hub: HubSpotStandIn,
                                                                         hubspot_connection: None) -> None:
    csv_path = resource_file("flows", "data", "contacts.csv")
    with csv_path.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    document = sample("contacts-migration.json")
    block_config(document, "read_csv")["path"] = str(csv_path)

    detail = run_to_end(runtime, document)

    assert detail.view.termination_status == "SUCCESS", detail.view.reason
    audit = runtime.services.audit.query(execution_id=detail.view.execution_id, limit=1000).items
    refused = {line.secondary_key: line for line in audit}
    assert len(refused) == len(audit), "a row was audited twice"
    assert all(line.topic == "contact-rejects" and line.is_error for line in audit)
    upserted = hub.upsert_counts[("contacts", "email")]
    for row in rows:
        email = row["Email"].strip().lower()
        if row["Contact ID"] in refused:
            assert upserted[email] == 0, row
        else:
            assert upserted[email] == 1, row
            stored = hub.find("contacts", "email", email)["properties"]
            assert stored["firstname"] == row["First Name"].strip()
            assert stored["legacy_crm_id"] == row["Contact ID"]
    assert len(hub.objects["contacts"]) == len(rows) - len(refused)

    # The sample's bad rows: five fail the flow's own check, two are blank, one HubSpot refuses.
    by_block: dict[str, list[str]] = {}
    for line in audit:
        by_block.setdefault(line.block_id, []).append(line.secondary_key)
    assert len(by_block["audit_invalid"]) == 7 and len(by_block["audit_refused"]) == 1
    refused_by_hubspot = refused[by_block["audit_refused"][0]].data
    assert "INVALID_EMAIL" in refused_by_hubspot["reason"]
    for key in by_block["audit_invalid"]:
        assert refused[key].data["errors"][0]["path"] == "Email"


@pytest.fixture
def crm_db(tmp_path: Path, runtime: Runtime) -> Path:
    """The CRM database the webhook sample updates, registered as the connection `crm-db`."""
    path = tmp_path / "crm.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE accounts (hubspot_company_id TEXT PRIMARY KEY, name TEXT, domain TEXT, "
                   "industry TEXT, owner TEXT)")
        db.executemany("INSERT INTO accounts VALUES (?, ?, ?, ?, ?)", [
            ("1001", "Northwind (old name)", "northwind.example", None, "sales-emea"),
            ("1002", "Contoso", "contoso.example", "RETAIL", "sales-na"),
        ])
    runtime.services.vault.set_connection("crm-db", "sql", {"url": f"sqlite:///{path}"})
    return path


def accounts(path: Path) -> dict[str, tuple[Any, ...]]:
    with sqlite3.connect(path) as db:
        return {row[0]: row[1:] for row in db.execute("SELECT * FROM accounts ORDER BY hubspot_company_id")}


def test_company_webhook_sample_copies_the_hubspot_name_into_the_crm(runtime: Runtime, hub: HubSpotStandIn,
                                                                     hubspot_connection: None, crm_db: Path,
                                                                     api_key: str) -> None:
    northwind = hub.seed("companies", {"name": "Northwind Traders", "domain": "northwind.example",
                                       "industry": "WHOLESALE", "city": "Seattle"})
    contoso = hub.seed("companies", {"name": "Contoso Ltd", "domain": "contoso.example", "industry": "RETAIL"})
    document = sample("company-webhook.json")
    assert block_config(document, "receiver")["testData"]["companyId"] == northwind  # the sample's test data fits

    # Run from the app with its test data, then launched by a webhook over the real API.
    detail = run_to_end(runtime, document)
    assert detail.view.termination_status == "SUCCESS", detail.view.reason
    client = ApiClient(runtime.url, api_key)
    launched = client.launch(document["uuid"], body={"companyId": contoso, "domain": "contoso.example"})
    assert launched.status in (200, 201, 202), launched.body
    assert client.wait_finished(launched.json["executionId"])["terminationStatus"] == "SUCCESS"

    assert accounts(crm_db) == {
        "1001": ("Northwind Traders", "northwind.example", "WHOLESALE", "sales-emea"),  # owner untouched
        "1002": ("Contoso Ltd", "contoso.example", "RETAIL", "sales-na"),
    }
    assert [call.path for call in hub.calls] == ["/crm/v3/objects/companies/batch/read"] * 2


def test_company_webhook_sample_fails_clearly_for_an_unknown_company(runtime: Runtime, hub: HubSpotStandIn,
                                                                     hubspot_connection: None,
                                                                     crm_db: Path) -> None:
    document = copy.deepcopy(sample("company-webhook.json"))
    before = accounts(crm_db)
    detail = run_to_end(runtime, document)  # its test data names company 1001; this account has none
    assert detail.view.termination_status == "FATAL"
    assert detail.view.failed_block == "not_found"
    assert "not in HubSpot" in (detail.view.reason or "")
    assert accounts(crm_db) == before
