"""Global Settings (the gear): execution keys, flow and history defaults, the system queue, the server."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Callable, Mapping

from dotenv import dotenv_values
from PySide6.QtCore import QDate, QDateTime, Qt, QTime, QTimer, QUrl
from PySide6.QtGui import QDesktopServices, QFontDatabase, QHideEvent, QPalette, QShowEvent
from PySide6.QtWidgets import (QDateEdit, QDialog, QDialogButtonBox, QFormLayout, QGroupBox,
                               QHBoxLayout, QHeaderView, QLabel, QLineEdit, QMessageBox, QPushButton, QSpinBox,
                               QTableView, QTabWidget, QVBoxLayout, QWidget)

from ..config import Settings, is_loopback_name, write_env_settings
from ..errors import ConfigError
from ..history import TERMINATION_STATUSES, HistoryFilter
from ..keys import KeyInfo
from .bridge import Background
from .common import configure_list_table, confirm, emphasize, error_text, queue_summary
from .style import tone
from .context import UiContext
from .key_dialogs import KeyNameDialog, NewKeyDialog
from .keys_model import KEY_ROLE, NAME, KeysTableModel, display_prefix

log = logging.getLogger("ziggy.ui")

# Mid-tone colours: legible as text on both light and dark backgrounds.
RESTART_NOTICE = "Restart Ziggy Desktop to apply."


# -- small building blocks --------------------------------------------------------------------------

def _heading(text: str) -> QLabel:
    return emphasize(QLabel(text), 1.25)


def _help(text: str) -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    label.setTextFormat(Qt.TextFormat.RichText)
    return label


def _muted(text: str) -> QLabel:
    label = _help(text)
    label.setForegroundRole(QPalette.ColorRole.PlaceholderText)
    return label


def _with_help(field: QWidget, text: str, *, stretch: bool = False) -> QWidget:
    """A form field with its explanation right under it (one form row, so no gap opens between them)."""
    box = QWidget()
    column = QVBoxLayout(box)
    column.setContentsMargins(0, 0, 0, 0)
    column.setSpacing(3)
    if stretch:
        column.addWidget(field)
    else:
        row = QHBoxLayout()
        row.addWidget(field)
        row.addStretch(1)
        column.addLayout(row)
    column.addWidget(_muted(text))
    return box


def _read_only_field(text: str) -> QLineEdit:
    field = QLineEdit(text)
    field.setReadOnly(True)
    field.setCursorPosition(0)
    field.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
    return field


class NoticeLabel(QLabel):
    """An inline result line under a form: what was saved where, or what to fix."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWordWrap(True)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.kind = ""
        self.hide()

    def show_message(self, text: str, kind: str = "info") -> None:
        """kind: info (normal text), ok, warning or error."""
        self.kind = kind
        self.setStyleSheet(f"color: {tone(kind, self.palette()).name()};" if kind in ("ok", "warning", "error")
                           else "")
        mark = {"ok": "✓ ", "warning": "⚠ ", "error": "✗ "}.get(kind, "")
        self.setText(mark + text)
        self.show()

    def clear_message(self) -> None:
        self.kind = ""
        self.clear()
        self.hide()


def _overridden(settings: Settings, names: list[str], environ: Mapping[str, str] | None = None) -> list[str]:
    """Variables whose value in the data dir's .env is shadowed by the environment or a working-dir .env."""
    environ = os.environ if environ is None else environ
    shadowed = [name for name in names if name in environ]
    cwd_env = Path.cwd() / ".env"
    if cwd_env.exists() and cwd_env.resolve() != settings.env_file.resolve():
        cwd_values = dotenv_values(cwd_env)
        shadowed += [f"{name} (in {cwd_env})" for name in names if name in cwd_values and name not in shadowed]
    return shadowed


def _saved_value(settings: Settings, name: str, running: object) -> str:
    """What the .env holds for `name` (changed but not yet applied), else the running value."""
    if settings.env_file.exists():
        value = dotenv_values(settings.env_file).get(name)
        if value is not None and value.strip():
            return value.strip()
    return str(running)


def _int_or(value: str, fallback: int) -> int:
    try:
        return int(value)
    except ValueError:
        return fallback


