"""Flow settings: the generated URL and curl really launch the flow; Postman file; editing and saving."""

from __future__ import annotations

import http.client
import json
import shlex
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
from PySide6.QtWidgets import QApplication, QDialog, QFileDialog

from ziggy_desktop.launch_links import KEY_PLACEHOLDER, POSTMAN_SCHEMA
from ziggy_desktop.ui.context import UiContext
from ziggy_desktop.ui.flow_settings_dialog import FlowSettingsDialog

from ..helpers import make_flow

TEST_DATA = [{"email": "ada@example.com", "name": "Ada"}]


@pytest.fixture
def flow(ui_context) -> dict:
    document = make_flow({"type": "console", "id": "log", "config": {"message": "got", "includeData": True}},
                         name="Contacts sync", test_data=TEST_DATA)
    document["tags"] = ["hubspot", "nightly"]
    ui_context.services.flows.save(document)
    return document


@pytest.fixture
def key(ui_context) -> str:
    return ui_context.services.keys.create("Settings dialog test")[1]


@pytest.fixture
def dialog(qtbot, ui_context, flow) -> FlowSettingsDialog:
    widget = FlowSettingsDialog(ui_context, flow["uuid"])
    qtbot.addWidget(widget)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def clipboard() -> str:
    return QApplication.clipboard().text()


def http_status(context: UiContext, key: str, execution_id: str) -> tuple[int, dict]:
    split = urlsplit(context.api_url)
    conn = http.client.HTTPConnection(split.hostname, split.port, timeout=10)
    try:
        conn.request("GET", f"/api/ziggy/execution-status/{execution_id}", headers={"execution-key": key})
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


def wait_status(qtbot, context: UiContext, key: str, execution_id: str) -> dict:
    answers: list[tuple[int, dict]] = []

    def finished() -> bool:
        answers.append(http_status(context, key, execution_id))
        return answers[-1][0] == 200

    qtbot.waitUntil(finished, timeout=10_000)
    return answers[-1][1]


def test_identifier_is_shown_and_copied(dialog, flow):
    assert dialog.uuid_field.text() == flow["uuid"]
    assert dialog.uuid_field.isReadOnly()
    dialog.copy_uuid_button.click()
    assert clipboard() == flow["uuid"]


def test_url_with_a_pasted_key_launches_the_flow_over_http(dialog, qtbot, ui_context, flow, key):
    dialog.key_field.setText(key)  # what a paste does
    dialog.prod_radio.click()
    dialog.copy_url_button.click()
    url = clipboard()
    assert url.startswith(f"{ui_context.api_url}/api?flowUuid={flow['uuid']}&execution-key={key}&")
    assert dict(parse_qsl(urlsplit(url).query))["executionId"] == dialog.execution_id
    assert "Copied the launch URL" in dialog.feedback_label.text()
    request = urllib.request.Request(url, data=b"", method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 202
        answer = json.loads(response.read())
    assert answer["executionId"] == dialog.execution_id
    finished = wait_status(qtbot, ui_context, key, dialog.execution_id)
    assert finished["terminationStatus"] == "SUCCESS"
    assert finished["executionEnvironmentMode"] == "PROD"
    assert finished["flowName"] == "Contacts sync"


def test_without_a_key_the_url_has_the_placeholder_and_is_refused(dialog, ui_context, flow):
    assert dialog.launch_url() == (f"{ui_context.api_url}/api?flowUuid={flow['uuid']}&execution-key="
                                   f"{KEY_PLACEHOLDER}&executionEnvironmentMode=DEV&executionId={dialog.execution_id}")
    assert dialog.url_field.toPlainText() == dialog.launch_url()
    assert KEY_PLACEHOLDER in dialog.key_status.text()
    dialog.no_id_radio.click()
    url = dialog.launch_url().replace(KEY_PLACEHOLDER, "zgy_not-a-real-key")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(urllib.request.Request(url, data=b"", method="POST"), timeout=10)
    assert refused.value.code == 401


def test_the_key_is_masked_on_screen_until_shown(dialog, key):
    dialog.key_field.setText(key)
    assert key not in dialog.url_field.toPlainText()
    assert "execution-key=••••" in dialog.url_field.toPlainText()
    dialog.show_key_button.click()
    assert key in dialog.url_field.toPlainText()
    assert dialog.key_field.echoMode() == dialog.key_field.EchoMode.Normal
    dialog.show_key_button.click()
    assert key not in dialog.url_field.toPlainText()


def test_key_status_tells_valid_unknown_and_revoked_keys(dialog, ui_context, key):
    dialog.key_field.setText(key)
    assert "valid key" in dialog.key_status.text() and "Settings dialog test" in dialog.key_status.text()
    dialog.key_field.setText("zgy_nope")
    assert "not valid" in dialog.key_status.text()
    ui_context.services.keys.revoke("Settings dialog test")
    dialog.key_field.setText(key)
    assert "revoked" in dialog.key_status.text()


def test_execution_id_choice_mode_and_regenerate(dialog):
    first = dialog.execution_id
    assert f"executionId={first}" in dialog.launch_url()
    dialog.regenerate_button.click()
    assert dialog.execution_id != first
    assert f"executionId={dialog.execution_id}" in dialog.url_field.toPlainText()
    dialog.no_id_radio.click()
    assert "executionId" not in dialog.url_field.toPlainText()
    assert not dialog.regenerate_button.isEnabled()
    dialog.prod_radio.click()
    assert "executionEnvironmentMode=PROD" in dialog.url_field.toPlainText()
    dialog.dev_radio.click()
    assert "executionEnvironmentMode=DEV" in dialog.url_field.toPlainText()


def test_copy_curl_puts_the_key_in_a_header_and_the_test_data_in_the_body(dialog, qtbot, ui_context, key):
    dialog.key_field.setText(key)
    dialog.copy_curl_button.click()
    parts = shlex.split(clipboard())
    assert parts[:3] == ["curl", "-X", "POST"]
    assert key not in parts[3]
    assert "execution-key: " + key in parts
    assert json.loads(parts[parts.index("-d") + 1]) == TEST_DATA
    # Send exactly what curl would, and check the flow received the body.
    split = urlsplit(parts[3])
    headers = dict(parts[i + 1].split(": ", 1) for i, part in enumerate(parts) if part == "-H")
    conn = http.client.HTTPConnection(split.hostname, split.port, timeout=10)
    conn.request("POST", f"{split.path}?{split.query}", body=parts[parts.index("-d") + 1].encode(), headers=headers)
    response = conn.getresponse()
    assert response.status == 202
    response.read()
    conn.close()
    assert wait_status(qtbot, ui_context, key, dialog.execution_id)["terminationStatus"] == "SUCCESS"
    assert ui_context.services.executions.detail(dialog.execution_id).result == TEST_DATA


def test_save_postman_collection(dialog, monkeypatch, tmp_path: Path, flow, key):
    target = tmp_path / "contacts.postman_collection.json"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), ""))
    dialog.key_field.setText(key)
    dialog.postman_button.click()
    collection = json.loads(target.read_text(encoding="utf-8"))
    assert collection["info"]["schema"] == POSTMAN_SCHEMA
    assert [item["name"] for item in collection["item"]] == ["Launch Contacts sync", "Execution status"]
    variables = {v["key"]: v["value"] for v in collection["variable"]}
    assert variables["flowUuid"] == flow["uuid"] and variables["executionKey"] == key
    assert json.loads(collection["item"][0]["request"]["body"]["raw"]) == TEST_DATA
    assert "contacts.postman_collection.json" in dialog.feedback_label.text()


