"""The main window: navigation bar, pages, the gear for Global Settings, and a live status bar."""

from __future__ import annotations

import logging

from PySide6.QtCore import QByteArray, QSettings, QSize, Qt, QTimer, Slot
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (QButtonGroup, QHBoxLayout, QLabel, QMainWindow, QSizePolicy, QStackedWidget,
                               QToolButton, QVBoxLayout, QWidget)

from .application import app_icon, icon
from .bridge import Background, EventBridge
from .common import emphasize, queue_summary
from .connections_page import ConnectionsPage
from .context import UiContext
from .flow_page import FlowPage
from .flows_page import FlowsPage
from .history_page import HistoryPage
from .queues_page import QueuesPage
from .settings_dialog import GlobalSettingsDialog

log = logging.getLogger("ziggy.ui")

PAGES = ("flows", "history", "queues", "connections")
PAGE_TITLES = {"flows": "Flows", "history": "Execution History", "queues": "Queues",
               "connections": "Secrets & Connections"}


class MainWindow(QMainWindow):
    def __init__(self, context: UiContext, parent: QWidget | None = None):
        super().__init__(parent)
        self.context = context
        self.setWindowTitle("Ziggy Desktop")
        self.setWindowIcon(app_icon())
        self.setMinimumSize(QSize(960, 600))
        self.ui_settings = QSettings(str(context.settings.data_dir / "ui.ini"), QSettings.Format.IniFormat)
        self.bridge = EventBridge(context.services.events, self)
        self.background = Background(self)
        self._closing = False

        self.flows_page = FlowsPage(context, self.bridge, self.background)
        self.flow_page = FlowPage(context, self.bridge, self.background)
        self.history_page = HistoryPage(context, self.bridge, self.background)
        self.queues_page = QueuesPage(context, self.bridge, self.background)
        self.connections_page = ConnectionsPage(context, self.background)

        self.stack = QStackedWidget()
        for page in (self.flows_page, self.flow_page, self.history_page, self.queues_page, self.connections_page):
            self.stack.addWidget(page)

        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self._build_nav_bar())
        layout.addWidget(self.stack, 1)
        self.setCentralWidget(central)
        self._build_status_bar()
        self._build_shortcuts()

        self.flows_page.openFlowRequested.connect(self.open_flow)
        self.flow_page.backRequested.connect(lambda: self.show_page("flows"))
        self.flow_page.historyRequested.connect(self.show_history_for_flow)
        self.flow_page.flowChanged.connect(lambda _uuid: self.flows_page.refresh())
        self.bridge.executionsChanged.connect(self._schedule_status_refresh)

        self._status_timer = QTimer(self)
        self._status_timer.setSingleShot(True)
        self._status_timer.setInterval(100)  # many events in a burst update the bar once
        self._status_timer.timeout.connect(self.refresh_status)
        self._restore_state()
        self.refresh_status()

    # -- layout ----------------------------------------------------------------------------------

    def _build_nav_bar(self) -> QWidget:
        bar = QWidget()
        bar.setObjectName("navBar")
        bar.setAutoFillBackground(True)
        bar.setBackgroundRole(bar.backgroundRole().AlternateBase)
        row = QHBoxLayout(bar)
        row.setContentsMargins(12, 6, 12, 6)
        logo = QLabel()
        logo.setPixmap(app_icon().pixmap(28, 28))
        row.addWidget(logo)
        title = emphasize(QLabel("Ziggy Desktop"), 1.15)
        row.addWidget(title)
        row.addSpacing(24)
        self.nav_group = QButtonGroup(self)
        self.nav_group.setExclusive(True)
        self.nav_buttons: dict[str, QToolButton] = {}
        for index, name in enumerate(PAGES):
            button = QToolButton()
            button.setText(PAGE_TITLES[name].replace("&", "&&"))  # a lone & would be a mnemonic
            button.setCheckable(True)
            button.setAutoRaise(True)
            button.setToolTip(f"{PAGE_TITLES[name]} (Ctrl+{index + 1})")
            button.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
            button.setMinimumHeight(32)
            button.clicked.connect(lambda _checked=False, page=name: self.show_page(page))
            self.nav_group.addButton(button)
            self.nav_buttons[name] = button
            row.addWidget(button)
        row.addStretch(1)
        self.gear_button = QToolButton()
        self.gear_button.setIcon(icon("gear"))
        self.gear_button.setIconSize(QSize(22, 22))
        self.gear_button.setAutoRaise(True)
        self.gear_button.setToolTip("Global Settings (Ctrl+,)")
        self.gear_button.clicked.connect(self.open_settings)
        row.addWidget(self.gear_button)
        return bar

    def _build_status_bar(self) -> None:
        self.api_label = QLabel()
        self.queue_label = QLabel()
        self.statusBar().addWidget(self.api_label, 1)
        self.statusBar().addPermanentWidget(self.queue_label)

    def _build_shortcuts(self) -> None:
        def add(text: str, keys, slot) -> QAction:
            action = QAction(text, self)
            action.setShortcuts(keys if isinstance(keys, list) else [keys])
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            action.triggered.connect(slot)
            self.addAction(action)
            return action

        for index, name in enumerate(PAGES):
            add(PAGE_TITLES[name], QKeySequence(f"Ctrl+{index + 1}"), lambda _=False, page=name: self.show_page(page))
        add("Global Settings", [QKeySequence(QKeySequence.StandardKey.Preferences), QKeySequence("Ctrl+,")],
            self.open_settings)
        add("New flow", QKeySequence(QKeySequence.StandardKey.New), self._new_flow)
        add("Import flows", QKeySequence("Ctrl+I"), self._import_flows)
        add("Run flow", QKeySequence("Ctrl+R"), self._run_current_flow)
        add("Refresh", QKeySequence(QKeySequence.StandardKey.Refresh), self._refresh_current)
        add("Quit", QKeySequence(QKeySequence.StandardKey.Quit), self.close)

    # -- navigation ------------------------------------------------------------------------------

    def show_page(self, name: str) -> None:
        page = {"flows": self.flows_page, "history": self.history_page, "queues": self.queues_page,
                "connections": self.connections_page}[name]
        self.stack.setCurrentWidget(page)
        self.nav_buttons[name].setChecked(True)
        if name == "history":
            self.history_page.refresh()
        elif name == "flows":
            self.flows_page.refresh()
        elif name == "connections":
            self.connections_page.refresh()  # the CLI may have changed the vault meanwhile

    def current_page_name(self) -> str:
        widget = self.stack.currentWidget()
        if widget is self.history_page:
            return "history"
        if widget is self.queues_page:
            return "queues"
        if widget is self.connections_page:
            return "connections"
        return "flows"

    @Slot(str)
    def open_flow(self, flow_uuid: str) -> None:
        self.flow_page.load_flow(flow_uuid)
        self.stack.setCurrentWidget(self.flow_page)
        self.nav_buttons["flows"].setChecked(True)

    @Slot(str)
    def show_history_for_flow(self, flow_uuid: str) -> None:
        self.history_page.set_flow_filter(flow_uuid)
        self.show_page("history")

    def open_settings(self) -> None:
        dialog = GlobalSettingsDialog(self.context, self.background, self)
        dialog.exec()
        dialog.deleteLater()
        self.refresh_status()

    def _new_flow(self) -> None:
        self.show_page("flows")
        self.flows_page.new_flow()

    def _import_flows(self) -> None:
        self.show_page("flows")
        self.flows_page.import_flows()

    def _run_current_flow(self) -> None:
        if self.stack.currentWidget() is self.flow_page:
            self.flow_page.run_flow()

    def _refresh_current(self) -> None:
        page = self.stack.currentWidget()
        if hasattr(page, "refresh"):
            page.refresh()

    # -- status bar ------------------------------------------------------------------------------

    @Slot(list)
    def _schedule_status_refresh(self, _events=None) -> None:
        if not self._status_timer.isActive():
            self._status_timer.start()

    def refresh_status(self) -> None:
        if self.context.api_url:
            self.api_label.setText(f"● API listening on {self.context.api_url}")
            self.api_label.setToolTip("Launch flows with POST /api; see Flow settings > URL.")
        else:
            self.api_label.setText(f"○ API off: {self.context.api_error or 'not started'}")
            self.api_label.setToolTip(self.context.api_error or "")
        self.queue_label.setText(f"Queue: {queue_summary(self.context.services.queue)}")

    # -- state and shutdown ----------------------------------------------------------------------

    def _restore_state(self) -> None:
        geometry = self.ui_settings.value("window/geometry")
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        else:
            self.resize(1280, 800)
        page = self.ui_settings.value("window/page", "flows")
        self.show_page(page if page in PAGES else "flows")

    def save_state(self) -> None:
        self.ui_settings.setValue("window/geometry", self.saveGeometry())
        self.ui_settings.setValue("window/page", self.current_page_name())
        self.ui_settings.sync()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt override
        if self._closing:
            event.accept()
            return
        self._closing = True
        self.save_state()
        self.statusBar().showMessage("Shutting down: finishing running runs…")
        self.hide()
        self.bridge.close()
        self.background.shutdown()
        self.context.shutdown()
        event.accept()