class _EnvForm(QWidget):
    """A tab whose settings live in the .env and apply at the next start."""

    def __init__(self, context: UiContext, parent: QWidget | None = None):
        super().__init__(parent)
        self.context = context

    @property
    def settings(self) -> Settings:
        return self.context.settings

    def setting_spin(self, variable: str, in_use: int, low: int, high: int, *, suffix: str = "",
                     special: str = "", separators: bool = False) -> QSpinBox:
        """A number field showing the value saved in the .env (which may differ from the one in use)."""
        spin = QSpinBox()
        spin.setRange(low, high)
        spin.setSuffix(suffix)
        spin.setSpecialValueText(special)
        spin.setGroupSeparatorShown(separators)
        spin.setMinimumWidth(160)
        spin.setValue(_int_or(_saved_value(self.settings, variable, in_use), in_use))
        return spin

    def save_controls(self) -> None:
        """The Save button and the notice line under it."""
        self.save_button = QPushButton("Save")
        self.save_button.setAutoDefault(False)
        self.save_button.clicked.connect(self.save)
        self.notice = NoticeLabel()

    def save_env(self, updates: dict[str, str], notice: NoticeLabel, running: Mapping[str, object]) -> bool:
        """Write `updates` to the .env (validated first: a bad value writes nothing) and say what happens next."""
        try:
            path = write_env_settings(self.settings, updates)
        except ConfigError as error:
            notice.show_message(error.message, "error")
            return False
        except OSError as error:
            notice.show_message(f"Could not write {self.settings.env_file}: {error.strerror or error}.", "error")
            return False
        changed = [name for name, value in updates.items() if str(running.get(name)) != str(value).strip()]
        text = f"Saved to {path}. " + (RESTART_NOTICE if changed else "These are the values in use now.")
        shadowed = _overridden(self.settings, list(updates))
        if shadowed:
            verb = "is" if len(shadowed) == 1 else "are"
            notice.show_message(f"{text} But {', '.join(shadowed)} {verb} also set elsewhere, which takes "
                                f"precedence over this file.", "warning")
        else:
            notice.show_message(text, "ok")
        return True

    def show_pending(self, notice: NoticeLabel, running: Mapping[str, object]) -> None:
        """On opening: point out values saved earlier that wait for a restart."""
        pending = [f"{name}={_saved_value(self.settings, name, value)} (running: {value})"
                   for name, value in running.items() if _saved_value(self.settings, name, value) != str(value)]
        if pending:
            notice.show_message(f"Saved, not applied yet: {', '.join(pending)}. {RESTART_NOTICE}", "info")


def _save_row(button: QPushButton) -> QHBoxLayout:
    row = QHBoxLayout()
    row.addStretch(1)
    row.addWidget(button)
    return row


# -- Security ---------------------------------------------------------------------------------------

