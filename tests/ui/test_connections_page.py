"""Secrets & Connections page: add, edit (empty fields keep values), delete; values never shown back."""

from __future__ import annotations

import shiboken6
from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (QAbstractItemView, QApplication, QComboBox, QDialog, QLabel, QLineEdit,
                               QMessageBox, QPlainTextEdit, QPushButton)

from ziggy_desktop.ui.connections_page import ConnectionsPage
from ziggy_desktop.ui.main_window import MainWindow
from ziggy_desktop.ui.vault_dialogs import ConnectionDialog, SecretDialog

from .qt_helpers import answer

WAIT_MS = 10_000
TOKEN_DEV = "pat-na1-dev-0123456789abcdef"
TOKEN_PROD = "pat-na1-prod-fedcba9876543210"
SECRET_DEV = "s3cr3t-dev-value"
SECRET_PROD = "s3cr3t-prod-value"
PASSWORD = "hunter2-but-longer"


def every_text() -> str:
    """What any live widget or table shows, including line edits' contents and tooltips."""
    parts = []
    for widget in QApplication.allWidgets():
        parts.append(widget.toolTip())
        if isinstance(widget, (QLabel, QPushButton)):
            parts.append(widget.text())
        elif isinstance(widget, QLineEdit):
            parts.append(widget.text())
        elif isinstance(widget, QPlainTextEdit):
            parts.append(widget.toPlainText())
        elif isinstance(widget, QComboBox):
            parts.append(widget.currentText())
        if isinstance(widget, QAbstractItemView) and widget.model() is not None:
            model = widget.model()
            for row in range(model.rowCount()):
                for column in range(model.columnCount()):
                    index = model.index(row, column)
                    parts.extend(str(index.data(role)) for role in (Qt.ItemDataRole.DisplayRole,
                                                                    Qt.ItemDataRole.ToolTipRole))
    return "\n".join(parts)


def open_page(main_window: MainWindow, qtbot) -> ConnectionsPage:
    qtbot.keyClick(main_window, Qt.Key.Key_4, Qt.KeyboardModifier.ControlModifier)
    page = main_window.connections_page
    assert main_window.stack.currentWidget() is page
    qtbot.waitUntil(lambda: not page.busy, timeout=WAIT_MS)
    return page


def save(qtbot, page: ConnectionsPage, dialog: QDialog) -> None:
    with qtbot.waitSignal(page.changed, timeout=WAIT_MS):
        dialog.save_button.click()
    qtbot.waitUntil(lambda: not page.busy, timeout=WAIT_MS)
    assert page.dialog is None and (not shiboken6.isValid(dialog) or not dialog.isVisible())


def cells(section, name: str) -> list[str]:
    row = section.model.row_of(name)
    assert row is not None, f"{name} is not listed"
    return [section.model.index(row, c).data() for c in range(section.model.columnCount())]


def test_connection_add_edit_delete_never_shows_the_token(main_window: MainWindow, qtbot, qtmodeltester,
                                                           monkeypatch):
    page = open_page(main_window, qtbot)
    vault = main_window.context.vault
    assert page.connections.stack.currentWidget() is page.connections.empty_label

    page.connections.add_button.click()
    dialog = page.dialog
    assert isinstance(dialog, ConnectionDialog) and dialog.isVisible()
    dialog.name_field.setText("hubspot-main")
    dialog.description_field.setText("The production portal")
    token_dev, token_prod = dialog.inputs[("token", "DEV")], dialog.inputs[("token", "PROD")]
    assert token_dev.echoMode() == QLineEdit.EchoMode.Password
    token_dev.setText(TOKEN_DEV)
    token_prod.setText(TOKEN_PROD)
    dialog.show_values.setChecked(True)
    assert token_dev.echoMode() == QLineEdit.EchoMode.Normal
    assert "PROD falls back to DEV when empty" in dialog.note.text()
    save(qtbot, page, dialog)

    assert cells(page.connections, "hubspot-main")[1:] == [
        "HubSpot", "https://api.hubapi.com", "The production portal", "set", "own: token",
        cells(page.connections, "hubspot-main")[-1]]
    qtmodeltester.check(page.connections.model)
    assert vault.resolve_connection("hubspot-main", "hubspot", "DEV")["token"] == TOKEN_DEV
    assert vault.resolve_connection("hubspot-main", "hubspot", "PROD")["token"] == TOKEN_PROD
    text = every_text()
    assert TOKEN_DEV not in text and TOKEN_PROD not in text

    # Editing shows empty token fields: saving them empty keeps the stored tokens.
    page.connections.table.selectRow(page.connections.model.row_of("hubspot-main"))
    page.connections.edit_button.click()
    dialog = page.dialog
    assert dialog.name_field.isReadOnly()
    assert dialog.inputs[("token", "DEV")].text() == "" and "unchanged" in dialog.inputs[("token", "DEV")] \
        .placeholderText()
    assert TOKEN_DEV not in every_text()
    dialog.inputs[("baseUrl", "DEV")].setText("https://hubspot.example.test/")
    dialog.description_field.setText("Moved to the stand-in")
    save(qtbot, page, dialog)
    assert cells(page.connections, "hubspot-main")[2:4] == ["https://hubspot.example.test", "Moved to the stand-in"]
    assert vault.resolve_connection("hubspot-main", "hubspot", "DEV")["token"] == TOKEN_DEV
    assert vault.resolve_connection("hubspot-main", "hubspot", "PROD")["token"] == TOKEN_PROD

    # A REST connection with basic auth: only the fields basic needs are offered.
    page.connections.add_button.click()
    dialog = page.dialog
    dialog.kind_combo.setCurrentIndex(dialog.kind_combo.findData("rest"))
    dialog.name_field.setText("erp")
    dialog.inputs[("baseUrl", "DEV")].setText("https://erp.example.test/api")
    auth = dialog.inputs[("authType", "DEV")]
    auth.setCurrentIndex(auth.findData("basic"))
    assert dialog.inputs[("password", "DEV")].isVisibleTo(dialog)
    assert not dialog.inputs[("headerValue", "DEV")].isVisibleTo(dialog)
    dialog.inputs[("username", "DEV")].setText("sync")
    dialog.inputs[("password", "DEV")].setText(PASSWORD)
    save(qtbot, page, dialog)
    assert cells(page.connections, "erp")[1:3] == ["REST API", "https://erp.example.test/api"]
    assert vault.resolve_connection("erp", "rest", "PROD")["password"] == PASSWORD  # PROD falls back to DEV
    assert PASSWORD not in every_text()

    answer(monkeypatch, QMessageBox.StandardButton.No)
    page.connections.table.selectRow(page.connections.model.row_of("erp"))
    page.connections.delete_button.click()
    assert [c.name for c in vault.list_connections()] == ["erp", "hubspot-main"]
    asked = answer(monkeypatch, QMessageBox.StandardButton.Yes)
    with qtbot.waitSignal(page.changed, timeout=WAIT_MS):
        page.connections.delete_button.click()
    assert "erp" in asked[0]
    qtbot.waitUntil(lambda: page.connections.model.rowCount() == 1, timeout=WAIT_MS)
    assert [c.name for c in vault.list_connections()] == ["hubspot-main"]


