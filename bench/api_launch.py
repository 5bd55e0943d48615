"""Sustained POST /api launches per second: the real server against a bare Tornado handler under the same load."""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import shutil
import sqlite3
import sys
import tempfile
import threading
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator
from unittest import mock

from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets
from tornado.web import Application, RequestHandler

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import _flows  # noqa: E402
import _loadgen  # noqa: E402
from ziggy_desktop.app import Runtime, start_runtime  # noqa: E402
from ziggy_desktop.config import load_settings  # noqa: E402
from ziggy_desktop.system_queue import SystemQueue  # noqa: E402

TARGET_RATIO = 0.5
FLOW_UUID = "6f1c9a52-3f0e-4b59-9a43-2b8f3c0d7e11"
FLOW = _flows.receiver_terminator(FLOW_UUID)
BODY = json.dumps({"records": [{"email": "ada@example.com", "firstname": "Ada", "plan": "pro"}]}).encode()
PATH = f"/api?flowUuid={FLOW_UUID}&executionEnvironmentMode=DEV"


# -- the baseline: a bare Tornado handler doing no work ---------------------------------------------

class RawLaunchHandler(RequestHandler):
    """Answers POST /api like the real one (202, similar JSON and headers) without touching anything."""

    def set_default_headers(self) -> None:
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        self.set_header("X-Content-Type-Options", "nosniff")

    def check_xsrf_cookie(self) -> None:
        pass

    def post(self) -> None:
        execution_id = str(uuid.uuid4())
        status_url = f"{self.request.protocol}://{self.request.host}/api/ziggy/execution-status/{execution_id}"
        self.set_header("Location", status_url)
        self.set_status(202)
        self.finish(json.dumps({"executionId": execution_id, "flowUuid": self.get_query_argument("flowUuid"),
                                "flowName": FLOW["name"], "executionEnvironmentMode": "DEV", "state": "QUEUED",
                                "statusUrl": status_url}, ensure_ascii=False, separators=(",", ":")))


@contextmanager
def raw_server() -> Iterator[str]:
    """The bare handler on its own thread and asyncio loop, like ApiServer runs the real one."""
    sockets = bind_sockets(0, address="127.0.0.1", backlog=1024)
    port = sockets[0].getsockname()[1]
    ready, holder = threading.Event(), {}

    async def serve() -> None:
        holder["loop"], holder["stop"] = asyncio.get_running_loop(), asyncio.Event()
        server = HTTPServer(Application([(r"/api/?", RawLaunchHandler)], log_function=lambda _h: None),
                            idle_connection_timeout=120, body_timeout=120)
        server.add_sockets(sockets)
        ready.set()
        await holder["stop"].wait()
        server.stop()
        await server.close_all_connections()

    thread = threading.Thread(target=lambda: asyncio.run(serve()), name="raw-tornado", daemon=True)
    thread.start()
    ready.wait(10)
    try:
        yield f"http://localhost:{port}"
    finally:
        holder["loop"].call_soon_threadsafe(holder["stop"].set)
        thread.join(10)


# -- the real server ---------------------------------------------------------------------------------

@contextmanager
def real_server(*, workers: bool) -> Iterator[tuple[Runtime, str, Path]]:
    """start_runtime on a fresh temp data dir and port 0, with the flow imported and a key created."""
    tmp = Path(tempfile.mkdtemp(prefix="ziggy-bench-"))
    settings = load_settings({"ZIGGY_DATA_DIR": str(tmp / "data"), "ZIGGY_PORT": "0",
                              "MAX_SYSTEM_QUEUE_SIZE": "10000000", "ZIGGY_SHUTDOWN_GRACE_SECONDS": "2",
                              "ZIGGY_LOG_LEVEL": "WARNING"}, cwd=tmp)
    if workers:
        runtime = start_runtime(settings)
    else:  # accept-only: the queue holds the runs but no worker executes them
        with mock.patch.object(SystemQueue, "start", lambda self, **_kw: None):
            runtime = start_runtime(settings)
    runtime.services.flows.save(FLOW)
    _, key = runtime.services.keys.create("bench")
    try:
        yield runtime, key, settings.sqlite_path
    finally:
        runtime.shutdown(grace_seconds=2)


def count_rows(db_path: Path) -> dict[str, int]:
    conn = sqlite3.connect(db_path)
    try:
        return dict(conn.execute("SELECT state, count(*) FROM execution GROUP BY state").fetchall())
    finally:
        conn.close()


# -- driving the load --------------------------------------------------------------------------------