class SecurityTab(QWidget):
    """Execution keys: create (shown once), rename, revoke."""

    def __init__(self, context: UiContext, background: Background, parent: QWidget | None = None):
        super().__init__(parent)
        self.context = context
        self.background = background
        self.name_dialog: KeyNameDialog | None = None
        self.new_key_dialog: NewKeyDialog | None = None
        self._busy = False

        self.model = KeysTableModel(context.services.keys, self)
        self.table = QTableView()
        self.table.setModel(self.model)
        configure_list_table(self.table)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(NAME, QHeaderView.ResizeMode.Stretch)
        header.setHighlightSections(False)
        self.table.doubleClicked.connect(lambda _index: self.rename_selected())

        self.create_button = QPushButton("+ Execution key")
        self.create_button.setToolTip("Create a key for calling the API; it is shown once")
        self.create_button.setDefault(False)
        self.create_button.setAutoDefault(False)
        self.create_button.clicked.connect(self.new_key)
        self.rename_button = QPushButton("Rename…")
        self.rename_button.setAutoDefault(False)
        self.rename_button.clicked.connect(self.rename_selected)
        self.revoke_button = QPushButton("Revoke…")
        self.revoke_button.setAutoDefault(False)
        self.revoke_button.setToolTip("Requests with the key get 401 Unauthorized at once")
        self.revoke_button.clicked.connect(self.revoke_selected)
        self.empty_hint = _muted("No execution keys yet. Create one to launch flows over the API.")
        self.notice = NoticeLabel()

        buttons = QHBoxLayout()
        buttons.addWidget(self.create_button)
        buttons.addStretch(1)
        buttons.addWidget(self.rename_button)
        buttons.addWidget(self.revoke_button)
        layout = QVBoxLayout(self)
        layout.addWidget(_heading("Execution keys"))
        layout.addWidget(_help(
            "Every API call needs an execution key, sent in the <b>execution-key</b> header or as "
            "<b>Authorization: Bearer &lt;key&gt;</b>. Only a hash is stored: a key is shown once, when it is "
            "created. Revoke a key that leaked; requests with it are refused at once."))
        layout.addLayout(buttons)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.empty_hint)
        layout.addWidget(self.notice)

        self.table.selectionModel().selectionChanged.connect(lambda *_: self._update_buttons())
        self.refresh()

    # -- table ---------------------------------------------------------------------------------

    def refresh(self, select_id: int | None = None) -> None:
        if select_id is None and (current := self.selected_key()) is not None:
            select_id = current.id
        self.model.refresh()
        if select_id is not None and (row := self.model.row_of(select_id)) is not None:
            self.table.selectRow(row)
        self.empty_hint.setVisible(self.model.rowCount() == 0)
        self._update_buttons()

    def selected_key(self) -> KeyInfo | None:
        rows = self.table.selectionModel().selectedRows()
        return rows[0].data(KEY_ROLE) if rows else None

    def select_key(self, key_id: int) -> None:
        row = self.model.row_of(key_id)
        if row is not None:
            self.table.selectRow(row)

    def _update_buttons(self) -> None:
        info = self.selected_key()
        self.create_button.setEnabled(not self._busy)
        self.rename_button.setEnabled(not self._busy and info is not None)
        self.revoke_button.setEnabled(not self._busy and info is not None and not info.revoked)

    def _set_busy(self, busy: bool) -> None:
        self._busy = busy
        self._update_buttons()

    def _run(self, what: str, fn: Callable[[], object], on_result: Callable[[object], None]) -> None:
        """Key writes go off the GUI thread: the database may be busy with a burst of launches."""
        self._set_busy(True)

        def done(result: object) -> None:
            self._set_busy(False)
            on_result(result)

        def failed(error: BaseException) -> None:
            self._set_busy(False)
            self.refresh()
            QMessageBox.warning(self, what, error_text(error))

        self.background.submit(fn, done, failed)

    # -- create --------------------------------------------------------------------------------

    def new_key(self) -> None:
        """The '+ Execution key' button: ask for a name, then create and show the key once."""
        if self.name_dialog is not None:
            self.name_dialog.deleteLater()
        dialog = KeyNameDialog("New execution key",
                               "Name the key after what will use it, so you know which one to revoke later.",
                               ok_text="Create key", parent=self)
        dialog.accepted.connect(lambda: self.create_key(dialog.name()))
        self.name_dialog = dialog
        dialog.open()

    def create_key(self, name: str) -> None:
        keys = self.context.services.keys
        self._run("Create execution key", lambda: keys.create(name), self._key_created)

    def _key_created(self, result: object) -> None:
        info, clear_key = result  # the clear key goes to the one-time dialog and nowhere else
        self.refresh(select_id=info.id)
        self.notice.show_message(f"Key “{info.name}” created.", "ok")
        self.show_new_key(info, clear_key)

    def show_new_key(self, info: KeyInfo, clear_key: str) -> NewKeyDialog:
        if self.new_key_dialog is not None:
            self.new_key_dialog.deleteLater()
        dialog = NewKeyDialog(info.name, clear_key, self)
        self.new_key_dialog = dialog
        dialog.open()  # window-modal but not blocking: the table stays live behind it
        return dialog

    # -- rename --------------------------------------------------------------------------------

    def rename_selected(self) -> None:
        info = self.selected_key()
        if info is None or self._busy:
            return
        if self.name_dialog is not None:
            self.name_dialog.deleteLater()
        dialog = KeyNameDialog("Rename execution key", f"New name for the key {display_prefix(info)}:",
                               initial=info.name, ok_text="Rename", parent=self)
        dialog.accepted.connect(lambda: self.rename_key(info.id, dialog.name()))
        self.name_dialog = dialog
        dialog.open()

    def rename_key(self, key_id: int, name: str) -> None:
        keys = self.context.services.keys

        def renamed(result: object) -> None:
            self.refresh(select_id=key_id)
            self.notice.show_message(f"Key renamed to “{result.name}”.", "ok")

        self._run("Rename execution key", lambda: keys.rename(str(key_id), name), renamed)

    # -- revoke --------------------------------------------------------------------------------

    def revoke_selected(self) -> None:
        info = self.selected_key()
        if info is None or info.revoked or self._busy:
            return
        if confirm(self, "Revoke execution key",
                   f"Revoke the key “{info.name}” ({display_prefix(info)})?\n\n"
                   f"Requests that use it get 401 Unauthorized at once. This cannot be undone; "
                   f"anything still using it needs a new key."):
            self.revoke_key(info.id)

    def revoke_key(self, key_id: int) -> None:
        keys = self.context.services.keys

        def revoked(result: object) -> None:
            self.refresh(select_id=key_id)
            self.notice.show_message(f"Key “{result.name}” revoked: requests with it now get 401.", "ok")

        self._run("Revoke execution key", lambda: keys.revoke(str(key_id)), revoked)


