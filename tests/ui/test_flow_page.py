"""The flow page: Run through the real queue, the live graph, console/result/runs panes, header actions."""

from __future__ import annotations

import json

from PySide6.QtCore import QObject, Qt, Signal

from ziggy_desktop import bundled
from ziggy_desktop.history import HistoryFilter
from ziggy_desktop.ui import flow_page as flow_page_module
from ziggy_desktop.ui.flow_page import FlowPage
from ziggy_desktop.ui.main_window import MainWindow

from ..helpers import make_flow

RUN_TIMEOUT_MS = 10_000


def _open(main_window: MainWindow, document: dict) -> FlowPage:
    summary, _ = main_window.context.services.flows.save(document)
    main_window.open_flow(summary.uuid)
    page = main_window.flow_page
    assert main_window.stack.currentWidget() is page
    assert page.name_button.text() == document["name"]
    assert page.tags() == document["tags"]
    return page


def test_run_turns_success_live_with_console_result_and_edge_data(main_window: MainWindow, qtbot):
    document = json.loads(bundled.sample_flow_text())
    page = _open(main_window, document)
    history = main_window.context.services.history
    assert page.dev_button.isChecked() and not page.prod_button.isChecked()
    assert page.graph.block_status("console") is None  # nothing is followed yet

    page.run_button.click()
    qtbot.waitUntil(lambda: page.state_label.text() == "SUCCESS", timeout=RUN_TIMEOUT_MS)
    assert [page.graph.block_status(b) for b in ("receiver", "console", "end")] == ["SUCCESS"] * 3
    execution_id = page.followed_execution_id
    assert execution_id in page.run_info_label.text()
    assert history.count(HistoryFilter(flow_uuid=document["uuid"], statuses=frozenset({"SUCCESS"}))) == 1
    view = main_window.context.services.executions.get(execution_id)
    assert (view.mode, view.trigger) == ("DEV", "UI")
    qtbot.waitUntil(lambda: page.run_ids() == [execution_id], timeout=RUN_TIMEOUT_MS)

    # The console pane shows the console block's line, with its block.
    assert page.console_tree.topLevelItemCount() == 1
    line = page.console_tree.topLevelItem(0)
    assert line.text(1) == "Log it (console)"
    assert line.text(2).startswith("Hello world! Received:") and "Hello from the test data" in line.text(2)
    assert "Hello from the test data" in page.result_text.toPlainText()

    # Selecting an edge shows its edge bubble: the count and the sample of what crossed it.
    page.graph.select_edge(page.graph.edge_index("receiver", "console"))
    assert json.loads(page.inspector_text.toPlainText()) == [{"greeting": "Hello from the test data"}]
    assert page.inspector_note.text().startswith("1 record in 1 batch crossed this edge")
    page.graph.select_edge(page.graph.edge_index("console", "end"))
    assert json.loads(page.inspector_text.toPlainText()) == [{"greeting": "Hello from the test data"}]
    # A block shows its settings from the registry's schema, readably.
    page.graph.select_block("console")
    settings = page.inspector_settings.toPlainText()
    assert page.inspector_settings.isVisibleTo(page) and not page.inspector_text.isVisibleTo(page)
    assert "Message" in settings and "Hello world!" in settings
    assert "1 record in (1 batch), 1 out" in page.inspector_note.text()


def test_fatal_run_highlights_failing_block_and_shows_message(main_window: MainWindow, qtbot):
    document = make_flow({"type": "console", "id": "log", "config": {"message": "before"}},
                         {"type": "fail", "id": "boom", "config": {"message": "HubSpot said no"}},
                         test_data=[{"id": 1}], name="Fails on purpose")
    page = _open(main_window, document)
    page.run_flow()  # what Ctrl+R calls
    qtbot.waitUntil(lambda: page.state_label.text() == "FATAL", timeout=RUN_TIMEOUT_MS)
    assert page.graph.block_status("boom") == "FATAL"
    assert page.graph.highlighted_blocks() == ["boom"]
    assert page.graph.block_status("log") == "SUCCESS"
    assert page.graph.block_status("end") == "SKIPPED"
    assert "HubSpot said no" in page.result_label.text() and "boom" in page.result_label.text()
    assert "HubSpot said no" in page.result_text.toPlainText()
    assert page.tabs.currentIndex() == 1  # the Result pane is brought forward for a failure
    assert page.show_failed_button.isVisibleTo(page)
    page.show_failed_button.click()
    assert [item.block_id for item in page.graph.scene().selectedItems()] == ["boom"]
    assert "HubSpot said no" in page.inspector_note.text()
    page.graph.select_edge(page.graph.edge_index("log", "boom"))
    assert page.inspector_note.text().startswith("1 record in 1 batch")
    assert json.loads(page.inspector_text.toPlainText()) == [{"id": 1}]
    page.graph.select_edge(page.graph.edge_index("receiver", "log"))
    assert json.loads(page.inspector_text.toPlainText()) == [{"id": 1}]


