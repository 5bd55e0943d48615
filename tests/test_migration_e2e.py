"""End to end: 10,000 CSV contacts through the bundled migration flow into a throttling HubSpot stand-in;
every contact ends up upserted exactly once or audited as rejected with its reason."""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path
from typing import Any

from ziggy_desktop.app import Runtime
from ziggy_desktop.audit import AuditLine
from ziggy_desktop.bundled import resource
from ziggy_desktop.executions import LaunchRequest

from .hubspot_standin import HubSpotStandIn

CONTACTS = 10_000
BLOCKED_DOMAIN = "blocked.example"
FIRST = ["Ada", "Alan", "Grace", "Linus", "Margaret", "Tim", "Barbara", "Dennis", "Radia", "Ken", "Frances", "Hedy"]
LAST = ["Lovelace", "Turing", "Hopper", "Torvalds", "Hamilton", "Liskov", "Ritchie", "Perlman", "Allen", "Lamarr"]
COMPANIES = [("Northwind Traders", "northwind.example"), ("Contoso Ltd", "contoso.example"),
             ("Fabrikam Inc", "fabrikam.example"), ("Initech", "initech.example")]

# What should become of each row (checked in this order, so a row has exactly one fate).
UPSERTED, INVALID, UNMAPPED, HUBSPOT_INVALID, HUBSPOT_BLOCKED = (
    "upserted", "invalid", "unmapped", "hubspot-invalid-email", "hubspot-blocked")


def fate(index: int) -> str:
    if index % 97 == 5 or index % 89 == 7:
        return INVALID  # no email, or not an email: the flow's validate block catches it
    if index % 101 == 17:
        return UNMAPPED  # a blank legacy id passes the schema's minLength but the map's trim leaves nothing
    if index % 83 == 11:
        return HUBSPOT_INVALID  # looks like an email to the flow; HubSpot refuses its one-letter domain
    if index % 79 == 13:
        return HUBSPOT_BLOCKED  # the portal refuses the domain (the stand-in's reject hook)
    return UPSERTED


def contact_row(index: int) -> dict[str, str]:
    first, last = FIRST[index % len(FIRST)], LAST[index * 7 % len(LAST)]
    company, domain = COMPANIES[index % len(COMPANIES)]
    email = f"{first}.{last}.{index}@{domain}".lower()
    contact_id = f"C-{index:05d}"
    kind = fate(index)
    if kind == INVALID:
        email = "" if index % 97 == 5 else email.replace("@", "(at)")
    elif kind == UNMAPPED:
        contact_id = "   "
    elif kind == HUBSPOT_INVALID:
        email = email.rsplit(".", 1)[0] + ".c"
    elif kind == HUBSPOT_BLOCKED:
        email = f"{first}.{last}.{index}@{BLOCKED_DOMAIN}".lower()
    elif index % 10 == 3:
        email = f"  {email.upper()} "  # messy but valid: the map trims and lowercases it
    return {"Contact ID": contact_id, "First Name": first, "Last Name": last, "Email": email,
            "Phone": f"+33 6 {index % 100:02d} {index % 97:02d} {index % 89:02d} {index % 83:02d}",
            "Company": company, "Job Title": "Buyer", "City": "Lyon", "Country": "France",
            "Lifecycle Stage": "lead", "Created": "2023-05-17"}


