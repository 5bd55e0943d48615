"""The system queue: a durable FIFO of accepted runs executed by a bounded pool of worker threads."""

from __future__ import annotations

import heapq
import json
import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from functools import partial
from typing import Callable

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.engine import Connection, Engine

from .db import CompiledStatement, DatabaseWriter, WriteBatch
from .engine import RunContext, RunOutcome, RunResources, run_flow
from .engine.runner import FATAL, KILLED, dumps
from .errors import QueueFullError, ShuttingDownError, ZiggyError
from .events import EventBus, ExecutionEvent
from .flows import FlowService, keeps_data
from .models import Execution
from .named_queues import Gate, NamedQueueStore, QueueSettings

log = logging.getLogger("ziggy.queue")
_executions = Execution.__table__

QUEUED, RUNNING, FINISHED = "QUEUED", "RUNNING", "FINISHED"
INTERRUPTED_REASON = "interrupted by shutdown"


@dataclass(frozen=True)
class QueueItem:
    execution_id: str
    seq: int
    flow_uuid: str
    flow_name: str
    mode: str
    trigger: str
    created_at: float
    flow_version: int | None = None  # the flow as launched; None: whatever is stored when it starts
    input_inline: bool = False  # True: input_json below is the input; False: read it from the row
    input_json: str | None = None
    use_test_data: bool = False


Lane = str | None  # a named queue, or None for runs only the system queue orders


@dataclass
class _Running:
    item: QueueItem
    ctx: RunContext
    started_at: float
    done: threading.Event
    lane: Lane = None


def _item_from_row(row) -> QueueItem:
    return QueueItem(row.execution_id, row.seq, row.flow_uuid, row.flow_name, row.mode, row.trigger, row.created_at)


