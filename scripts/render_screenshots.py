"""Renders every main screen offscreen to PNG in docs/screenshots/, with realistic sample data.

Run: QT_QPA_PLATFORM=offscreen .venv/bin/python scripts/render_screenshots.py [OUT_DIR]
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Callable

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtWidgets import QApplication, QWidget  # noqa: E402

from ziggy_desktop.app import start_runtime  # noqa: E402
from ziggy_desktop.bundled import sample_flow_text  # noqa: E402
from ziggy_desktop.config import load_settings  # noqa: E402
from ziggy_desktop.executions import LaunchRequest, body_fingerprint  # noqa: E402
from ziggy_desktop.history import HistoryFilter  # noqa: E402
from ziggy_desktop.ui.application import create_application  # noqa: E402
from ziggy_desktop.ui.context import UiContext  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def flow(name: str, tags: list[str], middle: list[dict], test_data=None, timeout: float = 300,
         history_level: str = "ERRORED_WITH_DATA", receiver_config: dict | None = None) -> dict:
    blocks = [{"id": "receiver", "type": "receiver", "name": "Receive",
               "config": {"testData": test_data, **(receiver_config or {})}, "position": [60, 160]}]
    x = 60
    for index, block in enumerate(middle):
        x += 240
        blocks.append({"id": f"b{index}", "name": block["name"], "type": block["type"],
                       "config": block.get("config", {}), "position": [x, 160 + block.get("dy", 0)]})
    blocks.append({"id": "end", "type": "terminator", "name": "Done", "config": {}, "position": [x + 240, 160]})
    edges = [{"from": a["id"], "fromPort": "out", "to": b["id"], "toPort": "in"}
             for a, b in zip(blocks, blocks[1:]) if a["type"] != "fail"]
    return {"ziggyFlow": 1, "uuid": str(uuid.uuid4()), "name": name, "tags": tags,
            "settings": {"timeoutSeconds": timeout, "historyLevel": history_level}, "blocks": blocks,
            "edges": edges}


SAMPLE_CONTACTS = [{"email": "ada@example.com", "firstname": "Ada"}, {"email": "alan@example.com", "firstname": "Alan"}]
CONTACTS = [{"email": f"{name.lower()}@example.com", "firstname": name, "lifecyclestage": stage}
            for name, stage in [("Ada", "lead"), ("Alan", "customer"), ("Grace", "lead"), ("Edsger", "opportunity"),
                                ("Barbara", "lead"), ("Donald", "customer")] * 20]


LEADS = [{"id": f"L-{1040 + i}", "email": f"{first.lower()}.{last.lower()}@{domain}", "firstname": first,
          "lastname": last, "company": company, "lifecyclestage": stage}
         for i, (first, last, domain, company, stage) in enumerate([
             ("Ada", "Lovelace", "analytical.example", "Analytical Engines", "lead"),
             ("Alan", "Turing", "bletchley.example", "Bletchley Park", "customer"),
             ("Grace", "Hopper", "navy.example", "US Navy", "opportunity"),
             ("Edsger", "Dijkstra", "eindhoven.example", "TU Eindhoven", "lead"),
             ("Barbara", "Liskov", "mit.example", "MIT", "salesqualifiedlead"),
             ("Donald", "Knuth", "stanford.example", "Stanford", "customer"),
             ("Margaret", "Hamilton", "apollo.example", "Apollo Guidance", "lead"),
             ("Ken", "Thompson", "bell.example", "Bell Labs", "subscriber"),
             ("Frances", "Allen", "ibm.example", "IBM Research", "lead"),
             ("John", "Backus", "ibm.example", "IBM", "customer"),
             ("Radia", "Perlman", "dec.example", "DEC", "lead"),
             ("Tony", "Hoare", "oxford.example", "Oxford", "opportunity")])]
# What a real export holds too: a typo'd address, a missing one, a stage HubSpot does not know.
LEADS[3]["email"] = "edsger.dijkstra@eindhoven"
LEADS[7]["email"] = ""
LEADS[10]["lifecyclestage"] = "hot-lead"
LEAD_SCHEMA = {"type": "object", "required": ["id", "email"], "properties": {
    "email": {"type": "string", "pattern": "^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$"},
    "lifecyclestage": {"enum": ["subscriber", "lead", "salesqualifiedlead", "opportunity", "customer"]}}}


def lead_import_flow() -> dict:
    """Leads checked against a schema; every row is audited, the rejected ones as errors with the reasons."""
    def block(block_id: str, kind: str, name: str, config: dict, x: int, y: int) -> dict:
        return {"id": block_id, "type": kind, "name": name, "config": config, "position": [x, y]}

    blocks = [
        block("receiver", "receiver", "Leads export", {"testData": LEADS}, 60, 160),
        block("check", "validate", "Check leads", {"schema": LEAD_SCHEMA}, 300, 160),
        block("imported", "audit", "Audit imported", {"topic": "lead-import", "identifier": "email",
                                                      "primaryKey": "id", "secondaryKey": "company",
                                                      "includeData": True}, 540, 100),
        block("rejected", "audit", "Audit rejected", {"topic": "lead-rejects", "identifier": "record.email",
                                                      "primaryKey": "record.id", "secondaryKey": "record.company",
                                                      "isError": True, "includeData": True}, 540, 260),
        block("end", "terminator", "Done", {}, 780, 100)]
    edges = [{"from": "receiver", "fromPort": "out", "to": "check", "toPort": "in"},
             {"from": "check", "fromPort": "valid", "to": "imported", "toPort": "in"},
             {"from": "check", "fromPort": "invalid", "to": "rejected", "toPort": "in"},
             {"from": "imported", "fromPort": "out", "to": "end", "toPort": "in"}]
    return {"ziggyFlow": 1, "uuid": str(uuid.uuid4()), "name": "Lead import with audit", "tags": ["migration"],
            "settings": {"timeoutSeconds": 300, "historyLevel": "ALL"}, "blocks": blocks, "edges": edges}


def seed_vault_and_queues(context: UiContext) -> None:
    """Connections, secrets and named queues as an integration engineer would have them (dummy values)."""
    vault = context.vault
    vault.set_connection("hubspot-portal", "hubspot", {"token": "pat-dev-dummy"}, {"token": "pat-prod-dummy"},
                         "Marketing portal (sandbox in DEV)")
    vault.set_connection("warehouse", "sql", {"url": "postgresql://sync:dummy@db.internal/warehouse"}, None,
                         "Reporting database")
    vault.set_connection("erp-api", "rest", {"baseUrl": "https://erp.example.com/api/v2", "authType": "bearer",
                                             "token": "dummy"}, {"baseUrl": "https://erp.example.com/api/v2"},
                         "Orders and invoices")
    vault.set_secret("slack-webhook", "https://hooks.example.com/dummy", "", "Alerts channel")
    vault.set_secret("erp-signing-key", "dummy-dev", "dummy-prod", "Signs webhook payloads")
    services = context.services
    services.named_queues.save("hubspot", rate_per_second=10)
    services.named_queues.save("erp-nightly", rate_per_second=0.5, paused=True)
    services.queue.refresh_named_queues()


def seed(services) -> dict[str, str]:
    flows = {
        "hello": json.loads(sample_flow_text()),
        "contacts": flow("Contacts CSV → HubSpot", ["migration", "hubspot"], [
            {"name": "Log batch", "type": "console", "config": {"message": "Importing contacts", "includeData": True}},
            {"name": "Throttle", "type": "delay", "config": {"ms": 5}}], CONTACTS, history_level="ALL",
            receiver_config={"batchSize": 25}),
        "webhook": flow("Company name webhook", ["integration", "hubspot"], [
            {"name": "Log payload", "type": "console", "config": {"message": "Company update"}}], {"companyId": 42}),
        "broken": flow("Deal sync (broken mapping)", ["integration"], [
            {"name": "Log", "type": "console", "config": {"message": "Deals received"}},
            {"name": "Map deal stages", "type": "fail", "config": {"message": "dealstage 'won' has no mapping"}}],
            [{"dealId": 9001, "dealstage": "won"}]),
        "slow": flow("Nightly export", ["scheduled"], [
            {"name": "Wait for window", "type": "delay", "config": {"ms": 600_000}}], timeout=3600),
        "timeout": flow("Legacy ERP pull", ["migration"], [
            {"name": "Slow ERP call", "type": "delay", "config": {"ms": 10_000}}], timeout=0.2),
        "leads": lead_import_flow(),
    }
    for document in flows.values():
        services.flows.save(document)
    return {name: document["uuid"] for name, document in flows.items()}


def launch(services, flow_uuid: str, mode: str = "DEV", key: str | None = None, body=None) -> str:
    """An API launch when a key is given (as Postman would), else a click on Run."""
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


def main() -> int:
    out_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "screenshots"
    out_dir.mkdir(parents=True, exist_ok=True)
    app = create_application(["render_screenshots"])
    with tempfile.TemporaryDirectory() as data_dir:
        settings = load_settings({"ZIGGY_DATA_DIR": data_dir, "ZIGGY_PORT": "0", "ZIGGY_SHUTDOWN_GRACE_SECONDS": "0"},
                                 cwd=Path(data_dir))
        runtime = start_runtime(settings)
        services = runtime.services
        keys = [services.keys.create(name) for name in ("Postman", "CRM webhook", "Old laptop")]
        services.keys.revoke(str(keys[2][0].id))
        uuids = seed(services)
        for index in range(24):
            launch(services, uuids["contacts"], "PROD" if index % 3 == 0 else "DEV", keys[0][1],
                   body=[{"email": f"user{index}@example.com"}])
        for _ in range(5):
            launch(services, uuids["broken"], key=keys[1][1], body=[{"dealstage": "won"}])
        for _ in range(3):
            launch(services, uuids["timeout"])
        for _ in range(6):
            launch(services, uuids["webhook"], key=keys[1][1], body={"companyId": 7, "name": "Acme"})
        wait_until(app, lambda: services.queue.depth() == 0 and services.queue.running_count() == 0, 60)
        for _ in range(2):
            launch(services, uuids["slow"])

        from ziggy_desktop.ui.main_window import MainWindow

        context = UiContext(services, runtime.server.url, None, runtime.shutdown)
        seed_vault_and_queues(context)
        window = MainWindow(context)
        window.resize(1280, 800)
        window.show()
        window.show_page("flows")
        save(window, out_dir, "flows", app)

        window.open_flow(uuids["hello"])
        window.flow_page.run_flow()
        wait_until(app, lambda: window.flow_page.state_label.text() == "SUCCESS")
        save(window, out_dir, "flow", app)

        window.open_flow(uuids["contacts"])
        window.flow_page.run_flow()
        wait_until(app, lambda: window.flow_page.state_label.text() == "SUCCESS")
        graph = window.flow_page.graph
        graph.select_edge(graph.edge_index("b0", "b1"))
        save(window, out_dir, "flow-edge-data", app)
        graph.select_block("b0")
        save(window, out_dir, "flow-block-settings", app)
        contacts_run = window.flow_page.followed_execution_id

        window.open_flow(uuids["broken"])
        window.flow_page.run_flow()
        wait_until(app, lambda: window.flow_page.state_label.text() == "FATAL")
        save(window, out_dir, "flow-fatal", app)

        window.show_page("history")
        history = window.history_page
        fatal = services.history.page(HistoryFilter(statuses=frozenset({"FATAL"})), 0, 1)[0].view.execution_id
        wait_until(app, lambda: not history.busy)
        history.select_execution(fatal)
        wait_until(app, lambda: history.detail_pane.view is not None
                   and history.detail_pane.view.execution_id == fatal)
        save(window, out_dir, "history", app)
        history.select_execution(contacts_run)
        wait_until(app, lambda: history.detail_pane.detail is not None
                   and history.detail_pane.detail.view.execution_id == contacts_run)
        pane = history.detail_pane
        pane.tabs.setCurrentWidget(pane.edge_data)
        pane.edge_data.table.selectRow(1)
        save(window, out_dir, "history-edge-data", app)

        leads_run = launch(services, uuids["leads"])
        services.executions.wait_finished(leads_run, timeout=30)
        wait_until(app, lambda: history.select_execution(leads_run))
        wait_until(app, lambda: pane.detail is not None and pane.detail.view.execution_id == leads_run
                   and pane.detail.view.finished)
        pane.tabs.setCurrentWidget(pane.audit_view)
        audit = pane.audit_view
        first_error = next(row for row in range(audit.model.rowCount()) if audit.model.line(row).is_error)
        audit.table.selectRow(first_error)
        sizes = history.splitter.sizes()
        history.splitter.setSizes([520, sum(sizes) - 520])  # as a user widens the detail to read the lines
        save(window, out_dir, "history-audit", app)
        history.splitter.setSizes(sizes)

        window.show_page("queues")
        save(window, out_dir, "queues", app)

        window.show_page("connections")
        wait_until(app, lambda: not window.connections_page.busy)
        save(window, out_dir, "connections", app)
        window.connections_page.connections.table.selectRow(1)
        window.connections_page.edit_connection()
        save(window.connections_page.dialog, out_dir, "connection-dialog", app)
        window.connections_page.dialog.reject()

        from ziggy_desktop.ui.settings_dialog import GlobalSettingsDialog
        from ziggy_desktop.ui.key_dialogs import NewKeyDialog

        dialog = GlobalSettingsDialog(window.context, window.background, window)
        dialog.resize(880, 620)
        dialog.show()
        save(dialog, out_dir, "settings-security", app)
        dialog.hide()
        key_dialog = NewKeyDialog("Postman", keys[0][1], window)
        key_dialog.show()
        save(key_dialog, out_dir, "new-key", app)
        key_dialog.hide()

        try:
            from ziggy_desktop.ui.flow_settings_dialog import FlowSettingsDialog
        except ImportError:
            FlowSettingsDialog = None
        if FlowSettingsDialog is not None:
            flow_dialog = FlowSettingsDialog(window.context, uuids["hello"], window)
            flow_dialog.show()
            save(flow_dialog, out_dir, "flow-settings", app)
            flow_dialog.hide()

        for killed in list(services.queue.snapshot()[0]):
            services.executions.kill(killed[0].execution_id, allow_running=True)
        window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
