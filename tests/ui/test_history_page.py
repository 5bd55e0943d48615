"""The Execution History history_page against a real runtime: live rows, detail, filters, paging and actions."""

from __future__ import annotations

import sys
import time
from typing import Any

from PySide6.QtCore import QDateTime, Qt
from PySide6.QtGui import QBrush
from PySide6.QtWidgets import QMessageBox
from sqlalchemy import text

from ziggy_desktop.executions import LaunchRequest, body_fingerprint
from ziggy_desktop.history import HistoryFilter
from ziggy_desktop.ui.history_model import (COLUMNS, FLOW_COLUMN, ID_COLUMN, STATUS_COLUMN, TRIGGER_COLUMN,
                                            HistoryTableModel)
from ziggy_desktop.ui.style import status_color
from ziggy_desktop.ui.history_page import HistoryPage

from ..helpers import ApiClient, make_flow
from .qt_helpers import answer

INSERT = text(
    "insert into execution(execution_id, flow_uuid, flow_name, mode, trigger, key_name, state, termination_status, "
    "reason, failed_block, ms, created_at, started_at, finished_at, use_test_data, input_hash) "
    "values (:e, :f, :n, :m, :tr, :k, 'FINISHED', :t, :r, :b, :ms, :c, :c, :c, 0, '')")


def settle(qtbot, history_page: HistoryPage) -> None:
    qtbot.waitUntil(lambda: not history_page.busy, timeout=5000)


def insert_finished(services, flow, count: int, *, prefix: str = "old", status: str = "SUCCESS", mode: str = "DEV",
                    created: float | None = None, step: float = 1.0) -> list[str]:
    """Past runs written straight into the table (finished rows: the queue never picks them up)."""
    start = (time.time() - 3600) if created is None else created
    rows = [{"e": f"{prefix}-{i:05d}", "f": flow.uuid, "n": flow.name, "m": mode, "tr": "API", "k": "ci",
             "t": status, "r": None if status == "SUCCESS" else f"{status} on purpose",
             "b": None if status == "SUCCESS" else "b0", "ms": 10 + i % 90, "c": start + i * step}
            for i in range(count)]
    with services.engine.begin() as conn:
        conn.execute(INSERT, rows)
    return [row["e"] for row in rows]


def launch_ui(services, flow_uuid: str, mode: str = "DEV") -> str:
    request = LaunchRequest(flow_uuid, mode, None, None, body_fingerprint(None, False), "UI", use_test_data=True)
    return services.executions.launch(request).view.execution_id


def row_of(history_page: HistoryPage, execution_id: str) -> int | None:
    model = history_page.model
    for row in range(model.rowCount()):
        view = model.view(row)
        if view is not None and view.execution_id == execution_id:
            return row
    return None


def cell(history_page: HistoryPage, execution_id: str, column: int) -> Any:
    row = row_of(history_page, execution_id)
    return None if row is None else history_page.model.index(row, column).data()


def shown_ids(history_page: HistoryPage) -> list[str]:
    return [history_page.model.view(row).execution_id for row in range(history_page.model.rowCount())]


def test_model_passes_qtmodeltester(qtmodeltester, ui_context):
    services = ui_context.services
    flow = services.flows.save(make_flow(name="Model"))[0]
    ids = insert_finished(services, flow, 20) + insert_finished(services, flow, 10, prefix="bad", status="FATAL")
    model = HistoryTableModel(services.history, page_size=7)  # several pages and a short last one
    model.set_filter(HistoryFilter())
    assert model.rowCount() == 30 and model.columnCount() == len(COLUMNS)
    qtmodeltester.check(model)
    # Counted, not read: a row paints empty until its history_page is read for the view (or asked for).
    assert model.page_loads == 0 and model.index(0, ID_COLUMN).data() is None
    model.ensure_rows(0, 29)  # what the history_page does for the rows in view
    assert model.page_loads == 5 and model.cached_pages() == [0, 1, 2, 3, 4]
    assert model.index(0, ID_COLUMN).data() == ids[-1]  # newest first
    assert model.index(29, ID_COLUMN).data() == ids[0]
    assert model.index(0, STATUS_COLUMN).data() == "FATAL"
    brush = model.index(0, STATUS_COLUMN).data(Qt.ItemDataRole.ForegroundRole)
    assert isinstance(brush, QBrush) and brush.color() == status_color("FATAL")
    assert model.index(0, STATUS_COLUMN).data(Qt.ItemDataRole.ToolTipRole) == "FATAL on purpose"
    model.set_filter(HistoryFilter(statuses=frozenset({"SUCCESS"})))
    assert model.rowCount() == 20
    qtmodeltester.check(model)
    model.set_filter(HistoryFilter(text="nothing-like-this"))
    assert model.rowCount() == 0
    qtmodeltester.check(model)


