"""Helpers for driving modal Qt prompts in tests without blocking."""

from __future__ import annotations

from PySide6.QtWidgets import QMessageBox


def answer(monkeypatch, button: QMessageBox.StandardButton) -> list[str]:
    """Make QMessageBox.question answer `button`; returns the texts it was asked."""
    asked: list[str] = []

    def question(_parent, _title, text, *_args, **_kwargs):
        asked.append(text)
        return button

    monkeypatch.setattr(QMessageBox, "question", question)
    return asked
