"""The Flows page: list, filters, preview, New/Import/Export/Duplicate/Delete/Open against the real core."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QInputDialog, QMessageBox

from ziggy_desktop import bundled
from ziggy_desktop.engine.runner import compile_flow
from ziggy_desktop.executions import LaunchRequest, body_fingerprint
from ziggy_desktop.flows import validate_flow
from ziggy_desktop.ui.bridge import Background, EventBridge
from ziggy_desktop.ui.flow_settings_dialog import FlowSettingsDialog
from ziggy_desktop.ui.flows_model import NAME, FlowsFilterModel, FlowsTableModel
from ziggy_desktop.ui.flows_page import FlowsPage

from ..helpers import make_flow
from .qt_helpers import answer

FLOWS = (("HubSpot contacts sync", ["hubspot", "nightly"]), ("Deals migration", ["hubspot", "migration"]),
         ("Invoice webhook", ["billing"]), ("Orders to warehouse", ["erp", "nightly"]))


@pytest.fixture
def make_page(qtbot, ui_context):
    made = []

    def make() -> FlowsPage:
        bridge = EventBridge(ui_context.services.events)
        background = Background()
        page = FlowsPage(ui_context, bridge, background)
        qtbot.addWidget(page)
        page.resize(1100, 700)
        page.show()
        qtbot.waitExposed(page)
        made.append((bridge, background))
        return page

    yield make
    for bridge, background in made:
        bridge.close()
        background.shutdown()


def save_flows(context, flows=FLOWS) -> dict[str, str]:
    uuids = {}
    for name, tags in flows:
        document = make_flow({"type": "console", "id": "log", "config": {"message": "hi"}}, name=name,
                             test_data={"n": 1})
        document["tags"] = tags
        uuids[name] = context.services.flows.save(document)[0].uuid
    return uuids


@pytest.fixture
def page(make_page, ui_context):
    save_flows(ui_context)
    return make_page()


@pytest.fixture
def warnings(monkeypatch) -> list[str]:
    shown: list[str] = []

    def warn(_parent, _title, text, *args, **kwargs):
        shown.append(text)
        return QMessageBox.StandardButton.Ok

    monkeypatch.setattr(QMessageBox, "warning", warn)
    return shown


def select(page: FlowsPage, name: str) -> None:
    row = page.visible_names().index(name)
    page.table.selectRow(row)
    assert page.selected_flow().name == name


def test_models_pass_the_model_tester(page, qtmodeltester, ui_context):
    assert page.model.rowCount() == 4
    qtmodeltester.check(page.model)
    qtmodeltester.check(page.proxy)
    page.proxy.set_tag("nightly")
    qtmodeltester.check(page.proxy)
    standalone = FlowsTableModel()
    standalone.set_flows(ui_context.services.flows.list())
    proxy = FlowsFilterModel()
    proxy.setSourceModel(standalone)
    proxy.set_text("o")
    qtmodeltester.check(standalone)
    qtmodeltester.check(proxy)


def test_list_is_sorted_by_name_and_shows_tags(page):
    assert page.visible_names() == sorted(name for name, _ in FLOWS)
    row = page.visible_names().index("HubSpot contacts sync")
    assert page.proxy.index(row, 1).data() == "hubspot, nightly"
    assert page.count_label.text() == "4 flows"


def test_search_and_tag_filter_narrow_the_list(page, qtbot):
    qtbot.keyClicks(page.search_field, "HUB")
    assert page.visible_names() == ["HubSpot contacts sync"]
    assert page.count_label.text() == "1 of 4 flows"
    page.search_field.clear()
    tags = [page.tag_combo.itemText(i) for i in range(page.tag_combo.count())]
    assert tags == ["All tags", "billing", "erp", "hubspot", "migration", "nightly"]
    page.tag_combo.setCurrentText("nightly")
    assert page.visible_names() == ["HubSpot contacts sync", "Orders to warehouse"]
    qtbot.keyClicks(page.search_field, "orders")
    assert page.visible_names() == ["Orders to warehouse"]
    assert page.preview.title.text() == "Orders to warehouse"  # the preview follows the filter
    page.search_field.setText("nothing like this")
    assert page.visible_names() == []
    assert page.no_match_label.isVisible()
    assert not page.delete_action.isEnabled()
    page.search_field.clear()
    page.tag_combo.setCurrentIndex(0)
    assert len(page.visible_names()) == 4
    assert not page.no_match_label.isVisible()


def test_preview_shows_the_flow_and_its_runs_live(page, qtbot, ui_context):
    select(page, "Invoice webhook")
    preview = page.preview
    flow_uuid = page.selected_uuid()
    assert preview.title.text() == "Invoice webhook"
    assert preview.uuid_label.text() == flow_uuid
    assert preview.tags_value.text() == "billing"
    assert preview.timeout_value.text() == "60 s"
    assert preview.history_value.text() == "ALL"  # what make_flow stores
    assert [preview.blocks.topLevelItem(i).text(1) for i in range(preview.blocks.topLevelItemCount())] == [
        "Receiver", "Console", "Terminator"]
    assert preview.runs_value.text() == "No runs yet"
    assert preview.no_runs_label.isVisible()
    ui_context.services.executions.launch(LaunchRequest(flow_uuid, "PROD", None, None, body_fingerprint(None, False),
                                                        "UI", use_test_data=True))
    qtbot.waitUntil(lambda: preview.runs.topLevelItemCount() == 1
                    and preview.runs.topLevelItem(0).text(0) == "SUCCESS", timeout=10_000)
    assert preview.runs_value.text() == "1"
    assert preview.runs.topLevelItem(0).text(1) == "PROD"
    assert not preview.no_runs_label.isVisible()


def test_open_by_double_click_button_and_action(page, qtbot):
    select(page, "Deals migration")
    flow_uuid = page.selected_uuid()
    rect = page.table.visualRect(page.proxy.index(page.visible_names().index("Deals migration"), NAME))
    with qtbot.waitSignal(page.openFlowRequested, timeout=2000) as blocker:
        # A real double click is press, release, then the double-click event: the view needs the press.
        qtbot.mouseClick(page.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
        qtbot.mouseDClick(page.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert blocker.args == [flow_uuid]
    with qtbot.waitSignal(page.openFlowRequested, timeout=2000) as blocker:
        qtbot.keyClick(page.table, Qt.Key.Key_Return)
    assert blocker.args == [flow_uuid]
    with qtbot.waitSignal(page.openFlowRequested, timeout=2000) as blocker:
        page.open_action.trigger()
    assert blocker.args == [flow_uuid]
    with qtbot.waitSignal(page.openFlowRequested, timeout=2000) as blocker:
        page.preview.open_button.click()
    assert blocker.args == [flow_uuid]


def test_new_flow_asks_for_a_name_stores_it_and_opens_it(page, qtbot, monkeypatch, ui_context):
    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **k: ("", False))
    page.new_flow()  # cancelled: nothing happens
    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **k: ("  Partner feed  ", True))
    with qtbot.waitSignal(page.openFlowRequested, timeout=5000) as blocker:
        page.new_flow()
    stored = {flow.name: flow.uuid for flow in ui_context.services.flows.list()}
    assert len(stored) == 5
    assert blocker.args == [stored["Partner feed"]]
    assert page.selected_flow().name == "Partner feed"
    document = ui_context.services.flows.get_document(stored["Partner feed"])
    assert document["settings"]["timeoutSeconds"] == ui_context.settings.default_timeout_seconds
    assert [b["type"] for b in document["blocks"]] == ["receiver", "terminator"]


def test_import_valid_and_invalid_files(page, qtbot, monkeypatch, tmp_path: Path, warnings, ui_context):
    good = make_flow(name="Imported good", test_data=[1])
    bad = make_flow({"type": "delay", "id": "wait", "config": {"ms": "soon"}}, name="Imported bad")
    (tmp_path / "good.json").write_text(json.dumps(good))
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    (tmp_path / "notes.json").write_text("{not json")
    paths = [str(tmp_path / name) for name in ("good.json", "bad.json", "notes.json")]
    monkeypatch.setattr(QFileDialog, "getOpenFileNames", lambda *a, **k: (paths, "Flow files (*.json)"))
    page.import_flows()
    qtbot.waitUntil(lambda: "Imported good" in page.visible_names() and bool(warnings), timeout=5000)
    assert "Imported bad" not in page.visible_names()
    message = warnings[0]
    assert "Imported 1 of 3 files" in message
    assert "bad.json: block 'wait' (blocks[1]): config.ms must be an integer" in message
    assert "notes.json: the flow is not valid JSON" in message
    assert page.selected_flow().name == "Imported good"
    assert ui_context.services.flows.get_document(good["uuid"])["name"] == "Imported good"


def test_import_of_a_stored_flow_asks_before_replacing(page, qtbot, monkeypatch, tmp_path: Path, ui_context):
    uuids = {flow.name: flow.uuid for flow in ui_context.services.flows.list()}
    document = ui_context.services.flows.get_document(uuids["Invoice webhook"])
    document["name"] = "Invoice webhook v2"
    (tmp_path / "v2.json").write_text(json.dumps(document))
    monkeypatch.setattr(QFileDialog, "getOpenFileNames", lambda *a, **k: ([str(tmp_path / "v2.json")], ""))
    questions = answer(monkeypatch, QMessageBox.StandardButton.No)
    page.import_flows()
    assert "Invoice webhook" in questions[0] and "v2.json" in questions[0]
    assert ui_context.services.flows.get_document(uuids["Invoice webhook"])["name"] == "Invoice webhook"
    answer(monkeypatch, QMessageBox.StandardButton.Yes)
    page.import_flows()
    qtbot.waitUntil(lambda: "Invoice webhook v2" in page.visible_names(), timeout=5000)
    assert len(page.visible_names()) == 4


def test_export_writes_the_flow_document(page, monkeypatch, tmp_path: Path, ui_context):
    select(page, "Orders to warehouse")
    target = tmp_path / "out" / "orders.json"
    target.parent.mkdir()
    suggested: list[str] = []

    def save_name(_parent, _caption, directory, _filter, *args, **kwargs):
        suggested.append(directory)
        return str(target), "Flow files (*.json)"

    monkeypatch.setattr(QFileDialog, "getSaveFileName", save_name)
    page.export_action.trigger()
    assert suggested[0].endswith("Orders to warehouse.json")
    assert target.read_text(encoding="utf-8") == ui_context.services.flows.export(page.selected_uuid())


def test_duplicate_selects_the_copy(page, qtbot, ui_context):
    select(page, "Deals migration")
    original = page.selected_uuid()
    page.duplicate_action.trigger()
    qtbot.waitUntil(lambda: "Deals migration (copy)" in page.visible_names(), timeout=5000)
    assert page.selected_flow().name == "Deals migration (copy)"
    assert page.selected_uuid() != original
    copy = ui_context.services.flows.get_document(page.selected_uuid())
    assert copy["blocks"] == ui_context.services.flows.get_document(original)["blocks"]


def test_delete_asks_and_no_keeps_the_flow(page, qtbot, monkeypatch, ui_context):
    select(page, "Invoice webhook")
    asked = answer(monkeypatch, QMessageBox.StandardButton.No)
    page.delete_action.trigger()
    assert "“Invoice webhook”" in asked[0]
    assert not page.is_busy()  # "No" started no background work
    assert len(ui_context.services.flows.list()) == 4
    answer(monkeypatch, QMessageBox.StandardButton.Yes)
    page.delete_action.trigger()
    qtbot.waitUntil(lambda: "Invoice webhook" not in page.visible_names(), timeout=5000)
    assert [flow.name for flow in ui_context.services.flows.list()] == [
        "Deals migration", "HubSpot contacts sync", "Orders to warehouse"]
    assert page.selected_flow().name == "Orders to warehouse"  # the neighbour, ready for the next Delete


def test_empty_state_offers_the_sample(make_page, qtbot, ui_context):
    page = make_page()
    assert page.body.currentWidget() is page.empty_state
    assert not page.search_field.isVisible()
    page.empty_sample_button.click()
    qtbot.waitUntil(lambda: page.visible_names() == ["Hello world"], timeout=5000)
    assert page.body.currentWidget() is page.splitter
    assert page.preview.title.text() == "Hello world"
    assert page.preview.tags_value.text() == "sample"


def test_settings_dialog_saves_and_the_list_follows(page, monkeypatch, ui_context):
    select(page, "Invoice webhook")

    def edit_and_save(dialog: FlowSettingsDialog) -> int:
        dialog.name_field.setText("Invoice webhook (billing)")
        dialog.save()
        return dialog.result()

    monkeypatch.setattr(FlowSettingsDialog, "exec", edit_and_save)
    page.settings_action.trigger()
    assert "Invoice webhook (billing)" in page.visible_names()
    assert page.selected_flow().name == "Invoice webhook (billing)"
    assert page.preview.title.text() == "Invoice webhook (billing)"


def test_delete_key_on_the_table_asks_but_not_in_the_search_box(page, qtbot, monkeypatch):
    asked: list[str] = []
    monkeypatch.setattr(QMessageBox, "question",
                        lambda _p, _t, text, *a, **k: asked.append(text) or QMessageBox.StandardButton.No)
    page.search_field.setText("Deals")
    page.search_field.setFocus()
    qtbot.keyClick(page.search_field, Qt.Key.Key_Delete)
    assert asked == []
    page.table.setFocus()
    qtbot.keyClick(page.table, Qt.Key.Key_Delete)
    assert len(asked) == 1 and "Deals migration" in asked[0]


def test_every_bundled_sample_imports_from_the_menu_and_validates(make_page, qtbot, ui_context):
    page = make_page()
    assert set(page.sample_buttons) == set(page.sample_actions) == set(bundled.sample_flow_names())
    assert {"hello-world.json", "contacts-migration.json", "company-webhook.json"} <= set(page.sample_actions)
    for file_name, action in page.sample_actions.items():
        assert action.toolTip() == bundled.SAMPLE_DESCRIPTIONS[file_name]
        action.trigger()
        name = page.samples[file_name].name
        qtbot.waitUntil(lambda: page.selected_flow() is not None and page.selected_flow().name == name,
                        timeout=5000)
        document = json.loads(ui_context.services.flows.export(page.selected_uuid()))
        assert validate_flow(json.dumps(document))["name"] == name
        compile_flow(document)  # every block's deeper checks (expressions, paths) pass too
    assert len(ui_context.services.flows.list()) == len(page.sample_actions)
    migration = json.loads(ui_context.services.flows.export(page.samples["contacts-migration.json"].document["uuid"]))
    path = Path(next(b for b in migration["blocks"] if b["type"] == "file_read")["config"]["path"])
    # Absolute, so the flow reads its CSV wherever the app was started from (installed or frozen too).
    assert path.is_absolute() and path.is_file()
    assert path.read_bytes() == bundled.resource_file("flows", "data", "contacts.csv").read_bytes()


def test_importing_a_sample_again_asks_before_replacing_the_stored_copy(make_page, qtbot, ui_context, monkeypatch):
    page = make_page()
    page.sample_buttons["hello-world.json"].click()
    qtbot.waitUntil(lambda: page.visible_names() == ["Hello world"], timeout=5000)
    flows = ui_context.services.flows
    document = json.loads(flows.export(page.selected_uuid()))
    document["name"] = "Hello world (mine)"
    flows.save(document)
    page.refresh()
    asked = answer(monkeypatch, QMessageBox.StandardButton.No)
    page.sample_actions["hello-world.json"].trigger()
    assert len(asked) == 1 and "Hello world (mine)" in asked[0]
    assert not page.is_busy() and page.visible_names() == ["Hello world (mine)"]
    answer(monkeypatch, QMessageBox.StandardButton.Yes)
    page.sample_actions["hello-world.json"].trigger()
    qtbot.waitUntil(lambda: page.visible_names() == ["Hello world"], timeout=5000)
