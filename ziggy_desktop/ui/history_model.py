"""The Execution History table model: a window onto the database, fetched lazily in pages."""

from __future__ import annotations

import logging
from collections import OrderedDict

import shiboken6
from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor, QFont, QStandardItem, QStandardItemModel

from ..executions import ExecutionView
from ..history import HistoryFilter, HistoryRow, HistoryService
from .style import STATUS_TONES, local_time, palette_is_dark

log = logging.getLogger("ziggy.ui")

COLUMNS = ("Execution ID", "Flow", "Mode", "Trigger", "Status", "Created", "ms", "Key name")
ID_COLUMN, FLOW_COLUMN, MODE_COLUMN, TRIGGER_COLUMN, STATUS_COLUMN, CREATED_COLUMN, MS_COLUMN, KEY_COLUMN = range(8)
PAGE_SIZE = 200
MAX_CACHED_PAGES = 64  # ~13,000 rows: enough to scroll back and forth without re-reading

# (tone on a light background, tone on a dark one): text colours that keep their contrast in both.
_DISPLAY = Qt.ItemDataRole.DisplayRole
_TOOL_TIP = Qt.ItemDataRole.ToolTipRole
_FOREGROUND = Qt.ItemDataRole.ForegroundRole
_FONT = Qt.ItemDataRole.FontRole
_ALIGNMENT = Qt.ItemDataRole.TextAlignmentRole
_LEFT = int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
_RIGHT = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)


def status_of(view: ExecutionView) -> str:
    """What the Status column says: the termination status, or QUEUED/RUNNING while live."""
    return view.termination_status or view.state