# -- Flows ------------------------------------------------------------------------------------------

class FlowsTab(_EnvForm):
    """Defaults for new flows, history retention, and flushing old runs."""

    def __init__(self, context: UiContext, background: Background, parent: QWidget | None = None):
        super().__init__(context, parent)
        self.background = background
        settings = self.settings

        self.timeout_spin = self.setting_spin("ZIGGY_DEFAULT_TIMEOUT_SECONDS", settings.default_timeout_seconds,
                                              1, 7 * 24 * 3600, suffix=" s")
        self.retention_spin = self.setting_spin("ZIGGY_HISTORY_RETENTION_DAYS", settings.history_retention_days,
                                                0, 36500, suffix=" days", special="Keep all runs")
        self.save_controls()

        defaults = QGroupBox("Defaults")
        form = QFormLayout(defaults)
        form.addRow("Timeout of new flows", _with_help(
            self.timeout_spin, "A run that takes longer ends TIMED OUT. Each flow can change its own timeout in "
                               "Flow settings."))
        form.addRow("Keep finished runs for", _with_help(
            self.retention_spin, "Older finished runs are flushed from the Execution History when Ziggy Desktop "
                                 "starts. 0 keeps every run."))
        form.addRow(_save_row(self.save_button))
        form.addRow(self.notice)

        self.flush_date = QDateEdit(QDate.currentDate().addDays(-30))
        self.flush_date.setCalendarPopup(True)
        self.flush_date.setDisplayFormat("yyyy-MM-dd")
        self.flush_date.setMaximumDate(QDate.currentDate().addDays(1))
        self.flush_button = QPushButton("Flush…")
        self.flush_button.setAutoDefault(False)
        self.flush_button.clicked.connect(self.flush_before_date)
        self.flush_notice = NoticeLabel()
        flush = QGroupBox("Flush history")
        flush_layout = QVBoxLayout(flush)
        row = QHBoxLayout()
        row.addWidget(QLabel("Delete finished runs created before"))
        row.addWidget(self.flush_date)
        row.addWidget(self.flush_button)
        row.addStretch(1)
        flush_layout.addLayout(row)
        flush_layout.addWidget(_muted("Before 00:00 local time on that day. Queued and running runs are kept. "
                                      "This cannot be undone."))
        flush_layout.addWidget(self.flush_notice)

        layout = QVBoxLayout(self)
        layout.addWidget(_heading("Flows and history"))
        layout.addWidget(defaults)
        layout.addWidget(flush)
        layout.addStretch(1)
        self.show_pending(self.notice, self._running())

    def _running(self) -> dict[str, object]:
        return {"ZIGGY_DEFAULT_TIMEOUT_SECONDS": self.settings.default_timeout_seconds,
                "ZIGGY_HISTORY_RETENTION_DAYS": self.settings.history_retention_days}

    def save(self) -> bool:
        return self.save_env({"ZIGGY_DEFAULT_TIMEOUT_SECONDS": str(self.timeout_spin.value()),
                              "ZIGGY_HISTORY_RETENTION_DAYS": str(self.retention_spin.value())},
                             self.notice, self._running())

    def flush_cutoff(self) -> float:
        """Start of the chosen day in local time, as epoch seconds."""
        return float(QDateTime(self.flush_date.date(), QTime(0, 0)).toSecsSinceEpoch())

    def flush_before_date(self) -> None:
        cutoff = self.flush_cutoff()
        day = self.flush_date.date().toString("yyyy-MM-dd")
        history_filter = HistoryFilter(until=cutoff, statuses=frozenset(TERMINATION_STATUSES))
        history = self.context.services.history
        count = history.count(history_filter)
        if count == 0:
            self.flush_notice.show_message(f"No finished runs were created before {day}; nothing to flush.")
            return
        if not confirm(self, "Flush history",
                       f"Delete {count} finished run{'s' if count != 1 else ''} created before {day}?\n\n"
                       f"Their payloads, results and console lines are deleted too. This cannot be undone."):
            return
        self.flush_button.setEnabled(False)
        self.flush_notice.show_message("Flushing…")

        def flushed(deleted: object) -> None:
            self.flush_button.setEnabled(True)
            self.flush_notice.show_message(f"Flushed {deleted} run{'s' if deleted != 1 else ''} created before "
                                           f"{day}.", "ok")

        def failed(error: BaseException) -> None:
            self.flush_button.setEnabled(True)
            self.flush_notice.show_message(error_text(error), "error")

        self.background.submit(lambda: history.flush(history_filter), flushed, failed)


