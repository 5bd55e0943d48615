"""Small GUI helpers shared by the pages: confirmation, error text, pretty JSON, the queue summary, headings, placeholders, list tables."""

from __future__ import annotations

import json
import logging
from typing import Any, TypeVar

from PySide6.QtCore import Qt
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QAbstractItemView, QLabel, QMessageBox, QTableView, QWidget

from ..errors import ZiggyError
from ..system_queue import SystemQueue

log = logging.getLogger("ziggy.ui")
W = TypeVar("W", bound=QWidget)
MAX_SHOWN_JSON_CHARS = 200_000  # a text widget with megabytes of JSON freezes the window


def confirm(parent: QWidget, title: str, text: str) -> bool:
    """Ask before something that cannot be undone; No is the default, so Enter is safe."""
    answer = QMessageBox.question(parent, title, text,
                                  QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                                  QMessageBox.StandardButton.No)
    return answer == QMessageBox.StandardButton.Yes


def emphasize(widget: W, scale: float = 1.0) -> W:
    """Bold, and `scale` times the size: headings and titles across the pages."""
    font = widget.font()
    font.setBold(True)
    if scale != 1.0:
        font.setPointSizeF(font.pointSizeF() * scale)
    widget.setFont(font)
    return widget


def placeholder_label(text: str = "") -> QLabel:
    """The muted, centred note a pane shows when it has nothing to list or nothing is selected."""
    label = QLabel(text)
    label.setAlignment(Qt.AlignmentFlag.AlignCenter)
    label.setWordWrap(True)
    label.setForegroundRole(QPalette.ColorRole.PlaceholderText)
    return label


def configure_list_table(table: QTableView) -> QTableView:
    """The look every list in the app shares: whole read-only rows, one at a time, no grid or row numbers."""
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.verticalHeader().setVisible(False)
    table.setAlternatingRowColors(True)
    table.setShowGrid(False)
    table.setWordWrap(False)
    return table


def queue_summary(queue: SystemQueue | None) -> str:
    if queue is None:
        return "The queue is stopped."
    return f"{queue.running_count()} running · {queue.depth()} queued · at most {queue.max_jobs} at once"


def error_text(error: BaseException) -> str:
    """What to tell the user: a ZiggyError's message; anything else is a bug, logged in full."""
    if isinstance(error, ZiggyError):
        return error.message
    log.error("unexpected error in the window", exc_info=error)
    return f"Something went wrong ({type(error).__name__}: {error}); the log has the details."


def pretty_json(value: Any) -> str:
    text = json.dumps(value, indent=2, ensure_ascii=False, default=str)
    if len(text) > MAX_SHOWN_JSON_CHARS:
        return (f"{text[:MAX_SHOWN_JSON_CHARS]}\n\n… cut here: {len(text):,} characters in all "
                f"(GET /api/ziggy/executions/<id> returns the whole value)")
    return text
