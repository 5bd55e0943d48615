"""Bundled resources (sample flows, icons) located the same way in source, wheel and frozen runs."""

from __future__ import annotations

from importlib.resources import as_file, files
from importlib.resources.abc import Traversable
from pathlib import Path

_PACKAGE = "ziggy_desktop.resources"


def resource(*parts: str) -> Traversable:
    node = files(_PACKAGE)
    for part in parts:
        node = node / part
    return node


def resource_file(*parts: str) -> Path:
    """A real file path (Qt loads icons from paths). Resources ship as files, so this stays valid."""
    with as_file(resource(*parts)) as path:
        return Path(path)


def sample_flow_text(name: str = "hello-world.json") -> str:
    return resource("flows", name).read_text(encoding="utf-8")
