"""Global Settings: a key created in the UI launches a flow over HTTP until revoked; .env edits; flushing."""

from __future__ import annotations

import re
import time

import pytest
from dotenv import dotenv_values
from PySide6.QtCore import QDate, Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QLineEdit, QMessageBox
from sqlalchemy import update

from ziggy_desktop.errors import NotFoundError
from ziggy_desktop.executions import LaunchRequest
from ziggy_desktop.models import Execution
from ziggy_desktop.ui.bridge import Background
from ziggy_desktop.ui.key_dialogs import STORE_WARNING, KeyNameDialog, NewKeyDialog
from ziggy_desktop.ui.keys_model import KEY_ROLE, LAST_USED, NAME, PREFIX, STATUS
from ziggy_desktop.config import is_loopback_name
from ziggy_desktop.ui.settings_dialog import GlobalSettingsDialog, SecurityTab

from ..helpers import ApiClient, make_flow
from .qt_helpers import answer

KEY_PATTERN = re.compile(r"^zgy_[A-Za-z0-9_-]{43}$")
YES, NO = QMessageBox.StandardButton.Yes, QMessageBox.StandardButton.No


@pytest.fixture
def background(qapp):
    worker = Background()
    yield worker
    worker.shutdown()


@pytest.fixture
def message_boxes(monkeypatch) -> list[str]:
    """A real message box would block the test forever: record them instead, and refuse questions
    that a test did not expect (tests answer them with `answer`)."""
    shown: list[str] = []

    def record(_parent, title, text, *_args, **_kwargs):
        shown.append(f"{title}: {text}")
        return QMessageBox.StandardButton.Ok

    def unexpected(_parent, title, text, *_args, **_kwargs):
        shown.append(f"unexpected question {title}: {text}")
        return QMessageBox.StandardButton.No

    for name in ("warning", "information", "critical"):
        monkeypatch.setattr(QMessageBox, name, record)
    monkeypatch.setattr(QMessageBox, "question", unexpected)
    return shown


@pytest.fixture
def dialog(qtbot, ui_context, background, monkeypatch, tmp_path, message_boxes):
    monkeypatch.chdir(tmp_path)  # no stray working-dir .env shadows what the dialog writes
    window = GlobalSettingsDialog(ui_context, background)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    yield window
    # A real QMessageBox would block the teardown: close any one-time dialog without asking.
    key_dialog = window.security_tab.new_key_dialog
    if key_dialog is not None and key_dialog.isVisible():
        monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: YES)
        key_dialog.reject()
    assert not [text for text in message_boxes if "unexpected" in text or "went wrong" in text]


def create_key_in_ui(qtbot, tab: SecurityTab, name: str) -> NewKeyDialog:
    """Click '+ Execution key', type the name into the prompt, and wait for the one-time dialog."""
    previous = tab.new_key_dialog
    tab.create_button.click()
    prompt = tab.name_dialog
    assert isinstance(prompt, KeyNameDialog) and prompt.isVisible()
    assert not prompt.ok_button.isEnabled()
    qtbot.keyClicks(prompt.name_edit, name)
    assert prompt.ok_button.isEnabled()
    prompt.ok_button.click()
    qtbot.waitUntil(lambda: tab.new_key_dialog is not previous and tab.new_key_dialog is not None
                    and tab.new_key_dialog.isVisible(), timeout=5000)
    return tab.new_key_dialog


def confirm_close(monkeypatch, key_dialog: NewKeyDialog) -> None:
    answer(monkeypatch, YES)
    key_dialog.close_button.click()
    assert not key_dialog.isVisible()


def cell(model, row: int, column: int, role=Qt.ItemDataRole.DisplayRole):
    return model.data(model.index(row, column), role)


def test_key_from_settings_launches_over_http_until_revoked_in_the_ui(qtbot, dialog, ui_context, monkeypatch):
    flow, _ = ui_context.services.flows.save(make_flow(name="Proof flow"))
    tab = dialog.security_tab

    key_dialog = create_key_in_ui(qtbot, tab, "Postman")
    key = key_dialog.key_edit.text()
    assert key_dialog.key_edit.isReadOnly()
    assert KEY_PATTERN.match(key), key
    assert key_dialog.warning.text() == STORE_WARNING
    key_dialog.copy_button.click()
    assert QGuiApplication.clipboard().text() == key
    confirm_close(monkeypatch, key_dialog)
    assert key_dialog.key_edit.text() == ""  # not left behind in a hidden widget

    assert tab.model.rowCount() == 1
    assert cell(tab.model, 0, NAME) == "Postman"
    assert cell(tab.model, 0, PREFIX) == key[:12] + "…"
    assert cell(tab.model, 0, LAST_USED) == "Never"

    client = ApiClient(ui_context.api_url, key)
    launched = client.launch(flow.uuid, {"hello": "world"})
    assert launched.status == 202, launched.body
    execution_id = launched.json["executionId"]
    assert client.wait_finished(execution_id)["terminationStatus"] == "SUCCESS"
    tab.refresh()
    assert cell(tab.model, 0, LAST_USED) != "Never"

    tab.table.selectRow(0)
    asked = answer(monkeypatch, YES)
    tab.revoke_button.click()
    assert "401" in asked[0]
    qtbot.waitUntil(lambda: tab.model.key_at(0).revoked, timeout=5000)
    assert cell(tab.model, 0, STATUS).startswith("Revoked ")
    assert not tab.revoke_button.isEnabled()

    assert client.launch(flow.uuid, {"hello": "again"}).status == 401
    assert client.status(execution_id).status == 401


