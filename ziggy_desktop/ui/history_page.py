"""The Execution History page: filters, a live paged table of every run, and the selected run's detail."""

from __future__ import annotations

import dataclasses
import logging
import time
from typing import Any

from PySide6.QtCore import QDateTime, QEvent, QItemSelectionModel, QPoint, Qt, QTimer, Slot
from PySide6.QtGui import QAction, QFontDatabase, QFontMetrics, QGuiApplication, QKeySequence, QPalette, QShowEvent
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QDateTimeEdit, QGridLayout, QHBoxLayout,
                               QHeaderView, QLabel, QLineEdit, QMenu, QMessageBox, QPlainTextEdit, QPushButton,
                               QSizePolicy, QSplitter, QStackedWidget, QTableView,
                               QTableWidget, QTableWidgetItem, QTabWidget, QToolButton, QVBoxLayout, QWidget)

from ..errors import NotFoundError
from ..events import ExecutionEvent
from ..executions import ExecutionDetail, ExecutionView
from ..history import TERMINATION_STATUSES, HistoryFilter, HistoryRow, HistorySummary
from .audit_view import AuditView
from .bridge import Background, EventBridge
from .common import configure_list_table, confirm, emphasize, error_text, placeholder_label, pretty_json
from .context import UiContext
from .history_model import (CREATED_COLUMN, FLOW_COLUMN, ID_COLUMN, KEY_COLUMN, MODE_COLUMN, MS_COLUMN,
                            STATUS_COLUMN, TRIGGER_COLUMN, HistoryTableModel, status_of)
from .run_data import EdgeDataView, block_name, data_not_kept_note
from .style import local_time, status_color

log = logging.getLogger("ziggy.ui")

STATUS_CHOICES = (("All statuses", ""), ("SUCCESS", "SUCCESS"), ("FATAL", "FATAL"), ("TIMED OUT", "TIMED OUT"),
                  ("KILLED", "KILLED"), ("Queued", "QUEUED"), ("Running", "RUNNING"))
MODE_CHOICES = (("All modes", ""), ("DEV", "DEV"), ("PROD", "PROD"))
CUSTOM_RANGE = -1
TIME_CHOICES = (("All time", 0), ("Last 15 minutes", 15 * 60), ("Last 60 minutes", 60 * 60),
                ("Last 24 hours", 24 * 3600), ("Custom range…", CUSTOM_RANGE))
SUMMARY_ORDER = ("SUCCESS", "FATAL", "TIMED OUT", "KILLED", "RUNNING", "QUEUED")
LIVE_REFRESH_MS = 250  # live events in a burst reset the table at most this often
SEARCH_DEBOUNCE_MS = 300
SLIDING_WINDOW_MS = 30_000  # "last N minutes" moves on even when no run arrives


def _find(rows: list[HistoryRow], execution_id: str) -> int | None:
    for offset, entry in enumerate(rows):
        if entry.view.execution_id == execution_id:
            return offset
    return None


@dataclasses.dataclass
class _Reloaded:
    """What a reload read off the GUI thread, ready to hand to the model in one reset."""

    history_filter: HistoryFilter
    count: int
    pages: dict[int, list[HistoryRow]]
    target_id: str | None
    target_row: int | None
    summary: HistorySummary
    sequence: int


def _badge_style(status: str, palette) -> str:
    color = status_color(status, palette)
    name = color.name() if color is not None else palette.color(QPalette.ColorRole.WindowText).name()
    # Coloured text and border only: no fill, so it reads on light and dark windows alike.
    return (f"QLabel {{ color: {name}; border: 1px solid {name}; border-radius: 4px; padding: 1px 8px; "
            f"font-weight: bold; }}")


