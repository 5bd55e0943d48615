"""The Execution History table model: a window onto the database, fetched lazily in pages."""

from __future__ import annotations

import logging
from collections import OrderedDict
from datetime import datetime

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QModelRoleDataSpan, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QPalette
from PySide6.QtWidgets import QApplication

from ..executions import ExecutionView
from ..history import HistoryFilter, HistoryRow, HistoryService

log = logging.getLogger("ziggy.ui")

_ROLES = frozenset({Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole, Qt.ItemDataRole.ForegroundRole,
                    Qt.ItemDataRole.TextAlignmentRole, Qt.ItemDataRole.FontRole})
COLUMNS = ("Execution ID", "Flow", "Mode", "Trigger", "Status", "Created", "ms", "Key name")
ID_COLUMN, FLOW_COLUMN, MODE_COLUMN, TRIGGER_COLUMN, STATUS_COLUMN, CREATED_COLUMN, MS_COLUMN, KEY_COLUMN = range(8)
PAGE_SIZE = 200
MAX_CACHED_PAGES = 64  # ~13,000 rows: enough to scroll back and forth without re-reading

# (tone on a light background, tone on a dark one): text colours that keep their contrast in both.
_STATUS_TONES = {
    "SUCCESS": ("#1e7b34", "#5fcf7a"),
    "FATAL": ("#c92a2a", "#ff6b6b"),
    "TIMED OUT": ("#c2410c", "#ffa94d"),
    "KILLED": ("#6b7280", "#a6adb8"),
    "RUNNING": ("#1864ab", "#5aa9f0"),
    "QUEUED": ("#6741d9", "#b197fc"),
}


def status_of(view: ExecutionView) -> str:
    """What the Status column says: the termination status, or QUEUED/RUNNING while live."""
    return view.termination_status or view.state


def palette_is_dark(palette: QPalette | None = None) -> bool:
    if palette is None:
        palette = QApplication.palette()
    return palette.color(QPalette.ColorRole.Base).lightness() < 128


def status_color(status: str | None, palette: QPalette | None = None) -> QColor | None:
    tones = _STATUS_TONES.get(status or "")
    if tones is None:
        return None
    return QColor(tones[1] if palette_is_dark(palette) else tones[0])


