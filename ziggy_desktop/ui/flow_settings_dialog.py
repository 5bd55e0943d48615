"""Flow settings: the flow identifier, its launch URL / curl / Postman collection, and its editable settings."""

from __future__ import annotations

import json
import uuid as uuid_module
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QFont, QFontDatabase, QGuiApplication, QPalette, QShowEvent, QTextOption
from PySide6.QtWidgets import (QButtonGroup, QComboBox, QDialog, QDialogButtonBox, QFileDialog, QFormLayout,
                               QGroupBox, QHBoxLayout, QLabel, QLineEdit, QMessageBox, QPlainTextEdit, QPushButton,
                               QRadioButton, QSpinBox, QToolButton, QVBoxLayout, QWidget)

from .. import keys
from ..errors import ZiggyError
from ..flows import DEFAULT_SETTINGS, HISTORY_LEVELS
from ..launch_links import KEY_PLACEHOLDER, curl_command, launch_url, postman_collection, receiver_body_json
from .common import emphasize
from .context import UiContext
from .style import tone

MAX_TIMEOUT_SECONDS = 7 * 24 * 3600
MAX_RETENTION_HOURS = 24 * 3650  # what the flow format accepts
# What each history level keeps. Every run's status, times, per-block counts and error are always kept.
HISTORY_LEVEL_HELP = {
    "ALL": "Keeps every run's data: input, result and the records on each edge. Uses the most space.",
    "ERRORED_WITH_DATA": "Keeps the data of failed, killed and timed-out runs only; successful runs keep "
                         "their status, timings and counts. The default.",
    "ERRORED_NO_DATA": "Keeps no run's data, only statuses, timings, counts and errors: for flows that carry "
                       "personal data.",
    "TIME_LIMITED_WITH_DATA": "Keeps every run's data, and deletes the runs older than the hours below.",
    "TIME_LIMITED_NO_DATA": "Keeps no run's data, and deletes the runs older than the hours below.",
}


def set_tone(label: QLabel, kind: str | None) -> None:
    """Colour a label's text by meaning; None goes back to the inherited palette."""
    if kind is None:
        label.setPalette(QPalette())
        return
    palette = label.palette()
    palette.setColor(QPalette.ColorRole.WindowText, tone(kind, palette))
    label.setPalette(palette)


def _mono() -> QFont:
    return QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)


def _heading(text: str) -> QLabel:
    return emphasize(QLabel(text))


