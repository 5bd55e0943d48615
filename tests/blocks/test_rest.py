"""The rest block and the HTTP helper, against a real HTTP server on a free loopback port."""

from __future__ import annotations

import base64
import datetime as dt
import json
import threading
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator
from urllib.parse import parse_qs, urlsplit

import pytest

from ziggy_desktop.engine import RunContext, compile_flow, run_flow
from ziggy_desktop.engine import http as zhttp
from ziggy_desktop.engine.context import RunResources
from ziggy_desktop.engine.registry import REGISTRY, validate_config
from ziggy_desktop.engine.runner import CompiledBlock
from ziggy_desktop.errors import NotFoundError, ValidationError
from ziggy_desktop.flows import validate_flow

from ..helpers import make_flow

ITEMS = [{"n": i} for i in range(250)]


class FakeVault:
    """The vault's interface for one mode: connections by (name, kind), secrets by name."""

    def __init__(self, connections: dict[tuple[str, str], dict[str, Any]] | None = None,
                 secrets: dict[str, str] | None = None):
        self.connections = connections or {}
        self.secret_values = secrets or {}

    def resolve_connection(self, name: str, kind: str, mode: str) -> dict[str, Any]:
        try:
            return dict(self.connections[(name, kind)])
        except KeyError:
            raise NotFoundError(f"no {kind} connection named {name!r}; create it on the Connections page") from None

    def resolve_secret(self, name: str, mode: str) -> str:
        try:
            return self.secret_values[name]
        except KeyError:
            raise NotFoundError(f"no secret named {name!r}") from None

    def secrets_for(self, mode: str) -> dict[str, str]:
        return dict(self.secret_values)


