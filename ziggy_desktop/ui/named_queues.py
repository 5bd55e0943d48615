"""Named queues on the Queues page: their table model, the add/edit dialog and the panel with its actions."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QDoubleSpinBox, QFormLayout,
                               QHBoxLayout, QHeaderView, QLabel, QLineEdit, QMessageBox, QPushButton,
                               QStackedWidget, QTableView, QVBoxLayout, QWidget)

from ..errors import ValidationError
from ..named_queues import MAX_RATE, check_queue_name
from .bridge import Background
from .common import configure_list_table, confirm, emphasize, error_text, placeholder_label
from .context import UiContext
from .style import status_color, tone

COLUMNS = ("Queue", "Rate limit", "State", "Waiting", "Running")
NUMBER_COLUMNS = (3, 4)


def rate_text(rate: float) -> str:
    if rate <= 0:
        return "no limit"
    return f"{rate:g} run{'' if rate == 1 else 's'}/s"


class NamedQueueModel(QAbstractTableModel):
    """Rows: the system queue's named_queue_view() dicts (name, ratePerSecond, paused, depth, running)."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self._rows: list[dict[str, Any]] = []

    def set_rows(self, rows: list[dict[str, Any]]) -> None:
        if rows == self._rows:
            return  # a live refresh with nothing new keeps the selection and the scroll position
        self.beginResetModel()
        self._rows = rows
        self.endResetModel()

    def row_data(self, row: int) -> dict[str, Any]:
        return self._rows[row]

    def row_of(self, name: str) -> int | None:
        return next((i for i, r in enumerate(self._rows) if r["name"] == name), None)

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):  # noqa: N802
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal \
                and 0 <= section < len(COLUMNS):
            return COLUMNS[section]
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        row, column = self._rows[index.row()], index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            depth, running = row.get("depth"), row.get("running")
            return (row["name"], rate_text(row["ratePerSecond"]), "Paused" if row["paused"] else "Active",
                    "—" if depth is None else f"{depth:,}", "—" if running is None else f"{running:,}")[column]
        if role == Qt.ItemDataRole.ForegroundRole and column == 2:
            return tone("warning") if row["paused"] else status_color("SUCCESS")
        if role == Qt.ItemDataRole.TextAlignmentRole and column in NUMBER_COLUMNS:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ToolTipRole and column == 2 and row["paused"]:
            return "Runs on this queue wait in the system queue until you resume it."
        return None


class NamedQueueDialog(QDialog):
    """Add a queue (name and rate) or change an existing queue's rate."""

    def __init__(self, existing: dict[str, Any] | None, taken: set[str], parent: QWidget | None = None):
        super().__init__(parent)
        self.existing = existing
        self.taken = taken
        self.setWindowTitle("Edit queue" if existing else "Add queue")
        self.setMinimumWidth(440)
        self.name_field = QLineEdit(existing["name"] if existing else "")
        self.name_field.setPlaceholderText("e.g. hubspot")
        self.name_field.setReadOnly(existing is not None)
        self.name_field.setToolTip("Choose this name in a flow's Receiver (its queue setting)")
        self.rate_spin = QDoubleSpinBox()
        self.rate_spin.setRange(0, MAX_RATE)
        self.rate_spin.setDecimals(2)
        self.rate_spin.setSingleStep(1)
        self.rate_spin.setSuffix(" runs/s")
        self.rate_spin.setSpecialValueText("No limit")  # shown at 0
        self.rate_spin.setValue(float(existing["ratePerSecond"]) if existing else 0.0)
        self.rate_spin.setMinimumWidth(140)
        help_text = QLabel("Runs of flows whose Receiver names this queue start at most this many times a second, "
                           "across every launch. 0 means no limit. Below 1, e.g. 0.5, is one run every 2 seconds.")
        help_text.setWordWrap(True)
        help_text.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.error_label = QLabel()
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet(f"color: {tone('error').name()};")
        self.error_label.hide()
        self.name_field.textEdited.connect(lambda _text: self.error_label.hide())

        form = QFormLayout()
        form.addRow("Name:", self.name_field)
        rate_row = QHBoxLayout()
        rate_row.addWidget(self.rate_spin)
        rate_row.addStretch(1)
        form.addRow("Rate limit:", rate_row)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(help_text)
        layout.addWidget(self.error_label)
        layout.addWidget(buttons)
        (self.rate_spin if existing else self.name_field).setFocus()

    def values(self) -> tuple[str, float]:
        return self.name_field.text().strip(), self.rate_spin.value()

    def accept(self) -> None:
        name = self.name_field.text()
        try:
            name = check_queue_name(name)
        except ValidationError as error:
            self._fail(error.message)
            return
        if self.existing is None and name in self.taken:
            self._fail(f"A queue named “{name}” exists already; select it and press Edit to change its rate.")
            return
        super().accept()

    def _fail(self, text: str) -> None:
        self.error_label.setText(text)
        self.error_label.show()


