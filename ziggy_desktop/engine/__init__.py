"""The flow engine: block registry, block library and the graph runner (no Qt, no tornado)."""

from . import basic_blocks  # noqa: F401 - registers the built-in blocks
from .registry import REGISTRY, BlockType, ConfigField, get_block_type
from .runner import CompiledFlow, RunContext, RunOutcome, compile_flow, run_flow

__all__ = [
    "REGISTRY", "BlockType", "ConfigField", "get_block_type",
    "CompiledFlow", "RunContext", "RunOutcome", "compile_flow", "run_flow",
]
