"""GUI fixtures: a real runtime (queue + HTTP server on an ephemeral port) inside a real MainWindow."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest

from ziggy_desktop.app import start_runtime
from ziggy_desktop.ui.context import UiContext


@pytest.fixture
def ui_context(qapp, settings):
    runtime = start_runtime(settings)
    context = UiContext(runtime.services, runtime.server.url, None, runtime.shutdown)
    yield context
    if runtime.services.queue is not None:  # the window was not closed by the test
        runtime.shutdown(grace_seconds=1)


@pytest.fixture
def main_window(qtbot, ui_context):
    from ziggy_desktop.ui.main_window import MainWindow

    window = MainWindow(ui_context)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    yield window
    if not window._closing:
        window.close()
