"""Colours by meaning (run statuses; ok, warning, error) that read on light and dark palettes, and the
one local time format the pages share."""

from __future__ import annotations

from datetime import datetime

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

# (on a light palette, on a dark palette): used for text, borders and small badges only.
STATUS_TONES = {
    "SUCCESS": ("#1e7b34", "#5fcf7a"),
    "FATAL": ("#c92a2a", "#ff6b6b"),
    "TIMED OUT": ("#c2410c", "#ffa94d"),
    "KILLED": ("#6b7280", "#a6adb8"),
    "SKIPPED": ("#6b7280", "#a6adb8"),
    "RUNNING": ("#1864ab", "#5aa9f0"),
    "QUEUED": ("#6741d9", "#b197fc"),
}
_KIND_STATUS = {"ok": "SUCCESS", "error": "FATAL", "warning": "TIMED OUT"}


def palette_is_dark(palette: QPalette | None = None) -> bool:
    if palette is None:
        palette = QApplication.palette()
    return palette.color(QPalette.ColorRole.Base).lightness() < 128


def status_color(status: str | None, palette: QPalette | None = None) -> QColor | None:
    tones = STATUS_TONES.get(status or "")
    if tones is None:
        return None
    return QColor(tones[1] if palette_is_dark(palette) else tones[0])


def tone(kind: str, palette: QPalette | None = None) -> QColor:
    """The colour for 'ok', 'warning' or 'error' text: the same as a run that ended that way."""
    color = status_color(_KIND_STATUS[kind], palette)
    assert color is not None
    return color


def local_time(timestamp: float | None, with_ms: bool = False) -> str:
    if timestamp is None:
        return ""
    moment = datetime.fromtimestamp(timestamp)
    if with_ms:
        return moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{moment.microsecond // 1000:03d}"
    return moment.strftime("%Y-%m-%d %H:%M:%S")
