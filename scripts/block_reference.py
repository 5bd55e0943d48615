"""Writes docs/blocks.md from the block registry. Run: .venv/bin/python scripts/block_reference.py"""

from pathlib import Path

from ziggy_desktop.engine.reference import block_reference_markdown

TARGET = Path(__file__).resolve().parent.parent / "docs" / "blocks.md"

if __name__ == "__main__":
    TARGET.write_text(block_reference_markdown(), encoding="utf-8")
    print(f"wrote {TARGET}")
