"""Placeholder, replaced by the real page."""

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QWidget


class HistoryPage(QWidget):
    

    def __init__(self, context, bridge, background, parent=None):
        super().__init__(parent)
        self.context = context

    def refresh(self):
        pass

    def new_flow(self):
        pass

    def import_flows(self):
        pass

    def load_flow(self, flow_uuid):
        pass

    def run_flow(self):
        pass

    def set_flow_filter(self, flow_uuid):
        pass