class NamedQueuesPanel(QWidget):
    """The named queues with their live depth, and add/edit/pause/resume/delete."""

    changed = Signal()  # after a change was stored and applied to the system queue

    def __init__(self, context: UiContext, background: Background, parent: QWidget | None = None):
        super().__init__(parent)
        self.context = context
        self.background = background
        self.model = NamedQueueModel(self)
        self.table = QTableView()
        self.table.setModel(self.model)
        configure_list_table(self.table)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        self.table.doubleClicked.connect(lambda _index: self.edit_selected())
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._update_buttons())
        self.model.modelReset.connect(self._update_buttons)

        self.empty_label = placeholder_label("No named queues yet.\n\nAdd one to throttle the flows that call a "
                                             "rate-limited API: choose its name in the flow's Receiver.")
        self.stack = QStackedWidget()
        self.stack.addWidget(self.table)
        self.stack.addWidget(self.empty_label)

        heading = emphasize(QLabel("Named queues"), 1.15)
        help_text = QLabel("A flow whose Receiver names a queue starts its runs at the queue's rate; pausing a queue "
                           "holds its runs in the system queue until it is resumed.")
        help_text.setWordWrap(True)
        self.add_button = QPushButton("Add queue…")
        self.add_button.clicked.connect(self.add_queue)
        self.edit_button = QPushButton("Edit…")
        self.edit_button.setToolTip("Change the selected queue's rate limit")
        self.edit_button.clicked.connect(self.edit_selected)
        self.pause_button = QPushButton("Pause")
        self.pause_button.clicked.connect(self.toggle_pause_selected)
        self.delete_button = QPushButton("Delete")
        self.delete_button.clicked.connect(self.delete_selected)
        actions = QHBoxLayout()
        actions.addWidget(heading)
        actions.addStretch(1)
        for button in (self.add_button, self.edit_button, self.pause_button, self.delete_button):
            actions.addWidget(button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(actions)
        layout.addWidget(help_text)
        layout.addWidget(self.stack, 1)
        self.refresh()

    # -- reading ---------------------------------------------------------------------------------

    def refresh(self) -> None:
        """The system queue's in-memory view (no database read), or the stored settings without counts."""
        queue = self.context.services.queue
        if queue is not None:
            self._show(queue.named_queue_view())
            return
        store = self.context.services.named_queues
        self.background.submit(lambda: [{**q.to_json(), "depth": None, "running": None} for q in store.list()],
                               self._show)

    def _show(self, rows: list[dict[str, Any]]) -> None:
        selected = self.selected_name()
        self.model.set_rows(rows)
        self.stack.setCurrentWidget(self.table if rows else self.empty_label)
        row = self.model.row_of(selected) if selected else None
        if row is not None and self.selected_name() != selected:
            self.table.selectRow(row)
        self._update_buttons()

    def selected_name(self) -> str | None:
        rows = self.table.selectionModel().selectedRows()
        return self.model.row_data(rows[0].row())["name"] if rows else None

    def _selected(self) -> dict[str, Any] | None:
        rows = self.table.selectionModel().selectedRows()
        return self.model.row_data(rows[0].row()) if rows else None

    def _update_buttons(self) -> None:
        selected = self._selected()
        for button in (self.edit_button, self.pause_button, self.delete_button):
            button.setEnabled(selected is not None)
        paused = bool(selected and selected["paused"])
        self.pause_button.setText("Resume" if paused else "Pause")
        self.pause_button.setToolTip("Let the queue's runs start again" if paused
                                     else "Hold the queue's runs in the system queue (running runs go on)")

    # -- changing --------------------------------------------------------------------------------

    def _save(self, title: str, name: str, rate: float | None = None, paused: bool | None = None) -> None:
        store, queue = self.context.services.named_queues, self.context.services.queue

        def work() -> None:
            store.save(name, rate_per_second=rate, paused=paused)
            if queue is not None:
                queue.refresh_named_queues()  # applied now, not at the queue's next poll

        def done(_result: Any) -> None:
            self.refresh()
            row = self.model.row_of(name)
            if row is not None:
                self.table.selectRow(row)
            self.changed.emit()

        self.background.submit(work, done, lambda error: QMessageBox.warning(self, title, error_text(error)))

    def add_queue(self) -> None:
        taken = {self.model.row_data(r)["name"] for r in range(self.model.rowCount())}
        dialog = NamedQueueDialog(None, taken, self)
        if dialog.exec() == QDialog.DialogCode.Accepted:
            name, rate = dialog.values()
            self._save("Add queue", name, rate=rate, paused=False)
        dialog.deleteLater()

    def edit_selected(self) -> None:
        selected = self._selected()
        if selected is None:
            return
        dialog = NamedQueueDialog(selected, set(), self)
        if dialog.exec() == QDialog.DialogCode.Accepted:
            self._save("Edit queue", selected["name"], rate=dialog.values()[1])
        dialog.deleteLater()

    def toggle_pause_selected(self) -> None:
        selected = self._selected()
        if selected is not None:
            self._save("Pause queue", selected["name"], paused=not selected["paused"])

    def delete_selected(self) -> None:
        selected = self._selected()
        if selected is None:
            return
        name = selected["name"]
        waiting = selected.get("depth") or 0
        consequence = (f"{waiting:,} waiting run{'' if waiting == 1 else 's'} will start without its limit. "
                       if waiting else "")
        if not confirm(self, "Delete queue", f"Delete the queue “{name}”?\n\n{consequence}Flows whose Receiver "
                       f"names it run without a limit until you add it again."):
            return
        store, queue = self.context.services.named_queues, self.context.services.queue

        def work() -> None:
            store.delete(name)
            if queue is not None:
                queue.refresh_named_queues()

        def done(_result: Any) -> None:
            self.refresh()
            self.changed.emit()

        self.background.submit(work, done,
                               lambda error: QMessageBox.warning(self, "Delete queue", error_text(error)))
