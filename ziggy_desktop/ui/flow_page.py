"""The flow page: one flow's info bar, Run with DEV/PROD, the live graph, and console/result/runs panes."""

from __future__ import annotations

import logging
import time
from typing import Any

from PySide6.QtCore import QSize, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QFont, QFontDatabase
from PySide6.QtWidgets import (QAbstractItemView, QButtonGroup, QFrame, QHBoxLayout, QHeaderView, QLabel,
                               QMessageBox, QPlainTextEdit, QPushButton, QSizePolicy, QSplitter, QTabWidget,
                               QTextBrowser, QToolButton, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget)

from ..errors import ZiggyError
from ..events import ExecutionEvent
from ..executions import ExecutionDetail, LaunchRequest, LaunchResult, body_fingerprint
from ..history import HistoryFilter
from ..system_queue import FINISHED
from .application import icon
from .bridge import Background, EventBridge
from .common import emphasize, pretty_json
from .context import UiContext
from .flow_settings_dialog import FlowSettingsDialog
from .block_info import block_settings_html
from .graph_view import FlowGraphView
from .run_data import data_not_kept_note, edge_summary
from .style import local_time, status_color

log = logging.getLogger("ziggy.ui")

RECENT_RUNS = 20
RUN_COLUMNS = ("Status", "Created", "ms", "Mode", "Trigger", "Execution ID")
STATE_RANK = {"QUEUED": 0, "RUNNING": 1, FINISHED: 2}
EDGE_HINT = "Click an edge to see the data that crossed it, or a block to see its settings and timing."


def _clock(timestamp: float | None, with_millis: bool = False) -> str:
    """The date and time, or with milliseconds only the time of day (console lines)."""
    return local_time(timestamp, with_ms=True)[11:] if with_millis and timestamp is not None else local_time(timestamp)


def _count(number: int, word: str, plural: str | None = None) -> str:
    return f"{number:,} {word if number == 1 else plural or word + 's'}"


def _status_of(detail: ExecutionDetail | None, live_state: str | None) -> str | None:
    if detail is None:
        return None
    if detail.view.finished:
        return detail.view.termination_status
    return live_state or detail.view.state


