"""The block contract's data side: each block type declares its ports and a config schema."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from ..errors import ValidationError

# What a config field holds; the editor's property panel picks its widget from the kind.
KINDS = (
    "string", "integer", "number", "boolean", "json", "enum",
    "list",        # a list: of objects shaped by `items`, or of scalars of `item_kind`
    "object",      # a JSON object (e.g. headers)
    "expression",  # one expression of the safe expression language (engine/expressions.py)
    "template",    # text with {{ expression }} parts, e.g. a URL or a body
    "code",        # Python for the script block (runs in a separate process)
    "connection",  # the name of a connection of `connection_kind`
    "queue",       # the name of a named queue
    "path",        # a local file path
)
STRING_KINDS = ("string", "enum", "expression", "template", "code", "connection", "queue", "path")
ERROR_PORT = "error"  # every block but the terminator has it: where its failure record goes


@dataclass(frozen=True)
class ConfigField:
    """One setting of a block; also what the editor's property panel shows."""

    name: str
    kind: str
    help: str = ""
    default: Any = None
    required: bool = False
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    items: tuple["ConfigField", ...] = ()  # kind "list" of objects: the fields of each object
    item_kind: str | None = None  # kind "list" of scalars: the kind of each item
    connection_kind: str | None = None  # kind "connection": hubspot | sql | rest

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"name": self.name, "kind": self.kind, "help": self.help, "default": self.default,
                                "required": self.required}
        for key, value in (("choices", list(self.choices)), ("minimum", self.minimum), ("maximum", self.maximum),
                           ("items", [f.to_json() for f in self.items]), ("itemKind", self.item_kind),
                           ("connectionKind", self.connection_kind)):
            if value not in (None, []):
                data[key] = value
        return data


@dataclass(frozen=True)
class BlockType:
    type: str
    title: str
    description: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    config: tuple[ConfigField, ...]
    impl: type = field(compare=False)  # a Block subclass (engine/block.py); its prepare() checks the config
    # Blocks whose outputs depend on the config (branch: one port per condition).
    dynamic_outputs: Callable[[Mapping[str, Any]], tuple[str, ...]] | None = field(default=None, compare=False)
    category: str = "Flow"

    def output_ports(self, config: Mapping[str, Any]) -> tuple[str, ...]:
        return self._with_error_port(self.dynamic_outputs(config) if self.dynamic_outputs else self.outputs)

    def _with_error_port(self, ports: tuple[str, ...]) -> tuple[str, ...]:
        return ports if self.type == "terminator" else (*ports, ERROR_PORT)

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, "title": self.title, "description": self.description, "category": self.category,
                "inputs": list(self.inputs), "outputs": list(self._with_error_port(self.outputs)),
                "dynamicOutputs": self.dynamic_outputs is not None, "config": [f.to_json() for f in self.config]}


REGISTRY: dict[str, BlockType] = {}


def _check_field_schema(block_type: str, config_field: ConfigField) -> None:
    where = f"{block_type}.{config_field.name}"
    if config_field.kind not in KINDS:
        raise RuntimeError(f"{where}: unknown kind {config_field.kind!r}")
    if config_field.kind == "enum" and not config_field.choices:
        raise RuntimeError(f"{where}: an enum needs choices")
    if config_field.item_kind is not None and config_field.item_kind not in KINDS:
        raise RuntimeError(f"{where}: unknown item kind {config_field.item_kind!r}")
    for item in config_field.items:
        _check_field_schema(where, item)


def register(block_type: BlockType) -> BlockType:
    if block_type.type in REGISTRY:
        raise RuntimeError(f"block type {block_type.type!r} registered twice")
    for config_field in block_type.config:
        _check_field_schema(block_type.type, config_field)
    REGISTRY[block_type.type] = block_type
    return block_type


def get_block_type(type_name: str) -> BlockType:
    try:
        return REGISTRY[type_name]
    except KeyError:
        known = ", ".join(sorted(REGISTRY))
        raise ValidationError(f"unknown block type {type_name!r}; known types: {known}") from None


def _check_scalar(kind: str, config_field: ConfigField, value: Any) -> str | None:
    """Return what is wrong with `value` for `kind`, or None when it fits."""
    if kind == "json":
        return None
    if kind in STRING_KINDS:
        if not isinstance(value, str):
            return "must be a string"
        if kind == "enum" and value not in config_field.choices:
            return f"must be one of {', '.join(config_field.choices)}"
        if kind in ("connection", "queue") and not value.strip():
            return "must name one (it is empty)"
        return None
    if kind == "boolean":
        return None if isinstance(value, bool) else "must be true or false"
    if kind == "object":
        return None if isinstance(value, dict) else "must be an object"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return f"must be a{'n integer' if kind == 'integer' else ' number'}"
    if kind == "integer" and not float(value).is_integer():
        return "must be a whole number"
    if isinstance(value, float) and not math.isfinite(value):
        return "must be a finite number"
    if config_field.minimum is not None and value < config_field.minimum:
        return f"must be at least {config_field.minimum:g}"
    if config_field.maximum is not None and value > config_field.maximum:
        return f"must be at most {config_field.maximum:g}"
    return None


def _validate_value(config_field: ConfigField, value: Any, where: str) -> Any:
    if config_field.kind != "list":
        problem = _check_scalar(config_field.kind, config_field, value)
        if problem:
            raise ValidationError(f"{where} {problem}")
        return int(value) if config_field.kind == "integer" else value
    if not isinstance(value, list):
        raise ValidationError(f"{where} must be a list")
    result = []
    for index, item in enumerate(value):
        item_where = f"{where}[{index}]"
        if config_field.items:
            result.append(_validate_fields(config_field.items, item, item_where))
        elif config_field.item_kind:
            problem = _check_scalar(config_field.item_kind, config_field, item)
            if problem:
                raise ValidationError(f"{item_where} {problem}")
            result.append(item)
        else:
            result.append(item)
    return result


def _validate_fields(fields: tuple[ConfigField, ...], config: Any, where: str) -> dict[str, Any]:
    if config is None:
        config = {}
    if not isinstance(config, dict):
        raise ValidationError(f"{where} must be an object")
    known = {f.name for f in fields}
    unknown = sorted(set(config) - known)
    if unknown:
        allowed = ", ".join(sorted(known)) or "none"
        raise ValidationError(f"{where}: unknown field(s) {', '.join(unknown)} (allowed: {allowed})")
    result: dict[str, Any] = {}
    for config_field in fields:
        value = config.get(config_field.name)
        # An optional connection/queue left empty in the editor means "none" (its default), not a bad name.
        blank_means_default = config_field.required or config_field.kind in ("connection", "queue")
        missing = value is None and config_field.kind != "json" or value == "" and blank_means_default
        if config_field.name not in config or missing:
            if config_field.required:
                raise ValidationError(f"{where}.{config_field.name} is required ({config_field.help})")
            result[config_field.name] = config_field.default
            continue
        result[config_field.name] = _validate_value(config_field, value, f"{where}.{config_field.name}")
    return result


def validate_config(block_type: BlockType, config: Any, where: str) -> dict[str, Any]:
    """Return the config with defaults filled in; raise ValidationError naming `where` and the field."""
    if config is not None and not isinstance(config, dict):
        raise ValidationError(f"{where}: 'config' must be an object")
    result = _validate_fields(block_type.config, config, f"{where}: config")
    block_type.impl.prepare(result, where)
    return result
