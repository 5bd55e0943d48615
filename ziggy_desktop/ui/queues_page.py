"""The Queues page: the system queue live (running runs first, then waiting runs in order) and the named queues."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, QTimer, Slot
from PySide6.QtWidgets import (QHBoxLayout, QHeaderView, QLabel, QMessageBox, QPushButton,
                               QSplitter, QTableView, QVBoxLayout, QWidget)

from .bridge import Background, EventBridge
from .context import UiContext
from .named_queues import NamedQueuesPanel
from .common import configure_list_table, emphasize
from .style import local_time, status_color

COLUMNS = ("State", "Position", "Execution ID", "Flow", "Mode", "Trigger", "Created", "Started")
SHOWN_LIMIT = 1000
NAMED_QUEUE_POLL_MS = 2000  # rates and pauses changed through the API or the CLI announce no event


class QueueTableModel(QAbstractTableModel):
    """Rows: (state, position, QueueItem, started_at); replaced whole on each refresh."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self._rows: list[tuple[str, int, Any, float | None]] = []

    def set_rows(self, rows: list[tuple[str, int, Any, float | None]]) -> None:
        self.beginResetModel()
        self._rows = rows
        self.endResetModel()

    def execution_id(self, row: int) -> str:
        return self._rows[row][2].execution_id

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):  # noqa: N802
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal and 0 <= section < len(COLUMNS):
            return COLUMNS[section]
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        state, position, item, started_at = self._rows[index.row()]
        if role == Qt.ItemDataRole.ForegroundRole and index.column() == 0:
            return status_color(state)
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        return (state, str(position) if position else "", item.execution_id, item.flow_name, item.mode,
                item.trigger, local_time(item.created_at), local_time(started_at))[index.column()]


class QueuesPage(QWidget):
    def __init__(self, context: UiContext, bridge: EventBridge, background: Background, parent=None):
        super().__init__(parent)
        self.context = context
        self.background = background
        self.summary = QLabel()
        self.model = QueueTableModel(self)
        self.table = QTableView()
        self.table.setModel(self.model)
        configure_list_table(self.table)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(COLUMNS.index("Flow"), QHeaderView.ResizeMode.Stretch)
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        self.kill_button = QPushButton("Kill selected run")
        self.kill_button.setToolTip("Drop a queued run, or stop a running one; it ends KILLED.")
        self.kill_button.clicked.connect(self.kill_selected)

        heading = emphasize(QLabel("System queue"), 1.3)
        help_text = QLabel("Every launch, from the API, the app or the command line, waits here in order; at most "
                           "MAX_CONCURENT_JOBS run at once.")
        help_text.setWordWrap(True)
        top = QHBoxLayout()
        top.addWidget(self.summary, 1)
        top.addWidget(self.kill_button)
        system = QWidget()
        system_layout = QVBoxLayout(system)
        system_layout.setContentsMargins(0, 0, 0, 0)
        system_layout.addWidget(heading)
        system_layout.addWidget(help_text)
        system_layout.addLayout(top)
        system_layout.addWidget(self.table, 1)
        self.named_panel = NamedQueuesPanel(context, background)
        self.named_panel.changed.connect(self._schedule)
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.addWidget(system)
        self.splitter.addWidget(self.named_panel)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        self.splitter.setSizes([440, 260])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 12, 16, 12)
        layout.addWidget(self.splitter, 1)

        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(200)
        self._timer.timeout.connect(self.refresh)
        bridge.executionsChanged.connect(self._schedule)
        self._named_poll = QTimer(self)
        self._named_poll.setInterval(NAMED_QUEUE_POLL_MS)
        self._named_poll.timeout.connect(lambda: self.named_panel.refresh() if self.isVisible() else None)
        self._named_poll.start()
        self.refresh()

    @Slot(list)
    def _schedule(self, _events=None) -> None:
        if not self._timer.isActive():
            self._timer.start()

    def refresh(self) -> None:
        self.named_panel.refresh()
        queue = self.context.services.queue
        if queue is None:
            self.summary.setText("The queue is stopped.")
            self.model.set_rows([])
            return
        running, queued, total = queue.snapshot(SHOWN_LIMIT)
        rows = [("RUNNING", 0, item, started) for item, started in running]
        rows += [("QUEUED", index + 1, item, None) for index, item in enumerate(queued)]
        self.model.set_rows(rows)
        more = f" (showing the first {SHOWN_LIMIT})" if total > SHOWN_LIMIT else ""
        self.summary.setText(f"{len(running)} running · {total} queued{more} · at most {queue.max_jobs} at once")

    def kill_selected(self) -> None:
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            QMessageBox.information(self, "Kill a run", "Select a run in the table first.")
            return
        execution_id = self.model.execution_id(rows[0].row())
        executions = self.context.services.executions
        self.background.submit(lambda: executions.kill(execution_id, allow_running=True),
                               lambda _view: self.refresh(),
                               lambda error: QMessageBox.warning(self, "Kill a run", str(error)))