class FlowSettingsDialog(QDialog):
    """Opened from the flow page's info bar and the Flows list; saves its own changes."""

    saved = Signal(str)  # flow uuid, after the edited flow was stored

    def __init__(self, context: UiContext, flow_uuid: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.context = context
        self.document = context.services.flows.get_document(flow_uuid)
        self.flow_uuid: str = self.document["uuid"]
        self.setWindowTitle(f"Flow settings: {self.document['name']}")
        self.setMinimumWidth(720)
        self.base_url = context.api_url or context.settings.base_url

        layout = QVBoxLayout(self)
        layout.setSpacing(12)
        layout.addLayout(self._build_identifier())
        layout.addWidget(self._build_url_section())
        layout.addWidget(self._build_settings_section())
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        self.save_button = self.buttons.button(QDialogButtonBox.StandardButton.Save)
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)

        self._feedback_timer = QTimer(self)
        self._feedback_timer.setSingleShot(True)
        self._feedback_timer.setInterval(4000)
        self._feedback_timer.timeout.connect(lambda: self.feedback_label.setText(""))
        self._update_url()
        self._check_key()
        self.key_field.setFocus()

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt override
        # A top-level window's minimum ignores wrapped labels' extra lines: grow to fit them.
        super().showEvent(event)
        needed = self.layout().totalHeightForWidth(self.width())
        if needed > self.height():
            self.resize(self.width(), needed)

    # -- layout ----------------------------------------------------------------------------------

    def _build_identifier(self) -> QHBoxLayout:
        row = QHBoxLayout()
        row.addWidget(_heading("Flow identifier"))
        self.uuid_field = QLineEdit(self.flow_uuid)
        self.uuid_field.setReadOnly(True)
        self.uuid_field.setFont(_mono())
        self.uuid_field.setToolTip("The flowUuid query parameter of POST /api")
        self.uuid_field.setMinimumWidth(self.uuid_field.fontMetrics().horizontalAdvance(self.flow_uuid) + 24)
        row.addWidget(self.uuid_field, 1)
        self.copy_uuid_button = QPushButton("Copy")
        self.copy_uuid_button.setToolTip("Copy the flow identifier")
        self.copy_uuid_button.clicked.connect(lambda: self._copy(self.flow_uuid, "the flow identifier"))
        row.addWidget(self.copy_uuid_button)
        return row

    def _build_url_section(self) -> QGroupBox:
        box = QGroupBox("URL")
        form = QFormLayout(box)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)

        intro = QLabel("POST to this URL to launch the flow from another system. The request body is "
                       "handed to the Receiver; its test data is only used for runs started in the app.")
        intro.setWordWrap(True)
        form.addRow(intro)
        self.api_note: QLabel | None = None
        if not self.context.api_url:
            reason = self.context.api_error or "it was not started"
            self.api_note = QLabel(f"The API is not running ({reason}), so these links use the configured address "
                                   f"{self.context.settings.base_url}; they work once the API runs there.")
            self.api_note.setWordWrap(True)
            self.api_note.setTextFormat(Qt.TextFormat.PlainText)
            set_tone(self.api_note, "warning")
            form.addRow(self.api_note)

        mode_row = QHBoxLayout()
        self.mode_group = QButtonGroup(self)
        self.dev_radio = QRadioButton("DEV")
        self.prod_radio = QRadioButton("PROD")
        self.dev_radio.setChecked(True)
        for button in (self.dev_radio, self.prod_radio):
            self.mode_group.addButton(button)
            mode_row.addWidget(button)
            button.toggled.connect(self._update_url)
        mode_row.addStretch(1)
        form.addRow("Mode:", mode_row)

        id_row = QHBoxLayout()
        self.id_group = QButtonGroup(self)
        self.fresh_id_radio = QRadioButton("Fresh UUID")
        self.no_id_radio = QRadioButton("None (the server generates one)")
        self.fresh_id_radio.setChecked(True)
        self.fresh_id_radio.setToolTip("A client that sends the same executionId again gets the existing run "
                                       "back instead of a second one; regenerate for a new run.")
        for button in (self.fresh_id_radio, self.no_id_radio):
            self.id_group.addButton(button)
            button.toggled.connect(self._update_url)
        self.execution_id = str(uuid_module.uuid4())
        self.regenerate_button = QPushButton("Regenerate")
        self.regenerate_button.setToolTip("A new executionId, for a new run")
        self.regenerate_button.clicked.connect(self.regenerate_execution_id)
        id_row.addWidget(self.fresh_id_radio)
        id_row.addWidget(self.regenerate_button)
        id_row.addSpacing(12)
        id_row.addWidget(self.no_id_radio)
        id_row.addStretch(1)
        form.addRow("executionId:", id_row)

        key_row = QHBoxLayout()
        self.key_field = QLineEdit()
        self.key_field.setEchoMode(QLineEdit.EchoMode.Password)
        self.key_field.setPlaceholderText("Paste an execution key to complete the URL")
        self.key_field.setToolTip("Keys are created in Global Settings > Security. The key is not stored; "
                                  "it is only put into what you copy or save.")
        self.key_field.textChanged.connect(self._update_url)
        self.key_field.textChanged.connect(self._check_key)
        self.show_key_button = QToolButton()
        self.show_key_button.setText("Show")
        self.show_key_button.setCheckable(True)
        self.show_key_button.setToolTip("Show the key here and in the URL")
        self.show_key_button.toggled.connect(self._toggle_key_visible)
        key_row.addWidget(self.key_field, 1)
        key_row.addWidget(self.show_key_button)
        self.key_status = QLabel()
        self.key_status.setWordWrap(True)
        self.key_status.setTextFormat(Qt.TextFormat.PlainText)
        # Wrapped labels get their height only inside a box layout, not as a bare form row.
        key_column = QVBoxLayout()
        key_column.setSpacing(4)
        key_column.addLayout(key_row)
        key_column.addWidget(self.key_status)
        form.addRow("Execution key:", key_column)

        self.url_field = QPlainTextEdit()
        self.url_field.setReadOnly(True)
        self.url_field.setFont(_mono())
        self.url_field.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.url_field.setWordWrapMode(QTextOption.WrapMode.WrapAnywhere)
        self.url_field.setTabChangesFocus(True)
        line = self.url_field.fontMetrics().lineSpacing()
        self.url_field.setFixedHeight(line * 4 + 12)
        url_column = QVBoxLayout()
        url_column.setSpacing(6)
        url_column.addWidget(self.url_field)

        actions = QHBoxLayout()
        self.copy_url_button = QPushButton("Copy URL")
        self.copy_url_button.clicked.connect(self.copy_url)
        self.copy_curl_button = QPushButton("Copy curl")
        self.copy_curl_button.setToolTip("A curl command with the key in the execution-key header and the "
                                         "Receiver's test data as the body")
        self.copy_curl_button.clicked.connect(self.copy_curl)
        self.postman_button = QPushButton("Save Postman collection…")
        self.postman_button.setToolTip("A Postman v2.1 collection with the launch and status requests; a pasted "
                                       "key is written into its executionKey variable")
        self.postman_button.clicked.connect(self.save_postman_collection)
        for button in (self.copy_url_button, self.copy_curl_button, self.postman_button):
            actions.addWidget(button)
        actions.addStretch(1)
        url_column.addLayout(actions)
        self.feedback_label = QLabel()
        self.feedback_label.setTextFormat(Qt.TextFormat.PlainText)
        url_column.addWidget(self.feedback_label)
        form.addRow("Launch URL:", url_column)
        return box

    def _build_settings_section(self) -> QGroupBox:
        box = QGroupBox("Flow")
        form = QFormLayout(box)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        settings = self.document.get("settings", {})
        self.name_field = QLineEdit(self.document["name"])
        form.addRow("Name:", self.name_field)
        self.tags_field = QLineEdit(", ".join(self.document.get("tags", [])))
        self.tags_field.setPlaceholderText("e.g. hubspot, nightly")
        self.tags_field.setToolTip("Comma-separated; used to filter the Flows list")
        form.addRow("Tags:", self.tags_field)
        self.timeout_spin = QSpinBox()
        self.timeout_spin.setRange(1, MAX_TIMEOUT_SECONDS)
        self.timeout_spin.setSuffix(" s")
        self.timeout_spin.setValue(int(settings.get("timeoutSeconds", self.context.settings.default_timeout_seconds)))
        self.timeout_spin.setToolTip("A run still going after this long ends TIMED OUT")
        self.timeout_spin.setMinimumWidth(120)
        timeout_row = QHBoxLayout()
        timeout_row.addWidget(self.timeout_spin)
        timeout_row.addStretch(1)
        form.addRow("Timeout:", timeout_row)
        self.history_combo = QComboBox()
        for level in HISTORY_LEVELS:
            self.history_combo.addItem(level, level)
        self.history_combo.setToolTip("How much of each run Ziggy's history keeps (stored with the flow)")
        current = self.history_combo.findData(settings.get("historyLevel", "ERRORED_WITH_DATA"))
        self.history_combo.setCurrentIndex(max(current, 0))
        self.retention_spin = QSpinBox()
        self.retention_spin.setRange(1, MAX_RETENTION_HOURS)
        self.retention_spin.setSuffix(" h")
        self.retention_spin.setMinimumWidth(120)
        self.retention_spin.setValue(max(1, round(float(settings.get("retentionHours",
                                                                     DEFAULT_SETTINGS["retentionHours"])))))
        self.retention_spin.setToolTip("The TIME_LIMITED_* levels delete this flow's runs older than this")
        self.retention_note = QLabel()
        self.history_help = QLabel()
        self.history_help.setWordWrap(True)
        self.history_help.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        history_column = QVBoxLayout()
        history_column.setSpacing(4)
        history_column.addWidget(self.history_combo)
        history_column.addWidget(self.history_help)
        form.addRow("History level:", history_column)
        retention_row = QHBoxLayout()
        retention_row.addWidget(self.retention_spin)
        retention_row.addWidget(self.retention_note)
        retention_row.addStretch(1)
        form.addRow("Keep runs for:", retention_row)
        self.history_combo.currentIndexChanged.connect(self._update_history_help)
        self._update_history_help()
        self.error_label = QLabel()
        self.error_label.setWordWrap(True)
        self.error_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        set_tone(self.error_label, "error")
        self.error_label.hide()
        form.addRow(self.error_label)
        for field in (self.name_field, self.tags_field):
            field.textEdited.connect(lambda _text: self.error_label.hide())
        return box

    def _update_history_help(self, *_args) -> None:
        level = self.history_combo.currentData()
        self.history_help.setText(HISTORY_LEVEL_HELP.get(level, ""))
        limited = level.startswith("TIME_LIMITED")
        self.retention_spin.setEnabled(limited)
        self.retention_note.setText("" if limited else "(only for the TIME_LIMITED_* levels)")
        self.retention_note.setEnabled(limited)

    # -- URL -------------------------------------------------------------------------------------

    @property
    def mode(self) -> str:
        return "PROD" if self.prod_radio.isChecked() else "DEV"

    @property
    def chosen_execution_id(self) -> str | None:
        return self.execution_id if self.fresh_id_radio.isChecked() else None

    @property
    def execution_key(self) -> str | None:
        return self.key_field.text().strip() or None

    def launch_url(self) -> str:
        return launch_url(self.base_url, self.flow_uuid, self.mode, self.execution_key, self.chosen_execution_id)

    def curl_command(self) -> str:
        return curl_command(self.base_url, self.flow_uuid, self.mode, self.execution_key, self.chosen_execution_id,
                            receiver_body_json(self.document))

    def postman_collection(self) -> dict:
        flow = {**self.document, "name": self.name_field.text().strip() or self.document["name"]}
        return postman_collection(self.base_url, flow, self.mode, self.execution_key)

    def regenerate_execution_id(self) -> None:
        self.execution_id = str(uuid_module.uuid4())
        self.fresh_id_radio.setChecked(True)
        self._update_url()

    def _update_url(self, *_args) -> None:
        self.regenerate_button.setEnabled(self.fresh_id_radio.isChecked())
        shown = self.launch_url()
        if self.execution_key and not self.show_key_button.isChecked():
            # Keep the key off the screen (screen sharing) unless asked; Copy URL still copies it whole.
            shown = launch_url(self.base_url, self.flow_uuid, self.mode, None, self.chosen_execution_id
                               ).replace(KEY_PLACEHOLDER, "•" * 12)
        self.url_field.setPlainText(shown)

    def _toggle_key_visible(self, visible: bool) -> None:
        self.key_field.setEchoMode(QLineEdit.EchoMode.Normal if visible else QLineEdit.EchoMode.Password)
        self.show_key_button.setText("Hide" if visible else "Show")
        self._update_url()

    def _check_key(self, *_args) -> None:
        key = self.execution_key
        if not key:
            self.key_status.setText(f"Without a key the URL carries the placeholder {KEY_PLACEHOLDER}.")
            set_tone(self.key_status, None)
            return
        try:
            # A read without touching last-used: pasting a key here is not a use of it.
            with self.context.services.engine.connect() as conn:
                info = keys.authenticate(conn, key, touch=False)
        except ZiggyError as error:
            self.key_status.setText(f"✗ {error.message}")
            set_tone(self.key_status, "error")
        else:
            self.key_status.setText(f"✓ A valid key: “{info.name}” ({info.prefix}…)")
            set_tone(self.key_status, "ok")

    def _copy(self, text: str, what: str) -> None:
        QGuiApplication.clipboard().setText(text)
        self._say(f"Copied {what} to the clipboard.")

    def _say(self, text: str) -> None:
        self.feedback_label.setText(text)
        self._feedback_timer.start()

    def copy_url(self) -> None:
        self._copy(self.launch_url(), "the launch URL" + ("" if self.execution_key else " (add your key)"))

    def copy_curl(self) -> None:
        self._copy(self.curl_command(), "the curl command" + ("" if self.execution_key else " (add your key)"))

    def save_postman_collection(self) -> None:
        name = self.name_field.text().strip() or self.document["name"]
        safe = "".join(c if c.isalnum() or c in "-_ " else "_" for c in name).strip() or "flow"
        suggested = str(Path.home() / f"{safe}.postman_collection.json")
        path, _filter = QFileDialog.getSaveFileName(self, "Save Postman collection", suggested,
                                                    "Postman collection (*.json);;All files (*)")
        if not path:
            return
        try:
            Path(path).write_text(json.dumps(self.postman_collection(), indent=2, ensure_ascii=False) + "\n",
                                  encoding="utf-8")
        except OSError as error:
            QMessageBox.warning(self, "Save Postman collection", f"Could not write {path}: {error.strerror}")
            return
        self._say(f"Saved {Path(path).name}; import it in Postman (File > Import).")

    # -- settings --------------------------------------------------------------------------------

    def edited_document(self) -> dict:
        """The stored flow with this dialog's four fields applied (re-read so other edits are kept)."""
        document = self.context.services.flows.get_document(self.flow_uuid)
        document["name"] = self.name_field.text().strip()
        document["tags"] = [tag.strip() for tag in self.tags_field.text().split(",") if tag.strip()]
        document["settings"] = {**document.get("settings", {}), "timeoutSeconds": self.timeout_spin.value(),
                                "historyLevel": self.history_combo.currentData(),
                                "retentionHours": self.retention_spin.value()}
        return document

    def save(self) -> bool:
        try:
            document = self.edited_document()
            self.context.services.flows.save(document)
        except ZiggyError as error:
            self.error_label.setText(error.message)
            self.error_label.show()
            return False
        self.document = document
        self.error_label.hide()
        self.saved.emit(self.flow_uuid)
        self.accept()
        return True