def test_bad_connection_stays_open_with_the_reason(main_window: MainWindow, qtbot):
    page = open_page(main_window, qtbot)
    page.add_connection("sql")
    dialog = page.dialog
    dialog.name_field.setText("warehouse")
    dialog.save_button.click()  # no URL
    qtbot.waitUntil(lambda: dialog.error_label.isVisibleTo(dialog), timeout=WAIT_MS)
    assert "url is required" in dialog.error_label.text()
    assert dialog.isVisible() and page.dialog is dialog
    dialog.name_field.setText("bad name!")
    dialog.inputs[("url", "DEV")].setText("sqlite:///warehouse.db")
    dialog.save_button.click()
    assert "connection name" in dialog.error_label.text()
    dialog.name_field.setText("warehouse")
    save(qtbot, page, dialog)
    assert cells(page.connections, "warehouse")[1:3] == ["SQL database", "sqlite:///warehouse.db"]


def test_secret_add_edit_clear_prod_and_delete(main_window: MainWindow, qtbot, qtmodeltester, monkeypatch):
    page = open_page(main_window, qtbot)
    vault = main_window.context.vault
    page.secrets.add_button.click()
    dialog = page.dialog
    assert isinstance(dialog, SecretDialog)
    dialog.name_field.setText("erp-api-key")
    dialog.save_button.click()
    assert "DEV value" in dialog.error_label.text()  # refused before anything is stored
    dialog.dev_field.setText(SECRET_DEV)
    dialog.prod_field.setText(SECRET_PROD)
    save(qtbot, page, dialog)
    assert cells(page.secrets, "erp-api-key")[2:4] == ["set", "own value"]
    qtmodeltester.check(page.secrets.model)
    assert page.secrets.heading.text() == "Secrets (1)"
    text = every_text()
    assert SECRET_DEV not in text and SECRET_PROD not in text

    page.secrets.table.selectRow(0)
    page.secrets.edit_button.click()
    dialog = page.dialog
    assert dialog.dev_field.text() == "" and dialog.prod_field.text() == ""
    assert dialog.clear_prod.isVisibleTo(dialog)
    dialog.description_field.setText("ERP key")
    save(qtbot, page, dialog)  # nothing typed: both values kept
    assert vault.resolve_secret("erp-api-key", "PROD") == SECRET_PROD
    assert cells(page.secrets, "erp-api-key")[1] == "ERP key"

    page.secrets.table.selectRow(0)
    page.secrets.edit_button.click()
    dialog = page.dialog
    dialog.clear_prod.setChecked(True)
    assert not dialog.prod_field.isEnabled()
    save(qtbot, page, dialog)
    assert cells(page.secrets, "erp-api-key")[3] == "uses DEV"
    assert vault.resolve_secret("erp-api-key", "PROD") == SECRET_DEV

    answer(monkeypatch, QMessageBox.StandardButton.Yes)
    page.secrets.table.selectRow(0)
    with qtbot.waitSignal(page.changed, timeout=WAIT_MS):
        page.secrets.delete_button.click()
    qtbot.waitUntil(lambda: page.secrets.model.rowCount() == 0, timeout=WAIT_MS)
    assert vault.list_secrets() == []
    assert page.secrets.stack.currentWidget() is page.secrets.empty_label


def test_cancel_stores_nothing(main_window: MainWindow, qtbot):
    page = open_page(main_window, qtbot)
    page.add_secret()
    dialog = page.dialog
    dialog.name_field.setText("never")
    dialog.dev_field.setText(SECRET_DEV)
    dialog.reject()
    assert page.dialog is None
    assert dialog.dev_field.text() == ""
    assert main_window.context.vault.list_secrets() == []
    assert QKeySequence("Ctrl+4").toString() in main_window.nav_buttons["connections"].toolTip()
