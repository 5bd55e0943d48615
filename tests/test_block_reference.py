"""docs/blocks.md is the registry's own description; a block change without a re-generated doc fails here."""

from pathlib import Path

from ziggy_desktop.engine import REGISTRY
from ziggy_desktop.engine.reference import block_reference_markdown

DOC = Path(__file__).resolve().parent.parent / "docs" / "blocks.md"


def test_the_block_reference_is_up_to_date():
    assert DOC.read_text(encoding="utf-8") == block_reference_markdown(), \
        "docs/blocks.md is stale: run .venv/bin/python scripts/block_reference.py"


def test_every_block_and_field_is_documented_with_help():
    text = block_reference_markdown()
    for block_type in REGISTRY.values():
        assert f"### `{block_type.type}`" in text
        assert block_type.description.strip(), block_type.type
        for config_field in block_type.config:
            assert config_field.help.strip(), f"{block_type.type}.{config_field.name} has no help text"
