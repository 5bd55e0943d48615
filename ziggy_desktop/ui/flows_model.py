"""Qt models of the flow list: the stored flows as a table, and a proxy that filters by name and tag."""

from __future__ import annotations

from datetime import datetime

from PySide6.QtCore import (QAbstractTableModel, QModelIndex, QPersistentModelIndex, QSortFilterProxyModel, Qt)

from ..flows import FlowSummary

COLUMNS = ("Name", "Tags", "Updated", "Version")
NAME, TAGS, UPDATED, VERSION = range(len(COLUMNS))
UUID_ROLE = Qt.ItemDataRole.UserRole + 1
SORT_ROLE = Qt.ItemDataRole.UserRole + 2
TAGS_ROLE = Qt.ItemDataRole.UserRole + 3

_Index = QModelIndex | QPersistentModelIndex


def format_time(timestamp: float) -> str:
    moment = datetime.fromtimestamp(timestamp)
    if moment.date() == datetime.now().date():
        return moment.strftime("Today %H:%M")
    return moment.strftime("%Y-%m-%d %H:%M")


class FlowsTableModel(QAbstractTableModel):
    """One row per stored flow (FlowSummary); replaced whole on refresh, which is cheap for flows."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self._flows: list[FlowSummary] = []

    def set_flows(self, flows: list[FlowSummary]) -> None:
        self.beginResetModel()
        self._flows = list(flows)
        self.endResetModel()

    def flows(self) -> list[FlowSummary]:
        return list(self._flows)

    def flow(self, row: int) -> FlowSummary:
        return self._flows[row]

    def row_of(self, flow_uuid: str) -> int | None:
        for row, flow in enumerate(self._flows):
            if flow.uuid == flow_uuid:
                return row
        return None

    def all_tags(self) -> list[str]:
        return sorted({tag for flow in self._flows for tag in flow.tags}, key=str.casefold)

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(self._flows)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation,  # noqa: N802
                   role: int = Qt.ItemDataRole.DisplayRole):
        if (role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal
                and 0 <= section < len(COLUMNS)):
            return COLUMNS[section]
        return None

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or not 0 <= index.row() < len(self._flows):
            return None
        flow = self._flows[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return (flow.name, ", ".join(flow.tags), format_time(flow.updated_at), str(flow.version))[column]
        if role == Qt.ItemDataRole.ToolTipRole:
            if column == NAME:
                return f"{flow.name}\n{flow.uuid}"
            if column == UPDATED:
                return datetime.fromtimestamp(flow.updated_at).strftime("%Y-%m-%d %H:%M:%S")
            return None
        if role == Qt.ItemDataRole.TextAlignmentRole and column == VERSION:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == UUID_ROLE:
            return flow.uuid
        if role == TAGS_ROLE:
            return list(flow.tags)
        if role == SORT_ROLE:
            return (flow.name.casefold(), ", ".join(flow.tags).casefold(), flow.updated_at, flow.version)[column]
        return None


class FlowsFilterModel(QSortFilterProxyModel):
    """Keeps the flows whose name contains the search text (any case) and that carry the chosen tag."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self._text = ""
        self._tag: str | None = None
        self.setSortRole(SORT_ROLE)

    def set_text(self, text: str) -> None:
        self._change_filter(lambda: setattr(self, "_text", text.strip().casefold()))

    def set_tag(self, tag: str | None) -> None:
        self._change_filter(lambda: setattr(self, "_tag", tag or None))

    def _change_filter(self, change) -> None:
        # Qt 6.10 replaced invalidateRowsFilter with begin/endFilterChange; older PySide6 lacks them.
        if hasattr(self, "endFilterChange"):
            self.beginFilterChange()
            change()
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        else:
            change()
            self.invalidateRowsFilter()

    def is_filtering(self) -> bool:
        return bool(self._text or self._tag)

    def filterAcceptsRow(self, source_row: int, source_parent: _Index) -> bool:  # noqa: N802
        model = self.sourceModel()
        index = model.index(source_row, NAME, source_parent)
        if self._text and self._text not in str(model.data(index, Qt.ItemDataRole.DisplayRole)).casefold():
            return False
        if self._tag is not None and self._tag not in (model.data(index, TAGS_ROLE) or []):
            return False
        return True