def test_revoke_declined_keeps_the_key_working(qtbot, dialog, ui_context, monkeypatch):
    flow, _ = ui_context.services.flows.save(make_flow())
    tab = dialog.security_tab
    key_dialog = create_key_in_ui(qtbot, tab, "CRM webhook")
    key = key_dialog.key_edit.text()
    confirm_close(monkeypatch, key_dialog)
    tab.table.selectRow(0)
    answer(monkeypatch, NO)
    tab.revoke_button.click()
    assert not tab.model.key_at(0).revoked
    assert ApiClient(ui_context.api_url, key).launch(flow.uuid).status == 202


def test_closing_the_key_dialog_needs_confirmation(qtbot, dialog, monkeypatch):
    tab = dialog.security_tab
    key_dialog = create_key_in_ui(qtbot, tab, "CI")
    key = key_dialog.key_edit.text()
    asked = answer(monkeypatch, NO)

    key_dialog.close_button.click()
    assert key_dialog.isVisible()
    qtbot.keyClick(key_dialog, Qt.Key.Key_Escape)
    assert key_dialog.isVisible()
    key_dialog.close()  # the window's X
    assert key_dialog.isVisible()
    assert len(asked) == 3 and all("stored" in text for text in asked)
    assert key_dialog.key_edit.text() == key

    answer(monkeypatch, YES)
    key_dialog.close()
    assert not key_dialog.isVisible()


def test_name_prompt_refuses_an_empty_name(qtbot, dialog):
    tab = dialog.security_tab
    tab.create_button.click()
    prompt = tab.name_dialog
    qtbot.keyClicks(prompt.name_edit, "   ")
    assert not prompt.ok_button.isEnabled()
    assert "empty" in prompt.hint.text()
    qtbot.keyClick(prompt.name_edit, Qt.Key.Key_Return)
    assert prompt.isVisible()
    prompt.reject()
    assert tab.new_key_dialog is None
    assert tab.model.rowCount() == 0


def test_keys_table_never_holds_a_clear_key_and_passes_the_model_tester(qtbot, dialog, monkeypatch,
                                                                        qtmodeltester):
    tab = dialog.security_tab
    clear_keys = []
    for name in ("Postman", "CRM webhook", "CI"):
        key_dialog = create_key_in_ui(qtbot, tab, name)
        clear_keys.append(key_dialog.key_edit.text())
        confirm_close(monkeypatch, key_dialog)
    tab.table.selectRow(1)
    answer(monkeypatch, YES)
    tab.revoke_button.click()
    qtbot.waitUntil(lambda: tab.model.key_at(1).revoked, timeout=5000)

    model = tab.model
    assert model.rowCount() == 3
    roles = (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole, KEY_ROLE)
    cells = [repr(cell(model, row, column, role)) for row in range(model.rowCount())
             for column in range(model.columnCount()) for role in roles]
    for key in clear_keys:
        secret_part = key[12:]  # everything past the stored display prefix
        assert not any(secret_part in text for text in cells)
    # Nor anywhere in the dialog's own fields once the one-time dialogs are closed.
    fields = [field.text() for field in dialog.findChildren(QLineEdit)]
    assert not any(key[12:] in text for key in clear_keys for text in fields)

    revoked_colour = cell(model, 1, NAME, Qt.ItemDataRole.ForegroundRole)
    active_colour = cell(model, 0, NAME, Qt.ItemDataRole.ForegroundRole)
    assert revoked_colour is not None and active_colour is None  # revoked rows are greyed
    qtmodeltester.check(model)


def test_rename_shows_in_the_table(qtbot, dialog, monkeypatch, message_boxes):
    tab = dialog.security_tab
    confirm_close(monkeypatch, create_key_in_ui(qtbot, tab, "Old name"))
    tab.table.selectRow(0)
    tab.rename_button.click()
    prompt = tab.name_dialog
    assert prompt.name_edit.text() == "Old name"
    prompt.name_edit.clear()
    assert not prompt.ok_button.isEnabled()
    qtbot.keyClicks(prompt.name_edit, "Postman (staging)")
    prompt.ok_button.click()
    qtbot.waitUntil(lambda: cell(tab.model, 0, NAME) == "Postman (staging)", timeout=5000)
    assert tab.selected_key().name == "Postman (staging)"

    tab.rename_key(999, "Ghost")  # a failure the user can act on is shown as the core's message
    qtbot.waitUntil(lambda: bool(message_boxes), timeout=5000)
    assert "No execution key matches" in message_boxes[0]
    assert tab.create_button.isEnabled()  # no longer busy


