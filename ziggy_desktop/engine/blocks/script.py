"""script: user Python run in a separate worker process with a per-call timeout."""

from __future__ import annotations

import ast
from typing import Any, Mapping

from ...errors import ValidationError
from ..block import Block, Emitted
from ..records import as_records
from ..registry import BlockType, ConfigField, register
from ..script_pool import ScriptPool
from ...script_worker import SCRIPT_FILENAME

EXAMPLE = '''def transform(records, ctx):
    ctx.log(f"{len(records)} records in {ctx.mode}")
    return [dict(r, seen=True) for r in records]
'''


def _check_code(code: str, where: str) -> None:
    """Compile (never run) the code and make sure it defines transform(records, ctx)."""
    field = f"{where}: config.code"
    try:
        compile(code, SCRIPT_FILENAME, "exec")
        tree = ast.parse(code, SCRIPT_FILENAME)
    except SyntaxError as exc:
        raise ValidationError(f"{field} has a syntax error at line {exc.lineno}: {exc.msg}") from None
    except ValueError as exc:  # e.g. a NUL character pasted into the code
        raise ValidationError(f"{field} cannot be compiled: {exc}") from None
    functions = [node for node in tree.body if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
                 and node.name == "transform"]
    if not functions:
        raise ValidationError(f"{field} must define a top-level function `def transform(records, ctx):` that "
                              f"returns a list of records (or None)")
    function = functions[-1]
    if isinstance(function, ast.AsyncFunctionDef):
        raise ValidationError(f"{field}: transform must be a plain `def`, not `async def`")
    args = function.args
    positional = len(args.posonlyargs) + len(args.args)
    required = positional - len(args.defaults)
    if required > 2 or (positional < 2 and args.vararg is None):
        raise ValidationError(f"{field}: transform must take two arguments, (records, ctx)")


class Script(Block):
    """Sends each batch to transform(records, ctx) in a worker process and passes on what it returns."""

    @classmethod
    def prepare(cls, config: Mapping[str, Any], where: str) -> Any:
        _check_code(config["code"], where)
        return None

    def __init__(self, *args: Any):
        super().__init__(*args)
        self._own_pool: ScriptPool | None = None
        self._secrets: dict[str, str] | None = None

    def _pool(self) -> ScriptPool:
        shared = self.ctx.resources.scripts
        if shared is not None:
            return shared
        # No app-wide pool (unit tests, a bare engine): one worker for this run, stopped in close().
        if self._own_pool is None:
            self._own_pool = ScriptPool(max_workers=1)
        return self._own_pool

    def process(self, port: str, data: Any) -> Emitted:
        ctx = self.ctx
        if self._secrets is None:
            self._secrets = ctx.secrets()
        context = {"execution_id": ctx.execution_id, "mode": ctx.mode, "secrets": self._secrets,
                   "variables": ctx.variables}  # sent as JSON: the script gets a copy
        result = self._pool().run(self.config["code"], as_records(data), context, self.config["timeoutSeconds"],
                                  check=ctx.check, log_line=ctx.log)
        if result is not None:
            yield "out", result

    def close(self) -> None:
        if self._own_pool is not None:
            self._own_pool.close()
            self._own_pool = None


register(BlockType(
    "script", "Script", "Runs your Python on each batch in a separate worker process: define "
    "transform(records, ctx) returning a list of records (or None). ctx has execution_id, mode, secrets, "
    "variables and log(message); print() also goes to the console.",
    inputs=("in",), outputs=("out",),
    config=(ConfigField("code", "code", f"Python that defines transform(records, ctx), e.g.\n{EXAMPLE}",
                        required=True),
            ConfigField("timeoutSeconds", "number", "Longest time one call may take; a script still running "
                        "then is stopped and the run fails.", default=30, minimum=0.1, maximum=86_400)),
    impl=Script, category="Transform",
))
