"""Small GUI helpers shared by the pages: a Yes/No confirmation and the queue summary line."""

from __future__ import annotations

from PySide6.QtWidgets import QMessageBox, QWidget

from ..system_queue import SystemQueue


def confirm(parent: QWidget, title: str, text: str) -> bool:
    """Ask before something that cannot be undone; No is the default, so Enter is safe."""
    answer = QMessageBox.question(parent, title, text,
                                  QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                                  QMessageBox.StandardButton.No)
    return answer == QMessageBox.StandardButton.Yes


def queue_summary(queue: SystemQueue | None) -> str:
    if queue is None:
        return "The queue is stopped."
    return f"{queue.running_count()} running · {queue.depth()} queued · at most {queue.max_jobs} at once"
