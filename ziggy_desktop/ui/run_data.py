"""A run's data as the GUI shows it: why data was not kept, and the per-edge counts and samples (the edge bubble)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QFontDatabase, QPalette
from PySide6.QtWidgets import (QHeaderView, QLabel, QPlainTextEdit, QSplitter, QStackedWidget,
                               QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from ..executions import ExecutionDetail
from ..flows import keeps_data
from .common import configure_list_table, placeholder_label, pretty_json

EDGE_COLUMNS = ("From", "To", "Batches", "Records")
WHY_NOT_KEPT = {
    "ERRORED_WITH_DATA": "This flow keeps data only for failed runs (history level ERRORED_WITH_DATA)",
    "ERRORED_NO_DATA": "This flow keeps no run data, only statuses, counts and errors (history level "
                       "ERRORED_NO_DATA)",
    "TIME_LIMITED_NO_DATA": "This flow keeps no run data, only statuses, counts and errors, for its retention "
                            "time (history level TIME_LIMITED_NO_DATA)",
}


def data_not_kept_note(detail: ExecutionDetail, history_level: str | None) -> str | None:
    """Why the run has no input, result or edge samples; None when it kept them (or has not finished)."""
    view = detail.view
    if not view.finished or detail.edges is not None:
        return None
    status = view.termination_status or ""
    if view.started_at is None:
        return "This run never started, so no data crossed its edges."
    if history_level in WHY_NOT_KEPT and not keeps_data(history_level, status):
        return f"{WHY_NOT_KEPT[history_level]}; change it in Flow settings to see the data of runs like this one."
    if history_level is None:
        return "This run kept no data (its flow's history level decides, and the flow is no longer here)."
    return ("This run kept no data: its flow's history level was different when it ran, or it ran before edge "
            "samples were recorded.")


def block_name(detail: ExecutionDetail | None, block_id: str) -> str:
    for step in (detail.steps if detail is not None else []):
        if step.get("blockId") == block_id:
            return step.get("name") or block_id
    return block_id


def edge_title(detail: ExecutionDetail | None, edge: dict[str, Any]) -> tuple[str, str]:
    """('Name.port', 'Name.port') of an edge's two ends; the default ports are left out."""
    source = block_name(detail, edge["from"])
    target = block_name(detail, edge["to"])
    from_port, to_port = edge.get("fromPort", "out"), edge.get("toPort", "in")
    return (source if from_port == "out" else f"{source}.{from_port}",
            target if to_port == "in" else f"{target}.{to_port}")


def edge_summary(edge: dict[str, Any]) -> str:
    records, batches = edge.get("records", 0), edge.get("batches", 0)
    shown = len(edge.get("sample") or [])
    text = (f"{records:,} record{'' if records == 1 else 's'} in {batches:,} batch{'' if batches == 1 else 'es'} "
            f"crossed this edge.")
    if records:
        text += f" The first {shown} {'is' if shown == 1 else 'are'} below." if shown < records else \
            " All of them are below."
    return text


class EdgeDataView(QWidget):
    """Every edge of one run with its counts; the selected edge's sample below."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.detail: ExecutionDetail | None = None
        self.table = QTableWidget(0, len(EDGE_COLUMNS))
        self.table.setHorizontalHeaderLabels(EDGE_COLUMNS)
        configure_list_table(self.table)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        self.table.itemSelectionChanged.connect(self._show_selected)
        self.sample_note = QLabel()
        self.sample_note.setWordWrap(True)
        self.sample_text = QPlainTextEdit()
        self.sample_text.setReadOnly(True)
        self.sample_text.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.sample_text.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.sample_text.setPlaceholderText("Select an edge to see the first records that crossed it.")
        sample = QWidget()
        sample_layout = QVBoxLayout(sample)
        sample_layout.setContentsMargins(0, 4, 0, 0)
        sample_layout.addWidget(self.sample_note)
        sample_layout.addWidget(self.sample_text, 1)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.table)
        splitter.addWidget(sample)
        splitter.setChildrenCollapsible(False)
        splitter.setSizes([140, 220])

        self.note = placeholder_label()
        self.note.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.stack = QStackedWidget()
        self.stack.addWidget(splitter)
        self.stack.addWidget(self.note)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.stack)
        self.show_note("Select a run to see the data that crossed its edges.")

    def show_note(self, text: str) -> None:
        self.detail = None
        self.table.setRowCount(0)
        self.note.setText(text)
        self.stack.setCurrentWidget(self.note)

    def show_run(self, detail: ExecutionDetail, history_level: str | None) -> None:
        if not detail.view.finished:
            self.show_note(f"The run is {detail.view.state.lower()}; the data that crossed each edge appears when "
                           f"it ends.")
            return
        not_kept = data_not_kept_note(detail, history_level)
        if not_kept is not None:
            self.show_note(not_kept)
            return
        edges = detail.edges or []
        if not edges:
            self.show_note("This flow has no edges.")
            return
        previous = self.table.currentRow() if self.detail is not None else -1
        self.detail = detail
        self.table.setRowCount(len(edges))
        for row, edge in enumerate(edges):
            source, target = edge_title(detail, edge)
            values = (source, target, f"{edge.get('batches', 0):,}", f"{edge.get('records', 0):,}")
            for column, value in enumerate(values):
                item = QTableWidgetItem(value)
                if column >= 2:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                if column < 2:
                    item.setToolTip(f"Block id: {edge['from'] if column == 0 else edge['to']}")
                if not edge.get("records"):
                    item.setForeground(self.palette().color(QPalette.ColorRole.PlaceholderText))
                self.table.setItem(row, column, item)
        self.stack.setCurrentIndex(0)
        self.table.selectRow(previous if 0 <= previous < len(edges) else 0)
        self._show_selected()

    def edge_count(self) -> int:
        return self.table.rowCount()

    def _show_selected(self) -> None:
        row = self.table.currentRow()
        edges = (self.detail.edges or []) if self.detail is not None else []
        if not 0 <= row < len(edges):
            self.sample_note.setText("")
            self.sample_text.setPlainText("")
            return
        edge = edges[row]
        source, target = edge_title(self.detail, edge)
        self.sample_note.setText(f"<b>{_html(source)} → {_html(target)}</b>: {_html(edge_summary(edge))}")
        sample = edge.get("sample") or []
        self.sample_text.setPlainText(pretty_json(sample) if sample else "")
        self.sample_text.setPlaceholderText("Nothing crossed this edge in this run.")


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
