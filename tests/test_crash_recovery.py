"""Crash and restart of a real `serve` process: every accepted run is accounted for, none lost, none run twice."""

from __future__ import annotations

import os
import signal
import sqlite3
import time
from contextlib import closing
from pathlib import Path
from typing import NamedTuple

import pytest

from ziggy_desktop.config import load_settings

from .helpers import ApiClient, make_flow
from .test_cli import Cli, ServerProcess, cli, start_serve, wait_until  # noqa: F401 - cli, start_serve: fixtures

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not hasattr(signal, "SIGSTOP"), reason="freezing the server needs POSIX signals"),
]

MAX_JOBS = 2
LAUNCHES = 8
DELAY_MS = 500  # long enough to catch runs in flight, short enough to drain the queue quickly
RECOVERY_TIMEOUT = 30.0
INTERRUPTED = "interrupted by shutdown"


class Row(NamedTuple):
    seq: int
    state: str
    termination_status: str | None
    started_at: float | None
    finished_at: float | None


def database_path(cli: Cli) -> Path:
    path = load_settings({"ZIGGY_DATA_DIR": str(cli.data_dir)}, cwd=cli.home).sqlite_path
    assert path is not None
    return path


def read_rows(path: Path) -> dict[str, Row]:
    """Every execution row as the database holds it right now (read-only, so a frozen server is not disturbed)."""
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=2)) as conn:
        rows = conn.execute("SELECT execution_id, seq, state, termination_status, started_at, finished_at "
                            "FROM execution").fetchall()
    return {row[0]: Row(*row[1:]) for row in rows}


def prepare(cli: Cli) -> tuple[str, str]:
    """A flow that waits DELAY_MS (with a generous timeout) and an execution key."""
    with cli.core() as services:
        flow = make_flow({"id": "wait", "type": "delay", "config": {"ms": DELAY_MS}}, timeout_seconds=600,
                         name="Slow flow")
        flow_uuid = services.flows.save(flow)[0].uuid
        key = services.keys.create("crash test")[1]
    return flow_uuid, key


def launch_all(client: ApiClient, flow_uuid: str) -> list[str]:
    ids = []
    for index in range(LAUNCHES):
        response = client.launch(flow_uuid, {"n": index})
        assert response.status == 202, response.body
        assert response.json["state"] == "QUEUED"
        ids.append(response.json["executionId"])
    return ids


def wait_until_running(client: ApiClient, count: int) -> None:
    def running() -> bool:
        response = client.request("GET", "/api/ziggy/system-queue-size")
        assert response.status == 200, response.body
        return response.json["running"] == count

    wait_until(running, RECOVERY_TIMEOUT, f"{count} runs to be running")


def freeze_while_running(server: ServerProcess, db_path: Path, ids: list[str]) -> dict[str, Row]:
    """Stop the server (SIGSTOP) at a moment when the database shows MAX_JOBS runs RUNNING and some still
    QUEUED, and return that snapshot: exactly what a SIGKILL now leaves behind, with no timing race."""
    deadline = time.monotonic() + RECOVERY_TIMEOUT
    while True:
        os.kill(server.pid, signal.SIGSTOP)
        _, status = os.waitpid(server.pid, os.WUNTRACED)  # returns once every thread has stopped
        assert os.WIFSTOPPED(status), f"serve ended while being frozen:\n{server.output()}"
        try:
            rows = read_rows(db_path)
        except sqlite3.OperationalError:  # frozen in the middle of a write: try another moment
            rows = {}
        states = [rows[i].state for i in ids if i in rows]
        if len(states) == len(ids) and states.count("RUNNING") == MAX_JOBS and "QUEUED" in states:
            return rows
        os.kill(server.pid, signal.SIGCONT)
        assert time.monotonic() < deadline, f"never saw {MAX_JOBS} running with some queued; last: {states}"
        time.sleep(0.01)


def wait_all_finished(client: ApiClient, ids: list[str]) -> dict[str, dict]:
    """Poll the status API until every run has finished; an unknown id (404) fails at once."""
    finished: dict[str, dict] = {}

    def all_done() -> bool:
        for execution_id in ids:
            if execution_id in finished:
                continue
            response = client.status(execution_id)
            assert response.status in (200, 409), (execution_id, response.status, response.body)
            if response.status == 200:
                finished[execution_id] = response.json
        return len(finished) == len(ids)

    wait_until(all_done, RECOVERY_TIMEOUT, lambda: f"all runs to finish; unfinished: {set(ids) - set(finished)}")
    return finished


