"""Helpers for the JSON on edges: records, dotted field paths and batches."""

from __future__ import annotations

from itertools import islice
from typing import Any, Iterable, Iterator

_MISSING = object()


def as_records(data: Any) -> list[Any]:
    """Edges carry JSON; record-oriented blocks see a list (None: no records, a value: one)."""
    if data is None:
        return []
    return data if isinstance(data, list) else [data]


def count_records(data: Any) -> int:
    if data is None:
        return 0
    return len(data) if isinstance(data, list) else 1


def get_path(obj: Any, path: str, default: Any = None) -> Any:
    """`a.b.0.c` into nested objects and lists; `default` when any step is missing."""
    if not path:
        return obj
    current = obj
    for part in path.split("."):
        if isinstance(current, dict):
            current = current.get(part, _MISSING)
        elif isinstance(current, list) and part.lstrip("-").isdigit():
            index = int(part)
            current = current[index] if -len(current) <= index < len(current) else _MISSING
        else:
            return default
        if current is _MISSING:
            return default
    return current


def has_path(obj: Any, path: str) -> bool:
    return get_path(obj, path, _MISSING) is not _MISSING


def set_path(obj: dict[str, Any], path: str, value: Any) -> None:
    """Set `a.b.c`, creating the objects on the way."""
    parts = path.split(".")
    current = obj
    for part in parts[:-1]:
        nxt = current.get(part)
        if not isinstance(nxt, dict):
            nxt = {}
            current[part] = nxt
        current = nxt
    current[parts[-1]] = value


def delete_path(obj: dict[str, Any], path: str) -> None:
    parts = path.split(".")
    current: Any = obj
    for part in parts[:-1]:
        current = current.get(part) if isinstance(current, dict) else None
        if current is None:
            return
    if isinstance(current, dict):
        current.pop(parts[-1], None)


def batched(items: Iterable[Any], batch_size: int, max_iterations: int = 0) -> Iterator[list[Any]]:
    """Lists of `batch_size` items (0: one list of everything), at most `max_iterations` (0: all)."""
    iterator = iter(items)
    produced = 0
    while not max_iterations or produced < max_iterations:
        batch = list(islice(iterator, batch_size)) if batch_size > 0 else list(iterator)
        if not batch:
            return
        produced += 1
        yield batch
        if batch_size <= 0:
            return
