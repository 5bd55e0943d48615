"""A block's settings made readable from the registry's schema (title, description, each field with its help)."""

from __future__ import annotations

import json
import re
from html import escape
from typing import Any

from PySide6.QtGui import QPalette

from ..engine import REGISTRY

MAX_VALUE_CHARS = 400  # a long test data set or script is cut: the flow file has it whole
KIND_WORDS = {"hubspot": "HubSpot", "sql": "SQL", "rest": "REST"}


def field_title(name: str) -> str:
    """batchSize -> Batch size; testData -> Test data."""
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name).split()
    if not words:
        return name
    text = " ".join([words[0], *(w.lower() if not w.isupper() else w for w in words[1:])])
    return text[:1].upper() + text[1:]


def _cut(text: str) -> str:
    return text if len(text) <= MAX_VALUE_CHARS else f"{text[:MAX_VALUE_CHARS]}… ({len(text):,} characters)"


def value_html(field: dict[str, Any], value: Any) -> str:
    """How one setting's value reads: plain words for scalars, JSON or code in a monospaced block."""
    kind = field.get("kind")
    if value is None or value == "" or value == [] or value == {}:
        return "<i>none</i>"
    if kind == "boolean" or isinstance(value, bool):
        return "yes" if value else "no"
    if kind == "connection":
        connection_kind = KIND_WORDS.get(field.get("connectionKind", ""), "")
        return f"<b>{escape(str(value))}</b>" + (f" ({connection_kind} connection)" if connection_kind else "")
    if kind in ("code", "template", "expression") and isinstance(value, str):
        return f"<pre>{escape(_cut(value))}</pre>"
    if isinstance(value, (dict, list)):
        return f"<pre>{escape(_cut(json.dumps(value, indent=1, ensure_ascii=False, default=str)))}</pre>"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int):
        return f"{value:,}"
    return escape(_cut(str(value)))


def block_settings_html(block: dict[str, Any], palette: QPalette) -> str:
    """The block's type description, then every setting of its schema: value (or default) and help."""
    muted = palette.color(QPalette.ColorRole.PlaceholderText).name()
    known = REGISTRY.get(block.get("type", ""))
    config = block.get("config") or {}
    if known is None:
        return (f"<p>Unknown block type <b>{escape(str(block.get('type')))}</b>; its settings as stored:</p>"
                f"<pre>{escape(_cut(json.dumps(config, indent=1, default=str)))}</pre>")
    schema = known.to_json()
    parts = [f"<p><b>{escape(schema['title'])}</b> — {escape(schema['description'])}</p>"]
    ports = []
    if schema["inputs"]:
        ports.append(f"in: {', '.join(schema['inputs'])}")
    ports.append(f"out: {', '.join(schema['outputs'])}" + (" and one per condition" if schema["dynamicOutputs"]
                                                            else ""))
    parts.append(f"<p style='color:{muted}'>Ports {escape(' · '.join(ports))}</p>")
    if not schema["config"]:
        parts.append("<p>This block has no settings.</p>")
    for field in schema["config"]:
        name = field["name"]
        is_set = name in config and config[name] is not None
        value = config[name] if is_set else field.get("default")
        note = "" if is_set else f" <span style='color:{muted}'>(default)</span>"
        required = " <span style='color:{0}'>required</span>".format(muted) if field.get("required") else ""
        parts.append(f"<p style='margin-bottom:0'><b>{escape(field_title(name))}</b>{required}: "
                     f"{value_html(field, value)}{note}</p>")
        if field.get("help"):
            parts.append(f"<p style='color:{muted}; margin-top:0'>{escape(field['help'])}</p>")
    unknown = sorted(set(config) - {f["name"] for f in schema["config"]})
    if unknown:
        parts.append(f"<p>Not in this block's schema: {escape(', '.join(unknown))}</p>")
    return "".join(parts)