class FlowPage(QWidget):
    historyRequested = Signal(str)
    backRequested = Signal()
    flowChanged = Signal(str)

    def __init__(self, context: UiContext, bridge: EventBridge, background: Background,
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.context = context
        self.background = background
        self._fixed_font = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        self.flow_uuid: str | None = None
        self.document: dict[str, Any] | None = None
        self.followed_execution_id: str | None = None
        self.detail: ExecutionDetail | None = None
        self._live_state: str | None = None  # from events; the database row may lag a RUNNING event
        self._live_since: float | None = None
        self._launch_ticket = 0  # runs launched from here, in order
        self._followed_ticket = 0  # the newest launch (or click) the page follows
        self._launched_here: set[str] = set()
        self._filling_runs = False
        self._progress_in_flight = False
        self._progress_again = False

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self._build_info_bar())
        layout.addWidget(self._build_run_bar())
        self.message_label = QLabel()
        self.message_label.setWordWrap(True)
        self.message_label.setContentsMargins(16, 6, 16, 6)
        self.message_label.setStyleSheet(f"color: {status_color('FATAL', self.palette()).name()};")
        self.message_label.hide()
        layout.addWidget(self.message_label)

        self.graph = FlowGraphView()
        self.graph.edgeSelected.connect(self._show_edge)
        self.graph.blockSelected.connect(self._show_block)
        self.graph.selectionCleared.connect(self._show_inspector_hint)
        self.horizontal_splitter = QSplitter(Qt.Orientation.Horizontal)
        self.horizontal_splitter.addWidget(self.graph)
        self.horizontal_splitter.addWidget(self._build_inspector())
        self.horizontal_splitter.setStretchFactor(0, 3)
        self.horizontal_splitter.setStretchFactor(1, 1)
        self.horizontal_splitter.setSizes([900, 320])
        self.vertical_splitter = QSplitter(Qt.Orientation.Vertical)
        self.vertical_splitter.addWidget(self.horizontal_splitter)
        self.vertical_splitter.addWidget(self._build_tabs())
        self.vertical_splitter.setStretchFactor(0, 3)
        self.vertical_splitter.setStretchFactor(1, 2)
        self.vertical_splitter.setSizes([460, 280])
        self.vertical_splitter.setChildrenCollapsible(False)
        layout.addWidget(self.vertical_splitter, 1)

        self._runs_timer = QTimer(self)
        self._runs_timer.setSingleShot(True)
        self._runs_timer.setInterval(200)  # a burst of API launches refreshes the list once
        self._runs_timer.timeout.connect(self.refresh_runs)
        self._elapsed_timer = QTimer(self)
        self._elapsed_timer.setInterval(250)
        self._elapsed_timer.timeout.connect(self._update_run_bar)
        bridge.executionChanged.connect(self._on_execution_changed)
        self._show_no_run()

    # -- layout ----------------------------------------------------------------------------------

    def _build_info_bar(self) -> QWidget:
        bar = QWidget()
        bar.setObjectName("flowInfoBar")
        row = QHBoxLayout(bar)
        row.setContentsMargins(12, 8, 12, 8)
        row.setSpacing(8)

        self.back_button = QToolButton()
        self.back_button.setText("← Flows")
        self.back_button.setAutoRaise(True)
        self.back_button.setToolTip("Back to the list of flows")
        self.back_button.clicked.connect(self.backRequested.emit)
        row.addWidget(self.back_button)
        separator = QFrame()
        separator.setFrameShape(QFrame.Shape.VLine)
        separator.setFrameShadow(QFrame.Shadow.Sunken)
        row.addWidget(separator)

        self.name_button = QPushButton()
        self.name_button.setFlat(True)
        self.name_button.setCursor(Qt.CursorShape.PointingHandCursor)
        self.name_button.setToolTip("Flow settings: identifier, launch URL, name, tags, timeout, history level")
        emphasize(self.name_button, 1.3)
        self.name_button.clicked.connect(self.open_settings)
        row.addWidget(self.name_button)
        self.gear_button = QToolButton()
        self.gear_button.setIcon(icon("gear"))
        self.gear_button.setIconSize(QSize(20, 20))
        self.gear_button.setAutoRaise(True)
        self.gear_button.setToolTip("Flow settings")
        self.gear_button.clicked.connect(self.open_settings)
        row.addWidget(self.gear_button)
        self.tags_row = QHBoxLayout()
        self.tags_row.setSpacing(4)
        row.addLayout(self.tags_row)
        row.addStretch(1)

        mode_label = QLabel("Mode")
        row.addWidget(mode_label)
        self.mode_group = QButtonGroup(self)
        self.mode_group.setExclusive(True)
        segmented = QHBoxLayout()
        segmented.setSpacing(0)
        self.mode_buttons: dict[str, QToolButton] = {}
        for mode, tip in (("DEV", "Run in DEV mode (executionEnvironmentMode=DEV)"),
                          ("PROD", "Run in PROD mode (executionEnvironmentMode=PROD)")):
            button = QToolButton()
            button.setText(mode)
            button.setCheckable(True)
            button.setToolTip(tip)
            button.setMinimumWidth(54)
            button.setMinimumHeight(28)
            self.mode_group.addButton(button)
            self.mode_buttons[mode] = button
            segmented.addWidget(button)
        self.dev_button, self.prod_button = self.mode_buttons["DEV"], self.mode_buttons["PROD"]
        # A segmented control: the chosen mode in the accent colour, so it is plain in both palettes.
        segment = ("QToolButton {{ border: 1px solid palette(mid); background: palette(button); "
                   "padding: 3px 10px; {corners} }}"
                   "QToolButton:checked {{ background: palette(highlight); color: palette(highlighted-text); "
                   "border-color: palette(highlight); font-weight: bold; }}")
        self.dev_button.setStyleSheet(segment.format(
            corners="border-top-left-radius: 4px; border-bottom-left-radius: 4px; border-right: none;"))
        self.prod_button.setStyleSheet(segment.format(
            corners="border-top-right-radius: 4px; border-bottom-right-radius: 4px;"))
        self.dev_button.setChecked(True)
        row.addLayout(segmented)
        row.addSpacing(8)

        self.run_button = QPushButton("▶  Run")
        self.run_button.setObjectName("runButton")
        # The primary action in the palette's accent colour, which reads in light and dark themes.
        self.run_button.setStyleSheet(
            "QPushButton#runButton { background: palette(highlight); color: palette(highlighted-text); "
            "border: 1px solid palette(highlight); border-radius: 4px; padding: 4px 16px; }"
            "QPushButton#runButton:hover { border: 1px solid palette(text); }"
            "QPushButton#runButton:pressed { background: palette(dark); }")
        self.run_button.setDefault(True)
        self.run_button.setAutoDefault(True)
        self.run_button.setMinimumHeight(30)
        self.run_button.setMinimumWidth(90)
        self.run_button.setToolTip("Run with the Receiver's test data in the chosen mode, through the system queue "
                                   "(Ctrl+R)")
        emphasize(self.run_button)
        self.run_button.clicked.connect(self.run_flow)
        row.addWidget(self.run_button)
        self.history_button = QPushButton("History")
        self.history_button.setMinimumHeight(30)
        self.history_button.setToolTip("Open the Execution History filtered to this flow")
        self.history_button.clicked.connect(self._request_history)
        row.addWidget(self.history_button)
        return bar

    def _build_run_bar(self) -> QWidget:
        bar = QWidget()
        row = QHBoxLayout(bar)
        row.setContentsMargins(16, 4, 12, 4)
        row.setSpacing(10)
        self.state_label = QLabel()
        self.state_label.setObjectName("runState")
        row.addWidget(self.state_label)
        self.run_info_label = QLabel()
        self.run_info_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.run_info_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        row.addWidget(self.run_info_label, 1)
        hint = QLabel("Ctrl+wheel zooms")
        hint.setEnabled(False)
        row.addWidget(hint)
        self.fit_button = QToolButton()
        self.fit_button.setText("Fit")
        self.fit_button.setToolTip("Fit the whole flow in view")
        self.fit_button.clicked.connect(lambda: self.graph.fit_to_view())
        row.addWidget(self.fit_button)
        return bar

    def _build_inspector(self) -> QWidget:
        panel = QWidget()
        panel.setMinimumWidth(220)
        column = QVBoxLayout(panel)
        column.setContentsMargins(8, 8, 8, 4)
        self.inspector_title = QLabel()
        emphasize(self.inspector_title)
        self.inspector_title.setWordWrap(True)
        self.inspector_note = QLabel()
        self.inspector_note.setWordWrap(True)
        self.inspector_text = QPlainTextEdit()
        self.inspector_text.setReadOnly(True)
        self.inspector_text.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.inspector_text.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.inspector_settings = QTextBrowser()
        self.inspector_settings.setOpenLinks(False)
        self.inspector_settings.hide()
        column.addWidget(self.inspector_title)
        column.addWidget(self.inspector_note)
        column.addWidget(self.inspector_text, 1)
        column.addWidget(self.inspector_settings, 1)
        column.addStretch(0)
        return panel

    def _build_tabs(self) -> QTabWidget:
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)

        self.console_tree = QTreeWidget()
        self.console_tree.setHeaderLabels(["Time", "Block", "Message"])
        self.console_tree.setRootIsDecorated(False)
        self.console_tree.setAlternatingRowColors(True)
        self.console_tree.setUniformRowHeights(True)
        header = self.console_tree.header()
        header.setMinimumSectionSize(90)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.tabs.addTab(self.console_tree, "Console")

        result = QWidget()
        column = QVBoxLayout(result)
        column.setContentsMargins(8, 6, 8, 6)
        top = QHBoxLayout()
        self.result_label = QLabel()
        self.result_label.setWordWrap(True)
        self.result_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        top.addWidget(self.result_label, 1)
        self.show_failed_button = QPushButton("Show failing block")
        self.show_failed_button.clicked.connect(self._select_failed_block)
        self.show_failed_button.hide()
        top.addWidget(self.show_failed_button, 0, Qt.AlignmentFlag.AlignTop)
        column.addLayout(top)
        self.result_text = QPlainTextEdit()
        self.result_text.setReadOnly(True)
        self.result_text.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        column.addWidget(self.result_text, 1)
        self.tabs.addTab(result, "Result")

        self.runs_tree = QTreeWidget()
        self.runs_tree.setHeaderLabels(list(RUN_COLUMNS))
        self.runs_tree.setRootIsDecorated(False)
        self.runs_tree.setAlternatingRowColors(True)
        self.runs_tree.setUniformRowHeights(True)
        self.runs_tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.runs_tree.header().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.runs_tree.header().setMinimumSectionSize(60)
        self.runs_tree.header().setStretchLastSection(True)
        self.runs_tree.itemSelectionChanged.connect(self._on_run_selected)
        self.runs_tree.setToolTip("Click a run to follow it in the graph and the panes")
        self.tabs.addTab(self.runs_tree, "Runs")
        return self.tabs

    # -- loading ---------------------------------------------------------------------------------

    def load_flow(self, flow_uuid: str) -> None:
        """Show a flow; a different flow than before starts without a followed run."""
        same_flow = flow_uuid == self.flow_uuid
        try:
            document = self.context.services.flows.get_document(flow_uuid)
        except ZiggyError as exc:
            self._show_message(exc.message)
            return
        self._show_message(None)
        self.flow_uuid = document["uuid"]
        self.document = document
        self.name_button.setText(document["name"])
        self._set_tags(document.get("tags", []))
        self.graph.set_flow(document)
        if not same_flow:
            self.followed_execution_id = None
            self.detail = None
            self._live_state = None
            self._followed_ticket = self._launch_ticket
            self.mode_buttons["DEV"].setChecked(True)
        self._show_inspector_hint()
        self.refresh_runs()
        if self.followed_execution_id:
            self._reload_detail()
        else:
            self._show_no_run()

    def refresh(self) -> None:
        if self.flow_uuid:
            self.load_flow(self.flow_uuid)

    def _set_tags(self, tags: list[str]) -> None:
        while self.tags_row.count():
            item = self.tags_row.takeAt(0)
            if item.widget() is not None:
                item.widget().hide()
                item.widget().deleteLater()
        for tag in tags:
            chip = QLabel(tag)
            chip.setObjectName("tagChip")
            chip.setStyleSheet("QLabel#tagChip { border: 1px solid palette(mid); border-radius: 8px; "
                               "padding: 0px 7px; background: palette(alternate-base); }")
            font = chip.font()
            font.setPointSizeF(font.pointSizeF() * 0.9)
            chip.setFont(font)
            self.tags_row.addWidget(chip)

    def tags(self) -> list[str]:
        return [self.tags_row.itemAt(i).widget().text() for i in range(self.tags_row.count())]

    def _show_message(self, text: str | None) -> None:
        self.message_label.setText(text or "")
        self.message_label.setVisible(bool(text))

    # -- running ---------------------------------------------------------------------------------

    def mode(self) -> str:
        return "PROD" if self.prod_button.isChecked() else "DEV"

    def run_flow(self) -> None:
        """Launch with the Receiver's test data, through the same queue as the API, and follow the run."""
        if not self.flow_uuid:
            return
        request = LaunchRequest(self.flow_uuid, self.mode(), None, None, body_fingerprint(None, False), "UI",
                                use_test_data=True)
        self._launch_ticket += 1
        ticket = self._launch_ticket
        try:
            future = self.context.services.executions.launch_async(request)
        except ZiggyError as exc:  # also when the window is shutting down (the writer has stopped)
            self._show_message(f"Could not launch: {exc.message}")
            return
        self._show_message(None)
        self._set_state_text("LAUNCHING")
        self.background.submit(lambda: future.result(60),
                               lambda result, t=ticket: self._on_launched(t, result),
                               self._on_launch_failed)

    def _on_launched(self, ticket: int, result: LaunchResult) -> None:
        execution_id = result.view.execution_id
        self._launched_here.add(execution_id)
        if ticket >= self._followed_ticket and result.view.flow_uuid == self.flow_uuid:
            self._followed_ticket = ticket
            self.follow(execution_id)
            if self.detail is not None and self.detail.view.finished:  # a quick run beat the callback
                self._after_finish()
        self._schedule_runs_refresh()

    def _on_launch_failed(self, error: BaseException) -> None:
        message = error.message if isinstance(error, ZiggyError) else f"{type(error).__name__}: {error}"
        if not isinstance(error, ZiggyError):
            log.error("launch from the flow page failed", exc_info=error)
        self._show_message(f"Could not launch: {message}")
        if self.detail is None:
            self._show_no_run()
        else:
            self._apply_detail()

    def follow(self, execution_id: str) -> None:
        """Show this run's state in the graph and the panes, and keep it live."""
        if execution_id != self.followed_execution_id:
            self._live_state = None
            self._live_since = None
        self.followed_execution_id = execution_id
        self._reload_detail()
        self._select_run_row(execution_id)

    def _reload_detail(self) -> None:
        try:
            self.detail = self.context.services.executions.detail(self.followed_execution_id)
        except ZiggyError as exc:
            self._show_message(exc.message)
            self.followed_execution_id, self.detail = None, None
            self._show_no_run()
            return
        if self.detail.view.finished:
            self._live_state = None
        elif self._live_state is None or STATE_RANK[self.detail.view.state] > STATE_RANK[self._live_state]:
            self._live_state = self.detail.view.state
        self._apply_detail()

    @Slot(object)
    def _on_execution_changed(self, event: ExecutionEvent) -> None:
        if event.flow_uuid == self.flow_uuid:
            self._schedule_runs_refresh()
        if event.execution_id != self.followed_execution_id or self.detail is None:
            return
        if self.detail.view.finished:
            return
        if event.state == FINISHED:
            self._reload_detail()  # the row is committed before FINISHED is announced
            if self.detail is not None and self.detail.view.finished:
                self._after_finish()
        elif STATE_RANK.get(event.state, -1) > STATE_RANK.get(self._live_state or "QUEUED", 0):
            self._live_state = event.state
            self._live_since = time.time()
            self._apply_detail()
        elif event.state == "RUNNING":
            self._reload_progress()  # a progress report: the block states so far

    def _reload_progress(self) -> None:
        """Re-read a running run's block states off the GUI thread; a stale answer is dropped."""
        if self._progress_in_flight:
            self._progress_again = True
            return
        self._progress_in_flight = True
        execution_id = self.followed_execution_id
        executions = self.context.services.executions

        def done(detail: ExecutionDetail) -> None:
            self._progress_in_flight = False
            current = self.detail
            if execution_id == self.followed_execution_id and current is not None and not current.view.finished \
                    and not detail.view.finished:
                self.detail = detail
                self._apply_detail()
            if self._progress_again:
                self._progress_again = False
                self._reload_progress()

        def failed(error: BaseException) -> None:
            self._progress_in_flight = False
            log.debug("progress read failed", exc_info=error)

        self.background.submit(lambda: executions.detail(execution_id), done, failed)

    def _after_finish(self) -> None:
        detail = self.detail
        if detail is None or detail.view.execution_id not in self._launched_here:
            return
        if detail.view.termination_status != "SUCCESS":
            self.tabs.setCurrentIndex(1)  # the Result pane says what went wrong

    # -- showing a run ---------------------------------------------------------------------------

    def _show_no_run(self) -> None:
        self._elapsed_timer.stop()
        self._set_state_text(None)
        self.run_info_label.setText("No run followed. Press Run (Ctrl+R) to run this flow with the Receiver's "
                                    "test data, or pick a run in the Runs tab.")
        self.graph.set_run(None, [])
        self.console_tree.clear()
        self.tabs.setTabText(0, "Console")
        self.result_label.setText("The result of the followed run appears here.")
        self.result_label.setStyleSheet("")
        self.show_failed_button.hide()
        self.result_text.setPlainText("")

    def _set_state_text(self, status: str | None) -> None:
        if not status:
            self.state_label.setText("")
            self.state_label.hide()
            return
        known = status_color(status, self.palette())
        color = known.name() if known is not None else "palette(mid)"
        self.state_label.setText(status)
        self.state_label.setStyleSheet(f"QLabel#runState {{ color: {color}; border: 1px solid {color}; "
                                       f"border-radius: 9px; padding: 1px 10px; font-weight: bold; }}")
        self.state_label.show()

    def _apply_detail(self) -> None:
        detail = self.detail
        if detail is None:
            self._show_no_run()
            return
        view = detail.view
        status = _status_of(detail, self._live_state)
        self._set_state_text(status)
        if view.finished:
            self._elapsed_timer.stop()
            self.graph.set_run(view.termination_status, detail.steps, view.failed_block, detail.edges)
        else:
            self._elapsed_timer.start()
            # A long run's progress reports carry its block states so far.
            running = status == "RUNNING"
            self.graph.set_run(status, detail.steps if running else [], None, detail.edges if running else None)
        self._update_run_bar()
        self._fill_console(detail)
        self._fill_result(detail)
        self._refresh_inspector()

    def _update_run_bar(self) -> None:
        detail = self.detail
        if detail is None:
            return
        view = detail.view
        parts = [f"Run {view.execution_id}", view.mode, view.trigger]
        if view.finished:
            parts.append(f"{view.ms or 0} ms")
            parts.append(f"finished {_clock(view.finished_at)}")
        elif self._live_state == "RUNNING":
            since = view.started_at or self._live_since or view.created_at
            parts.append(f"running for {max(0.0, time.time() - since):.1f} s")
        else:
            position = self.context.services.executions.queue_position(view.execution_id)
            parts.append(f"queued{f' at position {position}' if position else ''} since {_clock(view.created_at)}")
        self.run_info_label.setText(" · ".join(parts))
        self.run_info_label.setToolTip(self.run_info_label.text())

    def _block_label(self, block_id: str | None) -> str:
        if not block_id:
            return ""
        for block in (self.document or {}).get("blocks", []):
            if block["id"] == block_id:
                name = block.get("name") or block_id
                return name if name == block_id else f"{name} ({block_id})"
        return block_id

    def _fill_console(self, detail: ExecutionDetail) -> None:
        self.console_tree.clear()
        items = []
        for line in detail.console:
            item = QTreeWidgetItem([_clock(line.get("at"), with_millis=True), self._block_label(line.get("blockId")),
                                    str(line.get("message", ""))])
            item.setToolTip(2, str(line.get("message", "")))
            item.setFont(2, self._fixed_font)
            items.append(item)
        if not items:
            note = ("Console lines appear when the run ends." if not detail.view.finished
                    else "This run wrote nothing to the console.")
            placeholder = QTreeWidgetItem(["", "", note])
            placeholder.setDisabled(True)
            items.append(placeholder)
        self.console_tree.addTopLevelItems(items)
        self.tabs.setTabText(0, f"Console ({len(detail.console)})" if detail.console else "Console")

    def _fill_result(self, detail: ExecutionDetail) -> None:
        view = detail.view
        self.show_failed_button.setVisible(bool(view.finished and view.failed_block))
        if not view.finished:
            self.result_label.setStyleSheet("")
            self.result_label.setText(f"The run is {(self._live_state or view.state).lower()}; "
                                      f"its result appears when it ends.")
            self.result_text.setPlainText("")
            return
        status = view.termination_status or ""
        color = status_color(status, self.palette())
        self.result_label.setStyleSheet(f"color: {color.name()}; font-weight: bold;" if color else "")
        if status == "SUCCESS":
            self.result_label.setText(f"SUCCESS in {view.ms or 0} ms: the data that reached the terminator")
            self.result_text.setPlainText(pretty_json(detail.result))
            return
        reason = view.reason or "no reason recorded"
        name = self._block(view.failed_block).get("name") if view.failed_block else None
        where = f" in block {self._block_label(view.failed_block)}" if name and name not in reason else ""
        self.result_label.setText(f"{status}{where}: {reason}")
        step = next((s for s in detail.steps if s.get("blockId") == view.failed_block), None)
        error = {"terminationStatus": status, "failedBlock": view.failed_block, "reason": view.reason}
        if step is not None:
            error.update(blockError=step.get("error"), blockType=step.get("type"), blockMs=step.get("ms"),
                         recordsIn=step.get("recordsIn"))
        error["ms"] = view.ms
        self.result_text.setPlainText(pretty_json(error))

    def _select_failed_block(self) -> None:
        if self.detail is not None and self.detail.view.failed_block:
            self.graph.select_block(self.detail.view.failed_block)

    # -- the inspector (edge data and block details) ---------------------------------------------

    def _show_inspector_hint(self) -> None:
        self.inspector_title.setText("Inspector")
        self.inspector_note.setText(EDGE_HINT)
        self._set_inspector_data(None)

    def _set_inspector_data(self, text: str | None) -> None:
        # An empty box looks broken; the note says why there is nothing to show.
        self.inspector_settings.hide()
        self.inspector_text.setPlainText(text or "")
        self.inspector_text.setVisible(text is not None)

    def _refresh_inspector(self) -> None:
        selected = self.graph.scene().selectedItems()
        if not selected:
            return
        if hasattr(selected[0], "index") and hasattr(selected[0], "edge"):
            self._show_edge(selected[0].index)
        elif hasattr(selected[0], "block_id"):
            self._show_block(selected[0].block_id)

    def _step(self, block_id: str) -> dict[str, Any] | None:
        if self.detail is None:
            return None
        return next((s for s in self.detail.steps if s.get("blockId") == block_id), None)

    def _block(self, block_id: str) -> dict[str, Any]:
        return next((b for b in (self.document or {}).get("blocks", []) if b["id"] == block_id), {})

    @Slot(int)
    def _show_edge(self, index: int) -> None:
        edges = (self.document or {}).get("edges", [])
        if not 0 <= index < len(edges):
            return
        edge = edges[index]
        source, target = self._block(edge["from"]), self._block(edge["to"])
        self.inspector_title.setText(f"{self._block_label(edge['from'])} → {self._block_label(edge['to'])}")
        note, data = self.edge_data(edge, source, target)
        self.inspector_note.setText(note)
        self._set_inspector_data(None if data is _NOTHING else pretty_json(data))

    def edge_data(self, edge: dict[str, Any], source: dict[str, Any], target: dict[str, Any]) -> tuple[str, Any]:
        """What crossed an edge in the followed run (the edge bubble): (note, data or _NOTHING)."""
        detail = self.detail
        if detail is None:
            return "Run the flow to see the data that crosses this edge.", _NOTHING
        if not detail.view.finished:
            recorded, step = self._recorded_edge(edge), self._step(edge["from"])
            if recorded is not None:
                so_far = f" So far {recorded.get('records', 0):,} records in {recorded.get('batches', 0):,} batches."
            else:
                so_far = (f" So far {step.get('recordsOut', 0):,} records left {self._block_label(edge['from'])}."
                          if step is not None and step.get("status") == "RUNNING" else "")
            return (f"The run is {(self._live_state or detail.view.state).lower()}; the records that crossed this "
                    f"edge appear when it ends.{so_far}"), _NOTHING
        recorded = self._recorded_edge(edge)
        if recorded is not None:
            if not recorded.get("batches"):
                step = self._step(edge["from"])
                status = None if step is None else step.get("status")
                why = {None: "", "SUCCESS": "", "SKIPPED": " did not run."}.get(status, f" ended {status}.")
                source_name = f" {self._block_label(edge['from'])}" if why else ""
                return f"Nothing crossed this edge in this run.{source_name}{why}", _NOTHING
            return edge_summary(recorded), recorded.get("sample") or []
        level = (self.document or {}).get("settings", {}).get("historyLevel")
        not_kept = data_not_kept_note(detail, level)
        step = self._step(edge["from"])
        counts = (f" {step.get('recordsOut', 0):,} records left {self._block_label(edge['from'])} (all its edges)."
                  if step is not None and step.get("status") not in (None, "SKIPPED") else "")
        return (not_kept or "This run kept no data for this edge.") + counts, _NOTHING

    def _recorded_edge(self, edge: dict[str, Any]) -> dict[str, Any] | None:
        """The followed run's counts and sample of this edge, matched by its ends (the flow may have changed)."""
        if self.detail is None or not self.detail.edges:
            return None
        key = (edge["from"], edge.get("fromPort") or "out", edge["to"], edge.get("toPort") or "in")
        return next((e for e in self.detail.edges
                     if (e["from"], e.get("fromPort") or "out", e["to"], e.get("toPort") or "in") == key), None)

    @Slot(str)
    def _show_block(self, block_id: str) -> None:
        block = self._block(block_id)
        self.inspector_title.setText(f"{self._block_label(block_id)} · {block.get('type', '')}")
        step = self._step(block_id)
        if step is not None and (step.get("status") != "SKIPPED" or self.detail.view.finished):
            error = f" Error: {step['error']}" if step.get("error") else ""
            timing = "so far " if not self.detail.view.finished else ""
            self.inspector_note.setText(f"{step.get('status')} {timing}in {step.get('ms', 0):,} ms; "
                                        f"{_count(step.get('recordsIn', 0), 'record')} in "
                                        f"({_count(step.get('batchesIn', 0), 'batch', 'batches')}), "
                                        f"{step.get('recordsOut', 0):,} out.{error}")
        else:
            self.inspector_note.setText("Its timing and record counts appear once a followed run reaches it.")
        self.inspector_text.hide()
        self.inspector_settings.setHtml(block_settings_html(block, self.palette()))
        self.inspector_settings.show()

    # -- the Runs pane ---------------------------------------------------------------------------

    def _schedule_runs_refresh(self) -> None:
        if not self._runs_timer.isActive():
            self._runs_timer.start()

    def refresh_runs(self) -> None:
        if not self.flow_uuid:
            return
        rows = self.context.services.history.page(HistoryFilter(flow_uuid=self.flow_uuid), 0, RECENT_RUNS)
        self._filling_runs = True
        try:
            self.runs_tree.clear()
            for row in rows:
                view = row.view
                status = view.termination_status if view.finished else view.state
                item = QTreeWidgetItem([status or "", _clock(view.created_at),
                                        "" if view.ms is None else str(view.ms), view.mode, view.trigger,
                                        view.execution_id])
                item.setData(0, Qt.ItemDataRole.UserRole, view.execution_id)
                color = status_color(status, self.palette())
                if color:
                    item.setForeground(0, color)
                font = QFont(item.font(0))
                font.setBold(True)
                item.setFont(0, font)
                item.setTextAlignment(2, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                item.setFont(5, self._fixed_font)
                self.runs_tree.addTopLevelItem(item)
            self._select_run_row(self.followed_execution_id)
        finally:
            self._filling_runs = False
        self.tabs.setTabText(2, f"Runs ({len(rows)})" if rows else "Runs")

    def run_ids(self) -> list[str]:
        return [self.runs_tree.topLevelItem(i).data(0, Qt.ItemDataRole.UserRole)
                for i in range(self.runs_tree.topLevelItemCount())]

    def _select_run_row(self, execution_id: str | None) -> None:
        was_filling = self._filling_runs
        self._filling_runs = True
        try:
            self.runs_tree.clearSelection()
            for i in range(self.runs_tree.topLevelItemCount()):
                item = self.runs_tree.topLevelItem(i)
                if execution_id and item.data(0, Qt.ItemDataRole.UserRole) == execution_id:
                    item.setSelected(True)
                    self.runs_tree.setCurrentItem(item)
        finally:
            self._filling_runs = was_filling

    def _on_run_selected(self) -> None:
        if self._filling_runs:
            return
        item = self.runs_tree.currentItem()
        if item is None or not item.isSelected():
            return
        execution_id = item.data(0, Qt.ItemDataRole.UserRole)
        if execution_id != self.followed_execution_id:
            self._followed_ticket = self._launch_ticket  # a click wins over launches still being committed
            self.follow(execution_id)

    # -- header actions --------------------------------------------------------------------------

    def _request_history(self) -> None:
        if self.flow_uuid:
            self.historyRequested.emit(self.flow_uuid)

    def open_settings(self) -> None:
        if not self.flow_uuid:
            return
        flow_uuid = self.flow_uuid
        try:
            dialog = FlowSettingsDialog(self.context, flow_uuid, self)
        except ZiggyError as exc:  # the flow was deleted meanwhile, e.g. from the command line
            QMessageBox.warning(self, "Flow settings", exc.message)
            return
        dialog.saved.connect(lambda _uuid: self._settings_saved(flow_uuid))
        dialog.exec()

    def _settings_saved(self, flow_uuid: str) -> None:
        if flow_uuid == self.flow_uuid:
            self.load_flow(flow_uuid)
        self.flowChanged.emit(flow_uuid)


class _Nothing:
    """Marks 'no data crossed', which is different from the JSON value null."""

    def __repr__(self) -> str:
        return "<nothing>"


_NOTHING = _Nothing()