def write_csv(path: Path, rows: list[dict[str, str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def blocked_domain(object_type: str, properties: dict[str, Any]) -> str | None:
    email = str(properties.get("email") or "")
    if email.endswith("@" + BLOCKED_DOMAIN):
        return f"Contacts from {BLOCKED_DOMAIN} are blocked by this portal's import policy"
    return None


def all_audit_lines(runtime: Runtime, execution_id: str) -> list[AuditLine]:
    lines: list[AuditLine] = []
    cursor = None
    while True:
        page = runtime.services.audit.query(execution_id=execution_id, limit=1000, cursor=cursor)
        lines += page.items
        cursor = page.next_cursor
        if not cursor:
            return lines


def test_ten_thousand_contacts_each_upserted_once_or_audited_with_a_reason(runtime: Runtime,
                                                                           tmp_path: Path) -> None:
    rows = [contact_row(index) for index in range(CONTACTS)]
    fates = [fate(index) for index in range(CONTACTS)]
    csv_path = tmp_path / "contacts.csv"
    write_csv(csv_path, rows)

    document = json.loads(resource("flows", "contacts-migration.json").read_text(encoding="utf-8"))
    document["settings"]["historyLevel"] = "ALL"  # keep the edge counts of a successful run
    blocks = {block["id"]: block["config"] for block in document["blocks"]}
    blocks["read_csv"].update(path=str(csv_path), batchSize=500)
    # Faster than the stand-in allows, so HubSpot's own rate limit answers 429s too.
    blocks["upsert"].update(callsPerSecond=40, maxRetries=8)

    with HubSpotStandIn(token="pat-e2e", rate_limit_per_second=25, inject_429_every=9, retry_after_seconds=0.05,
                        reject=blocked_domain) as hub:
        runtime.services.vault.set_connection("hubspot", "hubspot", {"baseUrl": hub.base_url, "token": hub.token})
        runtime.services.flows.save(document)
        launched = runtime.services.executions.launch(LaunchRequest(document["uuid"], trigger="UI",
                                                                    use_test_data=True))
        execution_id = launched.view.execution_id
        view = runtime.services.executions.wait_finished(execution_id, timeout=120)
        assert view.termination_status == "SUCCESS", view.reason
        detail = runtime.services.executions.detail(execution_id)
        audit = all_audit_lines(runtime, execution_id)

        # -- the stand-in: what HubSpot was asked and what it holds ------------------------------------
        statuses = Counter(call.status for call in hub.calls)
        assert statuses[429] >= len(hub.calls) // 9  # injected ones at least; the rate limit adds more
        assert set(statuses) <= {200, 207, 429}, statuses  # never a 400: no chunk over 100, no duplicate ids
        assert all(call.inputs <= 100 for call in hub.calls)
        upserts = hub.upsert_counts[("contacts", "email")]
        assert set(hub.write_counts["contacts"].values()) == {1}

    # -- every row: upserted exactly once, or audited exactly once with its reason ---------------------
    rows_by_id = {row["Contact ID"]: index for index, row in enumerate(rows) if row["Contact ID"].strip()}
    rows_by_email = {row["Email"].strip().lower(): index for index, row in enumerate(rows) if row["Email"].strip()}
    audited: dict[int, AuditLine] = {}
    for line in audit:
        record = line.data["record"]
        if line.block_id == "audit_refused":  # HubSpot's refusal of a mapped record
            index = rows_by_id[record["legacy_crm_id"]]
            reason = line.data["reason"]
        else:  # the CSV row itself, refused by validate (errors) or by map (reason)
            index = (rows_by_email[record["Email"].strip().lower()] if line.block_id == "audit_unmapped"
                     else rows_by_id[record["Contact ID"]])
            reason = line.data.get("reason") or line.data.get("errors")
        assert index not in audited, f"row {index} was audited twice"
        assert reason, f"row {index} was audited without a reason: {line.data}"
        assert line.topic == "contact-rejects" and line.is_error
        audited[index] = line

    expected_block = {INVALID: "audit_invalid", UNMAPPED: "audit_unmapped", HUBSPOT_INVALID: "audit_refused",
                      HUBSPOT_BLOCKED: "audit_refused"}
    for index, row in enumerate(rows):
        email = row["Email"].strip().lower()
        if fates[index] == UPSERTED:
            assert index not in audited, (index, audited[index].data)
            assert upserts[email] == 1, (index, email, upserts[email])
        else:
            assert index in audited, f"row {index} ({fates[index]}) was neither upserted nor audited"
            assert audited[index].block_id == expected_block[fates[index]], index
            assert upserts.get(email, 0) == 0, (index, email)
    reasons = Counter(fates[index] for index in audited)
    assert all(reasons[kind] > 50 for kind in expected_block), reasons  # each kind of rejection happened
    for index, line in audited.items():
        if fates[index] == HUBSPOT_INVALID:
            assert "INVALID_EMAIL" in line.data["reason"]
        elif fates[index] == HUBSPOT_BLOCKED:
            assert "blocked by this portal" in line.data["reason"]

    accepted = fates.count(UPSERTED)
    assert len(upserts) == accepted and len(audited) == CONTACTS - accepted
    assert len(hub.objects["contacts"]) == accepted

    # -- the run's per-block counts add up ---------------------------------------------------------------
    steps = {step["blockId"]: step for step in detail.steps}
    assert all(step["status"] in ("SUCCESS", "SKIPPED") for step in steps.values())
    assert steps["read_csv"]["recordsOut"] == CONTACTS == steps["validate"]["recordsIn"]
    assert steps["validate"]["recordsOut"] == steps["map"]["recordsIn"] + steps["audit_invalid"]["recordsIn"]
    assert steps["map"]["recordsOut"] == steps["upsert"]["recordsIn"] + steps["audit_unmapped"]["recordsIn"]
    assert steps["upsert"]["recordsOut"] == steps["end"]["recordsIn"] + steps["audit_refused"]["recordsIn"]
    assert steps["end"]["recordsIn"] == accepted
    assert steps["audit_invalid"]["recordsIn"] == fates.count(INVALID)
    assert steps["audit_unmapped"]["recordsIn"] == fates.count(UNMAPPED)
    assert steps["audit_refused"]["recordsIn"] == fates.count(HUBSPOT_INVALID) + fates.count(HUBSPOT_BLOCKED)
    edges = {(edge["from"], edge["fromPort"]): edge["records"] for edge in detail.edges or []}
    assert edges[("validate", "valid")] + edges[("validate", "invalid")] == CONTACTS
    assert edges[("upsert", "out")] == accepted