def test_prod_toggle_latest_run_followed_and_runs_pane(main_window: MainWindow, qtbot):
    document = make_flow({"type": "delay", "config": {"ms": 300}}, test_data={"n": 1}, name="Slow one")
    page = _open(main_window, document)
    services = main_window.context.services
    page.prod_button.click()
    assert page.mode() == "PROD" and not page.dev_button.isChecked()

    page.run_flow()
    # While the run is live the whole graph shows it, before any block state exists.
    qtbot.waitUntil(lambda: page.graph.run_state in ("QUEUED", "RUNNING"), timeout=RUN_TIMEOUT_MS)
    assert page.graph.banner.isVisibleTo(page.graph)
    page.run_flow()
    qtbot.waitUntil(lambda: services.history.count(HistoryFilter(flow_uuid=document["uuid"])) == 2,
                    timeout=RUN_TIMEOUT_MS)
    newest = services.history.page(HistoryFilter(flow_uuid=document["uuid"]), 0, 1)[0].view.execution_id
    qtbot.waitUntil(lambda: page.followed_execution_id == newest and page.state_label.text() == "SUCCESS",
                    timeout=RUN_TIMEOUT_MS)
    assert not page.graph.banner.isVisibleTo(page.graph)
    assert {row.view.mode for row in services.history.page(HistoryFilter(flow_uuid=document["uuid"]), 0, 5)} \
        == {"PROD"}
    assert services.history.count(HistoryFilter(flow_uuid=document["uuid"], mode="PROD")) == 2

    # Clicking the older run in the Runs pane follows it.
    qtbot.waitUntil(lambda: len(page.run_ids()) == 2, timeout=RUN_TIMEOUT_MS)
    older = page.run_ids()[1]
    assert older != newest
    page.runs_tree.setCurrentItem(page.runs_tree.topLevelItem(1))  # what a click does
    assert page.followed_execution_id == older
    assert older in page.run_info_label.text()


def test_header_buttons_emit_history_and_back(main_window: MainWindow, qtbot):
    document = make_flow(name="Header flow")
    page = _open(main_window, document)
    with qtbot.waitSignal(page.historyRequested, timeout=1000) as blocker:
        page.history_button.click()
    assert blocker.args == [document["uuid"]]
    with qtbot.waitSignal(page.backRequested, timeout=1000):
        page.back_button.click()
    assert main_window.stack.currentWidget() is main_window.flows_page


def test_ctrl_r_in_the_window_runs_the_open_flow(main_window: MainWindow, qtbot):
    document = make_flow(name="Keyboard flow")
    page = _open(main_window, document)
    main_window.activateWindow()
    qtbot.keyClick(main_window, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: page.state_label.text() == "SUCCESS", timeout=RUN_TIMEOUT_MS)
    assert main_window.context.services.history.count(HistoryFilter(flow_uuid=document["uuid"])) == 1


def test_flow_settings_open_from_name_and_gear_and_reload_after_save(main_window: MainWindow, qtbot, monkeypatch):
    """A stand-in dialog proves the page reloads and announces the change."""
    opened: list[str] = []

    class FakeSettingsDialog(QObject):
        saved = Signal(str)

        def __init__(self, context, flow_uuid, parent=None):
            super().__init__(parent)
            self.context, self.flow_uuid = context, flow_uuid
            opened.append(flow_uuid)

        def exec(self) -> int:
            document = self.context.services.flows.get_document(self.flow_uuid)
            document.update(name=f"Renamed {len(opened)}", tags=["crm", "daily"])
            self.context.services.flows.save(document)
            self.saved.emit(self.flow_uuid)
            return 1

    monkeypatch.setattr(flow_page_module, "FlowSettingsDialog", FakeSettingsDialog)
    document = make_flow(name="Before settings")
    page = _open(main_window, document)
    changes: list[str] = []
    page.flowChanged.connect(changes.append)
    page.name_button.click()
    assert page.name_button.text() == "Renamed 1"
    assert page.tags() == ["crm", "daily"]
    page.gear_button.click()
    assert page.name_button.text() == "Renamed 2"
    assert opened == [document["uuid"]] * 2
    assert changes == [document["uuid"]] * 2  # once per save, not once more for the accepted dialog
