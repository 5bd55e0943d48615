"""The Flows page: the flow list with search and tag filter, a preview, and New/Import/Export/Duplicate/Delete."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Callable

from PySide6.QtCore import QItemSelectionModel, QModelIndex, QSize, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QAction, QColor, QFontDatabase, QGuiApplication, QIcon, QKeySequence, QPalette
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QCommandLinkButton, QFileDialog, QFormLayout, QFrame,
                               QHBoxLayout, QHeaderView, QInputDialog, QLabel, QLineEdit, QMenu, QMessageBox,
                               QPushButton, QScrollArea,
                               QSizePolicy, QSplitter, QStackedWidget, QStyle, QTableView, QToolBar, QToolButton,
                               QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget)

from .. import bundled
from ..engine import get_block_type
from ..errors import ZiggyError
from ..flows import FlowSummary, blank_flow, validate_flow
from ..history import HistoryFilter
from .application import icon
from .bridge import Background, EventBridge
from .common import configure_list_table, confirm, emphasize, placeholder_label
from .context import UiContext
from .flow_settings_dialog import FlowSettingsDialog
from .flows_model import NAME, TAGS, UPDATED, UUID_ROLE, VERSION, FlowsFilterModel, FlowsTableModel
from .style import local_time, status_color

log = logging.getLogger("ziggy.ui")

ALL_TAGS = "All tags"
RECENT_RUNS = 5


class FlowPreview(QFrame):
    """What the selected flow is: its identity, settings, blocks, and how its runs went."""

    openRequested = Signal(str)
    settingsRequested = Signal(str)

    def __init__(self, context: UiContext, parent: QWidget | None = None):
        super().__init__(parent)
        self.context = context
        self.flow_uuid: str | None = None
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setMinimumWidth(300)

        self.title = emphasize(QLabel(), 1.25)
        self.title.setWordWrap(True)
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.uuid_label = QLabel()
        self.uuid_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.uuid_label.setToolTip("The flow identifier (flowUuid)")
        self.uuid_label.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.uuid_label.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.copy_uuid_button = QToolButton()
        self.copy_uuid_button.setText("Copy")
        self.copy_uuid_button.setAutoRaise(True)
        self.copy_uuid_button.setToolTip("Copy the flow identifier")
        self.copy_uuid_button.clicked.connect(self._copy_uuid)
        uuid_row = QHBoxLayout()
        uuid_row.setSpacing(4)
        uuid_row.addWidget(self.uuid_label)
        uuid_row.addWidget(self.copy_uuid_button)
        uuid_row.addStretch(1)

        self.open_button = QPushButton("Open")
        self.open_button.setDefault(True)
        self.open_button.clicked.connect(lambda: self.flow_uuid and self.openRequested.emit(self.flow_uuid))
        self.settings_button = QPushButton("Settings && URL…")
        self.settings_button.setToolTip("Flow identifier, launch URL, curl, Postman; name, tags, timeout")
        self.settings_button.clicked.connect(lambda: self.flow_uuid and self.settingsRequested.emit(self.flow_uuid))
        buttons = QHBoxLayout()
        buttons.addWidget(self.open_button)
        buttons.addWidget(self.settings_button)
        buttons.addStretch(1)

        self.tags_value = QLabel()
        self.tags_value.setWordWrap(True)
        self.timeout_value = QLabel()
        self.history_value = QLabel()
        self.version_value = QLabel()
        self.runs_value = QLabel()
        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignLeft)
        form.setHorizontalSpacing(16)
        for label, widget in (("Tags", self.tags_value), ("Timeout", self.timeout_value),
                              ("History level", self.history_value), ("Version", self.version_value),
                              ("Runs", self.runs_value)):
            form.addRow(f"{label}:", widget)

        self.blocks_heading = emphasize(QLabel("Blocks"), 1.0)
        self.blocks = self._tree(["Block", "Type"])
        self.runs_heading = emphasize(QLabel(f"Last {RECENT_RUNS} runs"), 1.0)
        self.runs = self._tree(["Status", "Mode", "Time", "Created"], stretch=3)
        self.runs.setToolTip("The newest runs of this flow; the Execution History shows them all")
        self.no_runs_label = QLabel("This flow has not run yet. Open it and press Run, or launch it through "
                                    "the URL in Settings & URL.")
        self.no_runs_label.setWordWrap(True)
        self.no_runs_label.setForegroundRole(QPalette.ColorRole.PlaceholderText)

        self.details = QWidget()
        details = QVBoxLayout(self.details)
        details.setContentsMargins(0, 0, 0, 0)
        details.addWidget(self.title)
        details.addLayout(uuid_row)
        details.addSpacing(2)
        details.addLayout(buttons)
        details.addSpacing(8)
        details.addLayout(form)
        details.addSpacing(10)
        details.addWidget(self.blocks_heading)
        details.addWidget(self.blocks)
        details.addSpacing(10)
        details.addWidget(self.runs_heading)
        details.addWidget(self.runs)
        details.addWidget(self.no_runs_label)
        details.addStretch(1)

        self.placeholder = placeholder_label("Select a flow to see what it does.")

        # The details scroll rather than force a tall window when a flow has many blocks.
        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.scroll.setWidget(self.details)
        self.details.setContentsMargins(14, 12, 14, 12)

        self.stack = QStackedWidget()
        self.stack.addWidget(self.placeholder)
        self.stack.addWidget(self.scroll)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.stack)

    def _tree(self, labels: list[str], stretch: int = 0) -> QTreeWidget:
        tree = QTreeWidget()
        tree.setColumnCount(len(labels))
        tree.setHeaderLabels(labels)
        tree.setRootIsDecorated(False)
        tree.setUniformRowHeights(True)
        tree.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        tree.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        tree.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        tree.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        header = tree.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        header.setSectionResizeMode(stretch, QHeaderView.ResizeMode.Stretch)
        return tree

    def _fit(self, tree: QTreeWidget, max_rows: int) -> None:
        """Size a small list to its rows (up to max_rows) so the pane has no empty boxes."""
        row_height = tree.fontMetrics().height() + 10
        rows = min(max(tree.topLevelItemCount(), 1), max_rows)
        for column in range(tree.columnCount()):
            if tree.header().sectionResizeMode(column) != QHeaderView.ResizeMode.Stretch:
                tree.resizeColumnToContents(column)
                tree.setColumnWidth(column, tree.columnWidth(column) + 14)  # air between columns
        tree.setFixedHeight(tree.header().sizeHint().height() + rows * row_height + 2 * tree.frameWidth() + 2)

    def _item(self, texts: list[str], stretch: int = 0) -> QTreeWidgetItem:
        item = QTreeWidgetItem(texts)
        # Only the stretched column carries the taller row height: a zero width there costs nothing.
        item.setSizeHint(stretch, QSize(0, self.fontMetrics().height() + 10))
        return item

    def show_flow(self, flow_uuid: str | None) -> None:
        self.flow_uuid = None
        document = None
        if flow_uuid:
            try:
                document = self.context.services.flows.get_document(flow_uuid)
            except ZiggyError:
                document = None  # deleted meanwhile (e.g. from the CLI): show nothing
        if document is None:
            self.stack.setCurrentWidget(self.placeholder)
            return
        self.flow_uuid = document["uuid"]
        settings = document.get("settings", {})
        self.title.setText(document["name"])
        self.uuid_label.setText(document["uuid"])
        self.tags_value.setText(", ".join(document.get("tags", [])) or "—")
        self.timeout_value.setText(f"{settings.get('timeoutSeconds', '')} s")
        self.history_value.setText(str(settings.get("historyLevel", "")))
        self.blocks.clear()
        for block in document.get("blocks", []):
            try:
                type_title = get_block_type(block["type"]).title
            except ZiggyError:
                type_title = block["type"]
            item = self._item([block.get("name") or block["id"], type_title])
            item.setToolTip(0, f"id: {block['id']}")
            self.blocks.addTopLevelItem(item)
        self._fit(self.blocks, 8)
        edges = len(document.get("edges", []))
        blocks = len(document.get("blocks", []))
        self.blocks_heading.setText(f"Blocks ({blocks}) · {edges} {'edge' if edges == 1 else 'edges'}")
        self.refresh_runs()
        self.stack.setCurrentWidget(self.scroll)

    def set_version(self, flow: FlowSummary | None) -> None:
        self.version_value.setText("" if flow is None else f"{flow.version} · updated {local_time(flow.updated_at)}")

    def status_color(self, status: str) -> QColor:
        return status_color(status, self.palette()) or self.palette().color(QPalette.ColorRole.PlaceholderText)

    def refresh_runs(self) -> None:
        """Run count and the newest runs: one count and one small page, both on indexed columns."""
        if self.flow_uuid is None:
            return
        history = self.context.services.history
        history_filter = HistoryFilter(flow_uuid=self.flow_uuid)
        count = history.count(history_filter)
        self.runs_value.setText("No runs yet" if count == 0 else f"{count:,}")
        self.runs.clear()
        bold = self.font()
        bold.setBold(True)
        for row in history.page(history_filter, 0, RECENT_RUNS):
            view = row.view
            status = (view.termination_status if view.finished else view.state) or ""
            item = self._item([status, view.mode, "" if view.ms is None else f"{view.ms:,} ms", local_time(view.created_at)],
                              stretch=3)
            item.setForeground(0, self.status_color(status))
            item.setFont(0, bold)
            tip = view.execution_id + (f"\n{view.failed_block}: {view.reason}" if view.reason else "")
            for column in range(4):
                item.setToolTip(column, tip)
            self.runs.addTopLevelItem(item)
        has_runs = count > 0
        self.runs.setVisible(has_runs)
        self.runs_heading.setVisible(has_runs)
        self.no_runs_label.setVisible(not has_runs)
        self.runs_heading.setText("Last run" if count == 1 else f"Last {min(count, RECENT_RUNS)} runs")
        self._fit(self.runs, RECENT_RUNS)

    def _copy_uuid(self) -> None:
        if self.flow_uuid:
            QGuiApplication.clipboard().setText(self.flow_uuid)


class FlowsPage(QWidget):
    """Lists the stored flows; opening one is the main window's job (openFlowRequested)."""

    openFlowRequested = Signal(str)

    def __init__(self, context: UiContext, bridge: EventBridge, background: Background,
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.context = context
        self.background = background
        self.model = FlowsTableModel(self)
        self.proxy = FlowsFilterModel(self)
        self.proxy.setSourceModel(self.model)
        self._busy = 0
        self._refreshing = False
        self.samples = {sample.file_name: sample for sample in bundled.sample_flows()}

        heading = emphasize(QLabel("Flows"), 1.3)
        self.count_label = QLabel()
        self.count_label.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        title_row = QHBoxLayout()
        title_row.addWidget(heading)
        title_row.addSpacing(8)
        title_row.addWidget(self.count_label, 0, Qt.AlignmentFlag.AlignBottom)
        title_row.addStretch(1)

        self.toolbar = self._build_toolbar()
        self.search_field = QLineEdit()
        self.search_field.setPlaceholderText("Search flows by name  (Ctrl+F)")
        self.search_field.setClearButtonEnabled(True)
        self.search_field.setMinimumWidth(220)
        self.search_field.textChanged.connect(self._on_search)
        self.tag_combo = QComboBox()
        self.tag_combo.setMinimumWidth(140)
        self.tag_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.tag_combo.setToolTip("Show only the flows with this tag")
        self.tag_combo.addItem(ALL_TAGS, None)
        self.tag_combo.currentIndexChanged.connect(self._on_tag)
        tools_row = QHBoxLayout()
        tools_row.addWidget(self.toolbar, 1)
        tools_row.addWidget(self.search_field)
        tools_row.addWidget(self.tag_combo)

        self.table = QTableView()
        self.table.setModel(self.proxy)
        configure_list_table(self.table)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(NAME, Qt.SortOrder.AscendingOrder)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(NAME, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(TAGS, QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(UPDATED, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(VERSION, QHeaderView.ResizeMode.ResizeToContents)
        header.resizeSection(TAGS, 200)
        header.setHighlightSections(False)
        self.table.verticalHeader().setDefaultSectionSize(self.table.fontMetrics().height() + 12)
        self.table.activated.connect(self._on_activated)
        self.table.selectionModel().selectionChanged.connect(self._on_selection_changed)
        self.proxy.modelReset.connect(self._after_rows_changed)
        self.proxy.rowsRemoved.connect(self._after_rows_changed)
        self.proxy.rowsInserted.connect(self._after_rows_changed)
        self.proxy.layoutChanged.connect(self._after_rows_changed)

        self.no_match_label = QLabel()
        self.no_match_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.no_match_label.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.no_match_label.hide()
        table_box = QWidget()
        table_layout = QVBoxLayout(table_box)
        table_layout.setContentsMargins(0, 0, 0, 0)
        table_layout.addWidget(self.table, 1)
        table_layout.addWidget(self.no_match_label)

        self.preview = FlowPreview(context)
        self.preview.openRequested.connect(self.openFlowRequested)
        self.preview.settingsRequested.connect(self.open_settings)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(table_box)
        self.splitter.addWidget(self.preview)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.setSizes([700, 420])

        self.empty_state = self._build_empty_state()
        self.body = QStackedWidget()
        self.body.addWidget(self.splitter)
        self.body.addWidget(self.empty_state)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 12, 16, 12)
        layout.addLayout(title_row)
        layout.addLayout(tools_row)
        layout.addWidget(self.body, 1)

        find = QAction(self)
        find.setShortcut(QKeySequence(QKeySequence.StandardKey.Find))
        find.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        find.triggered.connect(lambda: (self.search_field.setFocus(), self.search_field.selectAll()))
        self.addAction(find)

        self._runs_timer = QTimer(self)
        self._runs_timer.setSingleShot(True)
        self._runs_timer.setInterval(300)  # a burst of run events updates the preview once
        self._runs_timer.timeout.connect(self.preview.refresh_runs)
        bridge.executionChanged.connect(self._on_execution_event)
        self.refresh()

    # -- layout ----------------------------------------------------------------------------------

    def _build_toolbar(self) -> QToolBar:
        toolbar = QToolBar()
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        toolbar.setIconSize(QSize(16, 16))
        style = self.style()

        def add(text: str, pixmap: QStyle.StandardPixmap | QIcon, slot: Callable[[], None], tip: str,
                shortcut: str | None = None) -> QAction:
            action = QAction(pixmap if isinstance(pixmap, QIcon) else style.standardIcon(pixmap), text, self)
            action.triggered.connect(lambda _checked=False: slot())
            if shortcut:
                # Page-local so it never competes with the main window's shortcuts.
                action.setShortcut(QKeySequence(shortcut))
                action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
                self.addAction(action)
                tip = f"{tip} ({QKeySequence(shortcut).toString(QKeySequence.SequenceFormat.NativeText)})"
            action.setToolTip(tip)
            toolbar.addAction(action)
            return action

        SP = QStyle.StandardPixmap
        # Ctrl+N and Ctrl+I belong to the main window (they work from every page).
        self.new_action = add("New", SP.SP_FileIcon, self.new_flow, "Create a flow (Ctrl+N)")
        self.import_action = add("Import…", SP.SP_DialogOpenButton, self.import_flows,
                                 "Import flows from JSON files (Ctrl+I)")
        self.samples_menu = self._build_samples_menu()
        self.samples_button = QToolButton()
        self.samples_button.setText("Samples")
        self.samples_button.setIcon(style.standardIcon(SP.SP_FileDialogContentsView))
        self.samples_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.samples_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.samples_button.setMenu(self.samples_menu)
        self.samples_button.setToolTip("Import a sample flow shipped with the app")
        toolbar.addWidget(self.samples_button)
        toolbar.addSeparator()
        self.open_action = add("Open", SP.SP_ArrowForward, self.open_selected, "Open the selected flow", "Ctrl+O")
        self.settings_action = add("Settings…", icon("gear"), self.open_settings,
                                   "Flow settings: identifier, launch URL, curl, Postman, name, tags, timeout")
        self.duplicate_action = add("Duplicate", SP.SP_FileDialogNewFolder, self.duplicate_selected,
                                    "Copy the selected flow under a new identifier", "Ctrl+D")
        self.export_action = add("Export…", SP.SP_DialogSaveButton, self.export_selected,
                                 "Save the selected flow as a JSON file", "Ctrl+E")
        self.delete_action = add("Delete", SP.SP_TrashIcon, self.delete_selected, "Delete the selected flow",
                                 "Del")
        return toolbar

    def _build_empty_state(self) -> QWidget:
        widget = QWidget()
        layout = QVBoxLayout(widget)
        layout.addStretch(2)
        title = emphasize(QLabel("No flows yet"), 1.4)
        title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        hint = QLabel("A flow is a chain of blocks: a Receiver takes the data, blocks work on it, a Terminator "
                      "returns the result. Create one, or import a sample to see a run from end to end.")
        hint.setWordWrap(True)
        hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        hint.setFixedWidth(min(560, hint.fontMetrics().averageCharWidth() * 80))
        self.empty_new_button = QPushButton("Create a flow")
        self.empty_new_button.setDefault(True)
        self.empty_new_button.clicked.connect(self.new_flow)
        self.empty_import_button = QPushButton("Import from files…")
        self.empty_import_button.clicked.connect(self.import_flows)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        for button in (self.empty_new_button, self.empty_import_button):
            button.setMinimumHeight(32)
            buttons.addWidget(button)
        buttons.addStretch(1)
        # Each sample with what it shows: a newcomer picks by what it does, not by its file name.
        samples_box = QWidget()
        samples_box.setFixedWidth(hint.width())
        samples_layout = QVBoxLayout(samples_box)
        samples_layout.setContentsMargins(0, 0, 0, 0)
        samples_layout.setSpacing(2)
        samples_title = QLabel("Or import a sample:")
        samples_title.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        samples_layout.addWidget(samples_title)
        self.sample_buttons: dict[str, QCommandLinkButton] = {}
        for file_name, sample in self.samples.items():
            button = QCommandLinkButton(sample.name, sample.description)
            button.setToolTip(f"Import “{sample.name}” ({file_name})")
            button.clicked.connect(lambda _checked=False, name=file_name: self.import_sample(name))
            samples_layout.addWidget(button)
            self.sample_buttons[file_name] = button
        self.empty_sample_button = self.sample_buttons.get(bundled.HELLO_WORLD) or next(
            iter(self.sample_buttons.values()), None)
        samples_row = QHBoxLayout()
        samples_row.addStretch(1)
        samples_row.addWidget(samples_box)
        samples_row.addStretch(1)
        layout.addWidget(title)
        layout.addSpacing(6)
        # A wrapped label only gets its full height in a plain box, not with an alignment flag.
        hint_row = QHBoxLayout()
        hint_row.addStretch(1)
        hint_row.addWidget(hint)
        hint_row.addStretch(1)
        layout.addLayout(hint_row)
        layout.addSpacing(12)
        layout.addLayout(buttons)
        if self.samples:
            layout.addSpacing(16)
            layout.addLayout(samples_row)
        layout.addStretch(3)
        return widget

    def _build_samples_menu(self) -> QMenu:
        menu = QMenu(self)
        menu.setToolTipsVisible(True)
        self.sample_actions: dict[str, QAction] = {}
        for file_name, sample in self.samples.items():
            action = menu.addAction(sample.name)
            action.setToolTip(sample.description)
            action.setStatusTip(sample.description)
            action.triggered.connect(lambda _checked=False, name=file_name: self.import_sample(name))
            self.sample_actions[file_name] = action
        if not self.samples:
            menu.addAction("No samples are bundled with this build").setEnabled(False)
        return menu

    # -- listing ---------------------------------------------------------------------------------

    def refresh(self, select_uuid: str | None = None) -> None:
        """Reload the list (a quick read), keeping the selection and the filters."""
        keep = select_uuid or self.selected_uuid()
        self._reload_list()
        self._select(keep, reload=True)  # the selected flow itself may have changed
        self._update_counts()

    def _reload_list(self) -> None:
        """Re-read the flows and tags; selection changes meanwhile are not the user's."""
        self._refreshing = True
        try:
            self.model.set_flows(self.context.services.flows.list())
            self._rebuild_tags()
        finally:
            self._refreshing = False

    def selected_uuid(self) -> str | None:
        rows = self.table.selectionModel().selectedRows()
        return rows[0].data(UUID_ROLE) if rows else None

    def selected_flow(self) -> FlowSummary | None:
        rows = self.table.selectionModel().selectedRows()
        return self.model.flow(self.proxy.mapToSource(rows[0]).row()) if rows else None

    def visible_names(self) -> list[str]:
        return [self.proxy.index(row, NAME).data() for row in range(self.proxy.rowCount())]

    def _select(self, flow_uuid: str | None, reload: bool = False) -> None:
        row = self.model.row_of(flow_uuid) if flow_uuid else None
        index = self.proxy.mapFromSource(self.model.index(row, NAME)) if row is not None else QModelIndex()
        if not index.isValid() and self.proxy.rowCount():
            index = self.proxy.index(0, NAME)
        if index.isValid():
            self.table.selectionModel().setCurrentIndex(
                index, QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows)
            self.table.scrollTo(index)
        else:
            self.table.selectionModel().clearSelection()
        self._show_selected(reload)

    def _rebuild_tags(self) -> None:
        current = self.tag_combo.currentData()
        tags = self.model.all_tags()
        self.tag_combo.blockSignals(True)
        self.tag_combo.clear()
        self.tag_combo.addItem(ALL_TAGS, None)
        for tag in tags:
            self.tag_combo.addItem(tag, tag)
        index = self.tag_combo.findData(current) if current in tags else 0
        self.tag_combo.setCurrentIndex(max(index, 0))
        self.tag_combo.blockSignals(False)
        self.proxy.set_tag(self.tag_combo.currentData())

    def _update_counts(self) -> None:
        total = self.model.rowCount()
        shown = self.proxy.rowCount()
        self.body.setCurrentWidget(self.empty_state if total == 0 else self.splitter)
        self.search_field.setVisible(total > 0)
        self.tag_combo.setVisible(total > 0)
        self.count_label.setText("" if total == 0 else
                                 f"{total} {'flow' if total == 1 else 'flows'}" if shown == total else
                                 f"{shown} of {total} flows")
        if total and not shown:
            self.no_match_label.setText("No flow matches the search and tag filter.")
            self.no_match_label.show()
        else:
            self.no_match_label.hide()
        has_selection = self.selected_uuid() is not None
        for action in (self.open_action, self.settings_action, self.duplicate_action, self.export_action,
                       self.delete_action):
            action.setEnabled(has_selection)

    def _on_search(self, text: str) -> None:
        self.proxy.set_text(text)

    def _on_tag(self, _index: int) -> None:
        self.proxy.set_tag(self.tag_combo.currentData())

    @Slot()
    def _after_rows_changed(self, *_args: Any) -> None:
        if self._refreshing:
            return
        # Filtering may hide the selected row: select the first visible one so the preview matches.
        if self.selected_uuid() is None and self.proxy.rowCount():
            self._select(None)
        elif not self.proxy.rowCount():
            self._show_selected()
        self._update_counts()

    def _on_selection_changed(self, *_args: Any) -> None:
        if self._refreshing:
            return
        self._show_selected()
        self._update_counts()

    def _show_selected(self, reload: bool = False) -> None:
        flow_uuid = self.selected_uuid()
        if reload or flow_uuid != self.preview.flow_uuid or flow_uuid is None:
            self.preview.show_flow(flow_uuid)
        self.preview.set_version(self.selected_flow())

    def _on_activated(self, index: QModelIndex) -> None:
        flow_uuid = index.data(UUID_ROLE) if index.isValid() else None
        if flow_uuid:
            self.openFlowRequested.emit(flow_uuid)

    @Slot(object)
    def _on_execution_event(self, event) -> None:
        if event.flow_uuid == self.preview.flow_uuid and not self._runs_timer.isActive():
            self._runs_timer.start()

    # -- actions ---------------------------------------------------------------------------------

    def _run(self, title: str, work: Callable[[], Any], done: Callable[[Any], None]) -> None:
        """A database write off the GUI thread; a ZiggyError is shown to the user, anything else logged."""
        self._busy += 1

        def on_result(result: Any) -> None:
            self._busy -= 1
            done(result)

        def on_error(error: BaseException) -> None:
            self._busy -= 1
            if isinstance(error, ZiggyError):
                QMessageBox.warning(self, title, error.message)
            else:
                log.error("%s failed", title, exc_info=error)
                QMessageBox.critical(self, title, f"{title} failed unexpectedly: {error}")

        self.background.submit(work, on_result, on_error)

    def open_selected(self) -> None:
        flow_uuid = self.selected_uuid()
        if flow_uuid:
            self.openFlowRequested.emit(flow_uuid)

    def open_settings(self, flow_uuid: str | None = None) -> None:
        flow_uuid = flow_uuid or self.selected_uuid()
        if not flow_uuid:
            return
        try:
            dialog = FlowSettingsDialog(self.context, flow_uuid, self)
        except ZiggyError as error:
            QMessageBox.warning(self, "Flow settings", error.message)
            self.refresh()
            return
        dialog.saved.connect(lambda saved_uuid: self.refresh(saved_uuid))
        dialog.exec()

    def new_flow(self) -> None:
        name, ok = QInputDialog.getText(self, "New flow", "Name of the new flow:", QLineEdit.EchoMode.Normal,
                                        "New flow")
        name = name.strip()
        if not ok or not name:
            return
        document = blank_flow(name, self.context.settings.default_timeout_seconds)
        flows = self.context.services.flows
        self._run("New flow", lambda: flows.save(document)[0], self._created)

    def _created(self, flow: FlowSummary) -> None:
        self.refresh(flow.uuid)
        self.openFlowRequested.emit(flow.uuid)

    def import_sample(self, file_name: str = bundled.HELLO_WORLD) -> None:
        """Store a bundled sample (its data files point at the copies shipped with the app) and select it."""
        sample = self.samples.get(file_name)
        if sample is None:
            QMessageBox.warning(self, "Import a sample", f"This build has no sample named {file_name}.")
            return
        stored = {flow.uuid: flow.name for flow in self.model.flows()}.get(sample.document["uuid"])
        if stored is not None and not confirm(
                self, "Replace a flow?", f"The sample “{sample.name}” is already stored as “{stored}”. Replace "
                f"it with the original sample? Changes made to it are lost."):
            return
        flows = self.context.services.flows
        # Read afresh: the store may normalise the document it is given, and the menu keeps its copy.
        self._run("Import a sample", lambda: flows.save(bundled.sample_flow_document(file_name))[0],
                  lambda flow: self.refresh(flow.uuid))

    def import_flows(self) -> None:
        paths, _filter = QFileDialog.getOpenFileNames(self, "Import flows", str(Path.home()),
                                                      "Flow files (*.json);;All files (*)")
        if paths:
            self.import_files([Path(p) for p in paths])

    def import_files(self, paths: list[Path]) -> None:
        """Validate every file first (errors name the file and the block or field), ask before
        replacing a stored flow, then store the rest in one background task."""
        errors: list[str] = []
        documents: list[dict[str, Any]] = []
        existing = {flow.uuid: flow.name for flow in self.model.flows()}
        for path in paths:
            try:
                document = validate_flow(path.read_text(encoding="utf-8"))
            except OSError as error:
                errors.append(f"{path.name}: cannot be read ({error.strerror or error})")
                continue
            except UnicodeDecodeError:
                errors.append(f"{path.name}: is not a UTF-8 text file")
                continue
            except ZiggyError as error:
                errors.append(f"{path.name}: {error.message}")
                continue
            if document["uuid"] in existing:
                if not confirm(self, "Replace a flow?",
                               f"{path.name} holds the flow “{document['name']}”, which is already stored as "
                               f"“{existing[document['uuid']]}” (same identifier). Replace the stored flow?"):
                    continue
            documents.append(document)
        flows = self.context.services.flows

        def store() -> list[FlowSummary]:
            return [flows.save(document)[0] for document in documents]

        def done(saved: list[FlowSummary]) -> None:
            self.refresh(saved[-1].uuid if saved else None)
            if errors:
                imported = f"Imported {len(saved)} of {len(paths)} files.\n\n" if len(paths) > 1 else ""
                QMessageBox.warning(self, "Import flows", imported + "\n".join(errors))

        if documents:
            self._run("Import flows", store, done)
        else:
            done([])

    def export_selected(self) -> None:
        flow = self.selected_flow()
        if flow is None:
            return
        safe = "".join(c if c.isalnum() or c in "-_ " else "_" for c in flow.name).strip() or "flow"
        path, _filter = QFileDialog.getSaveFileName(self, "Export flow", str(Path.home() / f"{safe}.json"),
                                                    "Flow files (*.json);;All files (*)")
        if not path:
            return
        try:
            text = self.context.services.flows.export(flow.uuid)
            Path(path).write_text(text, encoding="utf-8")
        except ZiggyError as error:
            QMessageBox.warning(self, "Export flow", error.message)
        except OSError as error:
            QMessageBox.warning(self, "Export flow", f"Could not write {path}: {error.strerror or error}")

    def duplicate_selected(self) -> None:
        flow = self.selected_flow()
        if flow is None:
            return
        flows = self.context.services.flows
        self._run("Duplicate flow", lambda: flows.duplicate(flow.uuid), lambda copy: self.refresh(copy.uuid))

    def delete_selected(self) -> None:
        flow = self.selected_flow()
        if flow is None:
            return
        if not confirm(self, "Delete flow",
                       f"Delete the flow “{flow.name}”?\n\nIts past runs stay in the Execution History. Export "
                       f"it first if you may want it back."):
            return
        row = self.proxy.mapFromSource(self.model.index(self.model.row_of(flow.uuid) or 0, NAME)).row()
        flows = self.context.services.flows

        def done(_result: None) -> None:
            # Select the neighbour so Delete can be pressed again without reaching for the mouse.
            self._reload_list()
            neighbour = self.proxy.index(min(row, self.proxy.rowCount() - 1), NAME)
            self._select(neighbour.data(UUID_ROLE) if neighbour.isValid() else None)
            self._update_counts()

        self._run("Delete flow", lambda: flows.delete(flow.uuid), done)

    def is_busy(self) -> bool:
        return self._busy > 0
