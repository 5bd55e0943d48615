"""A run's audit lines in the history detail: a table (errors marked), an "errors only" filter, the line's data."""

from __future__ import annotations

import json
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QItemSelectionModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QFont, QFontDatabase, QPalette
from PySide6.QtWidgets import (QCheckBox, QHBoxLayout, QHeaderView, QLabel, QPlainTextEdit,
                               QSplitter, QStackedWidget, QTableView, QVBoxLayout, QWidget)

from ..audit import EXECUTION_DETAIL_LINES, AuditLine
from .common import configure_list_table, placeholder_label, pretty_json
from .style import local_time, status_color

COLUMNS = ("Time", "Level", "Topic", "Identifier", "Primary key", "Secondary key", "Block", "Data")
TIME, LEVEL, TOPIC, IDENTIFIER, PRIMARY_KEY, SECONDARY_KEY, BLOCK, DATA = range(len(COLUMNS))
PREVIEW_CHARS = 160  # the Data column is a hint; the pane below shows the whole value
NO_LINES = ("No audit lines.\n\nAn Audit block writes one line per record it receives (e.g. the rows a migration "
            "rejected); they appear here with the run.")

_Index = QModelIndex | QPersistentModelIndex


def _preview(data: Any) -> str:
    if data is None:
        return ""
    text = json.dumps(data, ensure_ascii=False, separators=(", ", ": "), default=str)
    return text if len(text) <= PREVIEW_CHARS else f"{text[:PREVIEW_CHARS]}…"


