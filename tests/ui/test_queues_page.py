"""The Queues page: its model, live rows in order, and killing a run from it."""

from ziggy_desktop.executions import LaunchRequest, body_fingerprint
from ziggy_desktop.ui.main_window import MainWindow

from ..helpers import make_flow


def launch(services, flow_uuid):
    return services.executions.launch(LaunchRequest(flow_uuid, "DEV", None, None, body_fingerprint(None, False),
                                                    "UI", use_test_data=True)).view.execution_id


def test_running_then_queued_in_order_and_kill(main_window: MainWindow, qtbot, qtmodeltester, monkeypatch):
    services = main_window.context.services
    flow = services.flows.save(make_flow({"type": "delay", "config": {"ms": 60_000}}))[0]
    page = main_window.queues_page
    main_window.show_page("queues")
    ids = [launch(services, flow.uuid) for _ in range(12)]  # 10 run at once, 2 wait
    qtbot.waitUntil(lambda: page.model.rowCount() == 12 and "2 queued" in page.summary.text(), timeout=5000)
    qtmodeltester.check(page.model)
    states = [page.model.index(row, 0).data() for row in range(12)]
    assert states == ["RUNNING"] * 10 + ["QUEUED"] * 2
    assert [page.model.execution_id(row) for row in (10, 11)] == ids[10:]

    page.table.selectRow(11)
    page.kill_selected()
    qtbot.waitUntil(lambda: services.executions.get(ids[11]).termination_status == "KILLED", timeout=5000)
    qtbot.waitUntil(lambda: page.model.rowCount() == 11, timeout=5000)
    for execution_id in ids[:11]:
        services.executions.kill(execution_id, allow_running=True)
