"""The block reference (docs/blocks.md), written from the registry so it never drifts from the code."""

from __future__ import annotations

import json
from typing import Any

from .registry import REGISTRY, ConfigField


def _default(value: Any) -> str:
    if value in (None, "", [], {}):
        return ""
    return f"`{json.dumps(value, ensure_ascii=False)}`"


def _kind(config_field: ConfigField) -> str:
    if config_field.kind == "enum":
        return " \\| ".join(f"`{c}`" for c in config_field.choices)
    if config_field.kind == "list" and config_field.item_kind:
        return f"list of {config_field.item_kind}"
    if config_field.kind == "connection" and config_field.connection_kind:
        return f"connection ({config_field.connection_kind})"
    return config_field.kind


def _field_rows(fields: tuple[ConfigField, ...], prefix: str = "") -> list[str]:
    rows = []
    for config_field in fields:
        required = "yes" if config_field.required else ""
        help_text = config_field.help.replace("|", "\\|").replace("\n", " ")
        rows.append(f"| `{prefix}{config_field.name}` | {_kind(config_field)} | {required} | "
                    f"{_default(config_field.default)} | {help_text} |")
        if config_field.items:
            rows.extend(_field_rows(config_field.items, f"{prefix}{config_field.name}[]."))
    return rows


def block_reference_markdown() -> str:
    lines = ["# Block reference", "",
             "Generated from the block registry by `scripts/block_reference.py`; do not edit by hand.", "",
             "Every block but the terminator also has an `error` output: when the block fails, a record "
             "`{executionId, flowUuid, blockId, blockName, blockType, message}` goes down it (e.g. to an audit "
             "block and the terminator's `error` input) before the run ends `FATAL`.", ""]
    by_category: dict[str, list] = {}
    for block_type in REGISTRY.values():
        by_category.setdefault(block_type.category, []).append(block_type)
    for category in sorted(by_category):
        lines += [f"## {category}", ""]
        for block_type in sorted(by_category[category], key=lambda b: b.type):
            outputs = ", ".join(f"`{p}`" for p in block_type.outputs) or "none"
            if block_type.dynamic_outputs:
                outputs += " (plus one per configured condition)"
            inputs = ", ".join(f"`{p}`" for p in block_type.inputs) or "none"
            lines += [f"### `{block_type.type}` — {block_type.title}", "", block_type.description, "",
                      f"Inputs: {inputs}. Outputs: {outputs}.", ""]
            if block_type.config:
                lines += ["| field | kind | required | default | meaning |", "| --- | --- | --- | --- | --- |",
                          *_field_rows(block_type.config), ""]
    return "\n".join(lines).rstrip() + "\n"
