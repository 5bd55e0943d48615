"""Run data in the window: edge samples and block counts in the history detail, the 'data not kept' note,
and the flow graph following a long run's block states live."""

from __future__ import annotations

import json


from ziggy_desktop.executions import LaunchRequest, body_fingerprint
from ziggy_desktop.ui.history_page import HistoryPage
from ziggy_desktop.ui.main_window import MainWindow

from ..helpers import make_flow

WAIT_MS = 15_000
CONTACTS = [{"email": f"user{i}@example.com", "n": i} for i in range(12)]


def run(services, document: dict) -> str:
    services.flows.save(document)
    request = LaunchRequest(document["uuid"], "DEV", None, None, body_fingerprint(None, False), "UI",
                            use_test_data=True)
    execution_id = services.executions.launch(request).view.execution_id
    services.executions.wait_finished(execution_id, timeout=30)
    return execution_id


def show(qtbot, page: HistoryPage, execution_id: str):
    qtbot.waitUntil(lambda: page.select_execution(execution_id), timeout=WAIT_MS)
    pane = page.detail_pane
    qtbot.waitUntil(lambda: pane.detail is not None and pane.detail.view.execution_id == execution_id
                    and pane.detail.view.finished, timeout=WAIT_MS)
    return pane


def steps_by_block(pane) -> dict[str, list[str]]:
    table = pane.steps_table
    headers = [table.horizontalHeaderItem(c).text() for c in range(table.columnCount())]
    return {table.item(r, 0).toolTip().removeprefix("Block id: "):
            dict(zip(headers, (table.item(r, c).text() for c in range(table.columnCount()))))
            for r in range(table.rowCount())}


def test_history_detail_shows_block_counts_and_edge_samples(history_page: HistoryPage, qtbot, ui_context):
    document = make_flow({"id": "log", "type": "console", "config": {"message": "batch"}},
                         test_data=CONTACTS, name="Batched contacts")
    document["blocks"][0]["config"]["batchSize"] = 5
    execution_id = run(ui_context.services, document)
    pane = show(qtbot, history_page, execution_id)

    steps = steps_by_block(pane)
    assert (steps["log"]["Status"], steps["log"]["In"], steps["log"]["Out"], steps["log"]["Batches"]) == \
        ("SUCCESS", "12", "12", "3")
    assert steps["end"]["In"] == "12"

    data = pane.edge_data
    assert pane.tabs.tabText(pane.tabs.indexOf(data)) == "Data (2)"
    assert data.stack.currentIndex() == 0  # the edges, not a note
    rows = [[data.table.item(r, c).text() for c in range(4)] for r in range(data.table.rowCount())]
    assert rows == [["receiver", "log", "3", "12"], ["log", "end", "3", "12"]]
    data.table.selectRow(1)
    assert json.loads(data.sample_text.toPlainText()) == CONTACTS[:5]  # the first five records
    assert "12 records in 3 batches" in data.sample_note.text() and "first 5" in data.sample_note.text()


def test_a_run_whose_data_was_not_kept_says_why(history_page: HistoryPage, qtbot, ui_context):
    document = make_flow(test_data=CONTACTS, name="Keeps errors only", history_level="ERRORED_WITH_DATA")
    execution_id = run(ui_context.services, document)
    pane = show(qtbot, history_page, execution_id)
    data = pane.edge_data
    assert data.stack.currentWidget() is data.note
    note = data.note.text()
    assert "only for failed runs" in note and "ERRORED_WITH_DATA" in note and "Flow settings" in note
    assert "ERRORED_WITH_DATA" in pane.result_text.toPlainText()  # not "the terminator received nothing"
    assert "ERRORED_WITH_DATA" in pane.input_text.placeholderText()
    assert steps_by_block(pane)["end"]["In"] == "12"  # counts are kept at every level

    # A failed run of the same flow keeps its data.
    failing = make_flow({"id": "boom", "type": "fail", "config": {"message": "no"}}, test_data=CONTACTS[:2],
                        name="Fails, keeps data", history_level="ERRORED_WITH_DATA")
    failed_id = run(ui_context.services, failing)
    pane = show(qtbot, history_page, failed_id)
    assert pane.edge_data.stack.currentIndex() == 0
    assert json.loads(pane.edge_data.sample_text.toPlainText()) == CONTACTS[:2]

    nothing = make_flow(test_data=[{"a": 1}], name="Keeps nothing", history_level="ERRORED_NO_DATA")
    pane = show(qtbot, history_page, run(ui_context.services, nothing))
    assert "ERRORED_NO_DATA" in pane.edge_data.note.text()


def test_flow_graph_follows_a_long_run_live_then_shows_edge_counts(main_window: MainWindow, qtbot):
    services = main_window.context.services
    document = make_flow({"id": "slow", "type": "delay", "config": {"ms": 40}},
                         test_data=[{"n": i} for i in range(400)], name="Long run")
    document["blocks"][0]["config"]["batchSize"] = 1
    services.flows.save(document)
    main_window.open_flow(document["uuid"])
    page = main_window.flow_page
    page.run_flow()
    # Progress reports (about once a second) turn the graph from "the run is live" into block states.
    qtbot.waitUntil(lambda: page.graph.live_steps and page.graph.block_status("slow") == "RUNNING",
                    timeout=WAIT_MS)
    assert page.graph.run_state == "RUNNING"
    assert "update as it goes" in page.graph.banner.text()
    assert page.graph.blocks["slow"].step["recordsIn"] > 0
    page.graph.select_block("slow")
    assert "so far" in page.inspector_note.text()
    page.graph.select_edge(page.graph.edge_index("receiver", "slow"))
    assert "appear when it ends" in page.inspector_note.text()
    # Progress reports carry each edge's counts (not its records): the bubble counts while it runs.
    live_edge = page.graph.edges[page.graph.edge_index("receiver", "slow")]
    assert live_edge.label is not None and "batches" in page.inspector_note.text()

    services.executions.kill(page.followed_execution_id, allow_running=True)
    qtbot.waitUntil(lambda: page.state_label.text() == "KILLED", timeout=WAIT_MS)
    recorded = page.graph.edges[page.graph.edge_index("receiver", "slow")]
    crossed = page.detail.edges[0]["records"]
    assert crossed > 0 and recorded.label is not None and str(crossed) in recorded.label
    page.graph.select_edge(page.graph.edge_index("receiver", "slow"))
    assert json.loads(page.inspector_text.toPlainText()) == [{"n": i} for i in range(5)]
