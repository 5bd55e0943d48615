"""What a block sees of its run (data, variables, connections, logging) and the run's kill switch."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, TypeVar

from ..errors import ZiggyError

MAX_CONSOLE_LINES = 1000
MAX_CONSOLE_LINE_CHARS = 4000

SUCCESS, FATAL, TIMED_OUT, KILLED = "SUCCESS", "FATAL", "TIMED OUT", "KILLED"

T = TypeVar("T")


class BlockError(Exception):
    """A block's expected failure (bad config at run time, a refused call); its message is shown to
    the user, so it says what went wrong and what to do."""


class RunStopped(Exception):
    """Raised inside a block when the run was killed or ran out of time."""

    def __init__(self, status: str, reason: str):
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass
class RunResources:
    """The core services blocks reach through the context; None where a process has not got one.

    vault: resolve_connection(name, kind, mode) -> dict, resolve_secret(name, mode) -> str,
           secrets_for(mode) -> dict  (vault.py)
    data_store: the data_store block's store (data_store.py); audit: the audit log (audit.py);
    scripts: the script block's worker pool (engine/script_pool.py).
    """

    vault: Any = None
    data_store: Any = None
    audit: Any = None
    scripts: Any = None


class RunContext:
    """One run as its blocks see it; kill() may be called from any thread."""

    def __init__(self, execution_id: str, mode: str, payload: Any, use_test_data: bool,
                 timeout_seconds: float | None = None, resources: RunResources | None = None,
                 flow_uuid: str = "", flow_name: str = ""):
        self.execution_id = execution_id
        self.mode = mode
        self.payload = payload
        self.use_test_data = use_test_data
        self.flow_uuid = flow_uuid
        self.flow_name = flow_name
        self.resources = resources or RunResources()
        self.variables: dict[str, Any] = {}
        self.result: Any = None
        self.result_truncated = False
        self.console: list[dict[str, Any]] = []
        self.current_block_id: str | None = None
        # Called by the runner with (steps, edges) about once a second while the run goes on.
        self.on_progress: Callable[[list[dict[str, Any]], list[dict[str, Any]]], None] | None = None
        self._stop = threading.Event()
        self._stop_reason = ""
        self.start_clock(timeout_seconds)

    # -- the kill switch and the clock ---------------------------------------------------------------

    def start_clock(self, timeout_seconds: float | None) -> None:
        self.timeout_seconds = timeout_seconds
        self.deadline = None if timeout_seconds is None else time.monotonic() + timeout_seconds

    def kill(self, reason: str = "killed by user") -> None:
        self._stop_reason = reason
        self._stop.set()

    @property
    def killed(self) -> bool:
        return self._stop.is_set()

    def check(self) -> None:
        """Raise RunStopped if the run was killed or is past its timeout; blocks call this often."""
        if self._stop.is_set():
            raise RunStopped(KILLED, self._stop_reason)
        if self.deadline is not None and time.monotonic() >= self.deadline:
            raise RunStopped(TIMED_OUT, f"the run exceeded its timeout of {self.timeout_seconds:g} s")

    def remaining_seconds(self) -> float | None:
        return None if self.deadline is None else max(0.0, self.deadline - time.monotonic())

    def sleep(self, seconds: float) -> None:
        """Wait, but wake at once on kill and stop at the run's deadline."""
        end = time.monotonic() + max(0.0, seconds)
        while True:
            self.check()
            now = time.monotonic()
            if now >= end:
                return
            wake = end if self.deadline is None else min(end, self.deadline)
            self._stop.wait(max(0.0, wake - now))

    def call_blocking(self, function: Callable[..., T], *args: Any) -> T:
        """Run blocking I/O (a request, a query) so that a kill or the timeout ends the wait at once.

        The call goes on in a helper thread that is abandoned when the run stops; give `function`
        its own timeout so that thread ends too.
        """
        self.check()
        done = threading.Event()
        outcome: dict[str, Any] = {}

        def call() -> None:
            try:
                outcome["value"] = function(*args)
            except BaseException as exc:  # noqa: BLE001 - handed back to the run's thread
                outcome["error"] = exc
            finally:
                done.set()

        threading.Thread(target=call, name=f"ziggy-io-{self.execution_id[:8]}", daemon=True).start()
        while not done.wait(0.05):
            self.check()
        if "error" in outcome:
            raise outcome["error"]
        return outcome["value"]

    # -- what blocks use -----------------------------------------------------------------------------

    def log(self, message: str) -> None:
        if len(self.console) >= MAX_CONSOLE_LINES:
            if len(self.console) == MAX_CONSOLE_LINES:
                self.console.append({"at": time.time(), "blockId": self.current_block_id,
                                     "message": f"(console truncated after {MAX_CONSOLE_LINES} lines)"})
            return
        self.console.append({"at": time.time(), "blockId": self.current_block_id,
                             "message": message[:MAX_CONSOLE_LINE_CHARS]})

    def _service(self, name: str) -> Any:
        service = getattr(self.resources, name)
        if service is None:
            raise BlockError(f"this process has no {name.replace('_', ' ')} (runs started from the app, the "
                             f"server or the CLI have one)")
        return service

    def connection(self, name: str, kind: str) -> dict[str, Any]:
        """The connection's settings for this run's mode (PROD falls back to DEV), decrypted."""
        try:
            return self._service("vault").resolve_connection(name, kind, self.mode)
        except ZiggyError as exc:
            raise BlockError(exc.message) from None

    def secret(self, name: str) -> str:
        try:
            return self._service("vault").resolve_secret(name, self.mode)
        except ZiggyError as exc:
            raise BlockError(exc.message) from None

    def secrets(self) -> dict[str, str]:
        vault = self.resources.vault
        return {} if vault is None else vault.secrets_for(self.mode)

    @property
    def data_store(self) -> Any:
        return self._service("data_store")

    @property
    def audit(self) -> Any:
        return self._service("audit")

    @property
    def scripts(self) -> Any:
        return self._service("scripts")