def drive(url: str, key: str | None, args: argparse.Namespace) -> tuple[_loadgen.LoadResult, float, str]:
    """Warm up, measure; the generator's result, the server process's CPU seconds, how busy the machine was."""
    meter = _loadgen.MachineMeter()
    headers = {"execution-key": key} if key else {}
    usage_before = resource.getrusage(resource.RUSAGE_SELF)
    if args.tool == "wrk":
        warm = _loadgen.run_wrk(url, PATH, BODY, headers, connections=args.connections, duration=args.warmup)
        result = _loadgen.run_wrk(url, PATH, BODY, headers, connections=args.connections, duration=args.duration)
        result.total = warm.total + result.total
        result.cut_in_flight += warm.cut_in_flight
        result.cpu_seconds += warm.cpu_seconds
    else:
        request = _loadgen.build_request(url, PATH, BODY, headers)
        result = _loadgen.run_python(url, request, connections=args.connections, warmup=args.warmup,
                                     duration=args.duration)
    usage_after = resource.getrusage(resource.RUSAGE_SELF)
    server_cpu = (usage_after.ru_utime + usage_after.ru_stime) - (usage_before.ru_utime + usage_before.ru_stime)
    return result, server_cpu, meter.report()


def describe(label: str, result: _loadgen.LoadResult, server_cpu: float, machine: str) -> None:
    answers = sum(result.total.values())
    print(f"  {label:<34} {result.rate_of(202):8.0f} launches/s (202)   p50 {result.p50_ms:6.1f} ms  "
          f"p99 {result.p99_ms:6.1f} ms   server CPU {server_cpu / max(1, answers) * 1e6:5.0f} us/req, "
          f"generator CPU {result.cpu_seconds / max(1, answers) * 1e6:4.0f} us/req")
    other = result.non_status(202)
    print(f"  {'':<34} non-202 answers: {other or 'none'}; broken connections: {result.errors}; {machine}")


def verify(result: _loadgen.LoadResult, states: dict[str, int]) -> bool:
    """Every 202 must be a committed row, and every committed row a 202 (or cut in flight by wrk)."""
    rows, accepted = sum(states.values()), result.total.get(202, 0)
    ok = accepted <= rows <= accepted + result.cut_in_flight
    detail = ", ".join(f"{count} {state}" for state, count in sorted(states.items()))
    print(f"  {'':<34} rows in execution: {rows} ({detail}); 202 answers: {accepted} -> "
          f"{'OK' if ok else 'MISMATCH'}" + (f" (wrk may cut up to {result.cut_in_flight} in flight)"
                                             if result.cut_in_flight else ""))
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--connections", type=int, default=48)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--tool", choices=("python", "wrk"), default="python",
                        help="load generator: the asyncio one (exact accounting) or wrk when installed")
    parser.add_argument("--skip-accept-only", action="store_true", help="skip the run with the workers paused")
    args = parser.parse_args()
    if args.tool == "wrk" and not _loadgen.wrk_available():
        print("wrk is not installed; falling back to the Python generator")
        args.tool = "python"

    print(f"POST {PATH} body {len(BODY)} bytes, {args.connections} keep-alive connections, load generator "
          f"{args.tool} in its own process, {args.warmup:g} s warm-up + {args.duration:g} s measured each")
    with raw_server() as url:
        raw, raw_cpu, machine = drive(url, None, args)
    describe("bare Tornado handler (no work)", raw, raw_cpu, machine)

    all_ok = True
    with real_server(workers=True) as (runtime, key, db_path):
        real, real_cpu, machine = drive(runtime.url, key, args)
    describe("real server, workers running", real, real_cpu, machine)
    all_ok &= verify(real, count_rows(db_path))
    shutil.rmtree(db_path.parent.parent, ignore_errors=True)

    if not args.skip_accept_only:
        with real_server(workers=False) as (runtime, key, db_path):
            accept_only, accept_cpu, machine = drive(runtime.url, key, args)
        describe("real server, workers paused", accept_only, accept_cpu, machine)
        all_ok &= verify(accept_only, count_rows(db_path))
        shutil.rmtree(db_path.parent.parent, ignore_errors=True)

    raw_rate = raw.rate_of(202)
    ratio = real.rate_of(202) / raw_rate if raw_rate else 0.0
    print(f"ratio real/raw = {real.rate_of(202):.0f} / {raw_rate:.0f} = {ratio:.2f} "
          f"(target >= {TARGET_RATIO}: {'met' if ratio >= TARGET_RATIO else 'MISSED'})")
    if not args.skip_accept_only and raw_rate:
        print(f"ratio accept-only/raw = {accept_only.rate_of(202) / raw_rate:.2f} (workers paused: the HTTP + "
              f"commit path alone)")
    if not all_ok:
        print("WARNING: the committed rows do not match the 202 answers")
    return 0


if __name__ == "__main__":
    sys.exit(main())
