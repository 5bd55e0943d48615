"""The main window: navigation, status bar, persisted state, orderly shutdown."""

from PySide6.QtCore import QSettings

from ziggy_desktop.executions import LaunchRequest, body_fingerprint
from ziggy_desktop.ui.main_window import MainWindow

from ..helpers import make_flow


def test_navigation_and_status_bar(main_window: MainWindow, qtbot):
    assert main_window.stack.currentWidget() is main_window.flows_page
    main_window.nav_buttons["history"].click()
    assert main_window.stack.currentWidget() is main_window.history_page
    main_window.nav_buttons["queues"].click()
    assert main_window.stack.currentWidget() is main_window.queues_page
    assert main_window.context.api_url in main_window.api_label.text()
    assert "at most 10 at once" in main_window.queue_label.text()


def test_queue_counts_update_live(main_window: MainWindow, qtbot):
    services = main_window.context.services
    flow = services.flows.save(make_flow({"type": "delay", "config": {"ms": 60_000}}))[0]
    launched = services.executions.launch(LaunchRequest(flow.uuid, "DEV", None, None, body_fingerprint(None, False),
                                                        "UI", use_test_data=True))
    qtbot.waitUntil(lambda: "1 running" in main_window.queue_label.text(), timeout=5000)
    services.executions.kill(launched.view.execution_id, allow_running=True)
    qtbot.waitUntil(lambda: "0 running" in main_window.queue_label.text(), timeout=5000)


def test_state_persisted_and_close_shuts_down(main_window: MainWindow, qtbot, settings):
    main_window.show_page("history")
    main_window.resize(1100, 700)
    services = main_window.context.services
    main_window.close()
    assert services.queue is None  # the runtime was shut down in order
    stored = QSettings(str(settings.data_dir / "ui.ini"), QSettings.Format.IniFormat)
    assert stored.value("window/page") == "history"
