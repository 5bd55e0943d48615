"""10,000 receiver->terminator runs from accepted to FINISHED SUCCESS: end to end, then accept and drain apart."""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import _flows  # noqa: E402
import _loadgen  # noqa: E402
from ziggy_desktop.app import start_runtime  # noqa: E402
from ziggy_desktop.config import Settings, load_settings  # noqa: E402
from ziggy_desktop.events import ExecutionEvent  # noqa: E402
from ziggy_desktop.executions import LaunchRequest, body_fingerprint  # noqa: E402
from ziggy_desktop.services import Services, open_services  # noqa: E402

TARGET_RUNS_PER_SECOND = 1000
FLOW_UUID = "0b8e2f7a-5d3c-4e1b-8a6f-9c2d1e0f3a44"
FLOW = _flows.receiver_terminator(FLOW_UUID)
BODY_JSON = '{"records": [{"email": "ada@example.com", "firstname": "Ada", "plan": "pro"}]}'


class FinishCounter:
    """An event listener counting FINISHED events; cheap, since it runs on the emitting worker."""

    def __init__(self, expected: int):
        self.expected = expected
        self.finished = 0
        self.success = 0
        self.first_at: float | None = None
        self.last_at: float | None = None
        self.done = threading.Event()
        self._lock = threading.Lock()

    def __call__(self, event: ExecutionEvent) -> None:
        if event.state != "FINISHED":
            return
        with self._lock:
            self.finished += 1
            self.success += event.termination_status == "SUCCESS"
            now = time.perf_counter()
            if self.first_at is None:
                self.first_at = now
            self.last_at = now
            if self.finished >= self.expected:
                self.done.set()


class AcceptClock:
    """Done-callbacks on the launch futures: when the first and the last launch were committed."""

    def __init__(self, expected: int):
        self.expected = expected
        self.accepted = 0
        self.failed = 0
        self.first_at: float | None = None
        self.last_at: float | None = None
        self.done = threading.Event()
        self._lock = threading.Lock()

    def __call__(self, future) -> None:
        now = time.perf_counter()
        with self._lock:
            if future.exception() is None:
                self.accepted += 1
            else:
                self.failed += 1
            if self.first_at is None:
                self.first_at = now
            self.last_at = now
            if self.accepted + self.failed >= self.expected:
                self.done.set()


def make_settings(tmp: Path, jobs: int | None) -> Settings:
    environ = {"ZIGGY_DATA_DIR": str(tmp / "data"), "ZIGGY_PORT": "0", "MAX_SYSTEM_QUEUE_SIZE": "10000000",
               "ZIGGY_SHUTDOWN_GRACE_SECONDS": "2", "ZIGGY_LOG_LEVEL": "WARNING"}
    if jobs is not None:
        environ["MAX_CONCURENT_JOBS"] = str(jobs)
    return load_settings(environ, cwd=tmp)


def prepare(services: Services) -> str:
    services.flows.save(FLOW)
    _, key = services.keys.create("bench")
    return key


def launch_all(services: Services, key: str, count: int, clock: AcceptClock) -> float:
    """Submit every launch as POST /api would (trigger API, key checked, body kept); returns the submit time."""
    body_hash = body_fingerprint(json.loads(BODY_JSON), has_body=True)
    request = LaunchRequest(FLOW_UUID, "DEV", None, BODY_JSON, body_hash, "API", key)
    submitted = time.perf_counter()
    for _ in range(count):
        services.executions.launch_async(request).add_done_callback(clock)
    return submitted


def db_states(db_path: Path) -> dict[tuple[str, str | None], int]:
    conn = sqlite3.connect(db_path)
    try:
        rows = conn.execute("SELECT state, termination_status, count(*) FROM execution GROUP BY 1, 2").fetchall()
    finally:
        conn.close()
    return {(state, status): n for state, status, n in rows}


def check_db(db_path: Path, count: int, complete: bool = True) -> str:
    states = db_states(db_path)
    ok = states == {("FINISHED", "SUCCESS"): count}
    verdict = "OK" if ok else "MISMATCH" if complete else "incomplete (timed out; the rest stay QUEUED)"
    return f"DB: {', '.join(f'{n} {s}/{t}' for (s, t), n in sorted(states.items(), key=str))} -> {verdict}"


def wait(event: threading.Event, timeout: float, what: str, progress: Callable[[], str]) -> bool:
    if event.wait(timeout):
        return True
    print(f"  TIMED OUT after {timeout:g} s waiting for {what} ({progress()}); the rate below is partial")
    return False


