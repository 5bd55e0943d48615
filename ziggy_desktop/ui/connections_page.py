"""The Secrets & Connections page: what the vault holds (never its values), with add, edit and delete."""

from __future__ import annotations

from typing import Any, Callable, Sequence

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtWidgets import (QDialog, QHBoxLayout, QHeaderView, QLabel, QMessageBox,
                               QPushButton, QSplitter, QStackedWidget, QTableView, QVBoxLayout, QWidget)

from ..vault import ConnectionInfo, SecretInfo
from .bridge import Background
from .common import configure_list_table, confirm, emphasize, error_text, placeholder_label
from .context import UiContext
from .style import local_time, tone
from .vault_dialogs import KIND_TITLES, ConnectionDialog, SecretDialog

UNREADABLE = "unreadable: re-enter"


def _prod_text(prod: dict[str, str]) -> str:
    return f"own: {', '.join(sorted(prod))}" if prod else "uses DEV"


class VaultTableModel(QAbstractTableModel):
    """Rows of SecretInfo or ConnectionInfo; each column is (title, how to show a row)."""

    def __init__(self, columns: Sequence[tuple[str, Callable[[Any], str]]], parent=None):
        super().__init__(parent)
        self._columns = tuple(columns)
        self._rows: list[Any] = []

    def set_rows(self, rows: list[Any]) -> None:
        self.beginResetModel()
        self._rows = rows
        self.endResetModel()

    def info(self, row: int) -> Any:
        return self._rows[row]

    def row_of(self, name: str) -> int | None:
        return next((i for i, info in enumerate(self._rows) if info.name == name), None)

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(self._columns)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):  # noqa: N802
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal \
                and 0 <= section < len(self._columns):
            return self._columns[section][0]
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        info = self._rows[index.row()]
        title = self._columns[index.column()][0]
        if role == Qt.ItemDataRole.DisplayRole:
            return self._columns[index.column()][1](info)
        if role == Qt.ItemDataRole.ForegroundRole and not info.readable and title in ("DEV", "PROD"):
            return tone("error")
        if role == Qt.ItemDataRole.ToolTipRole:
            if not info.readable:
                return "The values were saved with another key file; edit the entry and enter them again."
            if title == "PROD":
                return "PROD runs use the DEV value of every field without its own PROD value."
            if title == "Description" and info.description:
                return info.description
        return None


SECRET_COLUMNS = (
    ("Name", lambda s: s.name),
    ("Description", lambda s: s.description),
    ("DEV", lambda s: "set" if s.readable else UNREADABLE),
    ("PROD", lambda s: ("own value" if s.prod_set else "uses DEV") if s.readable else UNREADABLE),
    ("Updated", lambda s: local_time(s.updated_at)),
)
CONNECTION_COLUMNS = (
    ("Name", lambda c: c.name),
    ("Kind", lambda c: KIND_TITLES.get(c.kind, c.kind)),
    ("Target", lambda c: c.target),
    ("Description", lambda c: c.description),
    ("DEV", lambda c: "set" if c.readable else UNREADABLE),
    ("PROD", lambda c: _prod_text(c.prod) if c.readable else UNREADABLE),
    ("Updated", lambda c: local_time(c.updated_at)),
)


class VaultSection(QWidget):
    """One list (secrets or connections) with its heading, help, buttons and an empty state."""

    def __init__(self, title: str, help_text: str, empty_text: str, columns, stretch_column: int,
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.title = title
        self.model = VaultTableModel(columns, self)
        self.table = QTableView()
        self.table.setModel(self.model)
        configure_list_table(self.table)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(stretch_column, QHeaderView.ResizeMode.Stretch)
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        self.empty_label = placeholder_label(empty_text)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.table)
        self.stack.addWidget(self.empty_label)

        self.heading = emphasize(QLabel(title), 1.15)
        self.add_button = QPushButton(f"Add {title.lower()[:-1]}…")
        self.edit_button = QPushButton("Edit…")
        self.delete_button = QPushButton("Delete")
        top = QHBoxLayout()
        top.addWidget(self.heading)
        top.addStretch(1)
        for button in (self.add_button, self.edit_button, self.delete_button):
            top.addWidget(button)
        help_label = QLabel(help_text)
        help_label.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 4)
        layout.addLayout(top)
        layout.addWidget(help_label)
        layout.addWidget(self.stack, 1)
        self.table.selectionModel().selectionChanged.connect(lambda *_: self.update_buttons())
        self.model.modelReset.connect(self.update_buttons)
        self.update_buttons()

    def selected(self) -> Any:
        rows = self.table.selectionModel().selectedRows()
        return self.model.info(rows[0].row()) if rows else None

    def show_rows(self, rows: list[Any], select: str | None = None) -> None:
        keep = select or (self.selected().name if self.selected() is not None else None)
        self.model.set_rows(rows)
        self.heading.setText(f"{self.title} ({len(rows)})" if rows else self.title)
        self.stack.setCurrentWidget(self.table if rows else self.empty_label)
        row = self.model.row_of(keep) if keep else None
        if row is not None:
            self.table.selectRow(row)

    def update_buttons(self) -> None:
        selected = self.selected() is not None
        self.edit_button.setEnabled(selected)
        self.delete_button.setEnabled(selected)