# -- Queues -----------------------------------------------------------------------------------------

class QueuesTab(_EnvForm):
    """The system queue's limits, and what it holds right now."""

    def __init__(self, context: UiContext, parent: QWidget | None = None):
        super().__init__(context, parent)
        settings = self.settings
        self.jobs_spin = self.setting_spin("MAX_CONCURENT_JOBS", settings.max_concurrent_jobs, 1, 1000)
        self.backlog_spin = self.setting_spin("MAX_SYSTEM_QUEUE_SIZE", settings.max_system_queue_size, 1, 10_000_000,
                                              separators=True)
        self.save_controls()
        self.live_label = QLabel()
        self.live_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        system = QGroupBox("System queue")
        form = QFormLayout(system)
        form.addRow("Now", self.live_label)
        form.addRow("Runs at once\n(MAX_CONCURENT_JOBS)", _with_help(
            self.jobs_spin, "Every launch, from the API or this window, waits in one queue; this many run at the "
                            "same time, first in, first out."))
        form.addRow("Waiting runs at most\n(MAX_SYSTEM_QUEUE_SIZE)", _with_help(
            self.backlog_spin, "Beyond this, the API answers 503 QUEUE_FULL with Retry-After."))
        form.addRow(_save_row(self.save_button))
        form.addRow(self.notice)

        named = QGroupBox("Named queues")
        named_layout = QVBoxLayout(named)
        named_layout.addWidget(_muted("Named queues (a per-second rate limit, pause and resume for the flows whose "
                                      "Receiver names them) are managed on the Queues page (Ctrl+3)."))

        layout = QVBoxLayout(self)
        layout.addWidget(_heading("Queues"))
        layout.addWidget(system)
        layout.addWidget(named)
        layout.addStretch(1)

        self._timer = QTimer(self)
        self._timer.setInterval(1000)
        self._timer.timeout.connect(self.refresh_live)
        self.refresh_live()
        self.show_pending(self.notice, self._running())

    def _running(self) -> dict[str, object]:
        return {"MAX_CONCURENT_JOBS": self.settings.max_concurrent_jobs,
                "MAX_SYSTEM_QUEUE_SIZE": self.settings.max_system_queue_size}

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt override
        # Poll only while the tab is on screen: the main window keeps closed dialogs around.
        self.refresh_live()
        self._timer.start()
        super().showEvent(event)

    def hideEvent(self, event: QHideEvent) -> None:  # noqa: N802 - Qt override
        self._timer.stop()
        super().hideEvent(event)

    def refresh_live(self) -> None:
        self.live_label.setText(queue_summary(self.context.services.queue))

    def save(self) -> bool:
        return self.save_env({"MAX_CONCURENT_JOBS": str(self.jobs_spin.value()),
                              "MAX_SYSTEM_QUEUE_SIZE": str(self.backlog_spin.value())},
                             self.notice, self._running())


# -- Server -----------------------------------------------------------------------------------------