def end_to_end(count: int, jobs: int | None, timeout: float) -> float:
    """The real situation: start_runtime (workers running), launch everything, wait for every FINISHED."""
    tmp = Path(tempfile.mkdtemp(prefix="ziggy-bench-"))
    settings = make_settings(tmp, jobs)
    runtime = start_runtime(settings)
    try:
        key = prepare(runtime.services)
        finished, accepted = FinishCounter(count), AcceptClock(count)
        runtime.services.events.subscribe(finished)
        meter = _loadgen.MachineMeter()
        submitted = launch_all(runtime.services, key, count, accepted)
        complete = wait(finished.done, timeout, "the runs", lambda: f"{finished.finished} finished")
        stopped, done_count = time.perf_counter(), finished.finished
        accepted.done.wait(5)
        machine = meter.report()
    finally:
        runtime.shutdown(grace_seconds=2)
    span = (finished.last_at if complete else stopped) - (accepted.first_at or submitted)
    rate = done_count / span
    print(f"  end to end ({settings.max_concurrent_jobs} workers): {done_count} runs finished "
          f"{span:.2f} s after the first acceptance = {rate:.0f} runs/s  (from first submit: "
          f"{(finished.last_at or stopped) - submitted:.2f} s; all accepted after "
          f"{(accepted.last_at or stopped) - submitted:.2f} s)")
    print(f"  {finished.success} SUCCESS of {finished.finished} FINISHED events; {accepted.failed} launches refused; "
          f"{check_db(settings.sqlite_path, count, complete)}")
    print(f"  {machine}")
    shutil.rmtree(tmp, ignore_errors=True)
    return rate if complete else -rate


def split(count: int, jobs: int | None, timeout: float) -> None:
    """Accept alone (queue owned, no worker yet), then drain alone (workers started on a full queue)."""
    tmp = Path(tempfile.mkdtemp(prefix="ziggy-bench-"))
    settings = make_settings(tmp, jobs)
    services = open_services(settings, run_flows=True)
    assert services.queue is not None
    try:
        key = prepare(services)
        finished, accepted = FinishCounter(count), AcceptClock(count)
        services.events.subscribe(finished)
        meter = _loadgen.MachineMeter()
        submitted = launch_all(services, key, count, accepted)
        complete = wait(accepted.done, timeout, "the acceptances", lambda: f"{accepted.accepted} accepted")
        span = (accepted.last_at if complete else time.perf_counter()) - submitted
        print(f"  accept only: {accepted.accepted} launches committed in {span:.2f} s = "
              f"{accepted.accepted / span:.0f} launches/s (launch_async -> commit, no HTTP, no worker running)")
        print(f"  {meter.report()}")
        if complete:
            meter = _loadgen.MachineMeter()
            started = time.perf_counter()
            services.queue.start(recover=False)  # as start_runtime does, minus re-reading what is queued
            complete = wait(finished.done, timeout, "the runs", lambda: f"{finished.finished} finished")
            stopped, done_count = time.perf_counter(), finished.finished
            span = (finished.last_at if complete else stopped) - started
            print(f"  drain only ({settings.max_concurrent_jobs} workers): {done_count} queued runs finished "
                  f"in {span:.2f} s = {done_count / span:.0f} runs/s")
            print(f"  {meter.report()}")
    finally:
        services.close(2)
    print(f"  {check_db(settings.sqlite_path, count, complete)}")
    shutil.rmtree(tmp, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--jobs", type=int, default=None, help="MAX_CONCURENT_JOBS (default: the product's 10)")
    parser.add_argument("--timeout", type=float, default=20.0, help="give up on a phase after this many seconds")
    parser.add_argument("--skip-split", action="store_true", help="only the end-to-end measurement")
    args = parser.parse_args()

    print(f"{args.runs} launches of a receiver->terminator flow through ExecutionService.launch_async in-process "
          f"(trigger API, key checked, {len(BODY_JSON)}-byte body; no HTTP), SQLite WAL synchronous=FULL in a "
          f"temp dir")
    rate = end_to_end(args.runs, args.jobs, args.timeout)
    if not args.skip_split:
        split(args.runs, args.jobs, args.timeout)
    partial = " (partial: timed out)" if rate < 0 else ""
    rate = abs(rate)
    print(f"end-to-end rate = {rate:.0f} runs/s{partial} (target >= {TARGET_RUNS_PER_SECOND}: "
          f"{'met' if rate >= TARGET_RUNS_PER_SECOND and not partial else 'MISSED'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
