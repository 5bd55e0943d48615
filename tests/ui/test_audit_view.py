"""The history detail's Audit tab: the lines a run's Audit blocks wrote, errors marked and filterable, data below."""

from __future__ import annotations

import json
import time

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush

from ziggy_desktop.audit import AuditLine
from ziggy_desktop.executions import LaunchRequest, body_fingerprint
from ziggy_desktop.ui.audit_view import BLOCK, COLUMNS, DATA, IDENTIFIER, LEVEL, TOPIC, AuditTableModel, AuditView
from ziggy_desktop.ui.history_page import HistoryPage
from ziggy_desktop.ui.style import status_color

from ..helpers import make_flow

WAIT_MS = 15_000
CONTACTS = [{"email": "ada@example.com", "id": "c-1"}, {"email": "alan@example.com", "id": "c-2"},
            {"email": "grace@example.com", "id": "c-3"}]


def line(line_id: int, *, is_error: bool = False, data=None, topic: str = "contact-import") -> AuditLine:
    return AuditLine(line_id, "run-1", "flow-1", "check", topic, f"user{line_id}@example.com", f"hs-{line_id}",
                     None, data, is_error, time.time())


def test_model_passes_qtmodeltester_and_filters_errors(qtmodeltester, qapp):
    model = AuditTableModel()
    qtmodeltester.check(model)
    lines = [line(1, data={"email": "a"}), line(2, is_error=True, data={"why": "x" * 500}), line(3),
             line(4, is_error=True)]
    model.set_lines(lines, {"check": "Check rows"})
    assert model.rowCount() == 4 and model.columnCount() == len(COLUMNS)
    qtmodeltester.check(model)
    assert [model.index(r, LEVEL).data() for r in range(4)] == ["Info", "Error", "Info", "Error"]
    assert model.index(0, BLOCK).data() == "Check rows"
    assert model.index(0, BLOCK).data(Qt.ItemDataRole.ToolTipRole) == "Block id: check"
    assert json.loads(model.index(0, DATA).data()) == {"email": "a"}
    assert model.index(1, DATA).data().endswith("…")  # a long value is cut in the table, whole below
    brush = model.index(1, TOPIC).data(Qt.ItemDataRole.ForegroundRole)
    assert isinstance(brush, QBrush) and brush.color() == status_color("FATAL")
    assert model.index(0, TOPIC).data(Qt.ItemDataRole.ForegroundRole) is None
    model.set_errors_only(True)
    qtmodeltester.check(model)
    assert [model.line(r).id for r in range(model.rowCount())] == [2, 4]
    assert model.total() == 4 and model.error_count() == 2
    model.set_lines([])
    qtmodeltester.check(model)


def test_view_keeps_the_selected_line_when_the_filter_changes(qtbot):
    view = AuditView()
    qtbot.addWidget(view)
    view.show_lines("run-1", [line(1, data={"n": 1}), line(2, is_error=True, data={"n": 2}), line(3)], {})
    assert view.stack.currentIndex() == 1
    assert json.loads(view.data_text.toPlainText()) == {"n": 1}  # the first line is selected
    view.table.selectRow(1)
    assert json.loads(view.data_text.toPlainText()) == {"n": 2}
    view.errors_only.setChecked(True)
    assert view.model.rowCount() == 1 and view.selected_line().id == 2
    view.errors_only.setChecked(False)
    assert view.model.rowCount() == 3 and view.selected_line().id == 2
    view.table.selectRow(2)
    assert view.data_text.toPlainText() == "" and "includeData" in view.data_text.placeholderText()
    # Another run starts with every line shown; the same run read again keeps the user's choices.
    view.errors_only.setChecked(True)
    view.show_lines("run-1", [line(1), line(2, is_error=True), line(3), line(5, is_error=True)], {})
    assert view.errors_only.isChecked() and [view.model.line(r).id for r in range(2)] == [2, 5]
    view.show_lines("run-2", [line(7)], {})
    assert not view.errors_only.isChecked() and not view.errors_only.isEnabled()  # no errors to filter
    view.show_lines("run-3", [], {})
    assert view.stack.currentWidget() is view.empty_label and view.empty_label.text().startswith("No audit lines")


def test_history_detail_shows_the_runs_audit_lines(history_page: HistoryPage, qtbot, ui_context):
    services = ui_context.services
    document = make_flow(
        {"id": "imported", "type": "audit", "config": {"topic": "contact-import", "identifier": "email",
                                                       "primaryKey": "id", "includeData": True}},
        {"id": "flagged", "type": "audit", "config": {"topic": "needs-review", "identifier": "email",
                                                      "isError": True}},
        test_data=CONTACTS, name="Audited")
    services.flows.save(document)
    request = LaunchRequest(document["uuid"], "DEV", None, None, body_fingerprint(None, False), "UI",
                            use_test_data=True)
    execution_id = services.executions.launch(request).view.execution_id
    services.executions.wait_finished(execution_id, timeout=30)
    qtbot.waitUntil(lambda: history_page.select_execution(execution_id), timeout=WAIT_MS)
    pane = history_page.detail_pane
    qtbot.waitUntil(lambda: pane.detail is not None and pane.detail.view.execution_id == execution_id
                    and pane.detail.view.finished, timeout=WAIT_MS)
    audit = pane.audit_view
    assert pane.tabs.tabText(pane.tabs.indexOf(audit)) == "Audit (6)"
    pane.tabs.setCurrentWidget(audit)
    model = audit.model
    rows = [(model.index(r, TOPIC).data(), model.index(r, IDENTIFIER).data(), model.index(r, LEVEL).data())
            for r in range(model.rowCount())]
    assert sorted(rows) == sorted([("contact-import", c["email"], "Info") for c in CONTACTS]
                                  + [("needs-review", c["email"], "Error") for c in CONTACTS])
    assert "6</b> lines" in audit.summary_label.text() and "3 errors" in audit.summary_label.text()
    error_row = next(r for r in range(model.rowCount()) if model.line(r).is_error)
    assert model.index(error_row, TOPIC).data(Qt.ItemDataRole.ForegroundRole).color() == \
        status_color("FATAL", audit.palette())
    audit.errors_only.setChecked(True)
    assert {model.line(r).topic for r in range(model.rowCount())} == {"needs-review"}
    audit.errors_only.setChecked(False)
    first_import = next(r for r in range(model.rowCount()) if model.line(r).topic == "contact-import")
    audit.table.selectRow(first_import)
    shown = json.loads(audit.data_text.toPlainText())
    assert shown in CONTACTS and model.line(first_import).primary_key == shown["id"]
    assert audit.data_text.toPlainText() == json.dumps(shown, indent=2, ensure_ascii=False)  # pretty
