"""The system queue in-process: FIFO, the cap, kills, shutdown that keeps queued runs, recovery."""

import threading
import time

import pytest
from sqlalchemy import text

from ziggy_desktop.services import open_services
from ziggy_desktop.errors import QueueFullError, ShuttingDownError
from ziggy_desktop.executions import LaunchRequest, body_fingerprint

from .helpers import make_flow


def request(flow_uuid, trigger="UI", body=None):
    return LaunchRequest(flow_uuid, "DEV", None, body, body_fingerprint(None, False), trigger, use_test_data=True)


class Recorder:
    """Collects events and lets a test wait until a condition on them holds."""

    def __init__(self, bus):
        self.events = []
        self._changed = threading.Condition()
        bus.subscribe(self._on_event)

    def _on_event(self, event):
        with self._changed:
            self.events.append(event)
            self._changed.notify_all()

    def wait_for(self, predicate, timeout=20.0):
        with self._changed:
            assert self._changed.wait_for(lambda: predicate(self.events), timeout), self.events[-5:]

    def ids(self, state):
        return [e.execution_id for e in self.events if e.state == state]


@pytest.fixture
def owner(make_settings):
    opened = []

    def open_(**changes):
        services = open_services(make_settings(**changes), run_flows=True)
        opened.append(services)
        return services

    yield open_
    for services in opened:
        if services.lock is not None and services.lock.held:
            services.close(1)


def test_fifo_with_one_worker(owner):
    services = owner(max_concurrent_jobs=1)
    flow = services.flows.save(make_flow({"type": "delay", "config": {"ms": 5}}))[0]
    recorder = Recorder(services.events)
    launched = [services.executions.launch(request(flow.uuid)).view.execution_id for _ in range(8)]
    services.queue.start()
    recorder.wait_for(lambda events: len([e for e in events if e.state == "FINISHED"]) == 8)
    assert recorder.ids("RUNNING") == launched
    assert {services.executions.get(i).termination_status for i in launched} == {"SUCCESS"}


def test_backlog_bound(owner):
    services = owner(max_concurrent_jobs=1, max_system_queue_size=3)
    flow = services.flows.save(make_flow())[0]
    for _ in range(3):
        services.executions.launch(request(flow.uuid))
    with pytest.raises(QueueFullError) as caught:
        services.executions.launch(request(flow.uuid))
    assert caught.value.retry_after_seconds >= 1
    with services.engine.connect() as conn:
        assert conn.execute(text("select count(*) from execution")).scalar_one() == 3


def test_kill_queued_and_running(owner):
    services = owner(max_concurrent_jobs=1)
    flow = services.flows.save(make_flow({"type": "delay", "config": {"ms": 60_000}}))[0]
    recorder = Recorder(services.events)
    first = services.executions.launch(request(flow.uuid)).view.execution_id
    second = services.executions.launch(request(flow.uuid)).view.execution_id
    services.queue.start()
    recorder.wait_for(lambda events: first in [e.execution_id for e in events if e.state == "RUNNING"])
    killed = services.executions.kill(second, allow_running=False)
    assert (killed.state, killed.termination_status) == ("FINISHED", "KILLED")
    stopped = services.executions.kill(first, allow_running=True)
    assert stopped.termination_status == "KILLED" and stopped.reason == "killed by user"
    assert second not in recorder.ids("RUNNING")