def assert_queue_empty(server: ServerProcess) -> None:
    health = server.client().request("GET", "/api/ziggy/health", key=None).json
    assert (health["running"], health["queued"]) == (0, 0), health


def test_sigkill_while_running_kills_the_running_and_resumes_the_queued(cli: Cli, start_serve):
    flow_uuid, key = prepare(cli)
    db_path = database_path(cli)
    server = start_serve(cli, MAX_CONCURENT_JOBS=str(MAX_JOBS))
    client = server.client(key)
    ids = launch_all(client, flow_uuid)
    wait_until_running(client, MAX_JOBS)

    at_crash = freeze_while_running(server, db_path, ids)
    server.kill()
    assert read_rows(db_path) == at_crash  # the crash itself wrote nothing
    was_running = [i for i in ids if at_crash[i].state == "RUNNING"]
    was_queued = [i for i in ids if at_crash[i].state == "QUEUED"]
    was_finished = [i for i in ids if at_crash[i].state == "FINISHED"]
    assert len(was_running) == MAX_JOBS and was_queued

    restarted = start_serve(cli, port=server.port, MAX_CONCURENT_JOBS=str(MAX_JOBS))
    statuses = wait_all_finished(client, ids)

    assert set(statuses) == set(ids)  # none missing
    for execution_id in was_running:
        assert statuses[execution_id]["terminationStatus"] == "KILLED", statuses[execution_id]
        detail = client.request("GET", f"/api/ziggy/executions/{execution_id}")
        assert detail.status == 200, detail.body
        assert INTERRUPTED in (detail.json["reason"] or ""), detail.json
    for execution_id in was_queued + was_finished:
        assert statuses[execution_id]["terminationStatus"] == "SUCCESS", statuses[execution_id]

    # None run twice: the killed runs were not started again, the finished ones not touched, and the
    # resumed ones started in the order they were accepted.
    after = read_rows(db_path)
    for execution_id in was_running:
        assert after[execution_id].started_at == at_crash[execution_id].started_at
        assert after[execution_id].termination_status == "KILLED"
    for execution_id in was_finished:
        assert after[execution_id] == at_crash[execution_id]
    resumed_starts = [after[i].started_at for i in sorted(was_queued, key=lambda i: after[i].seq)]
    assert None not in resumed_starts and resumed_starts == sorted(resumed_starts)
    assert_queue_empty(restarted)
    assert statuses == wait_all_finished(client, ids)  # and nothing changes afterwards
    assert restarted.stop(signal.SIGTERM) == 0, restarted.output()


def test_sigterm_keeps_queued_runs_queued_and_resumes_them_after_restart(cli: Cli, start_serve):
    flow_uuid, key = prepare(cli)
    db_path = database_path(cli)
    settings = {"MAX_CONCURENT_JOBS": str(MAX_JOBS), "ZIGGY_SHUTDOWN_GRACE_SECONDS": "60"}
    server = start_serve(cli, **settings)
    client = server.client(key)
    ids = launch_all(client, flow_uuid)
    wait_until_running(client, MAX_JOBS)

    assert server.stop(signal.SIGTERM) == 0, server.output()
    assert "Traceback" not in server.output()
    at_stop = read_rows(db_path)
    assert set(at_stop) == set(ids)
    # Running runs were given the grace period and finished; nothing else was started or killed.
    assert {(row.state, row.termination_status) for row in at_stop.values()} <= {("FINISHED", "SUCCESS"),
                                                                                 ("QUEUED", None)}
    still_queued = [i for i in ids if at_stop[i].state == "QUEUED"]
    assert still_queued, at_stop
    assert all(at_stop[i].started_at is None for i in still_queued)

    restarted = start_serve(cli, port=server.port, **settings)
    statuses = wait_all_finished(client, ids)
    assert {s["terminationStatus"] for s in statuses.values()} == {"SUCCESS"}, statuses
    after = read_rows(db_path)
    for execution_id in set(ids) - set(still_queued):
        assert after[execution_id] == at_stop[execution_id]  # finished before the stop: not run again
    assert_queue_empty(restarted)
    assert restarted.stop(signal.SIGTERM) == 0, restarted.output()
