"""Renders every main screen offscreen to PNG in docs/screenshots/, from the bundled samples run for real.

The contacts migration and the company webhook run against the HubSpot stand-in (tests/hubspot_standin.py)
and a SQLite CRM database, so the graph, history, edge data and audit lines are what a user would see.
Run: QT_QPA_PLATFORM=offscreen .venv/bin/python scripts/render_screenshots.py [OUT_DIR]
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, Callable

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the HubSpot stand-in lives with the tests

from PySide6.QtWidgets import QApplication, QWidget  # noqa: E402

from tests.hubspot_standin import HubSpotStandIn  # noqa: E402
from ziggy_desktop.app import start_runtime  # noqa: E402
from ziggy_desktop.bundled import sample_flows  # noqa: E402
from ziggy_desktop.config import load_settings  # noqa: E402
from ziggy_desktop.executions import LaunchRequest, body_fingerprint  # noqa: E402
from ziggy_desktop.ui.application import create_application  # noqa: E402
from ziggy_desktop.ui.context import UiContext  # noqa: E402
from ziggy_desktop.ui.history_page import FLOW_COLUMN  # noqa: E402

WINDOW_SIZE = (1600, 960)
# Companies in the HubSpot stand-in (ids 1001, 1002, ... in this order) and the CRM's stale copy of each.
COMPANIES = [
    ({"name": "Northwind Traders", "domain": "northwind.example", "industry": "WHOLESALE", "city": "Seattle",
      "country": "United States"}, "Northwind (old name)", "sales-na"),
    ({"name": "Contoso Ltd", "domain": "contoso.example", "industry": "RETAIL", "city": "Redmond",
      "country": "United States"}, "Contoso", "sales-na"),
    ({"name": "Fabrikam Inc", "domain": "fabrikam.example", "industry": "MANUFACTURING", "city": "Lyon",
      "country": "France"}, "Fabrikam", "sales-emea"),
    ({"name": "Umbrella Health", "domain": "umbrella-health.example", "industry": "HOSPITAL_HEALTH_CARE",
      "city": "London", "country": "United Kingdom"}, "Umbrella Healthcare Ltd", "sales-emea"),
    ({"name": "Initech", "domain": "initech.example", "industry": "COMPUTER_SOFTWARE", "city": "Toronto",
      "country": "Canada"}, "Initech Corp", "sales-na"),
]
UNKNOWN_COMPANY = "4040"  # a webhook for a company HubSpot does not have: the sample's FATAL path
def flow(name: str, tags: list[str], middle: list[dict], test_data=None, timeout: float = 300,
         queue: str = "") -> dict:
    """A small demo flow (receiver, the given blocks, terminator) for the states the samples never reach."""
    blocks = [{"id": "receiver", "type": "receiver", "name": "Receive",
               "config": {"testData": test_data, "queue": queue}, "position": [60, 160]}]
    x = 60
    for index, block in enumerate(middle):
        x += 240
        blocks.append({"id": f"b{index}", "name": block["name"], "type": block["type"],
                       "config": block.get("config", {}), "position": [x, 160]})
    blocks.append({"id": "end", "type": "terminator", "name": "Done", "config": {}, "position": [x + 240, 160]})
    edges = [{"from": a["id"], "fromPort": "out", "to": b["id"], "toPort": "in"} for a, b in zip(blocks, blocks[1:])]
    return {"ziggyFlow": 1, "uuid": str(uuid.uuid4()), "name": name, "tags": tags,
            "settings": {"timeoutSeconds": timeout, "historyLevel": "ERRORED_WITH_DATA"}, "blocks": blocks,
            "edges": edges}


def seed_flows(services) -> dict[str, str]:
    """The bundled samples (history level ALL, so every edge keeps its sample) and two demo flows."""
    samples = {sample.file_name: sample.document for sample in sample_flows()}
    flows = {"hello": samples["hello-world.json"], "contacts": samples["contacts-migration.json"],
             "webhook": samples["company-webhook.json"]}
    for document in flows.values():
        document["settings"]["historyLevel"] = "ALL"  # every edge keeps its sample for the Data views
    flows["slow"] = flow("Nightly export", ["scheduled"], [
        {"name": "Wait for window", "type": "delay", "config": {"ms": 600_000}}], timeout=3600)
    flows["timeout"] = flow("Legacy ERP pull", ["migration"], [
        {"name": "Slow ERP call", "type": "delay", "config": {"ms": 10_000}}], timeout=0.2)
    flows["invoices"] = flow("ERP invoice sync", ["scheduled"], [
        {"name": "Log invoices", "type": "console", "config": {"message": "Invoices received"}}],
        queue="erp-nightly")  # its queue is paused: its runs wait in the system queue
    for document in flows.values():
        services.flows.save(document)
    return {name: document["uuid"] for name, document in flows.items()}


def seed_hubspot(hub: HubSpotStandIn) -> list[str]:
    return [hub.seed("companies", properties) for properties, _, _ in COMPANIES]


def create_crm_database(path: Path, company_ids: list[str]) -> None:
    """The CRM database the webhook sample updates: one stale account per HubSpot company."""
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE accounts (hubspot_company_id TEXT PRIMARY KEY, name TEXT, domain TEXT, "
                   "industry TEXT, owner TEXT)")
        db.executemany("INSERT INTO accounts VALUES (?, ?, ?, ?, ?)", [
            (company_id, old_name, properties["domain"], None, owner)
            for company_id, (properties, old_name, owner) in zip(company_ids, COMPANIES)])
    db.close()


def seed_vault_and_queues(services, hub: HubSpotStandIn, crm_path: Path) -> None:
    """The connections the samples name (pointing at the stand-in and the SQLite file), plus a few more."""
    vault = services.vault
    vault.set_connection("hubspot", "hubspot", {"baseUrl": hub.base_url, "token": hub.token}, None,
                         "HubSpot portal (local stand-in)")
    vault.set_connection("crm-db", "sql", {"url": f"sqlite:///{crm_path}"}, None, "CRM accounts database")
    vault.set_connection("warehouse", "sql", {"url": "postgresql://sync:dummy@db.internal/warehouse"}, None,
                         "Reporting database")
    vault.set_connection("erp-api", "rest", {"baseUrl": "https://erp.example.com/api/v2", "authType": "bearer",
                                             "token": "dummy"}, {"baseUrl": "https://erp.example.com/api/v2"},
                         "Orders and invoices")
    vault.set_secret("slack-webhook", "https://hooks.example.com/dummy", "", "Alerts channel")
    vault.set_secret("erp-signing-key", "dummy-dev", "dummy-prod", "Signs webhook payloads")
    services.named_queues.save("hubspot", rate_per_second=10)
    services.named_queues.save("erp-nightly", rate_per_second=0.5, paused=True)
    services.queue.refresh_named_queues()


def launch(services, flow_uuid: str, mode: str = "DEV", key: str | None = None, body: Any = None) -> str:
    """An API launch when a key is given (as a webhook or Postman would), else a click on Run."""
    text = None if body is None else json.dumps(body)
    request = LaunchRequest(flow_uuid, mode, None, text, body_fingerprint(body, body is not None),
                            "API" if key else "UI", execution_key=key, use_test_data=key is None)
    return services.executions.launch(request).view.execution_id


def wait_until(app: QApplication, condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        app.processEvents()
        if time.monotonic() > deadline:
            raise TimeoutError("the screen did not reach the expected state")
        time.sleep(0.01)
    for _ in range(5):
        app.processEvents()


def save(widget: QWidget, out_dir: Path, name: str, app: QApplication) -> Path:
    for _ in range(5):
        app.processEvents()
    path = out_dir / f"{name}.png"
    widget.grab().save(str(path))
    print(f"wrote {path}")
    return path


def run_history(app: QApplication, services, uuids: dict[str, str], company_ids: list[str],
                webhook_key: str) -> None:
    """A day's worth of runs: migrations, webhooks (one for a company HubSpot lacks), ERP time-outs."""
    for mode in ("DEV", "DEV", "PROD", "DEV"):
        launch(services, uuids["contacts"], mode)
    for index in range(22):
        company = company_ids[index % len(company_ids)]
        body = {"companyId": company, "domain": COMPANIES[index % len(COMPANIES)][0]["domain"]}
        launch(services, uuids["webhook"], "PROD" if index % 4 == 3 else "DEV", webhook_key, body)
        if index % 8 == 5:
            launch(services, uuids["webhook"], "PROD", webhook_key, {"companyId": UNKNOWN_COMPANY})
    for _ in range(3):
        launch(services, uuids["timeout"])
    launch(services, uuids["hello"])
    wait_until(app, lambda: services.queue.depth() == 0 and services.queue.running_count() == 0, 120)
    for _ in range(2):
        launch(services, uuids["slow"])
    for _ in range(3):
        launch(services, uuids["invoices"])


