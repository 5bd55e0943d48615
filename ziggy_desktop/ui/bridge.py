"""Cross-thread plumbing: core events as Qt signals, and blocking core calls run off the GUI thread."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

from PySide6.QtCore import QObject, Signal, Slot

from ..events import EventBus, ExecutionEvent

log = logging.getLogger("ziggy.ui")


class EventBridge(QObject):
    """Re-emits core execution events as a Qt signal; Qt queues it onto the GUI thread."""

    executionChanged = Signal(object)  # ExecutionEvent

    def __init__(self, bus: EventBus, parent: QObject | None = None):
        super().__init__(parent)
        self._unsubscribe = bus.subscribe(self._on_event)

    def _on_event(self, event: ExecutionEvent) -> None:
        # Called on a worker or writer thread: only emit, never touch a widget here.
        self.executionChanged.emit(event)

    def close(self) -> None:
        self._unsubscribe()


class Background(QObject):
    """Runs blocking core calls (database writes, waits) on a small pool and delivers the outcome
    to a callback on the GUI thread, so the window never freezes on I/O."""

    _finished = Signal(object, object, object, object)  # on_result, on_error, result, error

    def __init__(self, parent: QObject | None = None, workers: int = 2):
        super().__init__(parent)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ziggy-ui-bg")
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
        self._pool.shutdown(wait=True)