class RunDetailPane(QWidget):
    """The selected run: a header with its facts and actions, then input, result, steps, console, audit."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.view: ExecutionView | None = None
        self.detail: ExecutionDetail | None = None
        mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)

        self.placeholder = placeholder_label("Select a run to see its input, result, steps and console.")

        self.badge = QLabel()
        self.id_label = QLabel()
        self.id_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.id_label.setWordWrap(True)
        self.id_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        emphasize(self.id_label, 1.1)
        title_row = QHBoxLayout()
        title_row.setSpacing(8)
        title_row.addWidget(self.badge, 0, Qt.AlignmentFlag.AlignTop)
        title_row.addWidget(self.id_label, 1)

        self.fields: dict[str, QLabel] = {}
        grid = QGridLayout()
        grid.setHorizontalSpacing(10)
        grid.setVerticalSpacing(3)
        layout_spec = (("Flow", 0, 0, 3), ("Mode", 1, 0, 1), ("Trigger", 1, 2, 1), ("Key name", 2, 0, 1),
                       ("Duration", 2, 2, 1), ("Created", 3, 0, 1), ("Queue wait", 3, 2, 1), ("Started", 4, 0, 1),
                       ("Finished", 4, 2, 1))
        for name, row, column, span in layout_spec:
            caption = QLabel(f"{name}:")
            caption.setForegroundRole(QPalette.ColorRole.PlaceholderText)
            value = QLabel()
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            grid.addWidget(caption, row, column)
            grid.addWidget(value, row, column + 1, 1, span)
            self.fields[name] = value
        grid.setColumnStretch(1, 1)
        grid.setColumnStretch(3, 1)

        self.failure_label = QLabel()
        self.failure_label.setWordWrap(True)
        self.failure_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.failure_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)

        self.rerun_button = QPushButton("Re-run")
        self.rerun_button.setToolTip("Launch again with the same input and mode, under a new execution id.")
        self.kill_button = QPushButton("Kill")
        self.kill_button.setToolTip("Drop the run from the queue, or stop it while it runs; it ends KILLED.")
        self.copy_button = QPushButton("Copy ID")
        self.copy_button.setToolTip("Copy the execution id to the clipboard (Ctrl+C in the table).")
        actions = QHBoxLayout()
        actions.addWidget(self.rerun_button)
        actions.addWidget(self.kill_button)
        actions.addWidget(self.copy_button)
        actions.addStretch(1)

        def text_pane(placeholder: str) -> QPlainTextEdit:
            pane = QPlainTextEdit()
            pane.setReadOnly(True)
            pane.setFont(mono)
            pane.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
            pane.setPlaceholderText(placeholder)
            return pane

        self.input_text = text_pane("No input body.")
        self.result_text = text_pane("No result.")
        self.console_text = text_pane("No console lines.")
        self.console_text.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.steps_table = QTableWidget(0, 8)
        self.steps_table.setHorizontalHeaderLabels(("Block", "Type", "Status", "ms", "In", "Out", "Batches", "Error"))
        self.steps_table.setToolTip("Per block: its status, time, records in and out, and the batches it received")
        configure_list_table(self.steps_table)
        steps_header = self.steps_table.horizontalHeader()
        steps_header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        steps_header.setStretchLastSection(True)
        self.audit_view = AuditView()
        self.audit_label = self.audit_view.empty_label  # what the tab says when the run wrote no lines

        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.input_text, "Input")
        self.tabs.addTab(self.result_text, "Result")
        self.tabs.addTab(self.steps_table, "Steps")
        self.edge_data = EdgeDataView()
        self.tabs.addTab(self.edge_data, "Data")
        self.tabs.setTabToolTip(self.tabs.indexOf(self.edge_data), "The records that crossed each edge (first 5)")
        self.tabs.addTab(self.console_text, "Console")
        self.tabs.addTab(self.audit_view, "Audit")
        self.tabs.setTabToolTip(self.tabs.indexOf(self.audit_view), "The lines the run's Audit blocks wrote")
        self.result_tab = 1

        content = QWidget()
        content_layout = QVBoxLayout(content)
        content_layout.setContentsMargins(12, 4, 4, 0)
        content_layout.setSpacing(6)
        content_layout.addLayout(title_row)
        content_layout.addLayout(grid)
        content_layout.addWidget(self.failure_label)
        content_layout.addLayout(actions)
        content_layout.addWidget(self.tabs, 1)

        self.stack = QStackedWidget()
        self.stack.addWidget(self.placeholder)
        self.stack.addWidget(content)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(self.stack)
        self.clear()

    def clear(self, message: str = "Select a run to see its input, result, steps and console.") -> None:
        self.view = None
        self.detail = None
        self.placeholder.setText(message)
        self.stack.setCurrentWidget(self.placeholder)

    def show_view(self, view: ExecutionView) -> None:
        """The header, from the table's row; the tabs wait for show_detail."""
        if self.view is None or self.view.execution_id != view.execution_id:
            self.detail = None
            for pane in (self.input_text, self.result_text, self.console_text):
                pane.setPlainText("")
            self.input_text.setPlaceholderText("Loading…")
            self.steps_table.setRowCount(0)
            self.edge_data.show_note("Loading…")
            self.audit_view.show_note("Loading…")
        self.view = view
        status = status_of(view)
        self.badge.setText(status)
        self.badge.setStyleSheet(_badge_style(status, self.palette()))
        self.id_label.setText(view.execution_id)
        self.id_label.setToolTip(view.execution_id)
        self.fields["Flow"].setText(view.flow_name)
        self.fields["Flow"].setToolTip(view.flow_uuid)
        self.fields["Mode"].setText(view.mode)
        self.fields["Trigger"].setText(view.trigger)
        self.fields["Key name"].setText(view.key_name or "—")
        self.fields["Created"].setText(local_time(view.created_at, with_ms=True))
        self.fields["Started"].setText(_same_day_time(view.started_at, view.created_at))
        self.fields["Finished"].setText(_same_day_time(view.finished_at, view.created_at))
        self.fields["Duration"].setText("—" if view.ms is None else f"{view.ms:,} ms")
        wait = None if view.started_at is None else max(0, int((view.started_at - view.created_at) * 1000))
        self.fields["Queue wait"].setText("—" if wait is None else f"{wait:,} ms")
        self._show_failure(view, self.detail.steps if self.detail else [])
        self.kill_button.setEnabled(not view.finished)
        self.tabs.setTabText(self.result_tab, "Result" if status in ("SUCCESS", "QUEUED", "RUNNING") else "Error")
        self.stack.setCurrentIndex(1)

    def _block_label(self, block_id: str | None, steps: list[dict[str, Any]]) -> str:
        if not block_id:
            return ""
        for step in steps:
            if step.get("blockId") == block_id:
                name, kind = step.get("name") or block_id, step.get("type") or "?"
                return f"{name} ({kind})" if name == block_id else f"{name} ({kind}, id {block_id})"
        return block_id

    def _show_failure(self, view: ExecutionView, steps: list[dict[str, Any]]) -> None:
        status = status_of(view)
        if view.termination_status in (None, "SUCCESS") and not view.reason:
            self.failure_label.hide()
            return
        color = status_color(status, self.palette())
        lines = []
        if view.failed_block:
            verb = "Failed in block" if status == "FATAL" else "Stopped in block"
            lines.append(f"<b>{verb}:</b> {_html(self._block_label(view.failed_block, steps))}")
        if view.reason:
            lines.append(f"<b>Reason:</b> {_html(view.reason)}")
        style = f' style="color:{color.name()}"' if color is not None else ""
        self.failure_label.setText(f"<div{style}>{'<br>'.join(lines)}</div>")
        self.failure_label.show()

    def show_detail(self, detail: ExecutionDetail, input_text: str | None, result_text: str | None,
                    history_level: str | None = None) -> None:
        """The tabs; `history_level` is the flow's current one, to say why a run kept no data."""
        self.show_view(detail.view)
        self.detail = detail
        view = detail.view
        status = status_of(view)
        self._show_failure(view, detail.steps)
        not_kept = data_not_kept_note(detail, history_level)
        self.input_text.setPlaceholderText(
            not_kept if not_kept else "No input body." if view.trigger == "API" else
            "No input body: runs started from the app or the command line use the Receiver's test data.")
        self.input_text.setPlainText(input_text or "")
        # An error is prose and wraps; a result is JSON whose indentation must stay readable.
        self.result_text.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap if status == "SUCCESS" and not not_kept
                                         else QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.result_text.setPlainText(self._result_text(view, status, detail, result_text, not_kept))
        self._fill_steps(detail.steps)
        self.edge_data.show_run(detail, history_level)
        self.console_text.setPlainText("\n".join(
            f"{local_time(line.get('at'), with_ms=True)[11:]}  {line.get('blockId') or '-':<12} "
            f"{line.get('message', '')}" for line in detail.console))
        self.tabs.setTabText(self.tabs.indexOf(self.steps_table),
                             f"Steps ({len(detail.steps)})" if detail.steps else "Steps")
        edges = self.edge_data.edge_count()
        self.tabs.setTabText(self.tabs.indexOf(self.edge_data), f"Data ({edges})" if edges else "Data")
        self.tabs.setTabText(self.tabs.indexOf(self.console_text),
                             f"Console ({len(detail.console)})" if detail.console else "Console")
        self.audit_view.show_lines(view.execution_id, detail.audit,
                                   {line.block_id: block_name(detail, line.block_id) for line in detail.audit})
        self.tabs.setTabText(self.tabs.indexOf(self.audit_view),
                             f"Audit ({len(detail.audit):,})" if detail.audit else "Audit")

    def _result_text(self, view: ExecutionView, status: str, detail: ExecutionDetail, result_text: str | None,
                     not_kept: str | None = None) -> str:
        if not view.finished:
            return f"The run is {status.lower()}; its result appears here when it finishes."
        if status == "SUCCESS" and not_kept and result_text is None:
            return f"SUCCESS. {not_kept}"
        if status == "SUCCESS":
            return result_text if result_text is not None else "null  (the Terminator received nothing)"
        parts = [status]
        if view.failed_block:
            parts[0] += f" in block {self._block_label(view.failed_block, detail.steps)}"
        if view.reason:
            parts.append(view.reason)
        if result_text is not None and detail.result is not None:
            parts.append(f"\nResult so far:\n{result_text}")
        return "\n".join(parts)

    def _fill_steps(self, steps: list[dict[str, Any]]) -> None:
        self.steps_table.setRowCount(len(steps))
        for row, step in enumerate(steps):
            status = str(step.get("status", ""))
            values = (step.get("name") or step.get("blockId", ""), step.get("type", ""), status,
                      f"{step.get('ms', 0):,}", f"{step.get('recordsIn', 0):,}", f"{step.get('recordsOut', 0):,}",
                      f"{step.get('batchesIn', 0):,}", step.get("error") or "")
            for column, value in enumerate(values):
                item = QTableWidgetItem(str(value))
                if 3 <= column <= 6:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                if column == 0:
                    item.setToolTip(f"Block id: {step.get('blockId', '')}")
                if column == 2:
                    color = status_color(status, self.palette())
                    if color is not None:
                        item.setForeground(color)
                    font = item.font()
                    font.setBold(True)
                    item.setFont(font)
                if column == 7 and value:
                    item.setToolTip(str(value))
                    color = status_color(status, self.palette())
                    if color is not None:
                        item.setForeground(color)
                self.steps_table.setItem(row, column, item)


