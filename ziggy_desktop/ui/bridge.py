"""Cross-thread plumbing: core events as Qt signals, and blocking core calls run off the GUI thread."""

from __future__ import annotations

import logging
import threading
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

from PySide6.QtCore import QObject, Qt, Signal, Slot

from ..events import EventBus, ExecutionEvent

log = logging.getLogger("ziggy.ui")


class EventBridge(QObject):
    """Re-emits core execution events as Qt signals on the GUI thread.

    Events from worker threads are collected and handed over in one wake-up per burst: a queued
    signal per event would make the GUI thread win the GIL back thousands of times a second
    during a burst of API launches, and every such hand-over can wait a full switch interval.
    """

    executionChanged = Signal(object)  # one ExecutionEvent, in order
    executionsChanged = Signal(list)  # all events of one hand-over, after the single ones
    _wake = Signal()

    def __init__(self, bus: EventBus, parent: QObject | None = None):
        super().__init__(parent)
        self._pending: deque[ExecutionEvent] = deque()
        self._lock = threading.Lock()
        self._wake.connect(self._drain, Qt.ConnectionType.QueuedConnection)
        self._unsubscribe = bus.subscribe(self._on_event)

    def _on_event(self, event: ExecutionEvent) -> None:
        # Called on a worker or writer thread: never touch a widget here.
        with self._lock:
            wake = not self._pending
            self._pending.append(event)
        if wake:
            self._wake.emit()

    @Slot()
    def _drain(self) -> None:
        with self._lock:
            events = list(self._pending)
            self._pending.clear()
        for event in events:
            self.executionChanged.emit(event)
        if events:
            self.executionsChanged.emit(events)

    def close(self) -> None:
        self._unsubscribe()


class Background(QObject):
    """Runs blocking core calls (database writes, waits) on a small pool and delivers the outcome
    to a callback on the GUI thread, so the window never freezes on I/O."""

    _finished = Signal(object, object, object, object)  # on_result, on_error, result, error

    def __init__(self, parent: QObject | None = None, workers: int = 2):
        super().__init__(parent)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ziggy-ui-bg")
        self._closed = False
        self._finished.connect(self._deliver)

    def submit(self, fn: Callable[[], Any], on_result: Callable[[Any], None] | None = None,
               on_error: Callable[[BaseException], None] | None = None) -> None:
        def run() -> None:
            try:
                result = fn()
            except BaseException as exc:  # noqa: BLE001 - handed to on_error on the GUI thread
                self._finished.emit(on_result, on_error, None, exc)
            else:
                self._finished.emit(on_result, on_error, result, None)

        if self._closed:
            # A timer or a queued event can still fire while the window closes: nothing is waiting for it.
            log.debug("background task dropped: the window is closing")
            return
        self._pool.submit(run)

    @Slot(object, object, object, object)
    def _deliver(self, on_result, on_error, result, error) -> None:
        if error is not None:
            if on_error is not None:
                on_error(error)
            else:
                log.error("background task failed", exc_info=error)
        elif on_result is not None:
            on_result(result)

    def shutdown(self) -> None:
        self._closed = True
        self._pool.shutdown(wait=True)