class SystemQueue:
    """Owns the runs of one database: at most `max_jobs` at once, oldest first.

    The database is the truth (every item is a committed QUEUED row before it gets here); the
    in-memory FIFO only orders and hands out work, so a crash loses nothing.

    Runs of flows whose receiver names a queue wait in that queue's lane: its gate starts at most
    `rate` of them a second and none while paused. Across lanes the oldest startable run goes first.
    """

    def __init__(self, engine: Engine, writer: DatabaseWriter, flows: FlowService, events: EventBus,
                 max_jobs: int, max_backlog: int, resources: RunResources | None = None,
                 named_queues: NamedQueueStore | None = None):
        self._engine = engine
        self._resources = resources or RunResources()
        self._writer = writer
        self._flows = flows
        self._events = events
        self.max_jobs = max_jobs
        self.max_backlog = max_backlog
        self._cond = threading.Condition()
        self._lanes: dict[Lane, OrderedDict[str, QueueItem]] = {None: OrderedDict()}
        self._gates: dict[str, Gate] = {}
        self._named_queues = named_queues
        self._running: dict[str, _Running] = {}
        # Rows the command line queued after this seq are picked up by the poller (see _poll).
        self._poll_watermark = 0
        self._accepting = True
        self._workers: list[threading.Thread] = []
        self._poller: threading.Thread | None = None
        self._stop_polling = threading.Event()
        self._mark_running = CompiledStatement(_MARK_RUNNING, engine.dialect)
        self._mark_finished = CompiledStatement(_MARK_FINISHED, engine.dialect)
        self._mark_finished_dropping_input = CompiledStatement(_MARK_FINISHED.values(input_json=None), engine.dialect)
        self._mark_progress = CompiledStatement(_MARK_PROGRESS, engine.dialect)

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self, *, recover: bool = True, poll_interval: float | None = 0.5) -> None:
        """Start the workers; with `recover`, finish interrupted runs and resume queued ones."""
        self.refresh_named_queues()
        if recover:
            self._recover()
        for index in range(self.max_jobs):
            worker = threading.Thread(target=self._work, name=f"ziggy-worker-{index + 1}", daemon=True)
            worker.start()
            self._workers.append(worker)
        if poll_interval:
            self._poller = threading.Thread(target=self._poll, args=(poll_interval,), name="ziggy-queue-poller",
                                            daemon=True)
            self._poller.start()

    def _recover(self) -> None:
        now = time.time()

        def finish_interrupted(conn: Connection, _batch: WriteBatch) -> int:
            return conn.execute(
                update(_executions).where(_executions.c.state == RUNNING)
                .values(state=FINISHED, termination_status=KILLED, reason=INTERRUPTED_REASON, finished_at=now, ms=0)
            ).rowcount

        interrupted = self._writer.run(finish_interrupted)
        if interrupted:
            log.warning("%d run(s) were interrupted by the last shutdown and are now KILLED", interrupted)
        with self._engine.connect() as conn:
            # One snapshot: the queued rows, and the last seq they were taken from.
            rows = conn.execute(_QUEUED_ROWS.order_by(_executions.c.seq)).all()
            self._poll_watermark = conn.execute(select(func.coalesce(func.max(_executions.c.seq), 0))).scalar_one()
        for row in rows:
            self.enqueue(_item_from_row(row))
        if rows:
            log.info("resuming %d queued run(s)", len(rows))

    def stop(self, grace_seconds: float) -> None:
        """Stop taking work, give running runs `grace_seconds`, then kill what is left.

        Queued runs stay QUEUED in the database and resume on the next start.
        """
        with self._cond:
            self._accepting = False
            self._cond.notify_all()
        self._stop_polling.set()
        deadline = time.monotonic() + grace_seconds
        for worker in self._workers:
            worker.join(max(0.0, deadline - time.monotonic()))
        with self._cond:
            leftovers = list(self._running.values())
        for running in leftovers:
            running.ctx.kill("stopped by shutdown")
        for worker in self._workers:
            worker.join(5.0)
        if self._poller is not None:
            self._poller.join(5.0)

    @property
    def accepting(self) -> bool:
        return self._accepting

    # -- intake ----------------------------------------------------------------------------------

    def check_capacity(self, batch: WriteBatch) -> None:
        """Raise if one more run would overflow the backlog (runs not yet committed count too)."""
        if not self._accepting:
            raise ShuttingDownError("Ziggy Desktop is shutting down and takes no new runs; retry once it is back.")
        pending = batch.pending.get("queue", 0)
        if self.depth() + pending >= self.max_backlog:
            raise QueueFullError(
                f"The system queue is full ({self.max_backlog} runs waiting, MAX_SYSTEM_QUEUE_SIZE). "
                f"Retry later; 'Retry-After' says when.", retry_after_seconds=self.retry_after_seconds())
        batch.pending["queue"] = pending + 1

    def retry_after_seconds(self) -> int:
        return max(1, min(60, self.depth() // max(1, self.max_jobs * 10)))

    def enqueue(self, item: QueueItem) -> None:
        """Add a committed QUEUED run; one already waiting or running here is ignored."""
        lane = self._lane_for(item) if self._gates else None
        with self._cond:
            if item.execution_id in self._running or any(item.execution_id in fifo for fifo in self._lanes.values()):
                return
            self._lanes.setdefault(lane, OrderedDict())[item.execution_id] = item
            self._cond.notify()
        self._events.emit(ExecutionEvent(item.execution_id, item.flow_uuid, item.flow_name, QUEUED,
                                         trigger=item.trigger, mode=item.mode))

    def _poll(self, interval: float) -> None:
        """Pick up runs the command line queued on the same database while this process owns it.

        Only CLI rows: every other launch is enqueued by this process itself. SQLite commits writers
        one at a time, so CLI rows become visible in seq order and a watermark never skips one.
        """
        next_refresh = time.monotonic()
        while not self._stop_polling.wait(interval):
            if self._named_queues is not None and time.monotonic() >= next_refresh:
                # The CLI or another window may have changed a queue's rate or paused it.
                next_refresh = time.monotonic() + 2.0
                try:
                    self.refresh_named_queues()
                except Exception:  # noqa: BLE001 - a busy database now is fine next time
                    log.debug("named queue refresh failed", exc_info=True)
            try:
                with self._engine.connect() as conn:
                    rows = conn.execute(_QUEUED_ROWS.where(_executions.c.trigger == "CLI",
                                                           _executions.c.seq > self._poll_watermark)
                                        .order_by(_executions.c.seq)).all()
            except Exception:  # noqa: BLE001 - a busy database now is fine next time
                log.debug("queue poll failed", exc_info=True)
                continue
            for row in rows:
                self._poll_watermark = row.seq
                self.enqueue(_item_from_row(row))

    # -- named queues ------------------------------------------------------------------------------

    def refresh_named_queues(self) -> None:
        if self._named_queues is not None:
            self.apply_named_queues(self._named_queues.list())

    def apply_named_queues(self, queues: list[QueueSettings]) -> None:
        """Use these rates and pauses from now on; a queue's pacing carries over a change of rate."""
        with self._cond:
            gates = {}
            for settings in queues:
                gate = self._gates.get(settings.name) or Gate(settings)
                gate.settings = settings
                gates[settings.name] = gate
            self._gates = gates
            self._cond.notify_all()

    def _lane_for(self, item: QueueItem) -> Lane:
        try:
            name = self._flows.queue_name_of(item.flow_uuid, item.flow_version)
        except Exception:  # noqa: BLE001 - an unreadable flow fails when it runs, with a message
            log.debug("no queue name for flow %s", item.flow_uuid, exc_info=True)
            return None
        return name if name in self._gates else None

    def _pick(self) -> tuple[QueueItem | None, Lane, float | None]:
        """The oldest run that may start now and its lane, or (None, None, seconds until one may;
        None: not before something changes)."""
        if len(self._lanes) == 1:
            fifo = self._lanes[None]
            return (fifo.popitem(last=False)[1], None, None) if fifo else (None, None, None)
        now = time.monotonic()
        best: QueueItem | None = None
        best_lane: Lane = None
        wait: float | None = None
        for lane, fifo in self._lanes.items():
            if not fifo:
                continue
            head = next(iter(fifo.values()))
            gate = self._gates.get(lane) if lane is not None else None
            if gate is not None:
                seconds = gate.wait_seconds(now)
                if seconds is None:
                    continue
                if seconds > 0:
                    wait = seconds if wait is None else min(wait, seconds)
                    continue
            if best is None or head.seq < best.seq:
                best, best_lane = head, lane
        if best is None:
            return None, None, wait
        fifo = self._lanes[best_lane]
        del fifo[best.execution_id]
        if best_lane is not None:
            if best_lane in self._gates:
                self._gates[best_lane].take(now)
            if not fifo:
                del self._lanes[best_lane]
        return best, best_lane, None

    def named_queue_view(self) -> list[dict]:
        """Each named queue with its settings, waiting and running runs (for system-queue-list)."""
        with self._cond:
            running: dict[Lane, int] = {}
            for run in self._running.values():
                running[run.lane] = running.get(run.lane, 0) + 1
            return [{**gate.settings.to_json(), "depth": len(self._lanes.get(name, ())),
                     "running": running.get(name, 0)} for name, gate in sorted(self._gates.items())]

    # -- views -----------------------------------------------------------------------------------

    def _all_queued(self):
        """Every waiting run, oldest first, across lanes (call with the lock held)."""
        if len(self._lanes) == 1:
            return iter(self._lanes[None].values())
        return heapq.merge(*(fifo.values() for fifo in self._lanes.values()), key=lambda item: item.seq)

    def depth(self) -> int:
        return sum(len(fifo) for fifo in self._lanes.values())

    def running_count(self) -> int:
        return len(self._running)

    def position(self, execution_id: str) -> int | None:
        """1 for the next run to start, 0 while running, None when this queue does not hold it."""
        with self._cond:
            if execution_id in self._running:
                return 0
            for index, item in enumerate(self._all_queued()):
                if item.execution_id == execution_id:
                    return index + 1
        return None

    def snapshot(self, limit: int = 1000) -> tuple[list[tuple[QueueItem, float]], list[QueueItem], int]:
        """(running items with start times, the first `limit` queued items, total queued)."""
        with self._cond:
            running = [(r.item, r.started_at) for r in self._running.values()]
            queued = []
            for item in self._all_queued():
                if len(queued) >= limit:
                    break
                queued.append(item)
            return running, queued, self.depth()

    # -- kill ------------------------------------------------------------------------------------

    def kill_queued(self, execution_id: str, reason: str = "removed from the system queue") -> bool:
        """Drop a queued run and record it KILLED; False when it is not waiting in this queue."""
        with self._cond:
            item, lane = None, None
            for lane, fifo in self._lanes.items():
                item = fifo.pop(execution_id, None)
                if item is not None:
                    break
        if item is None:
            return False
        try:
            self._writer.run(self._finish_op(item, KILLED, reason, None, None, ms=0, steps=[], console=[]))
        except BaseException:
            with self._cond:  # not recorded: it is still queued, at the head where it was
                fifo = self._lanes.setdefault(lane, OrderedDict())
                fifo[execution_id] = item
                fifo.move_to_end(execution_id, last=False)
                self._cond.notify()
            raise
        self._events.emit(ExecutionEvent(item.execution_id, item.flow_uuid, item.flow_name, FINISHED, KILLED,
                                         trigger=item.trigger, mode=item.mode))
        return True

    def kill_running(self, execution_id: str, reason: str = "killed by user", wait_seconds: float = 10.0) -> bool | None:
        """Stop a running run. True once it has ended, False if still stopping after the wait,
        None when it is not running here."""
        with self._cond:
            running = self._running.get(execution_id)
        if running is None:
            return None
        running.ctx.kill(reason)
        return running.done.wait(wait_seconds)

    # -- work ------------------------------------------------------------------------------------

    def _work(self) -> None:
        while True:
            with self._cond:
                while True:
                    if not self._accepting:
                        return
                    item, lane, wait = self._pick()
                    if item is not None:
                        break
                    self._cond.wait(wait)
                ctx = RunContext(item.execution_id, item.mode, None, False, resources=self._resources,
                                 flow_uuid=item.flow_uuid, flow_name=item.flow_name)
                running = _Running(item, ctx, time.time(), threading.Event(), lane)
                self._running[item.execution_id] = running
            try:
                self._execute(running)
            except Exception:  # noqa: BLE001 - never lose a worker; the row is fixed at next start
                log.exception("worker failed while finishing run %s", item.execution_id)
            finally:
                with self._cond:
                    self._running.pop(item.execution_id, None)
                running.done.set()

    def _execute(self, running: _Running) -> None:
        item, ctx = running.item, running.ctx
        started_at = running.started_at
        self._writer.submit(self._start_op(item, started_at))
        clock = time.perf_counter()
        try:
            input_json, use_test_data = item.input_json, item.use_test_data
            flow = self._flows.cached(item.flow_uuid, item.flow_version)
            if flow is None or not item.input_inline:
                with self._engine.connect() as conn:
                    if not item.input_inline:
                        row = conn.execute(_RUN_INPUT, {"b_id": item.execution_id}).one()
                        input_json, use_test_data = row.input_json, bool(row.use_test_data)
                    if flow is None:
                        flow = self._flows.compiled(conn, item.flow_uuid)
            ctx.payload = None if input_json is None else json.loads(input_json)
            ctx.use_test_data = use_test_data
            ctx.start_clock(flow.timeout_seconds)
            if flow.queue_name and flow.queue_name not in self._gates:
                ctx.log(f"the receiver names the queue {flow.queue_name!r}, which does not exist: this run was not "
                        f"throttled. Create it on the Queues page or with 'ziggy-desktop queues set'.")
            ctx.on_progress = partial(self._report_progress, item)
            outcome = run_flow(flow, ctx)
            keep_data = keeps_data(flow.history_level, outcome.status)
        except ZiggyError as exc:
            outcome, keep_data = RunOutcome(FATAL, reason=exc.message), True
        except Exception as exc:  # noqa: BLE001 - a bug ends this run as FATAL, visibly
            log.exception("run %s failed unexpectedly", item.execution_id)
            outcome, keep_data = RunOutcome(FATAL, reason=f"internal error: {type(exc).__name__}: {exc}"), True
        if ctx.result_truncated:
            ctx.log("the result was cut to its first records; the history keeps at most 1000")
        ms = int((time.perf_counter() - clock) * 1000)
        # Wait for the commit: the status API must never report a finished run that is not on disk.
        self._write_until_committed(self._finish_op(
            item, outcome.status, outcome.reason, outcome.failed_block, outcome.result if keep_data else None,
            ms=ms, steps=outcome.steps, console=ctx.console, edges=outcome.edges if keep_data else None,
            keep_input=keep_data))
        if outcome.status != "SUCCESS":
            # The reason may quote the data (a block's error message): only at debug level.
            log.info("run %s of flow %s ended %s in block %s", item.execution_id, item.flow_uuid, outcome.status,
                     outcome.failed_block)
            log.debug("run %s: %s", item.execution_id, outcome.reason)
        self._events.emit(ExecutionEvent(item.execution_id, item.flow_uuid, item.flow_name, FINISHED,
                                         outcome.status, trigger=item.trigger, mode=item.mode))

    def _write_until_committed(self, op: Callable[[Connection, WriteBatch], None], attempts: int = 8) -> None:
        """A finished run must not stay RUNNING because the database was busy once: retry with
        backoff; if it never commits, the next start records the run as interrupted."""
        for attempt in range(attempts):
            try:
                self._writer.run(op)
                return
            except ZiggyError:
                raise  # the writer has stopped: nothing to wait for
            except Exception:  # noqa: BLE001 - a busy or failing database; try again
                if attempt == attempts - 1:
                    raise
                log.warning("recording a finished run failed; retrying", exc_info=True)
                time.sleep(min(5.0, 0.25 * 2 ** attempt))

    def _start_op(self, item: QueueItem, started_at: float) -> Callable[[Connection, WriteBatch], None]:
        event = ExecutionEvent(item.execution_id, item.flow_uuid, item.flow_name, RUNNING, trigger=item.trigger,
                               mode=item.mode)

        def op(_conn: Connection, batch: WriteBatch) -> None:
            self._mark_running.execute(batch.cursor, {"b_id": item.execution_id, "b_started": started_at})
            # Announced once committed, so a listener that reads the row sees RUNNING.
            batch.after_commit(partial(self._events.emit, event))
        return op

    def _report_progress(self, item: QueueItem, steps: list, edges: list) -> None:
        """A long run's block states, so the history and the graph follow it live."""
        # Counts only: whether the samples may be kept is known when the run ends (its history level).
        values = {"b_id": item.execution_id, "b_steps": dumps(steps),
                  "b_edges": dumps([{**edge, "sample": []} for edge in edges])}
        event = ExecutionEvent(item.execution_id, item.flow_uuid, item.flow_name, RUNNING, trigger=item.trigger,
                               mode=item.mode)

        def op(_conn: Connection, batch: WriteBatch) -> None:
            self._mark_progress.execute(batch.cursor, values)
            batch.after_commit(partial(self._events.emit, event))
        self._writer.submit(op)

    def _finish_op(self, item: QueueItem, status: str, reason: str | None, failed_block: str | None, result,
                   *, ms: int, steps: list, console: list, edges: list | None = None,
                   keep_input: bool = True) -> Callable[[Connection, WriteBatch], None]:
        values = {"b_id": item.execution_id, "b_status": status, "b_reason": reason, "b_block": failed_block,
                  "b_finished": time.time(), "b_ms": ms, "b_result": None if result is None else dumps(result),
                  "b_steps": dumps(steps), "b_console": dumps(console),
                  "b_edges": None if edges is None else dumps(edges)}
        statement = self._mark_finished if keep_input else self._mark_finished_dropping_input

        def op(_conn: Connection, batch: WriteBatch) -> None:
            statement.execute(batch.cursor, values)
        return op


# Built once: each run executes these, and building a statement costs more than running it.
_QUEUED_ROWS = select(_executions.c.execution_id, _executions.c.seq, _executions.c.flow_uuid,
                      _executions.c.flow_name, _executions.c.mode, _executions.c.trigger,
                      _executions.c.created_at).where(_executions.c.state == QUEUED)
_RUN_INPUT = select(_executions.c.input_json, _executions.c.use_test_data).where(
    _executions.c.execution_id == bindparam("b_id"))
_MARK_RUNNING = (update(_executions)
                 .where(_executions.c.execution_id == bindparam("b_id"), _executions.c.state == QUEUED)
                 .values(state=RUNNING, started_at=bindparam("b_started")))
_MARK_FINISHED = (update(_executions)
                  .where(_executions.c.execution_id == bindparam("b_id"), _executions.c.state != FINISHED)
                  .values(state=FINISHED, termination_status=bindparam("b_status"), reason=bindparam("b_reason"),
                          failed_block=bindparam("b_block"), finished_at=bindparam("b_finished"),
                          ms=bindparam("b_ms"), result_json=bindparam("b_result"), steps_json=bindparam("b_steps"),
                          console_json=bindparam("b_console"), edges_json=bindparam("b_edges")))
_MARK_PROGRESS = (update(_executions)
                  .where(_executions.c.execution_id == bindparam("b_id"), _executions.c.state == RUNNING)
                  .values(steps_json=bindparam("b_steps"), edges_json=bindparam("b_edges")))
