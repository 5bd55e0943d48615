"""The flow engine: block contract and registry, the block library and the graph runner (no Qt, no tornado)."""

from . import blocks  # noqa: F401 - registers the built-in blocks
from .block import Block, PassThrough, source_fields
from .context import BlockError, RunContext, RunResources, RunStopped
from .registry import ERROR_PORT, REGISTRY, BlockType, ConfigField, get_block_type, register
from .runner import CompiledFlow, RunOutcome, compile_flow, run_flow

__all__ = [
    "Block", "PassThrough", "source_fields", "BlockError", "RunContext", "RunResources", "RunStopped",
    "ERROR_PORT", "REGISTRY", "BlockType", "ConfigField", "get_block_type", "register",
    "CompiledFlow", "RunOutcome", "compile_flow", "run_flow",
]