class ServerTab(_EnvForm):
    """Where the API listens and where the data lives."""

    def __init__(self, context: UiContext, parent: QWidget | None = None):
        super().__init__(context, parent)
        settings = self.settings

        if context.api_url:
            self.api_label = QLabel(f"● Listening on {context.api_url}")
            self.api_label.setStyleSheet(f"color: {tone('ok', self.palette()).name()};")
        else:
            self.api_label = QLabel(f"○ Not running: {context.api_error or 'not started'}")
            self.api_label.setStyleSheet(f"color: {tone('error', self.palette()).name()};")
        self.api_label.setWordWrap(True)
        self.api_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.host_edit = QLineEdit(_saved_value(settings, "ZIGGY_HOST", settings.host))
        self.host_edit.setPlaceholderText("127.0.0.1")
        self.port_edit = QLineEdit(_saved_value(settings, "ZIGGY_PORT", settings.port))
        self.port_edit.setPlaceholderText("3000")
        self.port_edit.setFixedWidth(120)
        self.host_warning = NoticeLabel()
        self.save_controls()
        self.host_edit.textChanged.connect(self._check_host)
        self.host_edit.textChanged.connect(lambda _t: self.notice.clear_message())
        self.port_edit.textChanged.connect(lambda _t: self.notice.clear_message())

        listener = QGroupBox("API listener")
        form = QFormLayout(listener)
        form.addRow("Current address", self.api_label)
        host_box = _with_help(self.host_edit, "127.0.0.1 keeps the API on this computer.", stretch=True)
        host_box.layout().addWidget(self.host_warning)
        form.addRow("Host (ZIGGY_HOST)", host_box)
        form.addRow("Port (ZIGGY_PORT)", _with_help(self.port_edit, "0 picks a free port at each start."))
        form.addRow(_save_row(self.save_button))
        form.addRow(self.notice)

        self.data_dir_field = _read_only_field(str(settings.data_dir))
        database = settings.sqlite_path
        self.database_field = _read_only_field(str(database) if database else _hide_password(settings.database_url))
        env_file = settings.env_file
        self.env_file_field = _read_only_field(str(env_file))
        open_button = QPushButton("Open folder")
        open_button.setAutoDefault(False)
        open_button.clicked.connect(lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(str(settings.data_dir))))
        data_row = QHBoxLayout()
        data_row.addWidget(self.data_dir_field, 1)
        data_row.addWidget(open_button)
        files = QGroupBox("Files")
        files_form = QFormLayout(files)
        files_form.addRow("Data folder", data_row)
        files_form.addRow("Database", self.database_field)
        files_form.addRow("Settings file", _with_help(
            self.env_file_field, "Settings changed here are written to this .env file. A .env in the working "
                                 "folder and environment variables take precedence over it.", stretch=True))

        layout = QVBoxLayout(self)
        layout.addWidget(_heading("Server"))
        layout.addWidget(listener)
        layout.addWidget(files)
        layout.addStretch(1)
        self._check_host()
        self.show_pending(self.notice, self._running())

    def _running(self) -> dict[str, object]:
        return {"ZIGGY_HOST": self.settings.host, "ZIGGY_PORT": self.settings.port}

    def _check_host(self) -> None:
        host = self.host_edit.text().strip()
        if is_loopback_name(host):
            self.host_warning.clear_message()
        else:
            self.host_warning.show_message(
                f"{host} is not a loopback address: the API becomes reachable from your network. Anyone who "
                f"can reach it and holds a key can launch flows. Requests whose Host header is not a loopback "
                f"name are refused unless ZIGGY_ALLOWED_HOSTS lists it.", "warning")

    def save(self) -> bool:
        host = self.host_edit.text().strip()
        if any(c.isspace() for c in host):
            self.notice.show_message("The host cannot contain spaces; use a name or an address such as "
                                     "127.0.0.1.", "error")
            return False
        return self.save_env({"ZIGGY_HOST": host, "ZIGGY_PORT": self.port_edit.text().strip()},
                             self.notice, self._running())


def _hide_password(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - an unparsable URL is shown without its credentials part
        return url.split("@")[-1]


# -- the dialog -------------------------------------------------------------------------------------

class GlobalSettingsDialog(QDialog):
    """The gear: one tab per area; every change is saved by its own button, keys at once."""

    def __init__(self, context: UiContext, background: Background, parent: QWidget | None = None):
        super().__init__(parent)
        self.context = context
        self.setWindowTitle("Global Settings")
        self.resize(880, 620)
        self.security_tab = SecurityTab(context, background)
        self.flows_tab = FlowsTab(context, background)
        self.queues_tab = QueuesTab(context)
        self.server_tab = ServerTab(context)
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.security_tab, "Security")
        self.tabs.addTab(self.flows_tab, "Flows")
        self.tabs.addTab(self.queues_tab, "Queues")
        self.tabs.addTab(self.server_tab, "Server")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(buttons)

    def show_tab(self, name: str) -> None:
        index = {"security": 0, "flows": 1, "queues": 2, "server": 3}[name]
        self.tabs.setCurrentIndex(index)

