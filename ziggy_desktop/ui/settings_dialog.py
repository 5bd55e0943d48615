"""Placeholder, replaced by the real dialog."""

from PySide6.QtWidgets import QDialog


class GlobalSettingsDialog(QDialog):
    def __init__(self, context, background, parent=None):
        super().__init__(parent)
