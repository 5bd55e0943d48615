"""Named queues on the Queues page: add, pause (a run waits), resume (it runs), edit the rate, delete."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QDialog, QMessageBox

from ziggy_desktop.executions import LaunchRequest, body_fingerprint
from ziggy_desktop.ui import named_queues as named_queues_module
from ziggy_desktop.ui.main_window import MainWindow
from ziggy_desktop.ui.named_queues import NamedQueueDialog

from ..helpers import make_flow
from .qt_helpers import answer

WAIT_MS = 10_000


def launch(services, flow_uuid: str) -> str:
    return services.executions.launch(LaunchRequest(flow_uuid, "DEV", None, None, body_fingerprint(None, False),
                                                    "UI", use_test_data=True)).view.execution_id


def fake_dialog(monkeypatch, name: str | None, rate: float, outcome=QDialog.DialogCode.Accepted) -> list:
    """The add/edit dialog filled in and saved as a user would (exec would block the test)."""
    shown: list[NamedQueueDialog] = []

    def exec_(dialog: NamedQueueDialog) -> int:
        shown.append(dialog)
        if name is not None:
            dialog.name_field.setText(name)
        dialog.rate_spin.setValue(rate)
        dialog.accept()
        return outcome if dialog.result() == QDialog.DialogCode.Accepted else QDialog.DialogCode.Rejected

    monkeypatch.setattr(NamedQueueDialog, "exec", exec_)
    return shown


def row(panel, name: str) -> list[str]:
    index = panel.model.row_of(name)
    assert index is not None, f"{name} is not shown"
    return [panel.model.index(index, column).data() for column in range(panel.model.columnCount())]


def test_add_pause_holds_a_run_resume_releases_it_edit_and_delete(main_window: MainWindow, qtbot, qtmodeltester,
                                                                   monkeypatch):
    services = main_window.context.services
    main_window.show_page("queues")
    panel = main_window.queues_page.named_panel
    assert panel.stack.currentWidget() is panel.empty_label

    fake_dialog(monkeypatch, "crm", 0)
    panel.add_button.click()
    qtbot.waitUntil(lambda: panel.model.row_of("crm") is not None, timeout=WAIT_MS)
    assert row(panel, "crm") == ["crm", "no limit", "Active", "0", "0"]
    assert services.named_queues.get("crm").rate_per_second == 0
    qtmodeltester.check(panel.model)

    panel.table.selectRow(panel.model.row_of("crm"))
    assert panel.pause_button.text() == "Pause"
    panel.pause_button.click()
    qtbot.waitUntil(lambda: row(panel, "crm")[2] == "Paused", timeout=WAIT_MS)
    assert services.named_queues.get("crm").paused
    assert panel.pause_button.text() == "Resume"

    document = make_flow(name="On the crm queue", test_data={"n": 1})
    document["blocks"][0]["config"]["queue"] = "crm"
    flow = services.flows.save(document)[0]
    execution_id = launch(services, flow.uuid)
    # The paused queue holds the run: it shows waiting on the named queue and in the system queue.
    qtbot.waitUntil(lambda: row(panel, "crm")[3] == "1", timeout=WAIT_MS)
    system = main_window.queues_page
    qtbot.waitUntil(lambda: system.model.rowCount() == 1, timeout=WAIT_MS)
    assert system.model.index(0, 0).data() == "QUEUED"
    assert services.executions.get(execution_id).state == "QUEUED"

    panel.pause_button.click()  # Resume
    qtbot.waitUntil(lambda: services.executions.get(execution_id).termination_status == "SUCCESS", timeout=WAIT_MS)
    qtbot.waitUntil(lambda: row(panel, "crm")[2:] == ["Active", "0", "0"], timeout=WAIT_MS)
    qtbot.waitUntil(lambda: system.model.rowCount() == 0, timeout=WAIT_MS)

    fake_dialog(monkeypatch, None, 2.5)
    panel.table.selectRow(panel.model.row_of("crm"))
    panel.edit_button.click()
    qtbot.waitUntil(lambda: row(panel, "crm")[1] == "2.5 runs/s", timeout=WAIT_MS)
    assert services.named_queues.get("crm").rate_per_second == 2.5

    asked = answer(monkeypatch, QMessageBox.StandardButton.No)
    panel.delete_button.click()
    assert "crm" in asked[0]
    assert panel.model.row_of("crm") is not None  # No keeps it
    answer(monkeypatch, QMessageBox.StandardButton.Yes)
    panel.delete_button.click()
    qtbot.waitUntil(lambda: panel.model.rowCount() == 0, timeout=WAIT_MS)
    assert [q.name for q in services.named_queues.list()] == []
    assert panel.stack.currentWidget() is panel.empty_label


def test_dialog_refuses_a_bad_or_taken_name(qtbot):
    dialog = NamedQueueDialog(None, {"crm"})
    qtbot.addWidget(dialog)
    dialog.name_field.setText("  ")
    dialog.accept()
    assert dialog.result() != QDialog.DialogCode.Accepted
    assert "queue name" in dialog.error_label.text()
    dialog.name_field.setText("crm")
    dialog.accept()
    assert "exists already" in dialog.error_label.text()
    dialog.name_field.setText("erp-nightly")
    dialog.rate_spin.setValue(0)
    assert dialog.rate_spin.text() == "No limit"
    dialog.accept()
    assert dialog.result() == QDialog.DialogCode.Accepted
    assert dialog.values() == ("erp-nightly", 0.0)


def test_a_failed_save_says_why(main_window: MainWindow, qtbot, monkeypatch):
    main_window.show_page("queues")
    panel = main_window.queues_page.named_panel
    warnings: list[str] = []
    monkeypatch.setattr(QMessageBox, "warning", lambda _parent, _title, text, *a, **k: warnings.append(text))
    fake_dialog(monkeypatch, "limited", named_queues_module.MAX_RATE)
    # The spin box caps the rate; a rate the store refuses still comes back as a message, not a crash.
    monkeypatch.setattr(NamedQueueDialog, "values", lambda self: ("limited", -1.0))
    panel.add_button.click()
    qtbot.waitUntil(lambda: bool(warnings), timeout=WAIT_MS)
    assert "ratePerSecond" in warnings[0]
    assert panel.model.rowCount() == 0


@pytest.fixture(autouse=True)
def _no_real_dialogs(monkeypatch):
    # A real modal dialog left open would block the test run.
    monkeypatch.setattr(QMessageBox, "information", lambda *a, **k: QMessageBox.StandardButton.Ok)
