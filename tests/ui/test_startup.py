"""Starting the window: a second copy says so in a dialog; a port taken by another program is reported."""

import socket

import pytest

from ziggy_desktop import app as app_module
from ziggy_desktop.app import start_runtime
from ziggy_desktop.services import open_services
from ziggy_desktop.ui import application
from ziggy_desktop.ui.context import UiContext
from ziggy_desktop.ui.main_window import MainWindow


def test_second_copy_shows_a_dialog_and_exits(qapp, settings, monkeypatch):
    first = open_services(settings, run_flows=True)  # what a running copy holds
    shown = []
    monkeypatch.setattr(application, "show_startup_error", shown.append)
    try:
        assert app_module.run_gui(settings) == 2
    finally:
        first.close(0)
    assert len(shown) == 1 and "already running flows" in shown[0]


@pytest.fixture
def taken_port():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    yield sock.getsockname()[1]
    sock.close()


def test_port_in_use_keeps_the_window_without_api(qtbot, make_settings, taken_port):
    settings = make_settings(port=taken_port)
    with pytest.raises(Exception, match="already in use"):
        start_runtime(settings)  # headless `serve` refuses
    runtime = start_runtime(settings, require_api=False)
    assert runtime.server is None and str(taken_port) in runtime.api_error
    window = MainWindow(UiContext(runtime.services, None, runtime.api_error, runtime.shutdown))
    qtbot.addWidget(window)
    assert "API off" in window.api_label.text() and "in use" in window.api_label.text()
    window.close()
    assert runtime.services.queue is None