def _same_day_time(timestamp: float | None, created_at: float) -> str:
    """Started and finished times drop the date when it is the creation date: the header stays narrow."""
    if timestamp is None:
        return "—"
    text = local_time(timestamp, with_ms=True)
    return text[11:] if text[:10] == local_time(created_at)[:10] else text


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class HistoryPage(QWidget):
    """Every run, newest first, filtered and live; the table reads the database a page at a time."""

    def __init__(self, context: UiContext, bridge: EventBridge, background: Background,
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.context = context
        self.background = background
        self.model = HistoryTableModel(context.services.history, self)
        self.shown_filter = HistoryFilter()  # what the table shows, with the snapshot's upper time bound
        self._filter_generation = 0
        self._reload_in_flight = False
        self._reload_again = False
        self._stale = True
        self._scroll_to_top = True
        self._select_after_reload: str | None = None  # a run just launched from here (Re-run)
        self._select_after_sequence = 0  # the first reload that could see it
        self._reload_sequence = 0
        # The run the user picked: kept while filters hide it, so it comes back when they show it again.
        self._target_id: str | None = None
        self._target_created: float | None = None
        self._applying = False
        self._detail_request: str | None = None

        self._build_filters()
        self._build_table()
        self.detail_pane = RunDetailPane()
        self.detail_pane.rerun_button.clicked.connect(self.rerun_selected)
        self.detail_pane.kill_button.clicked.connect(self.kill_selected)
        self.detail_pane.copy_button.clicked.connect(self.copy_selected_id)

        heading = emphasize(QLabel("Execution History"), 1.3)
        self.summary_label = QLabel()
        self.summary_label.setTextFormat(Qt.TextFormat.RichText)
        self.notice_label = QLabel()
        self.notice_label.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.notice_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._notice_timer = QTimer(self)
        self._notice_timer.setSingleShot(True)
        self._notice_timer.setInterval(10_000)
        self._notice_timer.timeout.connect(self.notice_label.clear)
        summary_row = QHBoxLayout()
        summary_row.addWidget(self.summary_label)
        summary_row.addStretch(1)
        summary_row.addWidget(self.notice_label)

        self.empty_label = placeholder_label()
        self.table_stack = QStackedWidget()
        self.table_stack.addWidget(self.table)
        self.table_stack.addWidget(self.empty_label)

        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.table_stack)
        self.splitter.addWidget(self.detail_pane)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.setSizes([840, 400])

        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 12, 16, 12)
        layout.setSpacing(8)
        layout.addWidget(heading)
        layout.addLayout(self.filter_row)
        layout.addLayout(summary_row)
        layout.addWidget(self.splitter, 1)

        self._live_timer = QTimer(self)
        self._live_timer.setSingleShot(True)
        self._live_timer.setInterval(LIVE_REFRESH_MS)
        self._live_timer.timeout.connect(self._reload)
        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(SEARCH_DEBOUNCE_MS)
        self._search_timer.timeout.connect(self._filters_changed)
        self._slide_timer = QTimer(self)
        self._slide_timer.setInterval(SLIDING_WINDOW_MS)
        self._slide_timer.timeout.connect(self._reload)
        bridge.executionsChanged.connect(self._on_execution_changed)

        self._reload_flows()
        self.clear_filters_button.setEnabled(False)
        self._update_actions()
        self._reload()

    # -- building --------------------------------------------------------------------------------

    def _build_filters(self) -> None:
        self.flow_combo = QComboBox()
        self.flow_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.flow_combo.setMinimumContentsLength(18)
        self.flow_combo.setToolTip("Show the runs of one flow")
        self.status_combo = QComboBox()
        for label, value in STATUS_CHOICES:
            self.status_combo.addItem(label, value)
        self._colour_status_items()
        self.mode_combo = QComboBox()
        for label, value in MODE_CHOICES:
            self.mode_combo.addItem(label, value)
        self.time_combo = QComboBox()
        for label, value in TIME_CHOICES:
            self.time_combo.addItem(label, value)
        now = QDateTime.currentDateTime()
        self.from_edit = QDateTimeEdit(now.addDays(-1))
        self.to_edit = QDateTimeEdit(now.addSecs(3600))
        for edit, tip in ((self.from_edit, "Runs created at or after this time"),
                          (self.to_edit, "Runs created before this time")):
            edit.setCalendarPopup(True)
            edit.setDisplayFormat("yyyy-MM-dd HH:mm")
            edit.setToolTip(tip)
            edit.dateTimeChanged.connect(self._filters_changed)
        self.range_dash = QLabel("–")
        self.search_edit = QLineEdit()
        self.search_edit.setPlaceholderText("Search execution id…")
        self.search_edit.setClearButtonEnabled(True)
        self.search_edit.setMinimumWidth(180)
        self.search_edit.textChanged.connect(lambda _text: self._search_timer.start())
        self.search_edit.returnPressed.connect(self._filters_changed)
        self.clear_filters_button = QToolButton()
        self.clear_filters_button.setText("Clear filters")
        self.clear_filters_button.setAutoRaise(True)
        self.clear_filters_button.clicked.connect(self.clear_filters)
        self.flush_button = QPushButton("Flush…")
        self.flush_button.setToolTip("Delete the finished runs the filters show (queued and running runs stay)")
        self.flush_button.clicked.connect(self.flush_filtered)
        for combo in (self.flow_combo, self.status_combo, self.mode_combo, self.time_combo):
            combo.currentIndexChanged.connect(self._filters_changed)

        row = QHBoxLayout()
        row.setSpacing(6)
        row.addWidget(self.flow_combo)
        row.addWidget(self.status_combo)
        row.addWidget(self.mode_combo)
        row.addWidget(self.time_combo)
        row.addWidget(self.from_edit)
        row.addWidget(self.range_dash)
        row.addWidget(self.to_edit)
        row.addWidget(self.search_edit, 1)
        row.addWidget(self.clear_filters_button)
        row.addSpacing(12)
        row.addWidget(self.flush_button)
        self.filter_row = row
        self._show_range_edits(False)

    def _colour_status_items(self) -> None:
        for index in range(self.status_combo.count()):
            color = status_color(self.status_combo.itemData(index), self.palette())
            if color is not None:
                self.status_combo.setItemData(index, color, Qt.ItemDataRole.ForegroundRole)

    def _build_table(self) -> None:
        table = QTableView()
        table.setModel(self.model)
        configure_list_table(table)
        table.setSortingEnabled(False)  # always newest first: paging is by position
        table.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerItem)  # scroll value == top row
        # Execution ids differ at both ends (prefixes, UUID tails): keep both ends visible. Set on the
        # view, not in a Python delegate, which Qt would call for every painted id.
        table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        # The model's rows are QStandardItems, editable by default; this table only shows runs.
        table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        table.customContextMenuRequested.connect(self._table_menu)
        metrics = table.fontMetrics()
        rows = table.verticalHeader()
        rows.setVisible(False)
        # Fixed heights and widths: anything "to contents" would read every page of a large history.
        rows.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        rows.setDefaultSectionSize(metrics.height() + 8)
        header = table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        header.setHighlightSections(False)
        bold = table.font()
        bold.setBold(True)
        widths = {ID_COLUMN: metrics.horizontalAdvance("0" * 20), FLOW_COLUMN: metrics.horizontalAdvance("M" * 14),
                  MODE_COLUMN: metrics.horizontalAdvance("PROD"), TRIGGER_COLUMN: metrics.horizontalAdvance("Trigger"),
                  STATUS_COLUMN: QFontMetrics(bold).horizontalAdvance("TIMED OUT"),
                  CREATED_COLUMN: metrics.horizontalAdvance("2000-00-00 00:00:00"),
                  MS_COLUMN: metrics.horizontalAdvance("000,000"), KEY_COLUMN: metrics.horizontalAdvance("Key name")}
        for column, width in widths.items():
            table.setColumnWidth(column, width + 14)
        table.selectionModel().selectionChanged.connect(self._on_selection_changed)
        # The view paints only rows already written into the model: read the pages in view as they
        # come into view (scrolling, resizing, a new count), never from inside a paint.
        table.verticalScrollBar().valueChanged.connect(self._load_visible)
        table.verticalScrollBar().rangeChanged.connect(self._load_visible)
        self.model.modelReset.connect(lambda: None if self._applying else self._load_visible())
        copy_action = QAction("Copy execution ID", table)
        copy_action.setShortcut(QKeySequence(QKeySequence.StandardKey.Copy))
        copy_action.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        copy_action.triggered.connect(self.copy_selected_id)
        table.addAction(copy_action)
        self.table = table

    # -- filters ---------------------------------------------------------------------------------

    def _reload_flows(self) -> None:
        current = self.flow_combo.currentData()
        self.flow_combo.blockSignals(True)
        try:
            self.flow_combo.clear()
            self.flow_combo.addItem("All flows", "")
            for flow in self.context.services.flows.list():
                self.flow_combo.addItem(flow.name, flow.uuid)
                self.flow_combo.setItemData(self.flow_combo.count() - 1, flow.uuid, Qt.ItemDataRole.ToolTipRole)
            if current:
                self._select_flow_item(current)
        finally:
            self.flow_combo.blockSignals(False)

    def _select_flow_item(self, flow_uuid: str) -> None:
        index = self.flow_combo.findData(flow_uuid)
        if index < 0:
            # A deleted flow keeps its runs: it can still be filtered on.
            self.flow_combo.addItem(f"Deleted flow {flow_uuid[:8]}…", flow_uuid)
            index = self.flow_combo.count() - 1
        self.flow_combo.setCurrentIndex(index)

    def set_flow_filter(self, flow_uuid: str | None) -> None:
        """Show one flow's runs (the flow page's history button), or every flow's with None."""
        self._reload_flows()
        self.flow_combo.blockSignals(True)
        try:
            if flow_uuid:
                self._select_flow_item(flow_uuid.strip().lower())
            else:
                self.flow_combo.setCurrentIndex(0)
        finally:
            self.flow_combo.blockSignals(False)
        self._filters_changed()

    def clear_filters(self) -> None:
        for widget in (self.flow_combo, self.status_combo, self.mode_combo, self.time_combo, self.search_edit):
            widget.blockSignals(True)
        try:
            for combo in (self.flow_combo, self.status_combo, self.mode_combo, self.time_combo):
                combo.setCurrentIndex(0)
            self.search_edit.clear()
        finally:
            for widget in (self.flow_combo, self.status_combo, self.mode_combo, self.time_combo, self.search_edit):
                widget.blockSignals(False)
        self._filters_changed()

    def _show_range_edits(self, visible: bool) -> None:
        for widget in (self.from_edit, self.range_dash, self.to_edit):
            widget.setVisible(visible)

    def current_filter(self) -> HistoryFilter:
        """The filter the widgets describe; relative times are taken from now."""
        status = self.status_combo.currentData()
        since = until = None
        window = self.time_combo.currentData()
        if window == CUSTOM_RANGE:
            since = float(self.from_edit.dateTime().toSecsSinceEpoch())
            until = float(self.to_edit.dateTime().toSecsSinceEpoch())
        elif window:
            since = time.time() - window
        return HistoryFilter(flow_uuid=self.flow_combo.currentData() or None,
                             statuses=frozenset({status}) if status else frozenset(),
                             mode=self.mode_combo.currentData() or None, since=since, until=until,
                             text=self.search_edit.text().strip())

    def _filter_description(self, history_filter: HistoryFilter) -> str:
        parts = []
        if history_filter.flow_uuid:
            parts.append(f"flow “{self.flow_combo.currentText()}”")
        if history_filter.statuses:
            parts.append(f"status {self.status_combo.currentText()}")
        if history_filter.mode:
            parts.append(f"mode {history_filter.mode}")
        window = self.time_combo.currentData()
        if window == CUSTOM_RANGE:
            parts.append(f"created {self.from_edit.text()} – {self.to_edit.text()}")
        elif window:
            parts.append(self.time_combo.currentText().lower())
        if history_filter.text:
            parts.append(f"execution id containing “{history_filter.text}”")
        return ", ".join(parts)

    def _filters_changed(self, *_args: Any) -> None:
        self._search_timer.stop()
        window = self.time_combo.currentData()
        self._show_range_edits(window == CUSTOM_RANGE)
        if window and window != CUSTOM_RANGE:
            self._slide_timer.start()
        else:
            self._slide_timer.stop()
        self.clear_filters_button.setEnabled(bool(self._filter_description(self.current_filter())))
        self._filter_generation += 1
        self._scroll_to_top = True
        self._reload()

    # -- loading ---------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Re-read flows and runs (the page was shown, or F5)."""
        self._reload_flows()
        self._reload()

    @Slot(list)
    def _on_execution_changed(self, _events: list[ExecutionEvent]) -> None:
        # Throttled rather than debounced: during a sustained burst the table still moves 4 times a second.
        if not self._live_timer.isActive():
            self._live_timer.start()
        shown = self.detail_pane.view
        if shown is not None and shown.state == "RUNNING" and any(
                event.execution_id == shown.execution_id and event.state == "RUNNING" for event in _events):
            # A long run reports its block states about once a second: the Steps tab follows them.
            self._load_detail(shown.execution_id)

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt override
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange and hasattr(self, "detail_pane"):
            # The system switched between light and dark: status tones are picked per palette.
            self._colour_status_items()
            if self.detail_pane.view is not None:
                self.detail_pane.show_view(self.detail_pane.view)
            self.table.viewport().update()
            self._reload()

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt override
        super().showEvent(event)
        if self._stale:
            self._reload()

    @property
    def busy(self) -> bool:
        """A reload is being read off the GUI thread (tests wait for quiet)."""
        return self._reload_in_flight or self._live_timer.isActive() or self._search_timer.isActive()

    def _reload(self) -> None:
        if not self.isVisible():
            self._stale = True  # a hidden page reads nothing; it catches up when shown
            return
        if self._reload_in_flight:
            self._reload_again = True
            return
        self._stale = False
        self._reload_again = False
        self._reload_in_flight = True
        user_filter = self.current_filter()
        # The snapshot's upper bound: runs created after it cannot shift the pages read later.
        now = time.time()
        history_filter = dataclasses.replace(
            user_filter, until=now if user_filter.until is None else min(user_filter.until, now))
        target = self._select_after_reload or self._target_id
        target_created = None if self._select_after_reload else self._target_created
        generation = self._filter_generation
        self._reload_sequence += 1
        sequence = self._reload_sequence
        history = self.context.services.history
        page_size = self.model.page_size

        def read() -> _Reloaded:
            count = history.count(history_filter)
            pages: dict[int, list[HistoryRow]] = {}
            if count:
                pages[0] = history.page(history_filter, 0, page_size)
            target_row = None
            if target is not None and count:
                offset = _find(pages[0], target)
                if offset is not None:
                    target_row = offset
                elif target_created is not None and (history_filter.since is None
                                                     or target_created >= history_filter.since):
                    # Newest first: the runs created since the target put it near that position.
                    newer = history.count(dataclasses.replace(history_filter, since=target_created))
                    guess = max(0, newer - 1) // page_size
                    for index in (guess, guess + 1, guess - 1):
                        if index < 0 or index * page_size >= count or index in pages:
                            continue
                        pages[index] = history.page(history_filter, index * page_size, page_size)
                        offset = _find(pages[index], target)
                        if offset is not None:
                            target_row = index * page_size + offset
                            break
            return _Reloaded(history_filter, count, pages, target, target_row, history.summary(history_filter),
                             sequence)

        self.background.submit(read, lambda result: self._reloaded(generation, result),
                               lambda error: self._reload_failed(generation, error))

    def _reload_failed(self, generation: int, error: BaseException) -> None:
        self._reload_in_flight = False
        self.summary_label.setText(f"Could not read the history: {_html(error_text(error))}")
        if self._reload_again or generation != self._filter_generation:
            self._reload()

    def _reloaded(self, generation: int, result: _Reloaded) -> None:
        self._reload_in_flight = False
        if generation != self._filter_generation:
            self._reload()  # the filters changed while reading: these rows are not wanted any more
            return
        self._apply(result)
        if self._reload_again:
            self._reload()

    def _apply(self, result: _Reloaded) -> None:
        scroll = self.table.verticalScrollBar()
        old_scroll = scroll.value()
        old_count = self.model.rowCount()
        old_row = self._selected_row()
        shown = self.detail_pane.view
        self._applying = True
        try:
            self.model.load(result.history_filter, result.count, result.pages)
            self.shown_filter = result.history_filter
            # The user may have picked another run while this was read: look for that one instead.
            wanted = self._select_after_reload or self._target_id
            target_row = result.target_row if result.target_id == wanted else None
            if target_row is None and wanted is not None:
                target_row = self.model.cached_row_of(wanted)
            if target_row is not None:
                self._select_row(target_row)
        finally:
            self._applying = False
        self.table.updateGeometries()  # the scroll range must cover the new count before it is set
        if self._scroll_to_top or old_scroll == 0:
            # At the top the newest runs are what the user watches; keep them in sight.
            scroll.setValue(0)
        elif old_row is not None and target_row is not None:
            scroll.setValue(old_scroll + target_row - old_row)
        else:
            scroll.setValue(old_scroll + max(0, result.count - old_count))
        self._scroll_to_top = False
        self._load_visible()  # once the scroll value is final; it may not have moved, so no signal
        if self._select_after_reload is not None and (
                target_row is not None or result.sequence >= self._select_after_sequence):
            self._select_after_reload = None  # found, or hidden by the filters: stop looking
        if target_row is not None:
            view = self.model.view(target_row)
            if view is not None and view != shown:
                self._show_run(view)
        elif shown is not None:
            self._show_run(None, "The selected run is not among the runs these filters show.", forget=False)
        self._show_summary(result.summary)
        self._update_empty_state(result.count)
        self._update_actions()

    def _load_visible(self, *_args: Any) -> None:
        table = self.table
        # ScrollPerItem: the value is the top row, but at the bottom a part of the row above it
        # shows too; a row of margin each side covers both ends.
        top = table.verticalScrollBar().value()
        shown = table.viewport().height() // max(1, table.verticalHeader().defaultSectionSize())
        self.model.ensure_rows(top - 1, top + shown + 1)

    def _show_summary(self, summary: HistorySummary) -> None:
        runs = "run" if summary.total == 1 else "runs"
        parts = [f"<b>{summary.total:,}</b> {runs}"]
        for status in SUMMARY_ORDER:
            count = summary.by_status.get(status)
            if count:
                color = status_color(status, self.palette())
                label = status if status in TERMINATION_STATUSES else status.lower()
                parts.append(f'<span style="color:{color.name()}">{count:,} {label}</span>' if color else
                             f"{count:,} {label}")
        if summary.min_ms is not None:
            parts.append(f"ms min {summary.min_ms:,} · avg {summary.avg_ms:,.0f} · max {summary.max_ms:,}")
        self.summary_label.setText(" · ".join(parts))

    def _update_empty_state(self, count: int) -> None:
        if count:
            self.table_stack.setCurrentWidget(self.table)
            return
        if self._filter_description(self.current_filter()):
            self.empty_label.setText("No runs match these filters.\n\nClear filters to see every run.")
        else:
            self.empty_label.setText("No runs yet.\n\nRun a flow from its page, or launch one with POST /api: "
                                     "runs appear here as soon as they are queued.")
        self.table_stack.setCurrentWidget(self.empty_label)

    # -- selection and detail --------------------------------------------------------------------

    def _selected_row(self) -> int | None:
        rows = self.table.selectionModel().selectedRows()
        return rows[0].row() if rows else None

    def _select_row(self, row: int) -> None:
        index = self.model.index(row, 0)
        self.table.selectionModel().setCurrentIndex(
            index, QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows)

    def select_execution(self, execution_id: str) -> bool:
        """Select a run if it is among the rows read so far (e.g. just launched); True when found."""
        row = self.model.cached_row_of(execution_id)
        if row is None:
            return False
        self._select_row(row)
        self.table.scrollTo(self.model.index(row, 0))
        return True

    def selected_view(self) -> ExecutionView | None:
        return self.detail_pane.view

    def _on_selection_changed(self, *_args: Any) -> None:
        if self._applying:
            return
        row = self._selected_row()
        self._show_run(None if row is None else self.model.view(row))

    def _show_run(self, view: ExecutionView | None, message: str | None = None, forget: bool = True) -> None:
        if view is not None or forget:
            if view is None or view.execution_id != self._select_after_reload:
                self._select_after_reload = None  # the user's own pick wins over a pending Re-run
            self._target_id = None if view is None else view.execution_id
            self._target_created = None if view is None else view.created_at
        if view is None:
            self._detail_request = None
            if message:
                self.detail_pane.clear(message)
            else:
                self.detail_pane.clear()
            self._update_actions()
            return
        self.detail_pane.show_view(view)
        self._update_actions()
        self._load_detail(view.execution_id)

    def _load_detail(self, execution_id: str) -> None:
        self._detail_request = execution_id
        executions = self.context.services.executions

        flows = self.context.services.flows

        def read() -> tuple[ExecutionDetail, str | None, str | None, str | None]:
            detail = executions.detail(execution_id)
            try:
                level = flows.get_document(detail.view.flow_uuid)["settings"].get("historyLevel")
            except NotFoundError:
                level = None  # the flow was deleted; its runs stay in the history
            # Pretty-printing a big payload is slow: do it here, not on the GUI thread.
            return (detail, None if detail.input is None else pretty_json(detail.input),
                    None if detail.result is None else pretty_json(detail.result), level)

        self.background.submit(read, lambda result: self._detail_loaded(execution_id, result),
                               lambda error: self._detail_failed(execution_id, error))

    def _detail_loaded(self, execution_id: str,
                       result: tuple[ExecutionDetail, str | None, str | None, str | None]) -> None:
        if execution_id != self._detail_request:
            return  # another run was selected meanwhile
        self.detail_pane.show_detail(*result)
        self._update_actions()

    def _detail_failed(self, execution_id: str, error: BaseException) -> None:
        if execution_id != self._detail_request:
            return
        if isinstance(error, NotFoundError):
            self._target_id = self._target_created = None
            self.detail_pane.clear("This run is no longer in the history (it was flushed).")
        else:
            self.detail_pane.clear(f"Could not read this run: {error_text(error)}")
        self._update_actions()

    def _update_actions(self) -> None:
        view = self.detail_pane.view
        self.detail_pane.rerun_button.setEnabled(view is not None)
        self.detail_pane.copy_button.setEnabled(view is not None)
        self.detail_pane.kill_button.setEnabled(view is not None and not view.finished)

    # -- actions ---------------------------------------------------------------------------------

    def _notify(self, text: str) -> None:
        self.notice_label.setText(text)
        self._notice_timer.start()

    def _table_menu(self, position: QPoint) -> None:
        index = self.table.indexAt(position)
        if not index.isValid():
            return
        self._select_row(index.row())
        view = self.detail_pane.view
        if view is None:
            return
        menu = QMenu(self)
        menu.addAction("Copy execution ID", self.copy_selected_id)
        menu.addAction("Re-run", self.rerun_selected)
        kill = menu.addAction("Kill", self.kill_selected)
        kill.setEnabled(not view.finished)
        menu.addSeparator()
        menu.addAction(f"Only runs of “{view.flow_name}”", lambda: self.set_flow_filter(view.flow_uuid))
        menu.popup(self.table.viewport().mapToGlobal(position))

    def copy_selected_id(self) -> None:
        view = self.detail_pane.view
        if view is not None:
            QGuiApplication.clipboard().setText(view.execution_id)
            self._notify(f"Copied {view.execution_id}")

    def rerun_selected(self) -> None:
        view = self.detail_pane.view
        if view is None:
            return
        executions = self.context.services.executions
        self.detail_pane.rerun_button.setEnabled(False)

        def done(result) -> None:
            new_id = result.view.execution_id
            self._select_after_reload = new_id
            self._select_after_sequence = self._reload_sequence + 1
            self._notify(f"Re-run queued as {new_id}")
            self._update_actions()
            self._reload()

        def failed(error: BaseException) -> None:
            self._update_actions()
            QMessageBox.warning(self, "Re-run", error_text(error))

        self.background.submit(lambda: executions.rerun(view.execution_id), done, failed)

    def kill_selected(self) -> None:
        view = self.detail_pane.view
        if view is None or view.finished:
            return
        executions = self.context.services.executions
        self.detail_pane.kill_button.setEnabled(False)

        def done(killed: ExecutionView) -> None:
            self._notify(f"{killed.execution_id} ended {killed.termination_status or killed.state}")
            self._reload()

        def failed(error: BaseException) -> None:
            self._update_actions()
            QMessageBox.warning(self, "Kill", error_text(error))

        # Killing a running run waits for it to stop: never on the GUI thread.
        self.background.submit(lambda: executions.kill(view.execution_id, allow_running=True), done, failed)

    def flush_filtered(self) -> None:
        """Delete the finished runs the filters show, after saying how many."""
        user_filter = self.current_filter()
        history_filter = dataclasses.replace(
            user_filter, until=time.time() if user_filter.until is None else min(user_filter.until, time.time()))
        finished = (history_filter.statuses & set(TERMINATION_STATUSES)) if history_filter.statuses \
            else frozenset(TERMINATION_STATUSES)
        if not finished:
            QMessageBox.information(self, "Flush history", "These filters show only queued or running runs; "
                                    "those are never flushed. Kill a run first to be able to flush it.")
            return
        flush_filter = dataclasses.replace(history_filter, statuses=frozenset(finished))
        history = self.context.services.history
        count = history.count(flush_filter)
        description = self._filter_description(user_filter)
        scope = f"matching {description}" if description else "in the whole history"
        if count == 0:
            QMessageBox.information(self, "Flush history", f"There are no finished runs {scope}.")
            return
        runs = "run" if count == 1 else "runs"
        if not confirm(self, "Flush history", f"Delete {count:,} finished {runs} {scope}?\n\nQueued and running "
                       f"runs are kept. This cannot be undone."):
            return
        self.flush_button.setEnabled(False)

        def done(deleted: int) -> None:
            self.flush_button.setEnabled(True)
            self._notify(f"Deleted {deleted:,} finished {'run' if deleted == 1 else 'runs'}")
            self._reload()

        def failed(error: BaseException) -> None:
            self.flush_button.setEnabled(True)
            QMessageBox.warning(self, "Flush history", error_text(error))

        self.background.submit(lambda: history.flush(flush_filter), done, failed)
