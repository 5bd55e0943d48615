"""map: field mapping and transforms with the safe expression language."""

from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from ...errors import ValidationError
from ..block import Block, Emitted
from ..expressions import Evaluator, Expression, ExpressionError, to_epoch_ms, to_text, compile_expression
from ..records import as_records, get_path
from ..registry import BlockType, ConfigField, register

CHECK_EVERY = 1000  # records between kill/timeout checks inside one batch
_TRUE_WORDS = frozenset({"true", "t", "yes", "y", "1", "on"})
_FALSE_WORDS = frozenset({"false", "f", "no", "n", "0", "off"})


class _Reject(Exception):
    """One mapping failed on one record: the record goes to `rejected` with this reason."""


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:57]}..."


# -- named transforms: each takes a present (not None, not "") value and returns the new one --------------

def _text(value: Any) -> str:
    # Objects and lists become JSON, not Python's repr; scalars read the same as the expression str().
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return to_text(value)


def _to_int(value: Any) -> int:
    if value.__class__ is str:  # the common case first: text from a CSV file or a form
        try:
            return int(value)  # int() and float() ignore surrounding spaces themselves
        except ValueError:
            value = float(value)  # "12.0" is a whole number too; "12.5" fails below
    elif isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError(f"{_show(value)} is not a whole number")
        return int(value)
    raise TypeError(f"cannot make an integer of a {type(value).__name__}")


def _to_float(value: Any) -> float:
    if value.__class__ is str or isinstance(value, (int, float)) and not isinstance(value, bool):
        number = float(value)
        if not math.isfinite(number):
            raise ValueError(f"{_show(value)} is not a finite number")
        return number
    raise TypeError(f"cannot make a number of a {type(value).__name__}")


def _to_bool(value: Any) -> bool:
    if value.__class__ is str:
        word = value.strip().lower()
        if word in _TRUE_WORDS:
            return True
        if word in _FALSE_WORDS:
            return False
        raise ValueError(f"{_show(value)} is not a yes/no value (true/false, yes/no, 1/0, on/off)")
    if isinstance(value, (bool, int, float)):
        return value != 0
    raise TypeError(f"cannot make true/false of a {type(value).__name__}")