class AuditTableModel(QAbstractTableModel):
    """One row per audit line in the order the run wrote them; `set_errors_only` hides the other lines."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self._lines: list[AuditLine] = []
        self._shown: list[AuditLine] = []
        self._errors_only = False
        self._block_names: dict[str, str] = {}
        self._previews: dict[int, str] = {}  # by line id, filled as rows are painted
        self._error_brush = QBrush()
        self._bold = QFont()
        self._bold.setBold(True)

    # -- content ---------------------------------------------------------------------------------

    def set_lines(self, lines: list[AuditLine], block_names: dict[str, str] | None = None,
                  palette: QPalette | None = None) -> None:
        self.beginResetModel()
        self._lines = list(lines)
        self._block_names = dict(block_names or {})
        self._previews.clear()
        color = status_color("FATAL", palette)
        self._error_brush = QBrush(color) if color is not None else QBrush()
        self._shown = self._filtered()
        self.endResetModel()

    def set_errors_only(self, errors_only: bool) -> None:
        if errors_only == self._errors_only:
            return
        self.beginResetModel()
        self._errors_only = errors_only
        self._shown = self._filtered()
        self.endResetModel()

    def _filtered(self) -> list[AuditLine]:
        return [line for line in self._lines if line.is_error] if self._errors_only else list(self._lines)

    @property
    def errors_only(self) -> bool:
        return self._errors_only

    def total(self) -> int:
        return len(self._lines)

    def error_count(self) -> int:
        return sum(1 for line in self._lines if line.is_error)

    def line(self, row: int) -> AuditLine | None:
        return self._shown[row] if 0 <= row < len(self._shown) else None

    def row_of(self, line_id: int) -> int | None:
        for row, line in enumerate(self._shown):
            if line.id == line_id:
                return row
        return None

    # -- Qt model --------------------------------------------------------------------------------

    def rowCount(self, parent: _Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._shown)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def flags(self, index: _Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemNeverHasChildren

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and 0 <= section < len(COLUMNS) \
                and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        line = self.line(index.row()) if index.isValid() else None
        if line is None or not 0 <= index.column() < len(COLUMNS):
            return None
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._text(line, column)
        if role == Qt.ItemDataRole.ToolTipRole:
            if column == TIME:
                return local_time(line.created_at, with_ms=True)
            if column == BLOCK:
                return f"Block id: {line.block_id}"
            if column == DATA:
                return "The whole value is shown below when the line is selected." if line.data is not None \
                    else "No data kept (the Audit block's 'includeData' is off)."
            return self._text(line, column) or None
        if role == Qt.ItemDataRole.ForegroundRole and line.is_error:
            return self._error_brush
        if role == Qt.ItemDataRole.FontRole and line.is_error and column == LEVEL:
            return self._bold
        return None

    def _text(self, line: AuditLine, column: int) -> str:
        if column == TIME:
            return local_time(line.created_at, with_ms=True)[11:]
        if column == LEVEL:
            return "Error" if line.is_error else "Info"
        if column == TOPIC:
            return line.topic
        if column == IDENTIFIER:
            return line.identifier or ""
        if column == PRIMARY_KEY:
            return line.primary_key or ""
        if column == SECONDARY_KEY:
            return line.secondary_key or ""
        if column == BLOCK:
            return self._block_names.get(line.block_id, line.block_id)
        preview = self._previews.get(line.id)
        if preview is None:
            preview = self._previews[line.id] = _preview(line.data)
        return preview


class AuditView(QWidget):
    """The Audit tab: a note when the run wrote no lines; else the lines, a filter, and the selected line's data."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.model = AuditTableModel(self)
        self.execution_id: str | None = None

        self.empty_label = placeholder_label(NO_LINES)

        self.summary_label = QLabel()
        self.summary_label.setTextFormat(Qt.TextFormat.RichText)
        self.errors_only = QCheckBox("Errors only")
        self.errors_only.setToolTip("Show only the lines marked as errors")
        self.errors_only.toggled.connect(self._on_errors_only)
        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.summary_label, 1)
        top.addWidget(self.errors_only)

        self.table = QTableView()
        self.table.setModel(self.model)
        configure_list_table(self.table)
        self.table.verticalHeader().setDefaultSectionSize(self.table.fontMetrics().height() + 8)
        header = self.table.horizontalHeader()
        header.setHighlightSections(False)
        header.setStretchLastSection(True)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.table.selectionModel().currentRowChanged.connect(self._on_current_changed)

        self.data_caption = QLabel()
        self.data_caption.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.data_text = QPlainTextEdit()
        self.data_text.setReadOnly(True)
        self.data_text.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.data_text.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        data_box = QWidget()
        data_layout = QVBoxLayout(data_box)
        data_layout.setContentsMargins(0, 4, 0, 0)
        data_layout.setSpacing(2)
        data_layout.addWidget(self.data_caption)
        data_layout.addWidget(self.data_text, 1)

        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.addWidget(self.table)
        self.splitter.addWidget(data_box)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        self.splitter.setChildrenCollapsible(False)

        content = QWidget()
        content_layout = QVBoxLayout(content)
        content_layout.setContentsMargins(0, 4, 0, 0)
        content_layout.setSpacing(4)
        content_layout.addLayout(top)
        content_layout.addWidget(self.splitter, 1)

        self.stack = QStackedWidget()
        self.stack.addWidget(self.empty_label)
        self.stack.addWidget(content)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.stack)

    # -- content ---------------------------------------------------------------------------------

    def show_note(self, text: str) -> None:
        """No lines to show (yet): say why."""
        self.execution_id = None
        self.model.set_lines([])
        self.empty_label.setText(text)
        self.stack.setCurrentWidget(self.empty_label)

    def show_lines(self, execution_id: str, lines: list[AuditLine], block_names: dict[str, str]) -> None:
        """The run's lines; the same run shown again (it is live) keeps the filter and the selected line."""
        same_run = execution_id == self.execution_id
        selected = self.selected_line() if same_run else None
        self.execution_id = execution_id
        if not same_run:
            self.errors_only.blockSignals(True)
            self.errors_only.setChecked(False)
            self.errors_only.blockSignals(False)
            self.model.set_errors_only(False)
        if not lines:
            self.model.set_lines([])
            self.empty_label.setText(NO_LINES)
            self.stack.setCurrentWidget(self.empty_label)
            return
        self.model.set_lines(lines, block_names, self.palette())
        self.stack.setCurrentIndex(1)
        self._show_summary()
        if not same_run:
            self._fit_columns()
        self._select(selected.id if selected is not None else None)

    def _show_summary(self) -> None:
        total, errors = self.model.total(), self.model.error_count()
        parts = [f"<b>{total:,}</b> line{'' if total == 1 else 's'}"]
        if errors:
            color = status_color("FATAL", self.palette())
            text = f"{errors:,} error{'' if errors == 1 else 's'}"
            parts.append(f'<span style="color:{color.name()}">{text}</span>' if color is not None else text)
        if total >= EXECUTION_DETAIL_LINES:
            parts.append(f"the first {EXECUTION_DETAIL_LINES:,}; GET /api/ziggy/audit?executionId=… returns all")
        self.summary_label.setText(" · ".join(parts))
        self.errors_only.setEnabled(errors > 0 or self.model.errors_only)

    def _fit_columns(self) -> None:
        header = self.table.horizontalHeader()
        self.table.resizeColumnsToContents()
        cap = max(80, self.table.fontMetrics().averageCharWidth() * 28)  # long keys must not push Data away
        for column in range(DATA):
            header.resizeSection(column, min(header.sectionSize(column), cap))

    def _select(self, line_id: int | None) -> None:
        row = self.model.row_of(line_id) if line_id is not None else None
        if row is None and self.model.rowCount():
            row = 0
        if row is None:
            self._show_data(None)
            return
        self.table.selectionModel().setCurrentIndex(
            self.model.index(row, 0),
            QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows)
        self.table.scrollTo(self.model.index(row, 0))
        self._show_data(self.model.line(row))

    def selected_line(self) -> AuditLine | None:
        index = self.table.selectionModel().currentIndex()
        return self.model.line(index.row()) if index.isValid() else None

    def _on_errors_only(self, checked: bool) -> None:
        selected = self.selected_line()
        self.model.set_errors_only(checked)
        self._select(selected.id if selected is not None else None)

    def _on_current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        self._show_data(self.model.line(current.row()) if current.isValid() else None)

    def _show_data(self, line: AuditLine | None) -> None:
        if line is None:
            self.data_caption.setText("Data")
            self.data_text.setPlaceholderText("No line is shown: clear “Errors only” to see the others."
                                              if self.model.total() else "")
            self.data_text.setPlainText("")
            return
        label = line.identifier or line.primary_key or line.secondary_key or f"line {line.id}"
        self.data_caption.setText(f"Data of {label} ({line.topic})")
        self.data_text.setPlaceholderText("This line kept no data: turn on 'includeData' in its Audit block to "
                                          "keep each record with its line.")
        self.data_text.setPlainText("" if line.data is None else pretty_json(line.data))
