"""The script block's worker process: runs the user's transform() for each request the pool sends.

Runs in a spawned child, never in the app process. It lives outside the engine package so a new
worker imports only the standard library, not every block and its dependencies. It speaks JSON over its end of a multiprocessing
Pipe (send_bytes/recv_bytes, never pickle, so the app never unpickles what user code could forge):
  request  {"code", "records", "context": {"execution_id", "mode", "secrets", "variables"}}
  replies  {"kind": "ready"} once at start; then per request any number of {"kind": "log", "message"}
           and one {"kind": "result", "records": [...] | null} or {"kind": "error", "type", "message",
           "line", "text"}.
"""

from __future__ import annotations

import builtins
import contextlib
import json
import multiprocessing
import os
import signal
import threading
import traceback
from types import CodeType
from typing import Any

SCRIPT_FILENAME = "<script>"  # how the user's code is named in tracebacks; its frames give the line
MAX_LOG_LINES = 1000  # per call; the run's console keeps no more than this anyway
MAX_LOG_CHARS = 4000
_CODE_CACHE_SIZE = 32


class ScriptContext:
    """The `ctx` argument of transform(records, ctx)."""

    def __init__(self, execution_id: str, mode: str, secrets: dict[str, str], variables: dict[str, Any],
                 send: Any):
        self.execution_id = execution_id
        self.mode = mode
        self.secrets = secrets
        self.variables = variables
        self._send = send
        self._lines = 0

    def log(self, message: Any) -> None:
        """A line for the run's console."""
        self._lines += 1
        if self._lines <= MAX_LOG_LINES:
            self._send({"kind": "log", "message": str(message)[:MAX_LOG_CHARS]})

    def __repr__(self) -> str:  # never show the secrets' values
        return f"ScriptContext(execution_id={self.execution_id!r}, mode={self.mode!r})"


class _ConsoleWriter:
    """print() in a script goes to the run's console, one line per complete line."""

    def __init__(self, ctx: ScriptContext):
        self._ctx = ctx
        self._pending = ""

    def write(self, text: str) -> int:
        self._pending += text
        *lines, self._pending = self._pending.split("\n")
        for line in lines:
            self._ctx.log(line)
        return len(text)

    def flush(self) -> None:
        if self._pending:
            self._ctx.log(self._pending)
            self._pending = ""


def _error_reply(exc: BaseException, code: str) -> dict[str, Any]:
    line = None
    if isinstance(exc, SyntaxError) and exc.filename == SCRIPT_FILENAME:
        line = exc.lineno
    else:
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == SCRIPT_FILENAME]
        if frames:
            line = frames[-1].lineno
    lines = code.splitlines()
    text = lines[line - 1].strip() if line and 0 < line <= len(lines) else ""
    return {"kind": "error", "type": type(exc).__name__, "message": str(exc), "line": line, "text": text}


def _problem(message: str) -> dict[str, Any]:
    return {"kind": "error", "type": "", "message": message, "line": None, "text": ""}


def _run(request: dict[str, Any], codes: dict[str, CodeType], send: Any) -> dict[str, Any]:
    code = request["code"]
    context = request["context"]
    ctx = ScriptContext(context["execution_id"], context["mode"], context["secrets"], context["variables"], send)
    writer = _ConsoleWriter(ctx)
    try:
        compiled = codes.get(code)
        if compiled is None:
            compiled = compile(code, SCRIPT_FILENAME, "exec")
            if len(codes) >= _CODE_CACHE_SIZE:
                codes.pop(next(iter(codes)))
            codes[code] = compiled
        # A fresh namespace per call: nothing a script leaves behind reaches the next call or run.
        namespace: dict[str, Any] = {"__name__": "ziggy_script", "__builtins__": builtins}
        with contextlib.redirect_stdout(writer):
            exec(compiled, namespace)  # noqa: S102 - this process exists to run the user's script
            transform = namespace.get("transform")
            if not callable(transform):
                return _problem("the script must define transform(records, ctx)")
            result = transform(request["records"], ctx)
    except BaseException as exc:  # noqa: BLE001 - SystemExit and the like are the script's failures too
        writer.flush()
        return _error_reply(exc, code)
    writer.flush()
    if result is not None and not isinstance(result, list):
        return _problem(f"transform() must return a list of records (or None for no output), not a value of "
                        f"type {type(result).__name__}")
    return {"kind": "result", "records": result}


def _exit_with_parent() -> None:
    """A worker outlives no app: when the parent process dies, so does the worker (even mid-loop)."""
    parent = multiprocessing.parent_process()
    if parent is not None:
        parent.join()
        os._exit(0)


def serve(conn: Any) -> None:
    """The worker's main loop (the target of the pool's multiprocessing.Process)."""
    # Ctrl+C in a terminal reaches the whole process group; the pool stops its workers itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_exit_with_parent, name="ziggy-script-watchdog", daemon=True).start()

    def send(message: dict[str, Any]) -> None:
        conn.send_bytes(json.dumps(message, ensure_ascii=False).encode())

    codes: dict[str, CodeType] = {}
    send({"kind": "ready"})
    while True:
        try:
            request = json.loads(conn.recv_bytes())
        except (EOFError, OSError):
            return  # the pool closed its end: nothing more to do
        reply = _run(request, codes, send)
        try:
            payload = json.dumps(reply, ensure_ascii=False, allow_nan=False)
        except (TypeError, ValueError) as exc:
            payload = json.dumps(_problem(f"transform() returned data that is not JSON ({exc}); return lists of "
                                          f"objects made of strings, numbers, booleans, null, lists and objects"))
        conn.send_bytes(payload.encode())