class RecordingContext(RunContext):
    """Records every wait instead of waiting, so tests see what the client decided without sleeping."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.check()
        self.sleeps.append(seconds)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    api: "Api"

    def _answer(self) -> None:
        api = self.api
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        with api.lock:
            api.calls.append((self.command, parts.path))
            api.counts[parts.path] += 1
            count = api.counts[parts.path]
        query = {k: v if len(v) > 1 else v[0] for k, v in parse_qs(parts.query).items()}
        status, headers, body = 200, {}, None
        path = parts.path
        if path.startswith("/api/users/"):
            user_id = path.rsplit("/", 1)[1]
            status, body = (404, {"message": f"no user {user_id}"}) if user_id == "404" else \
                (200, {"id": user_id, "name": f"user{user_id}"})
        elif path.startswith("/api/echo") or path == "/other/echo":
            body = {"method": self.command, "path": path, "query": query,
                    "headers": {k.lower(): v for k, v in self.headers.items()},
                    "body": json.loads(raw) if raw else None}
        elif path == "/api/items":
            limit, offset = int(query["limit"]), int(query["offset"])
            body = {"data": ITEMS[offset:offset + limit]}
        elif path == "/api/stuck":  # ignores the offset: always the first page
            body = {"data": ITEMS[:10]}
        elif path == "/api/limited":
            status, headers, body = (429, {"Retry-After": api.retry_after}, {"message": "slow down"}) if count == 1 \
                else (200, {}, {"ok": True})
        elif path == "/api/flaky":
            status, body = (500, {"message": "oops"}) if count == 1 else (200, {"ok": True})
        elif path == "/api/down":
            status, body = 500, {"message": "database exploded"}
        elif path == "/api/slow":
            api.arrived.set()
            api.release.wait(30)
            body = {"late": True}
        elif path == "/api/text":
            data = b"plain words"
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        else:
            status, body = 404, {"message": "no route"}
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _answer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


class Api:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.calls: list[tuple[str, str]] = []
        self.counts: dict[str, int] = defaultdict(int)
        self.retry_after = "2"
        self.arrived = threading.Event()
        self.release = threading.Event()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), type("H", (_Handler,), {"api": self}))
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def stop(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def api() -> Iterator[Api]:
    server = Api()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def quick_backoff(monkeypatch):
    monkeypatch.setattr(zhttp, "BACKOFF_BASE_SECONDS", 0.01)


def vault_for(api: Api, auth: dict[str, Any] | None = None, **secrets: str) -> FakeVault:
    return FakeVault({("svc", "rest"): {"baseUrl": f"{api.url}/api", **(auth or {"authType": "none"})}}, secrets)


def context(vault: FakeVault | None = None, cls: type[RunContext] = RunContext) -> RunContext:
    return cls("exec-1", "DEV", None, False, timeout_seconds=30, resources=RunResources(vault=vault))


def run_block(config: dict[str, Any], batches: list[Any], ctx: RunContext) -> dict[str, list[Any]]:
    return feed_block("rest", config, batches, ctx)


def feed_block(type_name: str, config: dict[str, Any], batches: list[Any], ctx: RunContext) -> dict[str, list[Any]]:
    """Validate and prepare the config like a flow would, then feed the batches; (port -> batches)."""
    block_type = REGISTRY[type_name]
    checked = validate_config(block_type, config, "block 'b'")
    block = block_type.impl(ctx, checked, CompiledBlock("b", "b", block_type, checked,
                                                        block_type.impl.prepare(checked, "block 'b'")))
    emitted: dict[str, list[Any]] = defaultdict(list)
    try:
        for batch in batches:
            for port, data in block.process("in", batch):
                emitted[port].append(data)
        for port, data in block.finish():
            emitted[port].append(data)
    finally:
        block.close()
    return emitted


def run_engine(document: dict[str, Any], ctx: RunContext, payload: Any = None):
    ctx.payload = payload
    compiled = compile_flow(validate_flow(document))
    return run_flow(compiled, ctx)


# -- happy paths --------------------------------------------------------------------------------------

def test_per_record_get_through_the_engine_merges_each_answer_with_its_record(api):
    flow = make_flow({"id": "get", "type": "rest", "config": {"connection": "svc", "url": "/users/{{ id }}",
                                                              "ratePerSecond": 50}})
    outcome = run_engine(flow, context(vault_for(api)), payload=[{"id": 1, "keep": "a"}, {"id": 2, "keep": "b"}])
    assert outcome.status == "SUCCESS", outcome.reason
    assert outcome.result == [{"id": "1", "keep": "a", "name": "user1"}, {"id": "2", "keep": "b", "name": "user2"}]
    assert api.calls == [("GET", "/api/users/1"), ("GET", "/api/users/2")]
    get_step = next(s for s in outcome.steps if s["blockId"] == "get")
    assert get_step["recordsIn"] == 2 and get_step["recordsOut"] == 2


def test_per_batch_post_renders_body_headers_and_query_with_types_kept(api):
    vault = vault_for(api, {"authType": "bearer", "token": "tok-123"}, API_KEY="s3cret")
    config = {"connection": "svc", "method": "POST", "mode": "per_batch", "url": "echo",
              "headers": {"X-Key": "{{ secret('API_KEY') }}", "X-Run": "{{ executionId }}"},
              "query": {"n": "{{ len(records) }}", "tags": "{{ ['a', 'b'] }}", "skip": "{{ null }}"},
              "body": {"items": "{{ records }}", "count": "{{ len(records) }}", "label": "n={{ len(records) }}",
                       "fixed": [1, True]}}
    out = run_block(config, [[{"x": 1}, {"x": 2}]], context(vault))
    [[echo]] = out["out"]
    assert echo["method"] == "POST" and echo["path"] == "/api/echo"
    assert echo["body"] == {"items": [{"x": 1}, {"x": 2}], "count": 2, "label": "n=2", "fixed": [1, True]}
    assert echo["query"] == {"n": "2", "tags": ["a", "b"]}
    assert echo["headers"]["authorization"] == "Bearer tok-123"
    assert echo["headers"]["x-key"] == "s3cret" and echo["headers"]["x-run"] == "exec-1"


@pytest.mark.parametrize("auth, header, expected", [
    ({"authType": "basic", "username": "ann", "password": "pw"}, "authorization",
     "Basic " + base64.b64encode(b"ann:pw").decode()),
    ({"authType": "header", "headerName": "X-Api-Key", "headerValue": "k1"}, "x-api-key", "k1"),
])
def test_connection_auth_kinds(api, auth, header, expected):
    out = run_block({"connection": "svc", "url": "echo", "mode": "per_batch"}, [None], context(vault_for(api, auth)))
    assert out["out"][0][0]["headers"][header] == expected


def test_absolute_url_without_connection_and_response_field(api):
    config = {"url": f"{api.url}/api/users/{{{{ id }}}}", "responseField": "user.data"}
    out = run_block(config, [[{"id": 7}]], context())
    assert out["out"] == [[{"id": 7, "user": {"data": {"id": "7", "name": "user7"}}}]]


def test_offset_paging_streams_each_page_as_a_batch(api):
    flow = make_flow({"id": "pages", "type": "rest", "config": {
        "connection": "svc", "mode": "per_batch", "url": "items?limit={limit}", "query": {"offset": "{offset}"},
        "paging": "offset", "pageSize": 100, "resultPath": "data"}})
    outcome = run_engine(flow, context(vault_for(api)))
    assert outcome.status == "SUCCESS", outcome.reason
    assert outcome.result == ITEMS
    end = next(s for s in outcome.steps if s["blockId"] == "end")
    assert end["batchesIn"] == 3 and end["recordsIn"] == 250  # 100 + 100 + 50: it stopped on the short page
    assert [c for c in api.calls] == [("GET", "/api/items")] * 3


def test_paging_stops_at_max_iterations_and_detects_an_ignored_offset(api):
    config = {"connection": "svc", "mode": "per_batch", "url": "items", "query": {"limit": "{limit}",
              "offset": "{offset}"}, "paging": "offset", "pageSize": 10, "resultPath": "data", "maxIterations": 2}
    out = run_block(config, [None], context(vault_for(api)))
    assert out["out"] == [ITEMS[:10], ITEMS[10:20]]
    config.update(url="stuck", maxIterations=0)
    from ziggy_desktop.engine.context import BlockError
    with pytest.raises(BlockError, match="same page twice"):
        run_block(config, [None], context(vault_for(api)))


# -- retries, rate limits, timeouts, kill -------------------------------------------------------------

@pytest.mark.parametrize("header, expected", [("2", 2.0), ("0.5", 0.5)])
def test_429_waits_for_retry_after_then_succeeds(api, header, expected):
    api.retry_after = header
    ctx = context(vault_for(api), RecordingContext)
    out = run_block({"connection": "svc", "url": "limited", "mode": "per_batch"}, [None], ctx)
    assert out["out"] == [[{"ok": True}]]
    assert ctx.sleeps == [expected]
    assert api.calls == [("GET", "/api/limited")] * 2


def test_retry_after_as_an_http_date_pauses_the_shared_limiter(api):
    when = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=40)
    api.retry_after = when.strftime("%a, %d %b %Y %H:%M:%S GMT")
    ctx = context(vault_for(api), RecordingContext)
    out = run_block({"connection": "svc", "url": "limited", "mode": "per_batch", "ratePerSecond": 100}, [None], ctx)
    assert out["out"] == [[{"ok": True}]]
    assert len(ctx.sleeps) == 1 and 30 < ctx.sleeps[0] <= 40  # the limiter held every call until that date


def test_a_500_is_retried_with_backoff(api):
    ctx = context(vault_for(api), RecordingContext)
    out = run_block({"connection": "svc", "url": "flaky", "mode": "per_batch"}, [None], ctx)
    assert out["out"] == [[{"ok": True}]]
    assert api.calls == [("GET", "/api/flaky")] * 2 and len(ctx.sleeps) == 1


def test_exhausted_retries_fail_with_method_safe_url_status_and_body(api):
    vault = FakeVault({("svc", "rest"): {"baseUrl": api.url.replace("http://", "http://user:pw@") + "/api",
                                         "authType": "none"}})
    flow = make_flow({"id": "down", "type": "rest", "config": {
        "connection": "svc", "url": "down?token=abc", "mode": "per_batch", "maxRetries": 2}})
    outcome = run_engine(flow, context(vault, RecordingContext))
    assert outcome.status == "FATAL" and outcome.failed_block == "down"
    assert f"GET {api.url}/api/down answered 500" in outcome.reason
    assert "database exploded" in outcome.reason and "after 3 attempt(s)" in outcome.reason
    assert "token=abc" not in outcome.reason and "pw" not in outcome.reason
    assert len(api.calls) == 3


def test_a_post_that_got_a_500_is_not_sent_twice_unless_allowed(api):
    config = {"connection": "svc", "url": "flaky", "method": "POST", "mode": "per_batch", "body": {"a": 1}}
    from ziggy_desktop.engine.context import BlockError
    with pytest.raises(BlockError, match="may or may not have taken effect"):
        run_block(config, [None], context(vault_for(api)))
    assert len(api.calls) == 1
    out = run_block({**config, "retryUnsafeMethods": True}, [None], context(vault_for(api)))
    assert out["out"] == [[{"ok": True}]] and len(api.calls) == 2


def test_per_call_timeout(api):
    from ziggy_desktop.engine.context import BlockError
    with pytest.raises(BlockError, match="no answer in time"):
        run_block({"connection": "svc", "url": "slow", "mode": "per_batch", "timeoutSeconds": 0.2, "maxRetries": 0},
                  [None], context(vault_for(api)))


def test_kill_while_a_request_hangs_ends_the_run_killed(api):
    flow = make_flow({"id": "hang", "type": "rest", "config": {"connection": "svc", "url": "slow",
                                                               "mode": "per_batch", "timeoutSeconds": 120}})
    ctx = context(vault_for(api))
    result: dict[str, Any] = {}
    worker = threading.Thread(target=lambda: result.update(outcome=run_engine(flow, ctx)))
    worker.start()
    assert api.arrived.wait(10), "the request never reached the server"
    ctx.kill("stop it")
    worker.join(5)  # the request itself would hang for 30 s (the server) or 120 s (its timeout)
    assert not worker.is_alive()
    assert result["outcome"].status == "KILLED" and result["outcome"].failed_block == "hang"


def test_rate_limiter_spaces_calls_and_takes_the_smallest_rate():
    now = [100.0]
    limiter = zhttp.RateLimiter(10, clock=lambda: now[0])
    gap = zhttp.SPACING_MARGIN / 10  # a little wider than 1/rate, so arrivals never exceed the rate
    assert [round(limiter.reserve(), 3) for _ in range(3)] == [0.0, round(gap, 3), round(2 * gap, 3)]
    now[0] += 10
    slow = limiter.attach(5)
    fast = limiter.attach(20)
    assert limiter.rate == 5 and [round(limiter.reserve(), 3) for _ in range(2)] == [0.0, round(2 * gap, 3)]
    limiter.detach(slow)
    assert limiter.rate == 20
    limiter.detach(fast)
    limiter.hold_off(3)
    assert round(limiter.reserve(), 3) == 3.0
    assert zhttp.shared_limiter(("rest", "x", "DEV"), 4) is zhttp.shared_limiter(("rest", "x", "DEV"), 9)
    assert zhttp.shared_limiter(("rest", "x", "PROD"), 4) is not zhttp.shared_limiter(("rest", "x", "DEV"), 4)


def test_retry_after_parsing():
    now = dt.datetime(2024, 5, 1, 12, 0, 0, tzinfo=dt.timezone.utc)
    assert zhttp.parse_retry_after("3", now) == 3.0
    assert zhttp.parse_retry_after("Wed, 01 May 2024 12:00:30 GMT", now) == 30.0
    assert zhttp.parse_retry_after("Wed, 01 May 2024 11:00:00 GMT", now) == 0.0
    assert zhttp.parse_retry_after("soon", now) is None and zhttp.parse_retry_after(None, now) is None
    assert zhttp.safe_url("https://u:p@h.example:8443/a/b?token=x#f") == "https://h.example:8443/a/b"


# -- bad config, bad data -----------------------------------------------------------------------------

@pytest.mark.parametrize("config, message", [
    ({"url": "/relative"}, r"config.url '/relative' must be an absolute http\(s\) URL"),
    ({"url": "http://x/{{ id ) }}"}, r"config.url .*not valid"),
    ({"url": "http://x/", "paging": "offset"}, r"needs the \{offset\} placeholder"),
    ({"url": "http://x/", "method": "TRACE"}, r"config.method must be one of GET, POST"),
    ({"url": "http://x/", "headers": {"X": {"no": 1}}}, r"config.headers.X must be text"),
    ({"url": "http://x/", "body": {"a": "{{ }}"}}, r"config.body.a.*empty"),
    ({"url": "http://x/", "timeoutSeconds": 0}, r"config.timeoutSeconds must be at least 0.1"),
])
def test_bad_config_is_refused_naming_the_field(config, message):
    with pytest.raises(ValidationError, match=message):
        validate_flow(make_flow({"id": "r", "type": "rest", "config": config}))


def test_an_empty_connection_means_none():
    validate_flow(make_flow({"id": "r", "type": "rest", "config": {"connection": "", "url": "https://x.example/"}}))


def test_bad_records_and_4xx_go_to_failed_when_asked(api):
    config = {"connection": "svc", "url": "/users/{{ id }}", "failOn4xx": False}
    out = run_block(config, [[{"id": 1}, {"id": 404}, {"name": "no id"}]], context(vault_for(api)))
    assert out["out"] == [[{"id": "1", "name": "user1"}]]
    [failed] = out["failed"]
    assert failed[0] == {"record": {"id": 404}, "status": 404, "body": {"message": "no user 404"},
                         "url": f"{api.url}/api/users/404"}
    assert failed[1]["record"] == {"name": "no id"} and "no field or name 'id'" in failed[1]["error"]


def test_a_4xx_is_fatal_by_default_and_runs_the_error_path(api):
    flow = {"ziggyFlow": 1, "uuid": "5d0c1c7e-8f0e-4d6a-9a37-1f3f8f0b0b01", "name": "t",
            "blocks": [{"id": "receiver", "type": "receiver", "config": {}},
                       {"id": "get", "type": "rest", "config": {"connection": "svc", "url": "/users/{{ id }}"}},
                       {"id": "end", "type": "terminator"}],
            "edges": [{"from": "receiver", "to": "get"}, {"from": "get", "to": "end"},
                      {"from": "get", "fromPort": "error", "to": "end", "toPort": "error"}]}
    outcome = run_engine(flow, context(vault_for(api)), payload=[{"id": 404}])
    assert outcome.status == "FATAL" and outcome.failed_block == "get"
    assert "answered 404" in outcome.reason and "no user 404" in outcome.reason
    assert outcome.result[0]["blockId"] == "get"  # the error record reached the terminator's error input


def test_credentials_never_go_outside_the_connection(api):
    from ziggy_desktop.engine.context import BlockError
    with pytest.raises(BlockError, match="outside the connection's base URL"):
        run_block({"connection": "svc", "url": f"{api.url}/other/echo", "mode": "per_batch"}, [None],
                  context(vault_for(api, {"authType": "bearer", "token": "t"})))
    assert api.calls == []


def test_result_path_on_text_and_missing_paths(api):
    from ziggy_desktop.engine.context import BlockError
    assert run_block({"connection": "svc", "url": "text", "mode": "per_batch"}, [None],
                     context(vault_for(api)))["out"] == [["plain words"]]
    with pytest.raises(BlockError, match="did not answer JSON"):
        run_block({"connection": "svc", "url": "text", "mode": "per_batch", "resultPath": "a"}, [None],
                  context(vault_for(api)))
    with pytest.raises(BlockError, match="has no 'nope'; check resultPath"):
        run_block({"connection": "svc", "url": "users/1", "mode": "per_batch", "resultPath": "nope"}, [None],
                  context(vault_for(api)))


def test_an_unknown_connection_says_what_to_do():
    from ziggy_desktop.engine.context import BlockError
    with pytest.raises(BlockError, match="create it on the Connections page"):
        run_block({"connection": "missing", "url": "x", "mode": "per_batch"}, [None], context(FakeVault()))