def test_model_forgets_the_items_of_pages_it_drops(ui_context):
    services = ui_context.services
    flow = services.flows.save(make_flow(name="Scroll"))[0]
    ids = insert_finished(services, flow, 40)
    model = HistoryTableModel(services.history, page_size=10, max_cached_pages=2)
    model.set_filter(HistoryFilter())
    for first in (0, 10, 20, 30):  # scrolling down, a history_page at a time
        model.ensure_rows(first, first + 9)
    assert model.cached_pages() == [2, 3] and model.page_loads == 4
    assert model.index(5, ID_COLUMN).data() is None  # dropped with its history_page: 100,000 runs must not pile up
    assert model.index(35, ID_COLUMN).data() == ids[4]
    assert model.view(5).execution_id == ids[34]  # asked for again: read again, and written
    assert model.index(5, ID_COLUMN).data() == ids[34] and model.page_loads == 5


def test_painting_the_table_calls_no_python(history_page, ui_context, qtbot):
    """Each Python call from a paint has to win the GIL back, which stalled the window in bursts."""
    services = ui_context.services
    flow = services.flows.save(make_flow(name="Paint"))[0]
    insert_finished(services, flow, 30, prefix="bad", status="FATAL")
    insert_finished(services, flow, 30, created=time.time() - 60)
    history_page.refresh()
    qtbot.waitUntil(lambda: history_page.model.rowCount() == 60, timeout=5000)
    settle(qtbot, history_page)
    table = history_page.table
    last_row = table.rowAt(table.viewport().height() - 1)
    assert last_row > 20 and all(history_page.model.index(row, ID_COLUMN).data() for row in range(last_row + 1))
    calls: list[str] = []

    def profile(frame, event, _arg):
        if event == "call" and "ziggy_desktop" in frame.f_code.co_filename:
            calls.append(frame.f_code.co_name)

    sys.setprofile(profile)
    try:
        table.viewport().repaint()
    finally:
        sys.setprofile(None)
    assert calls == []


def test_api_launch_appears_live_and_turns_success(history_page, ui_context, qtbot):
    services = ui_context.services
    flow = services.flows.save(make_flow({"type": "delay", "config": {"ms": 300}}, name="Live"))[0]
    _, key = services.keys.create("partner-crm")
    response = ApiClient(ui_context.api_url, key).launch(flow.uuid, {"contacts": [1, 2]})
    assert response.status == 202, response.body
    execution_id = response.json["executionId"]
    # No refresh call anywhere: the row comes from the core's events.
    qtbot.waitUntil(lambda: row_of(history_page, execution_id) is not None, timeout=5000)
    qtbot.waitUntil(lambda: cell(history_page, execution_id, STATUS_COLUMN) == "SUCCESS", timeout=10000)
    assert cell(history_page, execution_id, FLOW_COLUMN) == "Live"
    assert cell(history_page, execution_id, TRIGGER_COLUMN) == "API"
    assert history_page.model.index(row_of(history_page, execution_id), len(COLUMNS) - 1).data() == "partner-crm"
    qtbot.waitUntil(lambda: "1 SUCCESS" in history_page.summary_label.text(), timeout=5000)


