"""The table model of execution keys for Global Settings > Security (never holds a clear key)."""

from __future__ import annotations

from datetime import datetime

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QFont, QFontDatabase, QGuiApplication, QPalette

from ..keys import KeyInfo, KeyService
from .style import tone

COLUMNS = ("Name", "Prefix", "Created", "Last used", "Status")
NAME, PREFIX, CREATED, LAST_USED, STATUS = range(len(COLUMNS))
KEY_ROLE = Qt.ItemDataRole.UserRole  # the row's KeyInfo
# Mid-tone green: legible as text on both light and dark backgrounds.


def format_time(timestamp: float | None, empty: str = "") -> str:
    return empty if timestamp is None else datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M")


def display_prefix(info: KeyInfo) -> str:
    """The stored prefix with an ellipsis, so nobody mistakes it for the whole key."""
    return f"{info.prefix}…"


class KeysTableModel(QAbstractTableModel):
    """One row per key in creation order; revoked rows stay, greyed, so the audit trail is visible."""

    def __init__(self, keys: KeyService, parent=None):
        super().__init__(parent)
        self._service = keys
        self._rows: list[KeyInfo] = []

    def refresh(self) -> None:
        """Reload from the database (a handful of rows: cheap enough for the GUI thread)."""
        self.set_keys(self._service.list())

    def set_keys(self, keys: list[KeyInfo]) -> None:
        self.beginResetModel()
        self._rows = list(keys)
        self.endResetModel()

    def key_at(self, row: int) -> KeyInfo:
        return self._rows[row]

    def row_of(self, key_id: int) -> int | None:
        for row, info in enumerate(self._rows):
            if info.id == key_id:
                return row
        return None

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation,  # noqa: N802
                   role: int = Qt.ItemDataRole.DisplayRole):
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal \
                and 0 <= section < len(COLUMNS):
            return COLUMNS[section]
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        info = self._rows[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(info, column)
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(info, column)
        if role == Qt.ItemDataRole.ForegroundRole:
            if info.revoked:
                return QBrush(QGuiApplication.palette().color(QPalette.ColorGroup.Disabled,
                                                              QPalette.ColorRole.Text))
            if column == STATUS:
                return QBrush(tone("ok"))
            return None
        if role == Qt.ItemDataRole.FontRole:
            if column == PREFIX:
                return QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
            if info.revoked and column == NAME:
                font = QFont()
                font.setStrikeOut(True)
                return font
            return None
        if role == KEY_ROLE:
            return info
        return None

    @staticmethod
    def _display(info: KeyInfo, column: int) -> str:
        if column == NAME:
            return info.name
        if column == PREFIX:
            return display_prefix(info)
        if column == CREATED:
            return format_time(info.created_at)
        if column == LAST_USED:
            return format_time(info.last_used_at, "Never")
        if info.revoked:
            return f"Revoked {format_time(info.revoked_at)}"
        return "● Active"

    @staticmethod
    def _tooltip(info: KeyInfo, column: int) -> str | None:
        if column == PREFIX:
            return "The first characters of the key, to tell keys apart. The whole key was shown once, when created."
        if column == STATUS:
            if info.revoked:
                return "Revoked: requests with this key get 401 Unauthorized."
            return "Active: accepted by the API."
        if column == LAST_USED and info.last_used_at is None:
            return "No request has used this key yet."
        return None
