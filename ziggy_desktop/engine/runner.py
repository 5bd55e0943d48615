"""Runs a compiled flow: pushes each batch depth first through the graph and records what happened."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Iterator

from .block import Block
from .context import FATAL, KILLED, SUCCESS, TIMED_OUT, BlockError, RunContext, RunStopped
from .records import count_records
from .registry import ERROR_PORT, BlockType, get_block_type

log = logging.getLogger("ziggy.engine")

EDGE_SAMPLE_RECORDS = 5  # records kept per edge (the "edge bubble")
SAMPLE_RECORD_CHARS = 4000  # a bigger record is kept as a note of its size
PROGRESS_INTERVAL = 1.0  # seconds between progress reports of a long run

__all__ = ["BlockError", "RunStopped", "RunContext", "SUCCESS", "FATAL", "TIMED_OUT", "KILLED",
           "CompiledBlock", "CompiledFlow", "RunOutcome", "run_flow", "compile_flow", "topological_order", "dumps"]


@dataclass(frozen=True)
class CompiledBlock:
    id: str
    name: str
    block_type: BlockType
    config: dict[str, Any]
    prepared: Any = None


@dataclass(frozen=True)
class CompiledEdge:
    index: int
    src: str
    src_port: str
    dst: str
    dst_port: str


@dataclass(frozen=True)
class CompiledFlow:
    uuid: str
    name: str
    version: int
    timeout_seconds: float
    history_level: str
    retention_hours: float
    blocks: tuple[CompiledBlock, ...]  # in a valid execution order
    edges: tuple[CompiledEdge, ...]

    @property
    def queue_name(self) -> str | None:
        """The named queue the receiver selects (None: only the system queue)."""
        receiver = next(b for b in self.blocks if b.block_type.type == "receiver")
        return receiver.config.get("queue") or None


@dataclass
class RunOutcome:
    status: str
    result: Any = None
    reason: str | None = None
    failed_block: str | None = None
    steps: list[dict[str, Any]] = field(default_factory=list)
    edges: list[dict[str, Any]] = field(default_factory=list)


class _FlowFailed(Exception):
    """Ends the run FATAL; `block_id` names the block at fault."""

    def __init__(self, block_id: str, reason: str):
        super().__init__(reason)
        self.block_id = block_id
        self.reason = reason


class _Stopped(Exception):
    def __init__(self, block_id: str, stop: RunStopped):
        super().__init__(stop.reason)
        self.block_id = block_id
        self.stop = stop


def _sample(record: Any) -> Any:
    text = dumps(record)
    if len(text) <= SAMPLE_RECORD_CHARS:
        return record
    return f"(a record of {len(text):,} characters; not kept)"


class _EdgeStats:
    __slots__ = ("edge", "batches", "records", "sample")

    def __init__(self, edge: CompiledEdge):
        self.edge = edge
        self.batches = 0
        self.records = 0
        self.sample: list[Any] = []

    def add(self, data: Any, count: int) -> None:
        self.batches += 1
        self.records += count
        room = EDGE_SAMPLE_RECORDS - len(self.sample)
        if room > 0 and data is not None:
            items = data[:room] if isinstance(data, list) else [data]
            self.sample.extend(_sample(item) for item in items)

    def to_json(self) -> dict[str, Any]:
        e = self.edge
        return {"from": e.src, "fromPort": e.src_port, "to": e.dst, "toPort": e.dst_port, "batches": self.batches,
                "records": self.records, "sample": list(self.sample)}


class _Node:
    __slots__ = ("spec", "block", "step", "outgoing", "upstream", "active", "seconds")

    def __init__(self, spec: CompiledBlock):
        self.spec = spec
        self.block: Block | None = None
        self.step: dict[str, Any] = {"blockId": spec.id, "name": spec.name, "type": spec.block_type.type,
                                     "status": "SKIPPED", "ms": 0, "recordsIn": 0, "recordsOut": 0,
                                     "batchesIn": 0}
        self.outgoing: dict[str, list[tuple[_Node, str, _EdgeStats]]] = {}
        self.upstream: set[str] = set()
        self.active = False  # received data (or is the receiver): it runs and finishes
        self.seconds = 0.0


class _Run:
    """The state of one run of one flow."""

    def __init__(self, flow: CompiledFlow, ctx: RunContext):
        self.flow = flow
        self.ctx = ctx
        self.nodes = {spec.id: _Node(spec) for spec in flow.blocks}
        self.edges = [_EdgeStats(edge) for edge in flow.edges]
        for stats in self.edges:
            edge = stats.edge
            self.nodes[edge.src].outgoing.setdefault(edge.src_port, []).append((self.nodes[edge.dst], edge.dst_port,
                                                                                stats))
            self.nodes[edge.dst].upstream.add(edge.src)
        self.next_progress = time.monotonic() + PROGRESS_INTERVAL

    def instance(self, node: _Node) -> Block:
        if node.block is None:
            spec = node.spec
            node.block = spec.block_type.impl(self.ctx, spec.config, spec)
            node.active = True
            node.step["status"] = "RUNNING"
        return node.block

    def deliver(self, node: _Node, port: str, data: Any, count: int) -> None:
        """Data arrives at `node`'s input `port`: run the block on it and push what it yields on."""
        step = node.step
        step["recordsIn"] += count
        step["batchesIn"] += 1
        block = self.instance(node)
        self.drain(node, lambda: block.process(port, data))

    def drain(self, node: _Node, start) -> None:
        """Pull (port, data) pairs from the block one at a time, delivering each downstream at once."""
        ctx = self.ctx
        clock = time.perf_counter()
        ctx.current_block_id = node.spec.id
        try:
            ctx.check()
            iterator: Iterator[tuple[str, Any]] = iter(start() or ())
            while True:
                ctx.current_block_id = node.spec.id
                try:
                    port, data = next(iterator)
                except StopIteration:
                    break
                node.seconds += time.perf_counter() - clock
                self.emit(node, port, data)
                clock = time.perf_counter()
                ctx.check()
        except (_FlowFailed, _Stopped):
            raise
        except RunStopped as stop:
            node.seconds += time.perf_counter() - clock
            raise _Stopped(node.spec.id, stop) from None
        except BlockError as exc:
            node.seconds += time.perf_counter() - clock
            self.fail(node, str(exc), "failed")
        except Exception as exc:  # noqa: BLE001 - a block's bug ends the run, not the worker
            node.seconds += time.perf_counter() - clock
            log.debug("block %s raised", node.spec.id, exc_info=True)
            self.fail(node, f"{type(exc).__name__}: {exc}", "crashed")
        else:
            node.seconds += time.perf_counter() - clock
        if time.monotonic() >= self.next_progress:
            self.report_progress()

    def emit(self, node: _Node, port: str, data: Any) -> None:
        count = count_records(data)
        node.step["recordsOut"] += count
        for target, target_port, stats in node.outgoing.get(port, ()):
            stats.add(data, count)
            self.deliver(target, target_port, data, count)

    def fail(self, node: _Node, message: str, verb: str) -> None:
        """The block failed: send its error record down its error path (if wired), then end FATAL."""
        spec = node.spec
        node.step.update(status=FATAL, error=message)
        reason = f"Block '{spec.name}' ({spec.block_type.type}) {verb}: {message}"
        if ERROR_PORT in node.outgoing:
            record = {"executionId": self.ctx.execution_id, "flowUuid": self.flow.uuid, "blockId": spec.id,
                      "blockName": spec.name, "blockType": spec.block_type.type, "message": message}
            try:
                self.emit(node, ERROR_PORT, [record])
            except _FlowFailed as path_failure:
                # Reaching a terminator's error input is how an error path ends; anything else is a
                # second failure worth telling.
                if self.nodes[path_failure.block_id].spec.block_type.type != "terminator":
                    self.ctx.log(f"the error path of '{spec.name}' failed too: {path_failure.reason}")
        raise _FlowFailed(spec.id, reason)

    def finish_all(self) -> None:
        """Upstream first: a block finishes once everything that feeds it has finished."""
        for spec in self.flow.blocks:
            node = self.nodes[spec.id]
            if node.active and node.block is not None:
                block = node.block
                self.drain(node, block.finish)
                if node.step["status"] == "RUNNING":
                    node.step["status"] = SUCCESS

    def close_all(self) -> None:
        for node in self.nodes.values():
            if node.block is not None:
                try:
                    node.block.close()
                except Exception:  # noqa: BLE001 - closing must not hide the run's outcome
                    log.warning("closing block %s failed", node.spec.id, exc_info=True)

    def steps(self) -> list[dict[str, Any]]:
        result = []
        for spec in self.flow.blocks:
            node = self.nodes[spec.id]
            node.step["ms"] = int(node.seconds * 1000)
            result.append(dict(node.step))
        return result

    def edge_samples(self) -> list[dict[str, Any]]:
        return [stats.to_json() for stats in self.edges]

    def report_progress(self) -> None:
        self.next_progress = time.monotonic() + PROGRESS_INTERVAL
        callback = self.ctx.on_progress
        if callback is not None:
            try:
                callback(self.steps(), self.edge_samples())
            except Exception:  # noqa: BLE001 - progress is a nicety; the run goes on
                log.debug("progress report failed", exc_info=True)