def test_fatal_run_shows_failing_block_in_detail(history_page, ui_context, qtbot):
    services = ui_context.services
    flow = services.flows.save(make_flow({"id": "push", "type": "fail", "config": {"message": "HubSpot said 429"}},
                                         name="Doomed", test_data=[{"email": "a@example.com"}]))[0]
    execution_id = launch_ui(services, flow.uuid)
    qtbot.waitUntil(lambda: cell(history_page, execution_id, STATUS_COLUMN) == "FATAL", timeout=10000)
    assert history_page.select_execution(execution_id)
    pane = history_page.detail_pane
    qtbot.waitUntil(lambda: pane.detail is not None and pane.detail.view.execution_id == execution_id, timeout=5000)
    assert pane.badge.text() == "FATAL"
    assert "Failed in block" in pane.failure_label.text() and "push (fail)" in pane.failure_label.text()
    assert "HubSpot said 429" in pane.failure_label.text()
    assert pane.tabs.tabText(pane.result_tab) == "Error"
    assert "HubSpot said 429" in pane.result_text.toPlainText()
    assert "email" in pane.input_text.toPlainText() or pane.input_text.toPlainText() == ""
    steps = {pane.steps_table.item(r, 0).text(): pane.steps_table.item(r, 2).text()
             for r in range(pane.steps_table.rowCount())}
    assert steps["push"] == "FATAL" and steps["receiver"] == "SUCCESS"
    fatal_row = next(r for r in range(pane.steps_table.rowCount()) if pane.steps_table.item(r, 0).text() == "push")
    assert pane.steps_table.item(fatal_row, 7).text() == "HubSpot said 429"
    assert pane.audit_label.text().startswith("No audit lines")
    assert not pane.kill_button.isEnabled() and pane.rerun_button.isEnabled()


def test_each_filter_narrows_the_table(history_page, ui_context, qtbot):
    services = ui_context.services
    alpha = services.flows.save(make_flow(name="Alpha"))[0]
    beta = services.flows.save(make_flow(name="Beta"))[0]
    now = time.time()
    insert_finished(services, alpha, 6, prefix="alpha-old", created=now - 7200, step=60)  # 2 h ago
    insert_finished(services, alpha, 3, prefix="alpha-fatal", status="FATAL", created=now - 300)
    insert_finished(services, beta, 4, prefix="beta-prod", mode="PROD", created=now - 120)
    insert_finished(services, beta, 2, prefix="beta-needle", status="KILLED", created=now - 60)
    history_page.refresh()
    qtbot.waitUntil(lambda: history_page.model.rowCount() == 15, timeout=5000)

    history_page.flow_combo.setCurrentIndex(history_page.flow_combo.findData(beta.uuid))
    qtbot.waitUntil(lambda: history_page.model.rowCount() == 6, timeout=5000)
    assert all(i.startswith("beta") for i in shown_ids(history_page))

    history_page.clear_filters()
    history_page.status_combo.setCurrentIndex(history_page.status_combo.findData("FATAL"))
    qtbot.waitUntil(lambda: history_page.model.rowCount() == 3, timeout=5000)
    assert all(i.startswith("alpha-fatal") for i in shown_ids(history_page))
    assert "3 FATAL" in history_page.summary_label.text()

    history_page.status_combo.setCurrentIndex(history_page.status_combo.findData("QUEUED"))
    qtbot.waitUntil(lambda: history_page.model.rowCount() == 0, timeout=5000)
    assert history_page.table_stack.currentWidget() is history_page.empty_label
    assert "No runs match" in history_page.empty_label.text()

    history_page.clear_filters()
    history_page.mode_combo.setCurrentIndex(history_page.mode_combo.findData("PROD"))
    qtbot.waitUntil(lambda: history_page.model.rowCount() == 4, timeout=5000)

    history_page.clear_filters()
    qtbot.keyClicks(history_page.search_edit, "needle")
    qtbot.waitUntil(lambda: history_page.model.rowCount() == 2, timeout=5000)  # after the typing debounce
    assert shown_ids(history_page) == ["beta-needle-00001", "beta-needle-00000"]

    history_page.clear_filters()
    history_page.time_combo.setCurrentIndex(history_page.time_combo.findData(15 * 60))
    qtbot.waitUntil(lambda: history_page.model.rowCount() == 9, timeout=5000)  # everything but the 2-hour-old runs

    history_page.time_combo.setCurrentIndex(history_page.time_combo.count() - 1)  # custom range
    assert history_page.from_edit.isVisible() and history_page.to_edit.isVisible()
    history_page.from_edit.setDateTime(QDateTime.fromSecsSinceEpoch(int(now - 7300)))
    history_page.to_edit.setDateTime(QDateTime.fromSecsSinceEpoch(int(now - 3600)))
    qtbot.waitUntil(lambda: history_page.model.rowCount() == 6, timeout=5000)
    assert all(i.startswith("alpha-old") for i in shown_ids(history_page))

    history_page.clear_filters()
    assert not history_page.from_edit.isVisible()
    qtbot.waitUntil(lambda: history_page.model.rowCount() == 15, timeout=5000)
    history_page.set_flow_filter(alpha.uuid)  # what the flow history_page's history button does
    assert history_page.flow_combo.currentText() == "Alpha"
    qtbot.waitUntil(lambda: history_page.model.rowCount() == 9, timeout=5000)
    history_page.set_flow_filter(None)
    qtbot.waitUntil(lambda: history_page.model.rowCount() == 15, timeout=5000)


