"""Dialogs around execution keys: the name prompt, and the one-time display of a new key."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, QTimer
from PySide6.QtGui import QFontDatabase, QGuiApplication, QPalette
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QHBoxLayout, QLabel, QLineEdit, QPushButton,
                               QStyle, QVBoxLayout, QWidget)

from ..keys import MAX_NAME_LENGTH
from .common import confirm, emphasize

STORE_WARNING = "This key will not be shown again. Store it now, e.g. in your Postman environment."


class KeyNameDialog(QDialog):
    """Asks for a key's name (create or rename); OK stays disabled until the name is usable."""

    def __init__(self, title: str, prompt: str, initial: str = "", ok_text: str = "OK",
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle(title)
        self.setMinimumWidth(420)
        label = QLabel(prompt)
        label.setWordWrap(True)
        self.name_edit = QLineEdit(initial)
        self.name_edit.setMaxLength(MAX_NAME_LENGTH)
        self.name_edit.setPlaceholderText("e.g. Postman, CRM webhook, CI")
        self.name_edit.selectAll()
        self.hint = QLabel()
        self.hint.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText(ok_text)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.name_edit.textChanged.connect(self._edited)

        layout = QVBoxLayout(self)
        layout.addWidget(label)
        layout.addWidget(self.name_edit)
        layout.addWidget(self.hint)
        layout.addWidget(self.buttons)
        self._validate()

    def name(self) -> str:
        return self.name_edit.text().strip()

    def _edited(self, _text: str) -> None:
        self._validate(explain=True)

    def _validate(self, explain: bool = False) -> None:
        # A disabled OK button says enough until the user has typed something and taken it away.
        ok = bool(self.name())
        self.ok_button.setEnabled(ok)
        self.hint.setText("The name cannot be empty." if explain and not ok else "")

    def accept(self) -> None:
        if not self.name():  # Enter in the field bypasses the disabled button
            return
        super().accept()


class NewKeyDialog(QDialog):
    """Shows a freshly created key once. Every way of closing it asks whether the key was stored,
    because there is no way to see it again."""

    def __init__(self, key_name: str, clear_key: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("New execution key")
        self.setMinimumWidth(620)
        self._confirmed = False

        heading = emphasize(QLabel(f"Execution key “{key_name}” created"), 1.2)
        heading.setTextFormat(Qt.TextFormat.PlainText)

        self.key_edit = QLineEdit(clear_key)
        self.key_edit.setReadOnly(True)
        self.key_edit.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.key_edit.setMinimumWidth(self.key_edit.fontMetrics().horizontalAdvance(clear_key) + 24)
        self.key_edit.setCursorPosition(0)
        self.copy_button = QPushButton("Copy")
        self.copy_button.setToolTip("Copy the key to the clipboard")
        self.copy_button.clicked.connect(self.copy_key)
        key_row = QHBoxLayout()
        key_row.addWidget(self.key_edit, 1)
        key_row.addWidget(self.copy_button)

        warning_icon = QLabel()
        warning_icon.setPixmap(self.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning)
                               .pixmap(QSize(32, 32)))
        warning_icon.setAlignment(Qt.AlignmentFlag.AlignTop)
        self.warning = QLabel(STORE_WARNING)
        self.warning.setWordWrap(True)
        bold = self.warning.font()
        bold.setBold(True)
        self.warning.setFont(bold)
        usage = QLabel("Send it with each API call in the <b>execution-key</b> header (or as "
                       "<b>Authorization: Bearer &lt;key&gt;</b>). Ziggy Desktop keeps only a hash of it.")
        usage.setWordWrap(True)
        warning_text = QVBoxLayout()
        warning_text.addWidget(self.warning)
        warning_text.addWidget(usage)
        warning_row = QHBoxLayout()
        warning_row.addWidget(warning_icon)
        warning_row.addLayout(warning_text, 1)

        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.close_button = self.buttons.button(QDialogButtonBox.StandardButton.Close)
        self.close_button.setAutoDefault(False)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.setSpacing(12)
        layout.addWidget(heading)
        layout.addLayout(key_row)
        layout.addLayout(warning_row)
        layout.addStretch(1)
        layout.addWidget(self.buttons)
        self.finished.connect(self._forget_key)
        self.key_edit.setFocus()

    def copy_key(self) -> None:
        QGuiApplication.clipboard().setText(self.key_edit.text())
        self.copy_button.setText("Copied ✓")
        QTimer.singleShot(2000, self._reset_copy_button)

    def _reset_copy_button(self) -> None:
        self.copy_button.setText("Copy")

    def reject(self) -> None:
        """Close button, Esc and the window's X all come here (QDialog routes closeEvent to reject)."""
        if not self._confirmed:
            if not confirm(self, "Have you stored the key?",
                           "Have you stored the key? It cannot be shown again; if it is lost, revoke it and create "
                           "a new one."):
                return
            self._confirmed = True
        super().reject()

    def _forget_key(self, _result: int) -> None:
        # The key must not linger in a widget once the user has confirmed it was stored.
        self.key_edit.clear()
