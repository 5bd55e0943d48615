"""The safe expression language of conditions, mappings and templates (simpleeval; never eval())."""

from __future__ import annotations

import ast
import datetime as dt
import math
import re
from typing import Any, Callable, Mapping

import simpleeval

from ..errors import ValidationError
from .records import get_path

_TEMPLATE_PART = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)


def to_text(value: Any) -> str:
    """A value as text the way users write it: true/false, 3 not 3.0, nothing for null."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _parse_date(text: Any, fmt: str | None = None) -> str | None:
    """ISO-8601 date/time text from `text` (read with strptime `fmt` when given); None stays None."""
    if text in (None, ""):
        return None
    parsed = dt.datetime.strptime(str(text), fmt) if fmt else dt.datetime.fromisoformat(str(text))
    return parsed.isoformat()


def to_epoch_ms(text: Any) -> int | None:
    """Milliseconds since the epoch (HubSpot's date format) from ISO text; naive times are UTC."""
    if text in (None, ""):
        return None
    parsed = dt.datetime.fromisoformat(str(text))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.timezone.utc)
    return int(parsed.timestamp() * 1000)


def _coalesce(*values: Any) -> Any:
    return next((v for v in values if v not in (None, "")), None)


# What every expression can call; names explain themselves in the editor's help.
FUNCTIONS: dict[str, Callable[..., Any]] = {
    "str": to_text, "int": int, "float": float, "bool": bool, "len": len, "round": round, "abs": abs,
    "min": min, "max": max, "sum": sum, "sorted": sorted, "list": list, "dict": dict,
    "lower": lambda s: to_text(s).lower(), "upper": lambda s: to_text(s).upper(),
    "trim": lambda s: to_text(s).strip(), "title": lambda s: to_text(s).title(),
    "concat": lambda *parts: "".join(to_text(p) for p in parts),
    "join": lambda items, sep=",": sep.join(to_text(i) for i in items),
    "split": lambda s, sep=",": [p.strip() for p in to_text(s).split(sep)] if s not in (None, "") else [],
    "replace": lambda s, old, new: to_text(s).replace(old, new),
    "contains": lambda container, item: container is not None and item in container,
    "startswith": lambda s, prefix: to_text(s).startswith(prefix),
    "endswith": lambda s, suffix: to_text(s).endswith(suffix),
    "matches": lambda s, pattern: re.search(pattern, to_text(s)) is not None,
    "coalesce": _coalesce, "is_empty": lambda v: v in (None, "", [], {}),
    "get": lambda obj, path, default=None: get_path(obj, path, default),
    "now": lambda: dt.datetime.now(dt.timezone.utc).isoformat(),
    "today": lambda: dt.date.today().isoformat(),
    "parse_date": _parse_date, "epoch_ms": to_epoch_ms,
    "floor": math.floor, "ceil": math.ceil,
}


class Expression:
    """One parsed expression; parse once at compile time, evaluate per record."""

    def __init__(self, text: str, tree: ast.AST):
        self.text = text
        self.tree = tree

    def __repr__(self) -> str:
        return f"Expression({self.text!r})"


class Template:
    """Text with {{ expression }} parts; a template that is one part keeps the value's type."""

    def __init__(self, text: str, parts: list[str | Expression]):
        self.text = text
        self.parts = parts

    @property
    def is_static(self) -> bool:
        return all(isinstance(p, str) for p in self.parts)


_PARSER = simpleeval.EvalWithCompoundTypes()


def compile_expression(text: str, where: str) -> Expression:
    """Parse `text`; a syntax error is a ValidationError naming `where`."""
    if not isinstance(text, str) or not text.strip():
        raise ValidationError(f"{where}: the expression is empty")
    try:
        tree = _PARSER.parse(text.strip())
    except SyntaxError as exc:
        raise ValidationError(f"{where}: the expression {text!r} is not valid: {exc.msg}") from None
    return Expression(text.strip(), tree)


def compile_template(text: str, where: str) -> Template:
    parts: list[str | Expression] = []
    position = 0
    for match in _TEMPLATE_PART.finditer(text):
        if match.start() > position:
            parts.append(text[position:match.start()])
        parts.append(compile_expression(match.group(1), f"{where} ({{{{{match.group(1).strip()}}}}})"))
        position = match.end()
    if position < len(text):
        parts.append(text[position:])
    return Template(text, parts)


class Evaluator:
    """Evaluates expressions for one block of one run (not shared between threads).

    Names: `record` (the current record), each of its top-level fields by name, `vars` (the run's
    variables), `mode` (DEV/PROD), `executionId`; functions: FUNCTIONS plus `secret(name)`.
    """

    def __init__(self, variables: Mapping[str, Any] | None = None, mode: str = "DEV", execution_id: str = "",
                 secret: Callable[[str], str] | None = None):
        functions = dict(FUNCTIONS)
        if secret is not None:
            functions["secret"] = secret
        self._fixed = {"vars": variables if variables is not None else {}, "mode": mode,
                       "executionId": execution_id, "true": True, "false": False, "null": None}
        self._record: Any = None
        self._eval = simpleeval.EvalWithCompoundTypes(functions=functions, names=self._lookup)

    def _lookup(self, node: ast.Name) -> Any:
        name = node.id
        if name == "record":
            return self._record
        if isinstance(self._record, dict) and name in self._record:
            return self._record[name]
        if name in self._fixed:
            return self._fixed[name]
        raise simpleeval.NameNotDefined(name, "")

    def evaluate(self, expression: Expression, record: Any = None) -> Any:
        """The value, or ExpressionError saying which expression failed and why."""
        self._record = record
        try:
            return self._eval.eval(expression.text, previously_parsed=expression.tree)
        except simpleeval.NameNotDefined as exc:
            raise ExpressionError(f"{expression.text!r}: no field or name {exc.name!r}") from None
        except Exception as exc:  # noqa: BLE001 - any failure of user text is the user's, with its reason
            raise ExpressionError(f"{expression.text!r}: {type(exc).__name__}: {exc}") from None

    def render(self, template: Template, record: Any = None) -> Any:
        if len(template.parts) == 1 and isinstance(template.parts[0], Expression):
            return self.evaluate(template.parts[0], record)
        return "".join(p if isinstance(p, str) else to_text(self.evaluate(p, record)) for p in template.parts)


class ExpressionError(Exception):
    """An expression failed on a record (missing field, bad conversion); the message says which."""