def test_flow_page_history_button_opens_filtered_view(main_window, qtbot):
    services = main_window.context.services
    alpha = services.flows.save(make_flow(name="Alpha"))[0]
    beta = services.flows.save(make_flow(name="Beta"))[0]
    insert_finished(services, alpha, 3, prefix="a")
    insert_finished(services, beta, 5, prefix="b")
    main_window.show_history_for_flow(beta.uuid)
    history_page = main_window.history_page
    assert main_window.stack.currentWidget() is history_page
    qtbot.waitUntil(lambda: history_page.model.rowCount() == 5, timeout=5000)
    assert history_page.flow_combo.currentText() == "Beta"


def test_paging_reads_only_the_pages_in_view(history_page, ui_context, qtbot):
    services = ui_context.services
    flow = services.flows.save(make_flow(name="Bulk"))[0]
    ids = insert_finished(services, flow, 5000, prefix="bulk", step=0.01)
    loads_before = history_page.model.page_loads
    history_page.refresh()
    qtbot.waitUntil(lambda: history_page.model.rowCount() == 5000, timeout=5000)
    qtbot.waitUntil(lambda: history_page.model.index(0, ID_COLUMN).data() is not None, timeout=5000)  # rows in view written
    assert history_page.model.page_loads - loads_before <= 2
    assert history_page.model.cached_pages() == [0]
    assert history_page.model.index(0, ID_COLUMN).data() == ids[-1]
    assert "5,000" in history_page.summary_label.text()

    history_page.table.scrollToBottom()
    qtbot.waitUntil(lambda: 24 in history_page.model.cached_pages(), timeout=5000)
    assert history_page.model.page_loads - loads_before <= 4  # the first history_page and the last one or two
    assert history_page.model.index(4999, ID_COLUMN).data() == ids[0]

    # A new run at the top while scrolled down: the count grows and the rows in view stay in view.
    top_id = history_page.model.index(history_page.table.rowAt(0), ID_COLUMN).data()
    execution_id = launch_ui(services, flow.uuid)
    qtbot.waitUntil(lambda: history_page.model.rowCount() == 5001, timeout=5000)
    settle(qtbot, history_page)
    assert history_page.model.view(0).execution_id == execution_id  # out of view: known, not written into cells
    assert history_page.model.index(5000, ID_COLUMN).data() == ids[0]
    assert history_page.model.index(history_page.table.rowAt(0), ID_COLUMN).data() == top_id
    assert history_page.model.page_loads - loads_before <= 10


