"""The flow-shaping blocks: receiver, terminator, branch, iterator, merger, key filter, has data,
variables, console, delay and fail."""

from __future__ import annotations

import json
import re
from typing import Any, Mapping

from ...errors import ValidationError
from ..block import Block, Emitted, PassThrough, source_fields
from ..context import BlockError
from ..expressions import Evaluator, ExpressionError, compile_expression
from ..records import as_records, batched, delete_path, get_path, has_path, set_path
from ..registry import BlockType, ConfigField, register

MAX_RESULT_RECORDS = 1000  # a run's stored result; the rest of a long stream is counted, not kept
_PORT_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,39}$")


def _evaluator(block: Block) -> Evaluator:
    ctx = block.ctx
    return Evaluator(ctx.variables, ctx.mode, ctx.execution_id, ctx.secret)


class Receiver(Block):
    def process(self, port: str, data: Any) -> Emitted:
        # API launches pass the request body even when it is empty; only UI/CLI runs use test data.
        payload = self.config["testData"] if self.ctx.use_test_data else self.ctx.payload
        if isinstance(payload, list) and self.config["batchSize"] > 0:
            for batch in batched(payload, self.config["batchSize"], self.config["maxIterations"]):
                yield "out", batch
        else:
            yield "out", payload


class Terminator(Block):
    def process(self, port: str, data: Any) -> Emitted:
        if port == "error":
            first = as_records(data)[:1]
            message = first[0].get("message") if first and isinstance(first[0], dict) else None
            self.ctx.result = data
            raise BlockError(message or f"the flow reached its error path: {json.dumps(data, default=str)[:300]}")
        ctx = self.ctx
        if ctx.result is None:
            ctx.result = data
        elif isinstance(ctx.result, list) and isinstance(data, list):
            room = MAX_RESULT_RECORDS - len(ctx.result)
            ctx.result.extend(data[:max(0, room)])
            ctx.result_truncated = ctx.result_truncated or len(data) > room
        else:
            ctx.result = [ctx.result, data] if not isinstance(ctx.result, list) else [*ctx.result, data]
        return ()


class Console(PassThrough):
    def transform(self, data: Any) -> Any:
        line = self.config["message"]
        if self.config["includeData"]:
            line = f"{line} {json.dumps(data, ensure_ascii=False, default=str)}".strip()
        self.ctx.log(line)
        return data


class Delay(PassThrough):
    def transform(self, data: Any) -> Any:
        self.ctx.sleep(self.config["ms"] / 1000)
        return data


class Fail(Block):
    def process(self, port: str, data: Any) -> Emitted:
        raise BlockError(self.config["message"])


class Branch(Block):
    """Each record goes to the first condition it meets, or to `else`."""

    @classmethod
    def prepare(cls, config: Mapping[str, Any], where: str) -> Any:
        compiled = []
        seen = {"else", "error"}
        for index, condition in enumerate(config["conditions"]):
            port = condition["port"]
            if not _PORT_NAME.match(port) or port in seen:
                raise ValidationError(f"{where}: config.conditions[{index}].port {port!r} must be a unique name of "
                                      f"letters, digits, - and _ (not 'else' or 'error')")
            seen.add(port)
            compiled.append((port, compile_expression(condition["expression"],
                                                      f"{where}: config.conditions[{index}].expression")))
        return compiled

    def process(self, port: str, data: Any) -> Emitted:
        evaluator = _evaluator(self)
        routed: dict[str, list[Any]] = {}
        for record in as_records(data):
            target = "else"
            for out_port, expression in self.prepared:
                try:
                    matched = evaluator.evaluate(expression, record)
                except ExpressionError as exc:
                    raise BlockError(f"condition {exc}") from None
                if matched:
                    target = out_port
                    break
            routed.setdefault(target, []).append(record)
        for out_port, records in routed.items():
            yield out_port, records


class Iterator(PassThrough):
    """One record per item of a nested list, with chosen parent fields copied onto each."""

    def transform(self, data: Any) -> Any:
        path, parent_fields, prefix = self.config["path"], self.config["parentFields"], self.config["parentPrefix"]
        result = []
        for record in as_records(data):
            items = get_path(record, path)
            if items is None:
                continue
            if not isinstance(items, list):
                raise BlockError(f"field {path!r} must hold a list (found {type(items).__name__}); check the path")
            parent = {}
            if isinstance(record, dict):
                names = [k for k in record if k != path.split(".")[0]] if parent_fields == ["*"] else parent_fields
                parent = {f"{prefix}{name}": get_path(record, name) for name in names}
            for item in items:
                child = dict(item) if isinstance(item, dict) else {"value": item}
                result.append({**parent, **child})
        return result