def main() -> int:
    out_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "screenshots"
    out_dir.mkdir(parents=True, exist_ok=True)
    app = create_application(["render_screenshots"])
    with tempfile.TemporaryDirectory() as data_dir, HubSpotStandIn(token="pat-na1-demo") as hub:
        settings = load_settings({"ZIGGY_DATA_DIR": data_dir, "ZIGGY_PORT": "0", "ZIGGY_SHUTDOWN_GRACE_SECONDS": "0"},
                                 cwd=Path(data_dir))
        runtime = start_runtime(settings)
        services = runtime.services
        company_ids = seed_hubspot(hub)
        crm_path = Path(data_dir) / "crm.sqlite"
        create_crm_database(crm_path, company_ids)
        seed_vault_and_queues(services, hub, crm_path)
        keys = [services.keys.create(name) for name in ("Postman", "CRM webhook", "Old laptop")]
        services.keys.revoke(str(keys[2][0].id))
        uuids = seed_flows(services)
        run_history(app, services, uuids, company_ids, keys[1][1])

        from ziggy_desktop.ui.main_window import MainWindow

        context = UiContext(services, runtime.server.url, None, runtime.shutdown)
        window = MainWindow(context)
        window.resize(*WINDOW_SIZE)
        window.show()
        window.show_page("flows")
        save(window, out_dir, "flows", app)

        page = window.flow_page
        # The graph gets the room the console would leave empty; the inspector fits a mapped record's lines.
        page.vertical_splitter.setSizes([660, 150])
        page.horizontal_splitter.setSizes([WINDOW_SIZE[0] - 300, 300])  # nothing to inspect yet
        window.open_flow(uuids["contacts"])
        page.run_flow()
        wait_until(app, lambda: page.state_label.text() == "SUCCESS", 60)
        contacts_run = page.followed_execution_id
        wait_until(app, lambda: contacts_run in page.run_ids())
        page.tabs.setCurrentIndex(2)  # Runs: this run and the earlier migrations
        save(window, out_dir, "flow", app)
        page.tabs.setCurrentIndex(0)  # Console: what the blocks said
        graph = page.graph
        page.horizontal_splitter.setSizes([WINDOW_SIZE[0] - 440, 440])  # wide enough for a mapped record's lines
        graph.select_edge(graph.edge_index("map", "upsert"))
        save(window, out_dir, "flow-edge-data", app)
        graph.select_block("upsert")
        save(window, out_dir, "flow-block-settings", app)

        window.open_flow(uuids["webhook"])
        unknown_run = launch(services, uuids["webhook"], "DEV", keys[1][1], {"companyId": UNKNOWN_COMPANY})
        services.executions.wait_finished(unknown_run, timeout=30)
        page.follow(unknown_run)
        wait_until(app, lambda: page.state_label.text() == "FATAL")
        graph.select_block("not_found")
        page.tabs.setCurrentIndex(1)  # Result: the run's error
        save(window, out_dir, "flow-fatal", app)

        window.show_page("history")
        history = window.history_page
        pane = history.detail_pane
        wait_until(app, lambda: not history.busy)
        # As a user would drag them: the Flow column wide enough for the samples' names, the detail for the steps.
        history.table.setColumnWidth(FLOW_COLUMN, history.table.fontMetrics().horizontalAdvance("M" * 21))
        sizes = history.splitter.sizes()
        history.splitter.setSizes([940, sum(sizes) - 940])
        history.select_execution(unknown_run)
        wait_until(app, lambda: pane.detail is not None and pane.detail.view.execution_id == unknown_run)
        pane.tabs.setCurrentWidget(pane.steps_table)  # each block's status and counts
        save(window, out_dir, "history", app)
        history.select_execution(contacts_run)
        wait_until(app, lambda: pane.detail is not None and pane.detail.view.execution_id == contacts_run)
        history.splitter.setSizes([700, sum(sizes) - 700])  # as a user widens the detail to read it
        pane.tabs.setCurrentWidget(pane.edge_data)
        pane.edge_data.table.selectRow(3)  # To HubSpot properties -> Upsert contacts by email
        save(window, out_dir, "history-edge-data", app)
        pane.tabs.setCurrentWidget(pane.audit_view)
        audit = pane.audit_view
        wait_until(app, lambda: audit.model.rowCount() > 0)
        # The row HubSpot refused (its reason is HubSpot's own message), else the first rejected row.
        rows = range(audit.model.rowCount())
        audit.table.selectRow(next((row for row in rows if audit.model.line(row).block_id == "audit_refused"), 0))
        lines = audit.splitter.sizes()
        audit.splitter.setSizes([220, sum(lines) - 220])  # eight lines fit; the rest shows the line's data
        save(window, out_dir, "history-audit", app)
        history.splitter.setSizes(sizes)

        window.show_page("queues")
        save(window, out_dir, "queues", app)

        window.show_page("connections")
        wait_until(app, lambda: not window.connections_page.busy)
        save(window, out_dir, "connections", app)
        table = window.connections_page.connections.table
        names = [table.model().index(row, 0).data() for row in range(table.model().rowCount())]
        table.selectRow(names.index("hubspot"))  # the connection both samples use
        window.connections_page.edit_connection()
        save(window.connections_page.dialog, out_dir, "connection-dialog", app)
        window.connections_page.dialog.reject()

        from ziggy_desktop.ui.flow_settings_dialog import FlowSettingsDialog
        from ziggy_desktop.ui.key_dialogs import NewKeyDialog
        from ziggy_desktop.ui.settings_dialog import GlobalSettingsDialog

        dialog = GlobalSettingsDialog(window.context, window.background, window)
        dialog.resize(880, 620)
        dialog.show()
        save(dialog, out_dir, "settings-security", app)
        dialog.hide()
        key_dialog = NewKeyDialog("Postman", keys[0][1], window)
        key_dialog.show()
        save(key_dialog, out_dir, "new-key", app)
        key_dialog.hide()
        flow_dialog = FlowSettingsDialog(window.context, uuids["webhook"], window)
        flow_dialog.show()
        save(flow_dialog, out_dir, "flow-settings", app)
        flow_dialog.hide()

        running, queued, _ = services.queue.snapshot()
        for item in [item for item, _ in running] + queued:
            services.executions.kill(item.execution_id, allow_running=True)
        window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
