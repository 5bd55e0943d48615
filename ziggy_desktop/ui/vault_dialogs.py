"""Add/edit dialogs for secrets and connections: a DEV and a PROD column, masked values that are never shown back."""

from __future__ import annotations

from typing import Any, Callable

from PySide6.QtCore import Qt
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDialog, QDialogButtonBox, QFormLayout, QGridLayout,
                               QLabel, QLineEdit, QVBoxLayout, QWidget)

from ..errors import ValidationError
from ..vault import (CONNECTION_KINDS, KEEP, MAX_DESCRIPTION_LENGTH, REST_AUTH_FIELDS, REST_AUTH_TYPES,
                     ConnectionInfo, SecretInfo, check_name)
from .bridge import Background
from .common import emphasize, error_text
from .style import tone

FALLBACK_NOTE = "PROD falls back to DEV when empty."
KEEP_HINT = "unchanged (type to replace)"
KIND_TITLES = {"hubspot": "HubSpot", "sql": "SQL database", "rest": "REST API"}
FIELD_LABELS = {"baseUrl": "Base URL", "token": "Token", "url": "Database URL", "authType": "Authentication",
                "username": "User name", "password": "Password", "headerName": "Header name",
                "headerValue": "Header value"}
FIELD_HINTS = {"baseUrl": "https://api.example.com", "url": "postgresql://user:password@host/db",
               "headerName": "X-Api-Key"}
AUTH_TITLES = {"none": "None", "bearer": "Bearer token", "basic": "Basic (user and password)",
               "header": "API key header"}
SAME_AS_DEV = "Same as DEV"


def _muted(text: str) -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    label.setForegroundRole(QPalette.ColorRole.PlaceholderText)
    return label