def test_stop_keeps_queued_runs_and_next_start_resumes_them(owner):
    services = owner(max_concurrent_jobs=1)
    flow = services.flows.save(make_flow({"type": "delay", "config": {"ms": 60_000}}))[0]
    recorder = Recorder(services.events)
    running = services.executions.launch(request(flow.uuid)).view.execution_id
    waiting = [services.executions.launch(request(flow.uuid)).view.execution_id for _ in range(2)]
    services.queue.start()
    recorder.wait_for(lambda events: running in [e.execution_id for e in events if e.state == "RUNNING"])
    services.queue.stop(grace_seconds=0)
    with pytest.raises(ShuttingDownError):
        services.executions.launch(request(flow.uuid))
    assert services.executions.get(running).termination_status == "KILLED"
    assert [services.executions.get(i).state for i in waiting] == ["QUEUED", "QUEUED"]
    services.close(0)

    # Make the flow quick so the resumed runs finish.
    again = owner(max_concurrent_jobs=1)
    again.flows.save({**again.flows.get_document(flow.uuid), "blocks": make_flow()["blocks"],
                      "edges": make_flow()["edges"]})
    recorder = Recorder(again.events)
    again.queue.start()
    recorder.wait_for(lambda events: len([e for e in events if e.state == "FINISHED"]) == 2)
    assert recorder.ids("RUNNING") == waiting
    assert [again.executions.get(i).termination_status for i in waiting] == ["SUCCESS", "SUCCESS"]


def test_recovery_marks_interrupted_runs_killed(owner):
    services = owner()
    flow = services.flows.save(make_flow())[0]
    interrupted = services.executions.launch(request(flow.uuid)).view.execution_id
    with services.engine.begin() as conn:  # what a process killed mid-run leaves behind
        conn.execute(text("update execution set state='RUNNING', started_at=:t where execution_id=:i"),
                     {"t": time.time(), "i": interrupted})
    services.queue.start()
    view = services.executions.get(interrupted)
    assert (view.state, view.termination_status, view.reason) == ("FINISHED", "KILLED", "interrupted by shutdown")


def test_second_owner_is_refused(owner):
    owner()
    from ziggy_desktop.errors import ZiggyError
    with pytest.raises(ZiggyError, match="already running flows"):
        owner()


def test_rerun_uses_same_payload_and_mode_with_new_id(owner):
    services = owner()
    flow = services.flows.save(make_flow())[0]
    recorder = Recorder(services.events)
    services.queue.start()
    first = services.executions.launch(
        LaunchRequest(flow.uuid, "PROD", "mine-1", '{"x": 1}', body_fingerprint({"x": 1}, True), "UI"))
    recorder.wait_for(lambda events: "mine-1" in [e.execution_id for e in events if e.state == "FINISHED"])
    again = services.executions.rerun("mine-1")
    assert again.view.execution_id != "mine-1" and again.view.trigger == "RERUN" and again.view.mode == "PROD"
    recorder.wait_for(lambda events: again.view.execution_id in
                      [e.execution_id for e in events if e.state == "FINISHED"])
    assert services.executions.detail(again.view.execution_id).result == {"x": 1}
    assert first.created


def test_a_cli_run_queued_just_before_a_local_launch_still_runs(owner, settings):
    services = owner()
    flow = services.flows.save(make_flow())[0]
    recorder = Recorder(services.events)
    services.queue.start(poll_interval=0.2)
    cli = open_services(settings, run_flows=None)  # a command line beside the running owner
    try:
        assert cli.queue is None
        from_cli = cli.executions.launch(request(flow.uuid, trigger="CLI")).view.execution_id
        local = services.executions.launch(request(flow.uuid)).view.execution_id  # a later seq, enqueued at once
        recorder.wait_for(lambda events: {from_cli, local} <= set(e.execution_id for e in events
                                                                  if e.state == "FINISHED"))
    finally:
        cli.close()
    assert services.executions.get(from_cli).termination_status == "SUCCESS"
    assert recorder.ids("RUNNING").count(from_cli) == 1


def test_killing_a_run_queued_by_the_cli_before_the_owner_saw_it(owner, settings):
    services = owner()
    flow = services.flows.save(make_flow())[0]
    services.queue.start(poll_interval=60)  # the poller will not see it during the test
    cli = open_services(settings, run_flows=None)
    try:
        queued = cli.executions.launch(request(flow.uuid, trigger="CLI")).view.execution_id
    finally:
        cli.close()
    killed = services.executions.kill(queued, allow_running=False)
    assert (killed.state, killed.termination_status) == ("FINISHED", "KILLED")