class Merger(Block):
    """Joins paths: `concat` passes each batch on as it comes; `collect` waits for every input and
    sends one list; `zip` waits and merges record i of each input into one record."""

    def __init__(self, *args: Any):
        super().__init__(*args)
        self.held: dict[str, list[Any]] = {}

    def process(self, port: str, data: Any) -> Emitted:
        if self.config["mode"] == "concat":
            yield "out", data
            return
        self.held.setdefault(port, []).extend(as_records(data))

    def finish(self) -> Emitted:
        if self.config["mode"] == "concat" or not self.held:
            return
        if self.config["mode"] == "collect":
            yield "out", [record for port in self.node.block_type.inputs for record in self.held.get(port, [])]
            return
        lists = [self.held.get(port, []) for port in self.node.block_type.inputs if port in self.held]
        merged = []
        for index in range(max(len(records) for records in lists)):
            record: dict[str, Any] = {}
            for records in lists:
                if index < len(records):
                    item = records[index]
                    record.update(item if isinstance(item, dict) else {"value": item})
            merged.append(record)
        yield "out", merged


class KeyFilter(PassThrough):
    """Keep only some fields, drop some fields, or flatten nested objects into dotted keys."""

    def transform(self, data: Any) -> Any:
        mode, keys = self.config["mode"], self.config["keys"]
        result = []
        for record in as_records(data):
            if not isinstance(record, dict):
                raise BlockError(f"key_filter works on objects; got a {type(record).__name__}")
            if mode == "include":
                kept: dict[str, Any] = {}
                for key in keys:
                    if has_path(record, key):
                        set_path(kept, key, get_path(record, key))
                result.append(kept)
            elif mode == "exclude":
                copy = json.loads(json.dumps(record, default=str)) if any("." in k for k in keys) else dict(record)
                for key in keys:
                    delete_path(copy, key)
                result.append(copy)
            else:
                result.append(_flatten(record, self.config["separator"]))
        return result