def _to_iso_date(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected ISO date text, got a {type(value).__name__}")
    text = value.strip()
    if len(text) == 10:  # a plain date stays a date (no midnight added)
        return dt.date.fromisoformat(text).isoformat()
    return dt.datetime.fromisoformat(text).isoformat()


def _to_epoch(value: Any) -> int:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return int(value)  # already a timestamp in milliseconds
    if not isinstance(value, str):
        raise TypeError(f"expected ISO date text, got a {type(value).__name__}")
    return to_epoch_ms(value.strip())


TRANSFORMS: dict[str, Callable[[Any], Any] | None] = {
    "none": None,
    "trim": lambda v: (v if v.__class__ is str else _text(v)).strip(),
    "lower": lambda v: (v if v.__class__ is str else _text(v)).lower(),
    "upper": lambda v: (v if v.__class__ is str else _text(v)).upper(),
    "int": _to_int,
    "float": _to_float,
    "bool": _to_bool,
    "string": _text,
    "date": _to_iso_date,
    "epoch_ms": _to_epoch,
}


@dataclass(frozen=True)
class MappingSpec:
    """One mapping, checked and pre-compiled once per flow version."""

    label: str  # names the mapping in a rejection reason
    target: tuple[str, ...]  # the target path, split
    source: str  # a dotted source path ("" when an expression gives the value)
    expression: Expression | None
    transform_name: str
    transform: Callable[[Any], Any] | None
    default: Any
    required: bool


@dataclass(frozen=True)
class PreparedMap:
    mappings: tuple[MappingSpec, ...]
    keep_unmapped: bool


def _check_path(path: str, where: str) -> None:
    if not path.strip() or any(not part for part in path.split(".")):
        raise ValidationError(f"{where} {path!r} must be a field name, with dots for nested fields "
                              f"(e.g. address.city)")


def _prepare_mappings(config: Mapping[str, Any], where: str) -> PreparedMap:
    specs = []
    for index, mapping in enumerate(config["mappings"]):
        item = f"{where}: config.mappings[{index}]"
        target = mapping["target"]
        _check_path(target, f"{item}.target")
        expression = None
        if mapping["expression"]:
            expression = compile_expression(mapping["expression"], f"{item}.expression")
        source = "" if expression else (mapping["source"] or target)  # no source: the field keeps its name
        if not expression:
            _check_path(source, f"{item}.source")
        name = mapping["transform"]
        specs.append(MappingSpec(f"mappings[{index}] ({target})", tuple(target.split(".")), source, expression,
                                 name, TRANSFORMS[name], mapping["default"], mapping["required"]))
    if not specs and not config["keepUnmapped"]:
        raise ValidationError(f"{where}: config.mappings is empty; add a mapping or turn on keepUnmapped")
    return PreparedMap(tuple(specs), config["keepUnmapped"])


def _setter(target: tuple[str, ...]) -> Callable[[dict[str, Any], Any], None]:
    if len(target) == 1:
        key = target[0]

        def set_top(out: dict[str, Any], value: Any) -> None:
            out[key] = value
        return set_top
    parents, last = target[:-1], target[-1]

    def set_nested(out: dict[str, Any], value: Any) -> None:
        # Copy each object on the way: it may be shared with the input record (keepUnmapped, or a
        # whole object mapped earlier), which must never change under other blocks' feet.
        current = out
        for part in parents:
            inner = current.get(part)
            inner = dict(inner) if isinstance(inner, dict) else {}
            current[part] = inner
            current = inner
        current[last] = value
    return set_nested


def _getter(source: str) -> Callable[[dict[str, Any]], Any]:
    if "." not in source:
        return lambda record: record.get(source)
    return lambda record: get_path(record, source)


Step = Callable[[dict[str, Any], dict[str, Any]], None]


def _step(spec: MappingSpec, evaluator: Evaluator) -> Step:
    """A function that applies one mapping of `spec` to (input record, output record)."""
    transform, default, required, label = spec.transform, spec.default, spec.required, spec.label
    has_default, name = default is not None, spec.transform_name
    put = _setter(spec.target)
    if spec.expression is not None:
        expression = spec.expression
        evaluate = evaluator.evaluate

        def fetch(record: dict[str, Any]) -> Any:
            try:
                return evaluate(expression, record)
            except ExpressionError as exc:
                raise _Reject(f"{label}: expression {exc}") from None
        what = "the expression gave no value"
    else:
        fetch = _getter(spec.source)
        what = f"field {spec.source!r} is missing or empty"

    def apply(record: dict[str, Any], out: dict[str, Any]) -> None:
        value = fetch(record)
        if value is not None and value != "" and transform is not None:
            try:
                value = transform(value)
            except (ValueError, TypeError, OverflowError) as exc:
                raise _Reject(f"{label}: transform {name} failed on {_show(value)}: {exc}") from None
        if value is None or value == "":
            if has_default:
                value = default
            elif required:
                raise _Reject(f"{label}: required, but {what}")
        put(out, value)
    return apply


# The fallback of a plain mapping for a missing/empty value: keep it as it is, or reject the record.
_KEEP, _REQUIRED = object(), object()

# A mapping as the per-record loop runs it: (source key, target key, transform, fallback, general step,
# index). Plain mappings (top-level field to top-level field, no expression) run inline in that loop,
# without a call per mapping; the others run their general step (a closure) instead.
PlanItem = tuple[str, str, Callable[[Any], Any] | None, Any, Step | None, int]


def _is_plain(spec: MappingSpec) -> bool:
    return spec.expression is None and "." not in spec.source and len(spec.target) == 1


def _plan(specs: tuple[MappingSpec, ...], evaluator: Evaluator) -> tuple[PlanItem, ...]:
    plan = []
    for index, spec in enumerate(specs):
        if _is_plain(spec):
            fallback = spec.default if spec.default is not None else _REQUIRED if spec.required else _KEEP
            plan.append((spec.source, spec.target[0], spec.transform, fallback, None, index))
        else:
            plan.append(("", "", None, _KEEP, _step(spec, evaluator), index))
    return tuple(plan)


def _transform_failed(spec: MappingSpec, value: Any, exc: Exception) -> _Reject:
    return _Reject(f"{spec.label}: transform {spec.transform_name} failed on {_show(value)}: {exc}")


def _missing(spec: MappingSpec) -> _Reject:
    return _Reject(f"{spec.label}: required, but field {spec.source!r} is missing or empty")


class Mapper(Block):
    """Builds each output record from its mappings; a record a mapping fails on goes to `rejected`."""

    @classmethod
    def prepare(cls, config: Mapping[str, Any], where: str) -> PreparedMap:
        return _prepare_mappings(config, where)

    def __init__(self, *args: Any):
        super().__init__(*args)
        ctx = self.ctx
        evaluator = Evaluator(ctx.variables, ctx.mode, ctx.execution_id, ctx.secret)
        self.plan = _plan(self.prepared.mappings, evaluator)

    def process(self, port: str, data: Any) -> Emitted:
        records = as_records(data)
        mapped: list[Any] = []
        rejected: list[dict[str, Any]] = []
        plan, keep, check, specs = self.plan, self.prepared.keep_unmapped, self.ctx.check, self.prepared.mappings
        keep_value, required = _KEEP, _REQUIRED
        for start in range(0, len(records), CHECK_EVERY):
            check()
            for record in records[start:start + CHECK_EVERY] if len(records) > CHECK_EVERY else records:
                if not isinstance(record, dict):
                    rejected.append({"record": record, "reason": f"not an object (got a {type(record).__name__})"})
                    continue
                out = dict(record) if keep else {}
                get = record.get
                try:
                    # Hot loop: keep it flat (see PlanItem); the general step has the same rules.
                    for source, target, transform, fallback, step, index in plan:
                        if step is not None:
                            step(record, out)
                            continue
                        value = get(source)
                        if transform is not None and value is not None and value != "":
                            try:
                                value = transform(value)
                            except (ValueError, TypeError, OverflowError) as exc:
                                raise _transform_failed(specs[index], value, exc) from None
                        if (value is None or value == "") and fallback is not keep_value:
                            if fallback is required:
                                raise _missing(specs[index])
                            value = fallback
                        out[target] = value
                except _Reject as reject:
                    rejected.append({"record": record, "reason": str(reject)})
                    continue
                mapped.append(out)
        # An empty batch still goes on (a has_data block downstream may want to see it).
        if mapped or not rejected:
            yield "out", mapped
        if rejected:
            yield "rejected", rejected


_MAPPING_FIELDS = (
    ConfigField("target", "string", "The output field (dots for nested: address.city).", required=True),
    ConfigField("source", "string", "The input field (dots for nested); empty: the same name as the target.",
                default=""),
    ConfigField("expression", "expression", "Computes the value instead of a source field, e.g. "
                "concat(first, ' ', last); wins over source.", default=""),
    ConfigField("transform", "enum", "Applied to the value: trim, lower, upper, int, float, bool, string, "
                "date (ISO-8601 text), epoch_ms (milliseconds since 1970 from ISO text).", default="none",
                choices=tuple(TRANSFORMS)),
    ConfigField("default", "json", "Used when the value is missing or empty (not transformed)."),
    ConfigField("required", "boolean", "A record without a value (and no default) goes to `rejected`.",
                default=False),
)

register(BlockType(
    "map", "Map", "Builds each record from field mappings and transforms; a record a mapping fails on goes to "
    "`rejected` as {record, reason}, without failing the run.",
    inputs=("in",), outputs=("out", "rejected"),
    config=(ConfigField("mappings", "list", "Applied in order; a later mapping may overwrite an earlier target.",
                        default=[], items=_MAPPING_FIELDS),
            ConfigField("keepUnmapped", "boolean", "Start each output record from a copy of the input record "
                        "(otherwise only the mapped fields are kept).", default=False)),
    impl=Mapper, category="Transform",
))