def test_server_tab_writes_the_port_and_refuses_a_bad_one(qtbot, dialog, ui_context):
    dialog.show_tab("server")
    tab = dialog.server_tab
    env_file = ui_context.settings.env_file
    assert ui_context.api_url in tab.api_label.text()
    assert str(env_file) in tab.env_file_field.text()

    tab.port_edit.setText("3456")
    assert tab.save()
    assert dotenv_values(env_file)["ZIGGY_PORT"] == "3456"
    assert tab.notice.kind == "ok"
    assert f"Saved to {env_file}" in tab.notice.text() and "Restart Ziggy Desktop" in tab.notice.text()

    before = env_file.read_text()
    tab.port_edit.setText("70000")
    tab.save_button.click()
    assert tab.notice.kind == "error" and tab.notice.isVisible()
    assert "ZIGGY_PORT" in tab.notice.text()
    assert env_file.read_text() == before


def test_server_tab_warns_when_the_host_is_not_loopback(dialog):
    dialog.show_tab("server")
    tab = dialog.server_tab
    assert not tab.host_warning.isVisible()
    tab.host_edit.setText("0.0.0.0")
    assert tab.host_warning.isVisible() and "network" in tab.host_warning.text()
    tab.host_edit.setText("127.0.0.1")
    assert not tab.host_warning.isVisible()
    assert is_loopback_name("localhost") and is_loopback_name("::1") and is_loopback_name("127.0.0.5")
    assert not is_loopback_name("192.168.1.10") and not is_loopback_name("example.com")


def test_flows_and_queues_tabs_save_to_the_env_file(dialog, ui_context):
    env_file = ui_context.settings.env_file
    flows_tab = dialog.flows_tab
    flows_tab.timeout_spin.setValue(120)
    flows_tab.retention_spin.setValue(30)
    flows_tab.save_button.click()
    queues_tab = dialog.queues_tab
    queues_tab.jobs_spin.setValue(4)
    queues_tab.backlog_spin.setValue(500)
    queues_tab.save_button.click()
    values = dotenv_values(env_file)
    assert values["ZIGGY_DEFAULT_TIMEOUT_SECONDS"] == "120"
    assert values["ZIGGY_HISTORY_RETENTION_DAYS"] == "30"
    assert values["MAX_CONCURENT_JOBS"] == "4"
    assert values["MAX_SYSTEM_QUEUE_SIZE"] == "500"
    assert "Restart Ziggy Desktop" in flows_tab.notice.text()
    assert "Restart Ziggy Desktop" in queues_tab.notice.text()
    assert "running" in queues_tab.live_label.text() and "queued" in queues_tab.live_label.text()
    dialog.show_tab("queues")
    assert queues_tab._timer.isActive()  # live counts poll only while the tab is shown
    dialog.show_tab("server")
    assert not queues_tab._timer.isActive()

    # Reopened before a restart, the dialog shows the saved values and says they wait for one.
    reopened = GlobalSettingsDialog(ui_context, dialog.security_tab.background)
    try:
        assert reopened.queues_tab.jobs_spin.value() == 4
        assert reopened.flows_tab.retention_spin.value() == 30
        assert "not applied yet" in reopened.queues_tab.notice.text()
    finally:
        reopened.deleteLater()


def test_flush_before_date_deletes_only_older_finished_runs(qtbot, dialog, ui_context, monkeypatch):
    services = ui_context.services
    quick, _ = services.flows.save(make_flow(test_data=[{"n": 1}]))
    slow, _ = services.flows.save(make_flow({"type": "delay", "config": {"ms": 20000}}, name="Slow"))
    old_id, new_id = (services.executions.launch(LaunchRequest(quick.uuid, trigger="UI", use_test_data=True))
                      .view.execution_id for _ in range(2))
    running_id = services.executions.launch(LaunchRequest(slow.uuid, trigger="UI")).view.execution_id
    for execution_id in (old_id, new_id):
        assert services.executions.wait_finished(execution_id, timeout=10).finished
    qtbot.waitUntil(lambda: services.executions.get(running_id).state == "RUNNING", timeout=5000)
    ten_days_ago = time.time() - 10 * 86400
    table = Execution.__table__
    with services.engine.begin() as conn:
        conn.execute(update(table).where(table.c.execution_id.in_([old_id, running_id]))
                     .values(created_at=ten_days_ago))

    dialog.show_tab("flows")
    tab = dialog.flows_tab
    tab.flush_date.setDate(QDate.currentDate().addDays(-2))
    asked = answer(monkeypatch, YES)
    tab.flush_button.click()
    assert "Delete 1 finished run " in asked[0]
    qtbot.waitUntil(lambda: tab.flush_notice.kind == "ok", timeout=5000)
    assert "Flushed 1 run" in tab.flush_notice.text()

    with pytest.raises(NotFoundError):
        services.executions.get(old_id)
    assert services.executions.get(new_id).finished
    assert services.executions.get(running_id).state == "RUNNING"  # never flushed while it runs

    asked = answer(monkeypatch, YES)
    tab.flush_button.click()
    assert asked == []  # nothing left before that date: no question, just a note
    assert "nothing to flush" in tab.flush_notice.text()
    services.executions.kill(running_id, allow_running=True)