def _flatten(record: dict[str, Any], separator: str, prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in record.items():
        name = f"{prefix}{separator}{key}" if prefix else str(key)
        if isinstance(value, dict) and value:
            flat.update(_flatten(value, separator, name))
        else:
            flat[name] = value
    return flat


class HasData(Block):
    def process(self, port: str, data: Any) -> Emitted:
        empty = data in (None, [], {}, "")
        yield ("empty" if empty else "data"), data


class VariableSet(PassThrough):
    """Stores a value for later blocks of the same run (variable_get, expressions' `vars`)."""

    def transform(self, data: Any) -> Any:
        source = self.config["field"]
        if source:
            first = as_records(data)[:1]
            value = get_path(first[0], source) if first else None
        else:
            value = data
        self.ctx.variables[self.config["name"]] = value
        return data


class VariableGet(PassThrough):
    def transform(self, data: Any) -> Any:
        name = self.config["name"]
        if name not in self.ctx.variables:
            raise BlockError(f"variable {name!r} has not been set in this run; a variable_set block must run first")
        value = self.ctx.variables[name]
        target = self.config["targetField"]
        if not target:
            return value
        result = []
        for record in as_records(data):
            if not isinstance(record, dict):
                raise BlockError(f"targetField needs objects; got a {type(record).__name__}")
            copy = dict(record)
            set_path(copy, target, value)
            result.append(copy)
        return result


def _branch_ports(config: Mapping[str, Any]) -> tuple[str, ...]:
    return (*(c.get("port") for c in config.get("conditions") or () if isinstance(c, dict)), "else")


register(BlockType(
    "receiver", "Receiver", "Where a run starts: emits the API request body, or its test data for UI/CLI runs.",
    inputs=(), outputs=("out",),
    config=(ConfigField("testData", "json", "Data emitted when the flow is run from the app or the CLI "
                        "without data. Ignored for API launches."),
            ConfigField("queue", "string", "A named queue (Queues page) that throttles the runs of this flow; "
                        "empty: only the system queue.", default=""),
            *source_fields(default_batch_size=0)),
    impl=Receiver,
))
register(BlockType(
    "terminator", "Terminator", "Where a run ends: data on `in` becomes the run's result; data on `error` ends "
    "the run FATAL after the blocks on the way have run (e.g. an audit of the error).",
    inputs=("in", "error"), outputs=(), config=(), impl=Terminator,
))
register(BlockType(
    "console", "Console", "Writes a line to the run's console and passes its input on unchanged.",
    inputs=("in",), outputs=("out",),
    config=(ConfigField("message", "string", "The line to write.", default=""),
            ConfigField("includeData", "boolean", "Append the incoming data as JSON.", default=False)),
    impl=Console, category="Utility",
))
register(BlockType(
    "delay", "Delay", "Waits, then passes its input on; a kill or the flow's timeout interrupts the wait.",
    inputs=("in",), outputs=("out",),
    config=(ConfigField("ms", "integer", "How long to wait, in milliseconds.", required=True, minimum=0,
                        maximum=86_400_000),),
    impl=Delay, category="Utility",
))
register(BlockType(
    "fail", "Fail", "Ends the run as FATAL with a message (for testing error paths).",
    inputs=("in",), outputs=(),
    config=(ConfigField("message", "string", "The error message.", default="Failed on purpose"),),
    impl=Fail, category="Utility",
))
register(BlockType(
    "branch", "Branch", "Sends each record to the output of the first condition it meets, else to `else`.",
    inputs=("in",), outputs=("else",),
    config=(ConfigField("conditions", "list", "Checked in order; each names its output port.", default=[],
                        items=(ConfigField("port", "string", "The output's name.", required=True),
                               ConfigField("expression", "expression", "True for the records that go there, "
                                           "e.g. country == 'FR' and age >= 18", required=True))),),
    impl=Branch, dynamic_outputs=_branch_ports,
))
register(BlockType(
    "iterator", "Iterator", "Explodes a nested list: one record per item, with parent fields copied on.",
    inputs=("in",), outputs=("out",),
    config=(ConfigField("path", "string", "The field holding the list (dots for nested: order.lines).",
                        required=True),
            ConfigField("parentFields", "list", "Parent fields copied onto each item; [\"*\"] copies all.",
                        default=[], item_kind="string"),
            ConfigField("parentPrefix", "string", "Prefix for the copied parent fields.", default="parent_")),
    impl=Iterator, category="Transform",
))
register(BlockType(
    "merger", "Merger", "Joins several paths into one.",
    inputs=("a", "b", "c", "d"), outputs=("out",),
    config=(ConfigField("mode", "enum", "concat: pass batches on as they come; collect: one list once every "
                        "input has finished; zip: merge record i of each input into one record.",
                        default="concat", choices=("concat", "collect", "zip")),),
    impl=Merger,
))
register(BlockType(
    "key_filter", "Key Filter", "Keeps only some fields, drops some, or flattens nested objects.",
    inputs=("in",), outputs=("out",),
    config=(ConfigField("mode", "enum", "include, exclude or flatten.", default="include",
                        choices=("include", "exclude", "flatten")),
            ConfigField("keys", "list", "Fields (dots for nested) to keep or drop.", default=[], item_kind="string"),
            ConfigField("separator", "string", "Joins nested names when flattening.", default=".")),
    impl=KeyFilter, category="Transform",
))
register(BlockType(
    "has_data", "Has Data", "Sends non-empty data to `data` and empty data (nothing, [], {}) to `empty`.",
    inputs=("in",), outputs=("data", "empty"), config=(), impl=HasData,
))
register(BlockType(
    "variable_set", "Set Variable", "Keeps a value for later blocks of this run, and passes its input on.",
    inputs=("in",), outputs=("out",),
    config=(ConfigField("name", "string", "The variable's name.", required=True),
            ConfigField("field", "string", "A field of the first record to keep (empty: the whole data).",
                        default="")),
    impl=VariableSet, category="Variables",
))
register(BlockType(
    "variable_get", "Get Variable", "Emits a variable, or sets it as a field on each record.",
    inputs=("in",), outputs=("out",),
    config=(ConfigField("name", "string", "The variable's name.", required=True),
            ConfigField("targetField", "string", "Put the value in this field of each record (empty: emit the "
                        "value instead of the data).", default="")),
    impl=VariableGet, category="Variables",
))