class _VaultDialog(QDialog):
    """Saves on the background pool and stays open with the reason when the vault refuses."""

    def __init__(self, title: str, background: Background, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle(title)
        self.setMinimumWidth(620)
        self.background = background
        self.saved_info: Any = None
        self.secret_fields: list[QLineEdit] = []
        self.name_field = QLineEdit()
        self.name_field.setPlaceholderText("letters, digits, '-', '_' or '.'")
        self.description_field = QLineEdit()
        self.description_field.setMaxLength(MAX_DESCRIPTION_LENGTH)
        self.description_field.setPlaceholderText("What it is for (optional)")
        self.show_values = QCheckBox("Show values")
        self.show_values.setToolTip("Show what you type in the masked fields")
        self.show_values.toggled.connect(self._set_values_visible)
        self.error_label = QLabel()
        self.error_label.setWordWrap(True)
        self.error_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error_label.setStyleSheet(f"color: {tone('error').name()};")
        self.error_label.hide()
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        self.save_button = self.buttons.button(QDialogButtonBox.StandardButton.Save)
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        self.finished.connect(lambda _result: self.clear_values())

    def _masked_field(self, placeholder: str = "") -> QLineEdit:
        field = QLineEdit()
        field.setEchoMode(QLineEdit.EchoMode.Password)
        field.setPlaceholderText(placeholder)
        self.secret_fields.append(field)
        field.textEdited.connect(lambda _text: self.error_label.hide())
        return field

    def _set_values_visible(self, visible: bool) -> None:
        mode = QLineEdit.EchoMode.Normal if visible else QLineEdit.EchoMode.Password
        for field in self.secret_fields:
            field.setEchoMode(mode)

    def clear_values(self) -> None:
        """Typed values leave the widgets as soon as the dialog closes, saved or not."""
        for field in self.secret_fields:
            field.clear()
        self.show_values.setChecked(False)

    def values(self) -> Callable[[], Any]:
        """A call that stores the dialog's values (run on the background pool); raise ValidationError for
        what the dialog itself can tell is wrong."""
        raise NotImplementedError

    def save(self) -> None:
        try:
            store = self.values()
        except ValidationError as error:
            self._fail(error.message)
            return
        self.save_button.setEnabled(False)
        self.background.submit(store, self._saved, self._save_failed)

    def _saved(self, info: Any) -> None:
        self.saved_info = info
        self.save_button.setEnabled(True)
        self.accept()

    def _save_failed(self, error: BaseException) -> None:
        self.save_button.setEnabled(True)
        self._fail(error_text(error))

    def _fail(self, text: str) -> None:
        self.error_label.setText(text)
        self.error_label.show()


class SecretDialog(_VaultDialog):
    """A secret's DEV and PROD values; editing shows empty fields, which keep the stored values."""

    def __init__(self, vault, background: Background, existing: SecretInfo | None = None,
                 parent: QWidget | None = None):
        super().__init__("Edit secret" if existing else "Add secret", background, parent)
        self.vault = vault
        self.existing = existing
        if existing is not None:
            self.name_field.setText(existing.name)
            self.name_field.setReadOnly(True)
            self.description_field.setText(existing.description)
        self.dev_field = self._masked_field(KEEP_HINT if existing else "the value DEV runs get")
        self.prod_field = self._masked_field(KEEP_HINT if existing and existing.prod_set else "empty: use DEV")
        self.clear_prod = QCheckBox("Clear the PROD value (PROD runs use DEV)")
        self.clear_prod.setVisible(bool(existing and existing.prod_set))
        self.clear_prod.toggled.connect(lambda checked: self.prod_field.setEnabled(not checked))

        form = QFormLayout()
        form.addRow("Name:", self.name_field)
        form.addRow("Description:", self.description_field)
        grid = QGridLayout()
        grid.addWidget(emphasize(QLabel("DEV")), 0, 1)
        grid.addWidget(emphasize(QLabel("PROD")), 0, 2)
        grid.addWidget(QLabel("Value:"), 1, 0)
        grid.addWidget(self.dev_field, 1, 1)
        grid.addWidget(self.prod_field, 1, 2)
        grid.setColumnStretch(1, 1)
        grid.setColumnStretch(2, 1)
        note = FALLBACK_NOTE + (" Empty fields keep the stored values, which are never shown." if existing else "")
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(grid)
        layout.addWidget(self.clear_prod)
        layout.addWidget(self.show_values)
        layout.addWidget(_muted(note + " Scripts read it as ctx.secrets['<name>'] and expressions as "
                                       "secret('<name>'), in the run's mode."))
        layout.addWidget(self.error_label)
        layout.addWidget(self.buttons)
        (self.dev_field if existing else self.name_field).setFocus()

    def values(self) -> Callable[[], Any]:
        name = check_name(self.name_field.text().strip())
        dev = self.dev_field.text()
        prod = self.prod_field.text()
        if self.existing is not None:
            dev = dev or KEEP
            prod = "" if self.clear_prod.isChecked() else (prod or KEEP)
        elif not dev:
            raise ValidationError("Give the DEV value (PROD falls back to it when empty).")
        description = self.description_field.text()
        vault = self.vault
        return lambda: vault.set_secret(name, dev, prod, description)


class ConnectionDialog(_VaultDialog):
    """A connection's fields for its kind, one column per mode; secret fields are masked and never filled in."""

    def __init__(self, vault, background: Background, existing: ConnectionInfo | None = None,
                 parent: QWidget | None = None, kind: str = "hubspot"):
        super().__init__("Edit connection" if existing else "Add connection", background, parent)
        self.vault = vault
        self.existing = existing
        self.kind_combo = QComboBox()
        for key, title in KIND_TITLES.items():
            self.kind_combo.addItem(title, key)
        if existing is not None:
            self.name_field.setText(existing.name)
            self.name_field.setReadOnly(True)
            self.description_field.setText(existing.description)
            kind = existing.kind
            self.kind_combo.setEnabled(False)
            self.kind_combo.setToolTip("The kind of a saved connection is fixed; add a new connection instead.")
        self.kind_combo.setCurrentIndex(max(0, self.kind_combo.findData(kind)))
        self.kind_combo.currentIndexChanged.connect(lambda _index: self._build_fields())

        form = QFormLayout()
        form.addRow("Name:", self.name_field)
        form.addRow("Kind:", self.kind_combo)
        form.addRow("Description:", self.description_field)
        self.grid = QGridLayout()
        self.grid.setColumnStretch(1, 1)
        self.grid.setColumnStretch(2, 1)
        self.grid_host = QWidget()
        self.grid_host.setLayout(self.grid)
        self.clear_prod = QCheckBox("Clear every PROD value (PROD runs use the DEV settings)")
        self.clear_prod.setVisible(bool(existing and existing.prod))
        self.clear_prod.toggled.connect(self._update_rows)
        self.note = _muted("")
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.grid_host)
        layout.addWidget(self.clear_prod)
        layout.addWidget(self.show_values)
        layout.addWidget(self.note)
        layout.addWidget(self.error_label)
        layout.addWidget(self.buttons)
        self.inputs: dict[tuple[str, str], QLineEdit | QComboBox] = {}
        self.labels: dict[str, QLabel] = {}
        self._build_fields()
        (self.description_field if existing else self.name_field).setFocus()

    @property
    def kind(self) -> str:
        return self.kind_combo.currentData()

    def _build_fields(self) -> None:
        while self.grid.count():
            widget = self.grid.takeAt(0).widget()
            if widget is not None:
                widget.hide()
                widget.deleteLater()
        self.secret_fields = []  # every masked field of a connection lives in the grid
        self.inputs, self.labels = {}, {}
        spec = CONNECTION_KINDS[self.kind]
        existing = self.existing
        self.grid.addWidget(emphasize(QLabel("DEV")), 0, 1)
        self.grid.addWidget(emphasize(QLabel("PROD")), 0, 2)
        for row, field_name in enumerate(spec.fields, start=1):
            label = QLabel(f"{FIELD_LABELS.get(field_name, field_name)}:")
            self.labels[field_name] = label
            self.grid.addWidget(label, row, 0)
            for column, mode in ((1, "DEV"), (2, "PROD")):
                stored = (existing.dev if mode == "DEV" else existing.prod) if existing else {}
                widget = self._field_widget(field_name, mode, stored, spec.defaults.get(field_name, ""))
                self.inputs[(field_name, mode)] = widget
                self.grid.addWidget(widget, row, column)
        self._set_values_visible(self.show_values.isChecked())
        required = ", ".join(FIELD_LABELS[f] for f in spec.required)
        self.note.setText(f"{FALLBACK_NOTE} Required: {required}."
                          + (" Empty masked fields keep the stored values, which are never shown." if existing
                             else ""))
        self._update_rows()

    def _field_widget(self, field_name: str, mode: str, stored: dict[str, str], default: str) -> QWidget:
        spec = CONNECTION_KINDS[self.kind]
        if field_name == "authType":
            combo = QComboBox()
            if mode == "PROD":
                combo.addItem(SAME_AS_DEV, "")
            for auth in REST_AUTH_TYPES:
                combo.addItem(AUTH_TITLES[auth], auth)
            current = stored.get("authType", default if mode == "DEV" else "")
            combo.setCurrentIndex(max(0, combo.findData(current)))
            combo.currentIndexChanged.connect(self._update_rows)
            return combo
        if field_name in spec.secret:
            has_value = field_name in stored
            hint = KEEP_HINT if has_value else ("empty: use DEV" if mode == "PROD" else FIELD_HINTS.get(field_name, ""))
            return self._masked_field(hint)
        field = QLineEdit(stored.get(field_name, ""))
        field.textEdited.connect(lambda _text: self.error_label.hide())
        if mode == "PROD":
            field.setPlaceholderText("empty: use DEV")
        else:
            field.setPlaceholderText(default or FIELD_HINTS.get(field_name, ""))
        return field

    def _auth_types(self) -> set[str]:
        dev = self.inputs.get(("authType", "DEV"))
        prod = self.inputs.get(("authType", "PROD"))
        if dev is None:
            return set()
        chosen = {dev.currentData()}
        if prod is not None and prod.currentData() and not self.clear_prod.isChecked():
            chosen.add(prod.currentData())
        return chosen

    def _update_rows(self, *_args: Any) -> None:
        """A REST connection shows only the fields its authentication needs."""
        needed = set()
        for auth in self._auth_types():
            needed.update(REST_AUTH_FIELDS[auth])
        for (field_name, mode), widget in self.inputs.items():
            visible = self.kind != "rest" or field_name not in ("token", "username", "password", "headerName",
                                                                 "headerValue") or field_name in needed
            widget.setVisible(visible)
            widget.setEnabled(not (mode == "PROD" and self.clear_prod.isChecked()))
            self.labels[field_name].setVisible(visible)

    def values(self) -> Callable[[], Any]:
        name = check_name(self.name_field.text().strip(), "connection")
        spec = CONNECTION_KINDS[self.kind]
        settings: dict[str, dict[str, Any]] = {"DEV": {}, "PROD": {}}
        for (field_name, mode), widget in self.inputs.items():
            if mode == "PROD" and self.clear_prod.isChecked():
                continue
            value = widget.currentData() if isinstance(widget, QComboBox) else widget.text()
            if not value and field_name in spec.secret and self.existing is not None:
                value = KEEP  # an empty masked field keeps what is stored (nothing, if nothing was)
            if value is KEEP or value:
                settings[mode][field_name] = value
        description, kind, vault = self.description_field.text(), self.kind, self.vault
        return lambda: vault.set_connection(name, kind, settings["DEV"], settings["PROD"], description)
