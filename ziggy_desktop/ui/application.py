"""The QApplication: name, icon, style that follows the system's light or dark palette."""

from __future__ import annotations

import sys

from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication, QMessageBox

from .. import __version__
from ..bundled import resource_file


def app_icon() -> QIcon:
    return QIcon(str(resource_file("icons", "ziggy.svg")))


def icon(name: str) -> QIcon:
    return QIcon(str(resource_file("icons", f"{name}.svg")))


def create_application(argv: list[str] | None = None) -> QApplication:
    app = QApplication.instance() or QApplication(argv or sys.argv)
    app.setApplicationName("Ziggy Desktop")
    app.setApplicationDisplayName("Ziggy Desktop")
    app.setApplicationVersion(__version__)
    app.setOrganizationName("Ziggy")
    app.setWindowIcon(app_icon())
    # Fusion follows the system palette (light or dark) and looks the same on every platform.
    app.setStyle("Fusion")
    return app


def show_startup_error(message: str) -> None:
    box = QMessageBox(QMessageBox.Icon.Warning, "Ziggy Desktop cannot start", message)
    box.setWindowIcon(app_icon())
    box.exec()
