"""Runs a validated flow graph in dependency order and records what each block did."""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from .registry import BlockType

log = logging.getLogger("ziggy.engine")

MAX_CONSOLE_LINES = 1000
MAX_CONSOLE_LINE_CHARS = 4000

SUCCESS, FATAL, TIMED_OUT, KILLED = "SUCCESS", "FATAL", "TIMED OUT", "KILLED"


class BlockError(Exception):
    """A block's expected failure (bad data, a refused call); its message is shown to the user."""


class RunStopped(Exception):
    """Raised inside a block when the run was killed or ran out of time."""

    def __init__(self, status: str, reason: str):
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class CompiledBlock:
    id: str
    name: str
    block_type: BlockType
    config: dict[str, Any]
    inputs: dict[str, tuple[tuple[str, str], ...]]  # in-port -> ((from block id, from port), ...)


@dataclass(frozen=True)
class CompiledFlow:
    uuid: str
    name: str
    version: int
    timeout_seconds: float
    blocks: tuple[CompiledBlock, ...]  # in a valid execution order


class RunContext:
    """What a block sees of its run; also the handle used to kill it, from any thread."""

    def __init__(self, execution_id: str, mode: str, payload: Any, use_test_data: bool,
                 timeout_seconds: float | None = None):
        self.execution_id = execution_id
        self.mode = mode
        self.payload = payload
        self.use_test_data = use_test_data
        self.deadline = None if timeout_seconds is None else time.monotonic() + timeout_seconds
        self.timeout_seconds = timeout_seconds
        self.result: Any = None
        self.console: list[dict[str, Any]] = []
        self._stop = threading.Event()
        self._stop_reason = ""
        self.current_block_id: str | None = None

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

    def log(self, message: str) -> None:
        if len(self.console) >= MAX_CONSOLE_LINES:
            if len(self.console) == MAX_CONSOLE_LINES:
                self.console.append({"at": time.time(), "blockId": self.current_block_id,
                                     "message": f"(console truncated after {MAX_CONSOLE_LINES} lines)"})
            return
        self.console.append({"at": time.time(), "blockId": self.current_block_id,
                             "message": message[:MAX_CONSOLE_LINE_CHARS]})


@dataclass
class RunOutcome:
    status: str
    result: Any = None
    reason: str | None = None
    failed_block: str | None = None
    steps: list[dict[str, Any]] = field(default_factory=list)


def _count_records(value: Any) -> int:
    if value is None:
        return 0
    return len(value) if isinstance(value, list) else 1


def _gather_input(block: CompiledBlock, outputs: dict[tuple[str, str], Any]) -> dict[str, Any] | None:
    """Values arriving on each in-port; None when nothing upstream emitted (the block is skipped)."""
    inputs: dict[str, Any] = {}
    for port, sources in block.inputs.items():
        values = [outputs[s] for s in sources if s in outputs]
        if not values:
            continue
        if len(values) == 1:
            inputs[port] = values[0]
        elif all(isinstance(v, list) for v in values):
            inputs[port] = [item for v in values for item in v]
        else:
            inputs[port] = values
    if block.inputs and not inputs:
        return None
    return inputs


def run_flow(flow: CompiledFlow, ctx: RunContext) -> RunOutcome:
    """Run every block once in order; the first failure, kill or timeout ends the run."""
    outputs: dict[tuple[str, str], Any] = {}
    # Every block gets a step, so a run that stops early still shows what never ran.
    steps = [{"blockId": block.id, "name": block.name, "type": block.block_type.type, "status": "SKIPPED",
              "ms": 0, "recordsIn": 0, "recordsOut": 0} for block in flow.blocks]
    for block, step in zip(flow.blocks, steps):
        inputs = _gather_input(block, outputs)
        if inputs is None:
            continue
        step["recordsIn"] = sum(_count_records(v) for v in inputs.values())
        ctx.current_block_id = block.id
        started = time.perf_counter()
        try:
            ctx.check()
            emitted = block.block_type.run(ctx, block.config, inputs) or {}
            ctx.check()
        except RunStopped as stop:
            step.update(status=stop.status, ms=_ms_since(started), error=stop.reason)
            return RunOutcome(stop.status, None, stop.reason, block.id, steps)
        except BlockError as exc:
            reason = f"Block '{block.name}' ({block.block_type.type}) failed: {exc}"
            step.update(status=FATAL, ms=_ms_since(started), error=str(exc))
            return RunOutcome(FATAL, None, reason, block.id, steps)
        except Exception as exc:  # noqa: BLE001 - a block's bug ends the run, not the worker
            log.debug("block %s raised", block.id, exc_info=True)
            reason = f"Block '{block.name}' ({block.block_type.type}) crashed: {type(exc).__name__}: {exc}"
            step.update(status=FATAL, ms=_ms_since(started), error=f"{type(exc).__name__}: {exc}")
            return RunOutcome(FATAL, None, reason, block.id, steps)
        for port, value in emitted.items():
            outputs[(block.id, port)] = value
        step.update(status=SUCCESS, ms=_ms_since(started), recordsOut=sum(_count_records(v) for v in emitted.values()))
    ctx.current_block_id = None
    return RunOutcome(SUCCESS, ctx.result, None, None, steps)


def _ms_since(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)


def compile_flow(document: dict[str, Any], version: int = 1) -> CompiledFlow:
    """Turn a validated flow document (see flows.validate_flow) into an executable plan."""
    from .registry import get_block_type

    blocks_by_id = {b["id"]: b for b in document["blocks"]}
    incoming: dict[str, dict[str, list[tuple[str, str]]]] = {bid: {} for bid in blocks_by_id}
    for edge in document["edges"]:
        incoming[edge["to"]].setdefault(edge["toPort"], []).append((edge["from"], edge["fromPort"]))
    order = topological_order(list(blocks_by_id), [(e["from"], e["to"]) for e in document["edges"]])
    compiled = []
    for bid in order:
        raw = blocks_by_id[bid]
        compiled.append(CompiledBlock(
            id=bid, name=raw.get("name") or bid, block_type=get_block_type(raw["type"]), config=raw["config"],
            inputs={port: tuple(src) for port, src in incoming[bid].items()},
        ))
    settings = document.get("settings", {})
    return CompiledFlow(document["uuid"], document["name"], version,
                        float(settings.get("timeoutSeconds", 300)), tuple(compiled))


def topological_order(nodes: list[str], edges: list[tuple[str, str]]) -> list[str]:
    """Kahn's order, stable in document order; raises ValueError naming a block on a cycle."""
    indegree = {n: 0 for n in nodes}
    children: dict[str, list[str]] = {n: [] for n in nodes}
    for src, dst in edges:
        children[src].append(dst)
        indegree[dst] += 1
    position = {n: i for i, n in enumerate(nodes)}
    ready = sorted((n for n in nodes if indegree[n] == 0), key=position.__getitem__)
    order: list[str] = []
    while ready:
        node = ready.pop(0)
        order.append(node)
        for child in children[node]:
            indegree[child] -= 1
            if indegree[child] == 0:
                ready.append(child)
                ready.sort(key=position.__getitem__)
    if len(order) != len(nodes):
        stuck = next(n for n in nodes if indegree[n] > 0)
        raise ValueError(stuck)
    return order


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