def local_time(timestamp: float | None, with_ms: bool = False) -> str:
    if timestamp is None:
        return ""
    moment = datetime.fromtimestamp(timestamp)
    if with_ms:
        return moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{moment.microsecond // 1000:03d}"
    return moment.strftime("%Y-%m-%d %H:%M:%S")


class HistoryTableModel(QAbstractTableModel):
    """rowCount is the filtered count; rows come from the database a page at a time, only when the
    view asks for them, so opening 100,000 runs costs one count and one page."""

    def __init__(self, history: HistoryService, parent=None, page_size: int = PAGE_SIZE,
                 max_cached_pages: int = MAX_CACHED_PAGES):
        super().__init__(parent)
        self._history = history
        self.page_size = page_size
        self._max_cached_pages = max_cached_pages
        self._filter = HistoryFilter()
        self._count = 0
        self._pages: OrderedDict[int, list[HistoryRow]] = OrderedDict()
        self.page_loads = 0  # pages read from the database since creation (tests and benchmarks watch it)
        self._bold = QFont()
        self._bold.setBold(True)

    # -- loading ---------------------------------------------------------------------------------

    @property
    def history_filter(self) -> HistoryFilter:
        return self._filter

    def set_filter(self, history_filter: HistoryFilter) -> None:
        """Show another filter (or re-read the same one): count now, rows when they are looked at."""
        count = self._history.count(history_filter)
        self.load(history_filter, count, {})

    def reload(self) -> None:
        self.set_filter(self._filter)

    def load(self, history_filter: HistoryFilter, count: int, pages: dict[int, list[HistoryRow]]) -> None:
        """Reset to a count and pages read elsewhere (off the GUI thread); other pages load lazily."""
        self.beginResetModel()
        self._filter = history_filter
        self._count = count
        self._pages.clear()
        for index, rows in pages.items():
            self._pages[index] = rows
        self.page_loads += len(pages)
        self.endResetModel()

    def cached_pages(self) -> list[int]:
        return list(self._pages)

    def _page(self, index: int) -> list[HistoryRow]:
        rows = self._pages.get(index)
        if rows is not None:
            self._pages.move_to_end(index)
            return rows
        try:
            rows = self._history.page(self._filter, index * self.page_size, self.page_size)
        except Exception:  # noqa: BLE001 - an unreadable page shows blank rows until the next reset
            log.exception("could not read history page %d", index)
            rows = []
        self.page_loads += 1
        self._pages[index] = rows
        while len(self._pages) > self._max_cached_pages:
            self._pages.popitem(last=False)
        return rows

    def row_entry(self, row: int) -> HistoryRow | None:
        if not 0 <= row < self._count:
            return None
        rows = self._page(row // self.page_size)
        offset = row % self.page_size
        # A page can come back short when runs were flushed since the count; the next reset fixes it.
        return rows[offset] if offset < len(rows) else None

    def view(self, row: int) -> ExecutionView | None:
        """The run shown on a row (read from its page if needed), or None past the end."""
        entry = self.row_entry(row)
        return None if entry is None else entry.view

    def cached_row_of(self, execution_id: str) -> int | None:
        """The row of a run among the pages already read; never reads the database."""
        for index, rows in self._pages.items():
            for offset, entry in enumerate(rows):
                if entry.view.execution_id == execution_id:
                    return index * self.page_size + offset
        return None

    # -- Qt model --------------------------------------------------------------------------------

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else self._count

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation,  # noqa: N802
                   role: int = Qt.ItemDataRole.DisplayRole):
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(COLUMNS):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        if role == Qt.ItemDataRole.TextAlignmentRole:
            horizontal = Qt.AlignmentFlag.AlignRight if section == MS_COLUMN else Qt.AlignmentFlag.AlignLeft
            return int(horizontal | Qt.AlignmentFlag.AlignVCenter)
        return None

    # flags() is left to QAbstractTableModel (enabled, selectable, no children): a Python override
    # would cost one more GIL hand-over per painted cell.

    def index(self, row: int, column: int, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> QModelIndex:
        """One Python call per cell instead of the base class's rowCount() and columnCount()."""
        if parent.isValid() or not (0 <= row < self._count and 0 <= column < len(COLUMNS)):
            return QModelIndex()
        return self.createIndex(row, column)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or index.parent().isValid() or role not in _ROLES:
            return None
        view = self.view(index.row())
        return self._value(view, index.column(), None if view is None else status_of(view), role)

    def multiData(self, index: QModelIndex | QPersistentModelIndex, roleDataSpan: QModelRoleDataSpan) -> None:  # noqa: N802,N803
        """Every role of a cell in one call. The delegate asks for ~7 roles per cell; answering them
        one data() call at a time means thousands of GIL hand-overs per repaint, which stalled the
        window during bursts of API launches."""
        if not index.isValid() or index.parent().isValid():
            for role_data in roleDataSpan:
                role_data.clearData()
            return
        view = self.view(index.row())
        status = None if view is None else status_of(view)
        column = index.column()
        for role_data in roleDataSpan:
            role = role_data.role()
            role_data.setData(self._value(view, column, status, role) if role in _ROLES else None)

    def _value(self, view: ExecutionView | None, column: int, status: str | None, role: int):
        if role == Qt.ItemDataRole.TextAlignmentRole:
            if column == MS_COLUMN:
                return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            return int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        if view is None:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(view, column, status)
        if role == Qt.ItemDataRole.ForegroundRole:
            if column == STATUS_COLUMN:
                color = status_color(status)
                return None if color is None else QBrush(color)
            return None
        if role == Qt.ItemDataRole.FontRole:
            return self._bold if column == STATUS_COLUMN else None
        # Tool tips carry what does not fit: the whole id, and why a run did not succeed.
        if column == ID_COLUMN:
            return view.execution_id
        if column == STATUS_COLUMN and view.reason:
            return view.reason
        if column == FLOW_COLUMN:
            return f"{view.flow_name}\n{view.flow_uuid}"
        return None

    @staticmethod
    def _display(view: ExecutionView, column: int, status: str) -> str:
        if column == ID_COLUMN:
            return view.execution_id
        if column == FLOW_COLUMN:
            return view.flow_name
        if column == MODE_COLUMN:
            return view.mode
        if column == TRIGGER_COLUMN:
            return view.trigger
        if column == STATUS_COLUMN:
            return status
        if column == CREATED_COLUMN:
            return local_time(view.created_at)
        if column == MS_COLUMN:
            return "" if view.ms is None else f"{view.ms:,}"
        if column == KEY_COLUMN:
            return view.key_name or ""
        return ""