def test_rerun_creates_a_new_row_with_trigger_rerun(history_page, ui_context, qtbot):
    services = ui_context.services
    flow = services.flows.save(make_flow({"type": "console", "config": {"message": "got", "includeData": True}},
                                         name="Echo"))[0]
    _, key = services.keys.create("rerun-test")
    response = ApiClient(ui_context.api_url, key).launch(flow.uuid, {"n": 7}, mode="PROD")
    original = response.json["executionId"]
    qtbot.waitUntil(lambda: cell(history_page, original, STATUS_COLUMN) == "SUCCESS", timeout=10000)
    assert history_page.select_execution(original)
    qtbot.waitUntil(lambda: history_page.detail_pane.detail is not None, timeout=5000)
    assert '"n": 7' in history_page.detail_pane.input_text.toPlainText()
    assert "got {\"n\": 7}" in history_page.detail_pane.console_text.toPlainText()

    history_page.detail_pane.rerun_button.click()
    qtbot.waitUntil(lambda: history_page.model.rowCount() == 2, timeout=5000)
    rerun_id = history_page.model.view(0).execution_id
    assert rerun_id != original
    assert history_page.model.view(0).trigger == "RERUN" and history_page.model.view(0).mode == "PROD"
    qtbot.waitUntil(lambda: cell(history_page, rerun_id, STATUS_COLUMN) == "SUCCESS", timeout=10000)
    # The new run is selected and its detail shows the same input.
    qtbot.waitUntil(lambda: history_page.detail_pane.detail is not None
                    and history_page.detail_pane.detail.view.execution_id == rerun_id
                    and history_page.detail_pane.detail.view.finished, timeout=5000)
    assert '"n": 7' in history_page.detail_pane.input_text.toPlainText()
    assert "Re-run queued as" in history_page.notice_label.text()


def test_kill_a_running_run_from_the_page(history_page, ui_context, qtbot):
    services = ui_context.services
    flow = services.flows.save(make_flow({"type": "delay", "config": {"ms": 60_000}}, name="Slow"))[0]
    execution_id = launch_ui(services, flow.uuid)
    qtbot.waitUntil(lambda: cell(history_page, execution_id, STATUS_COLUMN) == "RUNNING", timeout=5000)
    assert history_page.select_execution(execution_id)
    assert history_page.detail_pane.kill_button.isEnabled()
    history_page.detail_pane.kill_button.click()
    qtbot.waitUntil(lambda: cell(history_page, execution_id, STATUS_COLUMN) == "KILLED", timeout=10000)
    qtbot.waitUntil(lambda: history_page.detail_pane.detail is not None
                    and history_page.detail_pane.detail.view.termination_status == "KILLED", timeout=5000)
    assert "killed by user" in history_page.detail_pane.failure_label.text()
    assert not history_page.detail_pane.kill_button.isEnabled()


def test_flush_deletes_only_the_finished_runs_the_filter_shows(history_page, ui_context, qtbot, monkeypatch):
    services = ui_context.services
    alpha = services.flows.save(make_flow({"type": "delay", "config": {"ms": 60_000}}, name="Alpha"))[0]
    beta = services.flows.save(make_flow(name="Beta"))[0]
    insert_finished(services, alpha, 3, prefix="alpha")
    insert_finished(services, beta, 2, prefix="beta")
    running = launch_ui(services, alpha.uuid)
    history_page.refresh()
    history_page.set_flow_filter(alpha.uuid)
    qtbot.waitUntil(lambda: cell(history_page, running, STATUS_COLUMN) == "RUNNING" and history_page.model.rowCount() == 4,
                    timeout=5000)

    questions = answer(monkeypatch, QMessageBox.StandardButton.No)
    history_page.flush_button.click()
    assert "Delete 3 finished runs" in questions[-1] and "Alpha" in questions[-1]
    assert services.history.count(HistoryFilter()) == 6  # declined: nothing deleted

    answer(monkeypatch, QMessageBox.StandardButton.Yes)
    history_page.flush_button.click()
    qtbot.waitUntil(lambda: history_page.model.rowCount() == 1, timeout=5000)
    assert shown_ids(history_page) == [running]  # the running run is kept
    assert "Deleted 3 finished runs" in history_page.notice_label.text()
    assert services.history.count(HistoryFilter(flow_uuid=beta.uuid)) == 2  # another flow: untouched
    services.executions.kill(running, allow_running=True)
