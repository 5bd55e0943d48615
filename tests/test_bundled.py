"""Bundled sample flows: listed with their descriptions, and their data paths point at the packaged files."""

from __future__ import annotations

from pathlib import Path

from ziggy_desktop import bundled
from ziggy_desktop.flows import validate_flow


def test_sample_flows_lists_every_sample_simplest_first() -> None:
    samples = bundled.sample_flows()
    names = [sample.file_name for sample in samples]
    assert names[0] == "hello-world.json"
    assert sorted(names) == sorted(node.name for node in bundled.resource("flows").iterdir()
                                   if node.name.endswith(".json"))
    for sample in samples:
        assert sample.description and validate_flow(sample.document)["name"] == sample.name


def test_sample_data_paths_become_the_packaged_files() -> None:
    migration = bundled.sample_flow_document("contacts-migration.json")
    path = Path(next(b for b in migration["blocks"] if b["type"] == "file_read")["config"]["path"])
    assert path.is_absolute() and path == bundled.resource_file("flows", "data", "contacts.csv")
    assert path.read_text(encoding="utf-8-sig").startswith("Contact ID")


def test_other_paths_are_left_for_the_block_to_judge() -> None:
    for path in ("exports/out.csv", "/tmp/contacts.csv", "resources/flows/data/missing.csv",
                 "resources/flows/data/../hello-world.json", "resources/flows/data/"):
        assert bundled.sample_data_path(path) == path
