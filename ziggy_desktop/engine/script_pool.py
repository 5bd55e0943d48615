"""A pool of worker processes that run the script block's user code, each call with its own timeout."""

from __future__ import annotations

import json
import logging
import multiprocessing
import threading
import time
from typing import Any, Callable

from .. import script_worker
from .context import BlockError

log = logging.getLogger("ziggy.engine.scripts")

POLL_SECONDS = 0.05  # how often a waiting call looks at the run's kill switch and clock
START_TIMEOUT_SECONDS = 60.0  # a worker that is not ready by then is broken (imports hang, no memory)
STOP_GRACE_SECONDS = 2.0


def _no_check() -> None:
    pass


def _no_log(message: str) -> None:
    pass


class _Worker:
    """One spawned worker process and the parent's end of its pipe."""

    def __init__(self, context: Any):
        self.conn, child_end = context.Pipe(duplex=True)
        # Spawned (not forked): the child starts clean, without the app's threads, Qt or open databases.
        self.process = context.Process(target=script_worker.serve, args=(child_end,), name="ziggy-script-worker",
                                       daemon=True)
        self.process.start()
        child_end.close()
        self.ready = False

    def alive(self) -> bool:
        return self.process.is_alive()

    def kill(self) -> None:
        """Stop the process (whatever it is doing); safe to call from another thread."""
        process = self.process
        try:
            if process.is_alive():
                process.terminate()
                process.join(STOP_GRACE_SECONDS)
                if process.is_alive():
                    process.kill()
                    process.join(STOP_GRACE_SECONDS)
        except ValueError:
            pass  # already disposed of by the thread that held it (pool closing during a call)

    def dispose(self) -> None:
        """Kill and release the pipe; only by the thread that holds the worker (or nobody)."""
        self.kill()
        self.conn.close()
        if not self.process.is_alive():
            self.process.close()  # its sentinel and pipe handles, now rather than at garbage collection


