"""Bundled resources (sample flows, icons) located the same way in source, wheel and frozen runs."""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib.resources import as_file, files
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

_PACKAGE = "ziggy_desktop.resources"
# Sample flows name their data as a source checkout has it; an installed or frozen app has it elsewhere.
SAMPLE_DATA_PREFIX = "resources/flows/data/"
_PATH_BLOCK_TYPES = frozenset({"file_read", "file_write"})
HELLO_WORLD = "hello-world.json"
_FIRST_SAMPLES = (HELLO_WORLD,)  # the simplest first: a newcomer's first run
SAMPLE_DESCRIPTIONS = {
    "hello-world.json": "Receives a body, logs it and returns it: the smallest complete flow.",
    "contacts-migration.json": "Reads 200 contacts from a CSV file, checks and maps them, upserts them into "
                               "HubSpot by email and audits every rejected row (needs a 'hubspot' connection).",
    "company-webhook.json": "Takes a company id from the API body, reads the company in HubSpot and updates its "
                            "name in a CRM database (needs 'hubspot' and 'crm-db' connections).",
}


@dataclass(frozen=True)
class SampleFlow:
    """One bundled sample: its file name, what it shows, and its flow document ready to save."""

    file_name: str
    name: str
    description: str
    document: dict[str, Any]


def resource(*parts: str) -> Traversable:
    node = files(_PACKAGE)
    for part in parts:
        node = node / part
    return node


def resource_file(*parts: str) -> Path:
    """A real file path (Qt loads icons from paths). Resources ship as files, so this stays valid."""
    with as_file(resource(*parts)) as path:
        return Path(path)


def sample_flow_text(name: str = HELLO_WORLD) -> str:
    return resource("flows", name).read_text(encoding="utf-8")


def sample_data_path(path: str) -> str:
    """A sample's `resources/flows/data/...` path as the packaged file's absolute path; other paths unchanged."""
    if not path.startswith(SAMPLE_DATA_PREFIX):
        return path
    parts = [part for part in path[len(SAMPLE_DATA_PREFIX):].split("/") if part]
    if not parts or ".." in parts or not resource("flows", "data", *parts).is_file():
        return path  # not a file we ship: the block's own check says what is missing
    return str(resource_file("flows", "data", *parts))


def sample_flow_document(name: str) -> dict[str, Any]:
    """A bundled sample as a document whose file blocks point at the data files shipped with the app."""
    document = json.loads(sample_flow_text(name))
    for block in document.get("blocks", []):
        config = block.get("config")
        if block.get("type") in _PATH_BLOCK_TYPES and isinstance(config, dict) \
                and isinstance(config.get("path"), str):
            config["path"] = sample_data_path(config["path"])
    return document


def sample_flow_names() -> list[str]:
    names = sorted(node.name for node in resource("flows").iterdir()
                   if node.name.endswith(".json") and node.is_file())
    first = [name for name in _FIRST_SAMPLES if name in names]
    return first + [name for name in names if name not in first]


def sample_flows() -> list[SampleFlow]:
    """Every bundled sample flow, the simplest first, each ready to save."""
    samples = []
    for file_name in sample_flow_names():
        document = sample_flow_document(file_name)
        description = SAMPLE_DESCRIPTIONS.get(file_name) or document.get("description") or \
            f"Tags: {', '.join(document.get('tags', [])) or 'none'}."
        samples.append(SampleFlow(file_name, str(document.get("name") or file_name), description, document))
    return samples
