"""Run lifecycle events: plain dataclasses handed to subscribers (the GUI bridge, tests, the CLI)."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Callable

log = logging.getLogger("ziggy.events")


@dataclass(frozen=True)
class ExecutionEvent:
    execution_id: str
    flow_uuid: str
    flow_name: str
    state: str  # QUEUED | RUNNING | FINISHED
    termination_status: str | None = None
    trigger: str = ""
    mode: str = ""


Listener = Callable[[ExecutionEvent], None]


class EventBus:
    """Calls listeners on the thread that emits (a worker or the writer); listeners must be quick
    and thread-safe: the GUI's bridge re-emits them as queued Qt signals."""

    def __init__(self) -> None:
        self._listeners: list[Listener] = []
        self._lock = threading.Lock()

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        with self._lock:
            self._listeners = [*self._listeners, listener]

        def unsubscribe() -> None:
            with self._lock:
                self._listeners = [existing for existing in self._listeners if existing is not listener]

        return unsubscribe

    def emit(self, event: ExecutionEvent) -> None:
        for listener in self._listeners:
            try:
                listener(event)
            except Exception:  # noqa: BLE001 - one broken listener must not stop a run
                log.exception("event listener failed")