class ConnectionsPage(QWidget):
    """Connections above, secrets below; every vault call goes through the background pool."""

    changed = Signal()  # after a save or a delete, once the lists were re-read

    def __init__(self, context: UiContext, background: Background, parent: QWidget | None = None):
        super().__init__(parent)
        self.context = context
        self.background = background
        self.dialog: QDialog | None = None  # the open add/edit dialog (tests drive it)

        heading = emphasize(QLabel("Secrets & Connections"), 1.3)
        intro = QLabel("Each holds a DEV and a PROD value: a run uses the one of its executionEnvironmentMode, and "
                       "PROD falls back to DEV when empty. Values are encrypted on this computer and never shown "
                       "again after saving; exports never contain them.")
        intro.setWordWrap(True)
        self.status_label = QLabel()
        self.status_label.setWordWrap(True)
        self.status_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.status_label.hide()

        self.connections = VaultSection(
            "Connections", "Where blocks connect: HubSpot (token), SQL databases (URL) and REST APIs (base URL and "
            "authentication). Blocks choose one by name.",
            "No connections yet.\n\nAdd one for each HubSpot portal, database or API your flows use.",
            CONNECTION_COLUMNS, 2)
        self.secrets = VaultSection(
            "Secrets", "Named values for scripts and templates, e.g. an API key a REST body needs.",
            "No secrets yet.", SECRET_COLUMNS, 1)
        self.connections.add_button.clicked.connect(lambda: self.add_connection())
        self.connections.edit_button.clicked.connect(self.edit_connection)
        self.connections.delete_button.clicked.connect(self.delete_connection)
        self.connections.table.doubleClicked.connect(lambda _index: self.edit_connection())
        self.secrets.add_button.clicked.connect(self.add_secret)
        self.secrets.edit_button.clicked.connect(self.edit_secret)
        self.secrets.delete_button.clicked.connect(self.delete_secret)
        self.secrets.table.doubleClicked.connect(lambda _index: self.edit_secret())

        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.connections)
        splitter.addWidget(self.secrets)
        splitter.setChildrenCollapsible(False)
        splitter.setSizes([400, 300])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 12, 16, 12)
        layout.addWidget(heading)
        layout.addWidget(intro)
        layout.addWidget(self.status_label)
        layout.addWidget(splitter, 1)
        self.busy = False
        self.refresh()

    # -- reading ---------------------------------------------------------------------------------

    def refresh(self, select_connection: str | None = None, select_secret: str | None = None) -> None:
        vault = self.context.vault
        self.busy = True

        def read() -> tuple[list[ConnectionInfo], list[SecretInfo]]:
            return vault.list_connections(), vault.list_secrets()

        def done(result: tuple[list[ConnectionInfo], list[SecretInfo]]) -> None:
            self.busy = False
            connections, secrets = result
            self.connections.show_rows(connections, select_connection)
            self.secrets.show_rows(secrets, select_secret)
            unreadable = sum(not info.readable for info in (*connections, *secrets))
            self._say(f"{unreadable} entr{'y' if unreadable == 1 else 'ies'} cannot be decrypted with the key file "
                      f"{vault.key_path}: restore the key file it was saved with, or edit and re-enter the values."
                      if unreadable else None)

        def failed(error: BaseException) -> None:
            self.busy = False
            self._say(f"Could not read the vault: {error_text(error)}")

        self.background.submit(read, done, failed)

    def _say(self, text: str | None) -> None:
        self.status_label.setText(text or "")
        self.status_label.setStyleSheet(f"color: {tone('error').name()};" if text else "")
        self.status_label.setVisible(bool(text))

    # -- dialogs ---------------------------------------------------------------------------------

    def _open(self, dialog: QDialog, on_saved: Callable[[Any], None]) -> None:
        """Window-modal and not blocking: the dialog saves on the pool and closes itself when stored."""
        self.dialog = dialog

        def finished(result: int) -> None:
            if result == QDialog.DialogCode.Accepted and dialog.saved_info is not None:
                on_saved(dialog.saved_info)
            if self.dialog is dialog:
                self.dialog = None
            dialog.deleteLater()

        dialog.finished.connect(finished)
        dialog.open()

    def add_connection(self, kind: str = "hubspot") -> None:
        self._open(ConnectionDialog(self.context.vault, self.background, None, self, kind=kind),
                   lambda info: self._after_change(select_connection=info.name))

    def edit_connection(self) -> None:
        info = self.connections.selected()
        if info is not None:
            self._open(ConnectionDialog(self.context.vault, self.background, info, self),
                       lambda saved: self._after_change(select_connection=saved.name))

    def add_secret(self) -> None:
        self._open(SecretDialog(self.context.vault, self.background, None, self),
                   lambda info: self._after_change(select_secret=info.name))

    def edit_secret(self) -> None:
        info = self.secrets.selected()
        if info is not None:
            self._open(SecretDialog(self.context.vault, self.background, info, self),
                       lambda saved: self._after_change(select_secret=saved.name))

    def _after_change(self, **select: str | None) -> None:
        self.refresh(**select)
        self.changed.emit()

    # -- deleting --------------------------------------------------------------------------------

    def delete_connection(self) -> None:
        info = self.connections.selected()
        if info is None or not confirm(self, "Delete connection", f"Delete the connection “{info.name}”?\n\nBlocks "
                                       f"that use it fail until a connection with this name exists again. This "
                                       f"cannot be undone."):
            return
        vault = self.context.vault
        self.background.submit(lambda: vault.delete_connection(info.name), lambda _r: self._after_change(),
                               lambda error: QMessageBox.warning(self, "Delete connection", error_text(error)))

    def delete_secret(self) -> None:
        info = self.secrets.selected()
        if info is None or not confirm(self, "Delete secret", f"Delete the secret “{info.name}”?\n\nFlows that "
                                       f"read it fail until it is added again. This cannot be undone."):
            return
        vault = self.context.vault
        self.background.submit(lambda: vault.delete_secret(info.name), lambda _r: self._after_change(),
                               lambda error: QMessageBox.warning(self, "Delete secret", error_text(error)))
