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
def history_page(qtbot, ui_context):
    """The Execution History page on its own, over the real runtime; idle when handed over."""
    from ziggy_desktop.ui.bridge import Background, EventBridge
    from ziggy_desktop.ui.history_page import HistoryPage

    bridge = EventBridge(ui_context.services.events)
    background = Background()
    page = HistoryPage(ui_context, bridge, background)

    def settle(widget) -> None:
        qtbot.waitUntil(lambda: not widget.busy, timeout=5000)

    # Let the last reads land before the widget goes: their callbacks touch it.
    qtbot.addWidget(page, before_close_func=lambda widget: (bridge.close(), settle(widget)))
    page.resize(1280, 760)
    page.show()
    qtbot.waitExposed(page)
    settle(page)
    yield page
    background.shutdown()


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