def test_editing_and_saving_changes_the_stored_flow(dialog, qtbot, ui_context, flow):
    dialog.name_field.setText("Contacts sync (nightly)")
    dialog.tags_field.setText(" hubspot ,  crm,, ")
    dialog.timeout_spin.setValue(900)
    dialog.history_combo.setCurrentIndex(dialog.history_combo.findData("ALL"))
    with qtbot.waitSignal(dialog.saved, timeout=2000) as blocker:
        dialog.save_button.click()
    assert blocker.args == [flow["uuid"]]
    assert dialog.result() == QDialog.DialogCode.Accepted
    stored = ui_context.services.flows.get_document(flow["uuid"])
    assert stored["name"] == "Contacts sync (nightly)"
    assert stored["tags"] == ["hubspot", "crm"]
    assert stored["settings"] == {"timeoutSeconds": 900, "historyLevel": "ALL", "retentionHours": 24}
    assert [b["id"] for b in stored["blocks"]] == [b["id"] for b in flow["blocks"]]  # the graph is untouched
    assert [f.version for f in ui_context.services.flows.list()] == [2]


def test_retention_hours_follow_the_time_limited_levels_and_are_saved(dialog, qtbot, ui_context, flow):
    assert dialog.history_combo.currentData() == "ALL"  # as make_flow stores it
    assert not dialog.retention_spin.isEnabled()
    assert "every run's data" in dialog.history_help.text()
    dialog.history_combo.setCurrentIndex(dialog.history_combo.findData("ERRORED_WITH_DATA"))
    assert "failed" in dialog.history_help.text() and not dialog.retention_spin.isEnabled()
    dialog.history_combo.setCurrentIndex(dialog.history_combo.findData("TIME_LIMITED_NO_DATA"))
    assert dialog.retention_spin.isEnabled()
    assert "deletes the runs older than" in dialog.history_help.text()
    dialog.retention_spin.setValue(72)
    with qtbot.waitSignal(dialog.saved, timeout=2000):
        dialog.save_button.click()
    settings = ui_context.services.flows.get_document(flow["uuid"])["settings"]
    assert (settings["historyLevel"], settings["retentionHours"]) == ("TIME_LIMITED_NO_DATA", 72)
    assert ui_context.services.flows.time_limited_retention() == {flow["uuid"]: 72.0}
    reopened = FlowSettingsDialog(ui_context, flow["uuid"])
    qtbot.addWidget(reopened)
    assert reopened.retention_spin.value() == 72 and reopened.retention_spin.isEnabled()


def test_invalid_settings_are_shown_inline_and_nothing_is_saved(dialog, qtbot, ui_context, flow):
    dialog.name_field.setText("   ")
    with qtbot.assertNotEmitted(dialog.saved):
        dialog.save_button.click()
    assert dialog.error_label.isVisible()
    assert "name" in dialog.error_label.text()
    assert dialog.isVisible() and dialog.result() != QDialog.DialogCode.Accepted
    assert ui_context.services.flows.get_document(flow["uuid"])["name"] == "Contacts sync"
    dialog.name_field.setText("Fixed")
    dialog.save_button.click()
    assert ui_context.services.flows.get_document(flow["uuid"])["name"] == "Fixed"


def test_without_the_api_the_configured_address_is_used_with_a_note(qtbot, ui_context, flow):
    context = UiContext(ui_context.services, None, "port 3000 is in use", ui_context.shutdown)
    widget = FlowSettingsDialog(context, flow["uuid"])
    qtbot.addWidget(widget)
    assert widget.launch_url().startswith(f"{ui_context.settings.base_url}/api?")
    assert widget.api_note is not None and "port 3000 is in use" in widget.api_note.text()
