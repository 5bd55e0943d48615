"""The built-in blocks of the foundation: receiver, terminator, console, delay and fail."""

from __future__ import annotations

import json
from typing import Any, Mapping

from .registry import BlockType, ConfigField, register
from .runner import BlockError, RunContext


def _receiver(ctx: RunContext, config: Mapping[str, Any], _inputs: Mapping[str, Any]) -> dict[str, Any]:
    # API launches pass the request body even when it is empty; only UI/CLI runs use test data.
    return {"out": config["testData"] if ctx.use_test_data else ctx.payload}


def _terminator(ctx: RunContext, _config: Mapping[str, Any], inputs: Mapping[str, Any]) -> dict[str, Any]:
    ctx.result = inputs.get("in")
    return {}


def _console(ctx: RunContext, config: Mapping[str, Any], inputs: Mapping[str, Any]) -> dict[str, Any]:
    data = inputs.get("in")
    line = config["message"]
    if config["includeData"]:
        line = f"{line} {json.dumps(data, ensure_ascii=False, default=str)}".strip()
    ctx.log(line)
    return {"out": data}


def _delay(ctx: RunContext, config: Mapping[str, Any], inputs: Mapping[str, Any]) -> dict[str, Any]:
    ctx.sleep(config["ms"] / 1000)
    return {"out": inputs.get("in")}


def _fail(_ctx: RunContext, config: Mapping[str, Any], _inputs: Mapping[str, Any]) -> dict[str, Any]:
    raise BlockError(config["message"])


register(BlockType(
    "receiver", "Receiver", "Where a run starts: emits the API request body, or its test data for UI/CLI runs.",
    inputs=(), outputs=("out",),
    config=(ConfigField("testData", "json", "Data emitted when the flow is run from the app or the CLI "
                        "without data. Ignored for API launches."),),
    run=_receiver,
))
register(BlockType(
    "terminator", "Terminator", "Where a run ends: its input becomes the run's result.",
    inputs=("in",), outputs=(), config=(), run=_terminator,
))
register(BlockType(
    "console", "Console", "Writes a line to the run's console and passes its input on unchanged.",
    inputs=("in",), outputs=("out",),
    config=(ConfigField("message", "string", "The line to write.", default=""),
            ConfigField("includeData", "boolean", "Append the incoming data as JSON.", default=False)),
    run=_console,
))
register(BlockType(
    "delay", "Delay", "Waits, then passes its input on; a kill or the flow's timeout interrupts the wait.",
    inputs=("in",), outputs=("out",),
    config=(ConfigField("ms", "integer", "How long to wait, in milliseconds.", required=True, minimum=0,
                        maximum=86_400_000),),
    run=_delay,
))
register(BlockType(
    "fail", "Fail", "Ends the run as FATAL with a message (for testing error paths).",
    inputs=("in",), outputs=(),
    config=(ConfigField("message", "string", "The error message.", default="Failed on purpose"),),
    run=_fail,
))
