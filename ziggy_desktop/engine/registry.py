"""The block contract: each block type declares its ports and a config schema, as data."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from ..errors import ValidationError

KINDS = ("string", "integer", "number", "boolean", "json", "enum")


@dataclass(frozen=True)
class ConfigField:
    """One setting of a block; also what the editor's property panel will show."""

    name: str
    kind: str
    help: str = ""
    default: Any = None
    required: bool = False
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None

    def to_json(self) -> dict[str, Any]:
        data = {"name": self.name, "kind": self.kind, "help": self.help, "default": self.default,
                "required": self.required}
        if self.choices:
            data["choices"] = list(self.choices)
        if self.minimum is not None:
            data["minimum"] = self.minimum
        if self.maximum is not None:
            data["maximum"] = self.maximum
        return data


# run(ctx, config, inputs) -> outputs; ports absent from the outputs emitted nothing.
BlockRun = Callable[[Any, Mapping[str, Any], Mapping[str, Any]], Mapping[str, Any]]


@dataclass(frozen=True)
class BlockType:
    type: str
    title: str
    description: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    config: tuple[ConfigField, ...]
    run: BlockRun = field(compare=False)

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, "title": self.title, "description": self.description,
                "inputs": list(self.inputs), "outputs": list(self.outputs),
                "config": [f.to_json() for f in self.config]}


REGISTRY: dict[str, BlockType] = {}


def register(block_type: BlockType) -> BlockType:
    if block_type.type in REGISTRY:
        raise RuntimeError(f"block type {block_type.type!r} registered twice")
    for config_field in block_type.config:
        if config_field.kind not in KINDS:
            raise RuntimeError(f"{block_type.type}.{config_field.name}: unknown kind {config_field.kind!r}")
    REGISTRY[block_type.type] = block_type
    return block_type


def get_block_type(type_name: str) -> BlockType:
    try:
        return REGISTRY[type_name]
    except KeyError:
        known = ", ".join(sorted(REGISTRY))
        raise ValidationError(f"unknown block type {type_name!r}; known types: {known}") from None


def _check_value(config_field: ConfigField, value: Any) -> str | None:
    """Return what is wrong with `value`, or None when it fits the field."""
    kind = config_field.kind
    if kind == "json":
        return None
    if kind in ("string", "enum"):
        if not isinstance(value, str):
            return "must be a string"
        if kind == "enum" and value not in config_field.choices:
            return f"must be one of {', '.join(config_field.choices)}"
        return None
    if kind == "boolean":
        return None if isinstance(value, bool) else "must be true or false"
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


def validate_config(block_type: BlockType, config: Any, where: str) -> dict[str, Any]:
    """Return the config with defaults filled in; raise ValidationError naming `where` and the field."""
    if config is None:
        config = {}
    if not isinstance(config, dict):
        raise ValidationError(f"{where}: 'config' must be an object")
    known = {f.name for f in block_type.config}
    unknown = sorted(set(config) - known)
    if unknown:
        allowed = ", ".join(sorted(known)) or "none"
        raise ValidationError(f"{where}: unknown config field(s) {', '.join(unknown)} (allowed: {allowed})")
    result: dict[str, Any] = {}
    for config_field in block_type.config:
        if config_field.name not in config or config[config_field.name] is None and config_field.kind != "json":
            if config_field.required:
                raise ValidationError(f"{where}: config.{config_field.name} is required ({config_field.help})")
            result[config_field.name] = config_field.default
            continue
        value = config[config_field.name]
        problem = _check_value(config_field, value)
        if problem:
            raise ValidationError(f"{where}: config.{config_field.name} {problem}")
        if config_field.kind == "integer":
            value = int(value)
        result[config_field.name] = value
    return result