class HistoryTableModel(QStandardItemModel):
    """rowCount is the filtered count; rows come from the database a page at a time, so opening
    100,000 runs costs one count and one page.

    The view paints from QStandardItems, i.e. from C++, and no Qt virtual is overridden here: a
    Python data()/index() was called for every painted cell, and each call had to win the GIL back
    from the server and worker threads, which stalled the window for 100-200 ms during bursts of API
    launches. A row's items are written when it comes into view (ensure_rows, driven by the page's
    scroll bar) or is asked for (row_entry, view); until then it paints empty."""

    def __init__(self, history: HistoryService, parent=None, page_size: int = PAGE_SIZE,
                 max_cached_pages: int = MAX_CACHED_PAGES):
        super().__init__(0, len(COLUMNS), parent)
        self._history = history
        self.page_size = page_size
        self._max_cached_pages = max_cached_pages
        self._filter = HistoryFilter()
        self._count = 0
        self._pages: OrderedDict[int, list[HistoryRow]] = OrderedDict()
        self._written: set[int] = set()  # rows whose items hold their run (the rows that were in view)
        self.page_loads = 0  # pages read from the database since creation (tests and benchmarks watch it)
        self._bold = QFont()
        self._bold.setBold(True)
        self._brushes: dict[bool, dict[str, QBrush]] = {}
        # Items are cloned from this: read-only and childless like the rows of a plain table model.
        prototype = QStandardItem()
        prototype.setFlags(Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsEnabled
                           | Qt.ItemFlag.ItemNeverHasChildren)
        self.setItemPrototype(prototype)
        self.setHorizontalHeaderLabels(COLUMNS)
        for column in range(len(COLUMNS)):
            self.setHeaderData(column, Qt.Orientation.Horizontal, _RIGHT if column == MS_COLUMN else _LEFT,
                               _ALIGNMENT)

    # -- loading ---------------------------------------------------------------------------------

    @property
    def history_filter(self) -> HistoryFilter:
        return self._filter

    def set_filter(self, history_filter: HistoryFilter) -> None:
        """Show another filter (or re-read the same one): count now, rows when they are looked at."""
        count = self._history.count(history_filter)
        self.load(history_filter, count, {})

    def load(self, history_filter: HistoryFilter, count: int, pages: dict[int, list[HistoryRow]]) -> None:
        """Reset to a count and pages read elsewhere (off the GUI thread); other pages load lazily."""
        self.beginResetModel()
        # Views hear of this as one reset: the row signals in between would each be handled.
        blocked = self.blockSignals(True)
        try:
            self._filter = history_filter
            self._count = count
            self._pages.clear()
            self._written.clear()
            self.setRowCount(0)  # drops every item written so far
            self.setRowCount(count)  # empty rows: each is written when it comes into view
            for index, rows in pages.items():
                self._pages[index] = rows
            while len(self._pages) > self._max_cached_pages:
                self._pages.popitem(last=False)
        finally:
            self.blockSignals(blocked)
        self.page_loads += len(pages)
        self.endResetModel()

    def cached_pages(self) -> list[int]:
        return list(self._pages)

    def ensure_rows(self, first: int, last: int) -> None:
        """Write rows first..last (the rows in view) into the items the view paints, reading their
        pages if needed. Only these rows: in a burst every live refresh starts over, and writing the
        200 rows of a page each time kept the GUI thread long enough to lose the GIL midway."""
        first, last = max(0, first), min(last, self._count - 1)
        if first > last:
            return
        for index in range(first // self.page_size, last // self.page_size + 1):
            start = index * self.page_size
            pending = [row for row in range(max(first, start), min(last + 1, start + self.page_size))
                       if row not in self._written]
            if pending:
                rows = self._page(index)
                self._write([(row, rows[row - start].view) for row in pending if row - start < len(rows)])

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
            self._forget(*self._pages.popitem(last=False))
        return rows

    def _forget(self, index: int, rows: list[HistoryRow]) -> None:
        """Drop the items of a page dropped from the cache: scrolling through 100,000 runs must not
        leave 800,000 items behind."""
        first = index * self.page_size
        written = [row for row in range(first, first + len(rows)) if row in self._written]
        if not written:
            return
        blocked = self.blockSignals(True)  # one dataChanged for the page below, not one per cell
        try:
            for row in written:
                self._written.discard(row)
                for column in range(len(COLUMNS)):
                    item = self.takeItem(row, column)
                    if item is not None:
                        shiboken6.delete(item)  # a taken item belongs to nobody: free it here
        finally:
            self.blockSignals(blocked)
        self.dataChanged.emit(self.index(written[0], 0), self.index(written[-1], len(COLUMNS) - 1), [])

    def _write(self, runs: list[tuple[int, ExecutionView]]) -> None:
        """Write runs into the items of their rows: what the view paints, without calling Python."""
        if not runs:
            return
        dark = palette_is_dark()
        brushes = self._brushes.get(dark)
        if brushes is None:  # tones are picked per palette; a palette change reloads the page
            brushes = self._brushes[dark] = {status: QBrush(QColor(tones[dark]))
                                             for status, tones in STATUS_TONES.items()}
        bold = self._bold
        cell, write = self.index, self.setItemData
        blocked = self.blockSignals(True)  # one dataChanged below, not one per cell
        try:
            for row, view in runs:
                status = status_of(view)
                # Tool tips carry what does not fit: the whole id, and why a run did not succeed.
                write(cell(row, ID_COLUMN), {_DISPLAY: view.execution_id, _TOOL_TIP: view.execution_id})
                write(cell(row, FLOW_COLUMN), {_DISPLAY: view.flow_name,
                                               _TOOL_TIP: f"{view.flow_name}\n{view.flow_uuid}"})
                write(cell(row, MODE_COLUMN), {_DISPLAY: view.mode})
                write(cell(row, TRIGGER_COLUMN), {_DISPLAY: view.trigger})
                status_roles = {_DISPLAY: status, _FONT: bold}
                if status in brushes:
                    status_roles[_FOREGROUND] = brushes[status]
                if view.reason:
                    status_roles[_TOOL_TIP] = view.reason
                write(cell(row, STATUS_COLUMN), status_roles)
                write(cell(row, CREATED_COLUMN), {_DISPLAY: local_time(view.created_at)})
                write(cell(row, MS_COLUMN), {_DISPLAY: "" if view.ms is None else f"{view.ms:,}",
                                             _ALIGNMENT: _RIGHT})
                write(cell(row, KEY_COLUMN), {_DISPLAY: view.key_name or ""})
                self._written.add(row)
        finally:
            self.blockSignals(blocked)
        self.dataChanged.emit(self.index(runs[0][0], 0), self.index(runs[-1][0], len(COLUMNS) - 1), [])

    def row_entry(self, row: int) -> HistoryRow | None:
        if not 0 <= row < self._count:
            return None
        rows = self._page(row // self.page_size)
        offset = row % self.page_size
        # A page can come back short when runs were flushed since the count; the next reset fixes it.
        entry = rows[offset] if offset < len(rows) else None
        if entry is not None and row not in self._written:
            self._write([(row, entry.view)])  # what the row says and what the table shows stay one
        return entry

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