class ScriptPool:
    """Lazily started worker processes, reused between calls; thread-safe, shared by concurrent runs.

    run() takes a free worker (starting one while fewer than max_workers exist, else waiting for
    one), sends it the call and waits, polling the run's kill switch. A worker whose call timed out
    or whose run was stopped is killed; the next call starts a fresh one in its place.
    """

    def __init__(self, max_workers: int = 2, start_timeout: float = START_TIMEOUT_SECONDS):
        if max_workers < 1:
            raise ValueError("max_workers must be at least 1")
        self.max_workers = max_workers
        self.start_timeout = start_timeout
        self._context = multiprocessing.get_context("spawn")
        self._lock = threading.Condition()
        self._idle: list[_Worker] = []
        self._all: set[_Worker] = set()
        self._starting = 0  # workers being started (counted against max_workers)
        self._closed = False

    @property
    def worker_count(self) -> int:
        with self._lock:
            return len(self._all)

    def run(self, code: str, records: list[Any], context: dict[str, Any], timeout_seconds: float,
            check: Callable[[], None] = _no_check, log_line: Callable[[str], None] = _no_log) -> list[Any] | None:
        """transform(records, ctx) in a worker: its list of records, or None.

        `context`: execution_id, mode, secrets, variables. `check` raises to stop waiting (the run's
        RunContext.check); `log_line` receives the script's console lines. Raises BlockError for the
        script's failures (exception, timeout, non-JSON result, a worker that died).
        """
        request = json.dumps({"code": code, "records": records, "context": context}, ensure_ascii=False,
                             default=str).encode()
        worker = self._acquire(check)
        healthy = False
        try:
            try:
                worker.conn.send_bytes(request)
            except OSError:
                raise BlockError(self._died(worker)) from None
            reply = self._wait(worker, timeout_seconds, check, log_line)
            healthy = True
        finally:
            self._release(worker, healthy)
        if reply.get("kind") == "result":
            return reply.get("records")
        raise BlockError(_error_text(reply))

    def close(self) -> None:
        """Stop every worker; calls still running end with an error."""
        with self._lock:
            self._closed = True
            idle, busy = list(self._idle), [w for w in self._all if w not in self._idle]
            self._idle.clear()
            self._all.difference_update(idle)
            self._lock.notify_all()
        for worker in idle:
            worker.dispose()
        for worker in busy:
            worker.kill()  # its caller sees the pipe close and disposes of it

    # -- workers in and out ---------------------------------------------------------------------------

    def _acquire(self, check: Callable[[], None]) -> _Worker:
        with self._lock:
            while True:
                if self._closed:
                    raise BlockError("the script workers are shut down (the app is closing); run the flow again")
                while self._idle:
                    worker = self._idle.pop()
                    if worker.alive():
                        return worker
                    self._all.discard(worker)  # died while idle (killed from outside): replace it
                    worker.dispose()
                if len(self._all) + self._starting < self.max_workers:
                    self._starting += 1
                    break
                self._lock.wait(POLL_SECONDS)
                check()
        try:
            worker = _Worker(self._context)
        except BaseException:
            with self._lock:
                self._starting -= 1
                self._lock.notify()
            raise
        with self._lock:
            self._starting -= 1
            self._all.add(worker)
        try:
            self._wait_ready(worker, check)
        except BaseException:
            self._release(worker, healthy=False)
            raise
        return worker

    def _release(self, worker: _Worker, healthy: bool) -> None:
        with self._lock:
            keep = healthy and not self._closed and worker.alive()
            if keep:
                self._idle.append(worker)
            else:
                self._all.discard(worker)
            self._lock.notify()
        if not keep:
            worker.dispose()

    def _wait_ready(self, worker: _Worker, check: Callable[[], None]) -> None:
        deadline = time.monotonic() + self.start_timeout
        while not worker.conn.poll(POLL_SECONDS):
            check()
            if time.monotonic() >= deadline:
                raise BlockError(f"the script worker process did not start within {self.start_timeout:g} s; "
                                 f"the computer may be short of memory, try again")
        reply = self._receive(worker)
        if reply.get("kind") != "ready":
            raise BlockError("the script worker process started wrongly; try again")

    # -- one call -------------------------------------------------------------------------------------

    def _wait(self, worker: _Worker, timeout_seconds: float, check: Callable[[], None],
              log_line: Callable[[str], None]) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_seconds
        while True:
            check()  # a kill or the run's timeout: the finally of run() kills this worker
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise BlockError(f"the script timed out after {timeout_seconds:g} s and was stopped; make "
                                 f"transform() faster, send it smaller batches or raise timeoutSeconds")
            if not worker.conn.poll(min(POLL_SECONDS, remaining)):
                continue
            reply = self._receive(worker)
            if reply.get("kind") == "log":
                log_line(str(reply.get("message", "")))
                continue
            if reply.get("kind") in ("result", "error"):
                return reply
            raise BlockError("the script worker sent a reply it should not have; try again")

    def _receive(self, worker: _Worker) -> dict[str, Any]:
        try:
            reply = json.loads(worker.conn.recv_bytes())
        except (EOFError, OSError):
            raise BlockError(self._died(worker)) from None
        except ValueError:
            raise BlockError("the script worker sent a reply that is not JSON; try again") from None
        if not isinstance(reply, dict):
            raise BlockError("the script worker sent a reply it should not have; try again")
        return reply

    def _died(self, worker: _Worker) -> str:
        worker.process.join(STOP_GRACE_SECONDS)
        code = worker.process.exitcode
        how = "" if code is None else f" (exit code {code})"
        with self._lock:
            closing = self._closed
        if closing:
            return "the script workers are shut down (the app is closing); run the flow again"
        return (f"the script's worker process ended unexpectedly{how}: the script may have called exit() or run out "
                f"of memory; a fresh worker takes the next call")


def _error_text(reply: dict[str, Any]) -> str:
    kind, message = reply.get("type") or "", reply.get("message") or ""
    if not kind:
        return str(message)
    where = ""
    if reply.get("line"):
        where = f" at line {reply['line']}"
        if reply.get("text"):
            where += f": {reply['text']}"
    return f"the script raised {kind}: {message}{where}"