def run_flow(flow: CompiledFlow, ctx: RunContext) -> RunOutcome:
    """Run the flow from its receiver; the first failure, kill or timeout ends the run."""
    run = _Run(flow, ctx)
    receiver = next(run.nodes[b.id] for b in flow.blocks if b.block_type.type == "receiver")
    try:
        try:
            block = run.instance(receiver)
            run.drain(receiver, lambda: block.process("", None))
            run.finish_all()
        finally:
            ctx.current_block_id = None
            run.close_all()
    except _Stopped as stopped:
        status = stopped.stop.status
        run.nodes[stopped.block_id].step.update(status=status, error=stopped.stop.reason)
        return RunOutcome(status, None, stopped.stop.reason, stopped.block_id, _finalize(run),
                          run.edge_samples())
    except _FlowFailed as failed:
        return RunOutcome(FATAL, ctx.result, failed.reason, failed.block_id, _finalize(run),
                          run.edge_samples())
    return RunOutcome(SUCCESS, ctx.result, None, None, _finalize(run), run.edge_samples())


def _finalize(run: _Run) -> list[dict[str, Any]]:
    """Only the block that failed or was stopped carries the run's status; the others did their part."""
    for node in run.nodes.values():
        if node.step["status"] == "RUNNING":
            node.step["status"] = SUCCESS
    return run.steps()


def compile_flow(document: dict[str, Any], version: int = 1) -> CompiledFlow:
    """Turn a validated flow document (see flows.validate_flow) into an executable plan."""
    blocks_by_id = {b["id"]: b for b in document["blocks"]}
    order = topological_order(list(blocks_by_id), [(e["from"], e["to"]) for e in document["edges"]])
    compiled = []
    for bid in order:
        raw = blocks_by_id[bid]
        block_type = get_block_type(raw["type"])
        name = raw.get("name") or bid
        prepared = block_type.impl.prepare(raw["config"], f"block {bid!r}")
        compiled.append(CompiledBlock(bid, name, block_type, raw["config"], prepared))
    edges = tuple(CompiledEdge(i, e["from"], e["fromPort"], e["to"], e["toPort"])
                  for i, e in enumerate(document["edges"]))
    settings = document.get("settings", {})
    return CompiledFlow(document["uuid"], document["name"], version, float(settings.get("timeoutSeconds", 300)),
                        settings.get("historyLevel", "ERRORED_WITH_DATA"), float(settings.get("retentionHours", 24)),
                        tuple(compiled), edges)


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

