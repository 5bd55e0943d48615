"""rest: HTTP requests with templates, paging, retries and a rate limit."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Iterator, Mapping

import httpx

from ...errors import ValidationError
from ..block import Block, Emitted
from ..context import BlockError
from ..expressions import Evaluator, ExpressionError, Template, compile_template
from ..http import HttpClient, body_excerpt, describe_response, safe_url
from ..records import as_records, get_path, set_path
from ..registry import BlockType, ConfigField, register

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
LIMIT, OFFSET = "{limit}", "{offset}"


@dataclass(frozen=True)
class _Prepared:
    url: Template
    headers: dict[str, Template]
    query: dict[str, Template]
    body: Any  # the body's JSON with a Template in place of every string
    has_body: bool


def _compile_json(value: Any, where: str) -> Any:
    if isinstance(value, str):
        return compile_template(value, where)
    if isinstance(value, list):
        return [_compile_json(item, f"{where}[{index}]") for index, item in enumerate(value)]
    if isinstance(value, dict):
        return {key: _compile_json(item, f"{where}.{key}") for key, item in value.items()}
    return value


def _render_json(evaluator: Evaluator, value: Any, scope: Any) -> Any:
    if isinstance(value, Template):
        return evaluator.render(value, scope)
    if isinstance(value, list):
        return [_render_json(evaluator, item, scope) for item in value]
    if isinstance(value, dict):
        return {key: _render_json(evaluator, item, scope) for key, item in value.items()}
    return value


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return value if isinstance(value, str) else json.dumps(value) if isinstance(value, (dict, list)) else str(value)


def _is_absolute(url: str) -> bool:
    return url.lower().startswith(("http://", "https://"))


class _RecordProblem(Exception):
    """Something about one request's input (a template, the URL) that the user's data caused."""


class Rest(Block):
    """One request per record (or per batch), with optional {limit}/{offset} paging."""

    @classmethod
    def prepare(cls, config: Mapping[str, Any], where: str) -> _Prepared:
        url = compile_template(config["url"], f"{where}: config.url")
        if not config["connection"] and url.is_static and not _is_absolute(config["url"].strip()):
            raise ValidationError(f"{where}: config.url {config['url']!r} must be an absolute http(s) URL when no "
                                  f"connection is chosen (or choose a REST connection with a base URL)")
        templates: dict[str, dict[str, Template]] = {}
        for name in ("headers", "query"):
            compiled = {}
            for key, value in config[name].items():
                if not isinstance(value, (str, int, float, bool)):
                    raise ValidationError(f"{where}: config.{name}.{key} must be text (a template), not "
                                          f"{type(value).__name__}")
                compiled[key] = compile_template(_text(value), f"{where}: config.{name}.{key}")
            templates[name] = compiled
        if config["paging"] == "offset":
            texts = [config["url"], *(_text(v) for v in config["query"].values())]
            if not any(OFFSET in text for text in texts):
                raise ValidationError(f"{where}: config.paging 'offset' needs the {OFFSET} placeholder (and usually "
                                      f"{LIMIT}) in the URL or a query value, e.g. query {{\"offset\": \"{OFFSET}\", "
                                      f"\"limit\": \"{LIMIT}\"}}; without it every page would be the first one")
        body = config["body"]
        return _Prepared(url, templates["headers"], templates["query"], _compile_json(body, f"{where}: config.body"),
                         body is not None)

    def __init__(self, *args: Any):
        super().__init__(*args)
        self._client: HttpClient | None = None
        self._base_url = ""
        self._evaluator = Evaluator(self.ctx.variables, self.ctx.mode, self.ctx.execution_id, self.ctx.secret)

    # -- set-up and tear-down ---------------------------------------------------------------------------

    def _connect(self) -> HttpClient:
        if self._client is not None:
            return self._client
        name = self.config["connection"]
        connection = self.ctx.connection(name, "rest") if name else {}
        headers: dict[str, str] = {}
        auth: tuple[str, str] | None = None
        auth_type = connection.get("authType") or "none"
        if auth_type == "bearer":
            if not connection.get("token"):
                raise BlockError(f"connection {name!r} uses bearer authentication but has no token for "
                                 f"{self.ctx.mode}; add it on the Connections page")
            headers["Authorization"] = f"Bearer {connection['token']}"
        elif auth_type == "basic":
            auth = (connection.get("username") or "", connection.get("password") or "")
        elif auth_type == "header":
            if not connection.get("headerName"):
                raise BlockError(f"connection {name!r} uses header authentication but names no header; "
                                 f"set its header name on the Connections page")
            headers[connection["headerName"]] = connection.get("headerValue") or ""
        elif auth_type != "none":
            raise BlockError(f"connection {name!r} has an unknown authType {auth_type!r}; "
                             f"use none, bearer, basic or header")
        self._base_url = (connection.get("baseUrl") or "").strip()
        if self._base_url and not _is_absolute(self._base_url):
            raise BlockError(f"connection {name!r} has the base URL {safe_url(self._base_url)!r}; it must start "
                             f"with http:// or https://")
        config = self.config
        # Redirects are not followed: the connection's credentials must not travel to another host.
        self._client = HttpClient(self.ctx, timeout_seconds=config["timeoutSeconds"], max_retries=config["maxRetries"],
                                  rate_per_second=config["ratePerSecond"],
                                  limiter_key=("rest", name, self.ctx.mode) if name else None,
                                  headers=headers, auth=auth, what="the server")
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    # -- requests -----------------------------------------------------------------------------------------

    def _render(self, template: Template, scope: Any, what: str) -> Any:
        try:
            return self._evaluator.render(template, scope)
        except ExpressionError as exc:
            raise _RecordProblem(f"{what}: {exc}") from None

    def _absolute_url(self, url: str) -> str:
        base = self._base_url
        if not base:
            if not _is_absolute(url):
                raise _RecordProblem(f"the URL {url!r} is relative and the block has no connection with a base URL; "
                                     f"use an absolute http(s) URL or choose a connection")
            return url
        if not _is_absolute(url):
            return f"{base.rstrip('/')}/{url.lstrip('/')}"
        root = base.rstrip("/")
        if url == root or url.startswith((root + "/", root + "?")):
            return url
        # The connection's credentials go only where the connection points.
        raise _RecordProblem(f"the URL {safe_url(url)!r} is outside the connection's base URL {safe_url(base)!r}; "
                             f"use a URL relative to it, or another connection")

    def _build(self, scope: Any) -> tuple[str, dict[str, Any], dict[str, str], Any]:
        """The request for one record/batch, with {limit}/{offset} still in place: (url, query, headers, body)."""
        prepared: _Prepared = self.prepared
        url = self._render(prepared.url, scope, "url")
        if url is None or isinstance(url, (dict, list)):
            raise _RecordProblem(f"url: the template gave {url!r}, not a URL")
        query: dict[str, Any] = {}
        for key, template in prepared.query.items():
            value = self._render(template, scope, f"query.{key}")
            if value is not None:
                query[key] = [_text(v) for v in value] if isinstance(value, list) else _text(value)
        headers = {}
        for key, template in prepared.headers.items():
            value = self._render(template, scope, f"headers.{key}")
            if value is not None:
                headers[key] = _text(value)
        body = None
        if prepared.has_body:
            try:
                body = _render_json(self._evaluator, prepared.body, scope)
            except ExpressionError as exc:
                raise _RecordProblem(f"body: {exc}") from None
        return _text(url).strip(), query, headers, body

    def _send(self, url: str, query: dict[str, Any], headers: dict[str, str], body: Any, page: tuple[int, int] | None):
        client = self._connect()  # first: it reads the connection's base URL
        if page is not None:
            limit, offset = (str(n) for n in page)
            url = url.replace(LIMIT, limit).replace(OFFSET, offset)
            query = {key: [v.replace(LIMIT, limit).replace(OFFSET, offset) for v in value] if isinstance(value, list)
                     else value.replace(LIMIT, limit).replace(OFFSET, offset) for key, value in query.items()}
        full = httpx.URL(self._absolute_url(url))
        if query:
            full = full.copy_merge_params(query)
        method = self.config["method"]
        # POST/PATCH are repeated after a 5xx or a lost answer only when the user says repeats are safe.
        idempotent = True if self.config["retryUnsafeMethods"] else None
        return client.request(method, str(full), json_body=body, has_body=self.prepared.has_body,
                                       headers=headers, idempotent=idempotent)

    def _result(self, method: str, response: httpx.Response) -> Any:
        """The part of a 2xx answer to emit (resultPath into its JSON)."""
        parsed = _parse_body(response)
        path = self.config["resultPath"]
        if not path:
            return parsed
        if not isinstance(parsed, (dict, list)):
            raise BlockError(f"{method} {safe_url(response.request.url)} did not answer JSON, so resultPath "
                             f"{path!r} cannot be read (it starts: {body_excerpt(response)[:100]!r})")
        result = get_path(parsed, path)
        if result is None:
            raise BlockError(f"the answer of {method} {safe_url(response.request.url)} has no {path!r}; check "
                             f"resultPath (the answer starts: {body_excerpt(response)[:200]!r})")
        return result

    def _requests(self, scope: Any, source: Any, per_record: bool) -> Iterator[tuple[str, list[Any]]]:
        """Run one request (all its pages) for one record or batch; yields (port, records)."""
        config = self.config
        method = config["method"]
        try:
            url, query, headers, body = self._build(scope)
            paged = config["paging"] == "offset"
            offset, pages, previous = 0, 0, None
            while True:
                self.ctx.check()
                response = self._send(url, query, headers, body, (config["pageSize"], offset) if paged else None)
                status = response.status_code
                if not 200 <= status < 300:
                    yield "failed", [self._refused(method, response, source)]
                    return
                result = self._result(method, response)
                if not paged:
                    yield "out", self._shape(result, source, per_record)
                    return
                if not isinstance(result, list):
                    raise BlockError(f"paging needs a list, but the answer of {method} "
                                     f"{safe_url(response.request.url)} at {config['resultPath'] or 'its top'} is "
                                     f"a {type(result).__name__}; point resultPath at the list of items")
                if result and result == previous:
                    raise BlockError(f"{method} {safe_url(response.request.url)} returned the same page twice; check "
                                     f"that the {OFFSET} placeholder is where the API reads its offset")
                pages += 1
                if result:
                    yield "out", self._shape(result, source, per_record)
                if len(result) < config["pageSize"] or (config["maxIterations"] and pages >= config["maxIterations"]):
                    return
                previous = result
                offset += config["pageSize"]
        except _RecordProblem as problem:
            if config["failOn4xx"]:
                raise BlockError(str(problem)) from None
            yield "failed", [{"record": source, "status": None, "error": str(problem)}]

    def _refused(self, method: str, response: httpx.Response, source: Any) -> dict[str, Any]:
        """A non-2xx answer that was not retried (4xx, or a redirect): FATAL, or a record for `failed`."""
        status = response.status_code
        if self.config["failOn4xx"] or not 400 <= status < 500:
            if status in (401, 403):
                advice = "check the connection's credentials and what they are allowed to do"
            elif 300 <= status < 400:
                where = response.headers.get("Location")
                advice = (f"redirects are not followed; use the final URL{f' ({safe_url(where)})' if where else ''}")
            else:
                advice = "check the URL, method, query and body (or set failOn4xx off to route such records to `failed`)"
            raise BlockError(f"{describe_response(method, response)}; {advice}")
        return {"record": source, "status": status, "body": _parse_body(response),
                "url": safe_url(response.request.url)}

    def _shape(self, result: Any, source: Any, per_record: bool) -> list[Any]:
        """What goes downstream for one answer (or page)."""
        field = self.config["responseField"]
        if per_record and field and isinstance(source, dict):
            merged = dict(source)
            set_path(merged, field, result)
            return [merged]
        if isinstance(result, list):
            return result
        if result is None:
            return []
        if per_record and isinstance(source, dict):
            return [{**source, **result}] if isinstance(result, dict) else [{**source, "response": result}]
        return [result]

    # -- the block contract ---------------------------------------------------------------------------------

    def process(self, port: str, data: Any) -> Emitted:
        records = as_records(data)
        if self.config["mode"] == "per_batch":
            yield from self._requests({"records": records}, records, per_record=False)
            return
        collected: dict[str, list[Any]] = {"out": [], "failed": []}
        paged = self.config["paging"] == "offset"
        for record in records:
            self.ctx.check()
            for out_port, items in self._requests(record, record, per_record=True):
                if paged and out_port == "out":
                    yield out_port, items  # each page is a batch of its own
                else:
                    collected[out_port].extend(items)
        for out_port, items in collected.items():
            if items:
                yield out_port, items


def _parse_body(response: httpx.Response) -> Any:
    """JSON when the answer is JSON, its text otherwise, None when empty."""
    if not response.content:
        return None
    content_type = response.headers.get("Content-Type", "")
    text = response.text
    if "json" in content_type or text.lstrip()[:1] in ("{", "["):
        try:
            return json.loads(text)
        except ValueError:
            pass
    return text


register(BlockType(
    "rest", "REST", "Calls an HTTP API: one request per record or per batch, with templates, {limit}/{offset} "
    "paging, retries with backoff on 5xx/429 (honouring Retry-After), a per-second rate limit and timeouts.",
    inputs=("in",), outputs=("out", "failed"),
    config=(
        ConfigField("connection", "connection", "A REST connection (base URL and credentials); empty: no "
                    "credentials, and the URL must be absolute.", default="", connection_kind="rest"),
        ConfigField("method", "enum", "The HTTP method.", default="GET", choices=METHODS),
        ConfigField("url", "template", "The URL, relative to the connection's base URL when it has one, e.g. "
                    "/contacts/{{ id }}; with paging put {limit} and {offset} where the API reads them.",
                    required=True),
        ConfigField("headers", "object", "Extra headers; each value is a template, e.g. {\"X-Trace\": "
                    "\"{{ executionId }}\"}; secret(\"NAME\") reads a secret.", default={}),
        ConfigField("query", "object", "Query parameters; each value is a template (a list gives the parameter "
                    "several times; empty values are left out).", default={}),
        ConfigField("body", "json", "The JSON body (none when empty); strings in it are templates, and a string "
                    "that is exactly one {{ expression }} keeps the value's type (a number, a list, an object)."),
        ConfigField("mode", "enum", "per_record: one request per incoming record, its fields available to the "
                    "templates; per_batch: one request per incoming batch (also an empty one: use it to fetch "
                    "from an API), its list available as `records`.", default="per_record",
                    choices=("per_record", "per_batch")),
        ConfigField("paging", "enum", "none, or offset: pages are requested with {limit} = pageSize and {offset} "
                    "= 0, pageSize, ... until a page has fewer than pageSize items; each page goes downstream as "
                    "a batch.", default="none", choices=("none", "offset")),
        ConfigField("pageSize", "integer", "Items per page when paging.", default=100, minimum=1, maximum=100_000),
        ConfigField("maxIterations", "integer", "With paging: stop after this many pages per request (0: all).",
                    default=0, minimum=0),
        ConfigField("resultPath", "string", "Dot path of the list or object to emit from the JSON answer, e.g. "
                    "data.items (empty: the whole answer).", default=""),
        ConfigField("responseField", "string", "per_record: put the result in this field of the incoming record "
                    "(empty: an object answer is merged into the record, a list answer is emitted as its items).",
                    default=""),
        ConfigField("ratePerSecond", "number", "At most this many requests per second, shared by every run using "
                    "the same connection (0: no limit).", default=0, minimum=0, maximum=10_000),
        ConfigField("timeoutSeconds", "number", "How long to wait for the server to connect and to answer.",
                    default=30, minimum=0.1, maximum=3600),
        ConfigField("maxRetries", "integer", "Retries after a 5xx, a 429 or a connection failure (with "
                    "exponential backoff; Retry-After is honoured).", default=3, minimum=0, maximum=20),
        ConfigField("retryUnsafeMethods", "boolean", "Also retry POST and PATCH after a 5xx or a lost answer. Off "
                    "(the default) they are only retried when they surely did not arrive (429, connection refused), "
                    "because a repeat may act twice; turn on only when the API makes repeats safe (e.g. an "
                    "idempotency key).", default=False),
        ConfigField("failOn4xx", "boolean", "On: a 4xx answer (or a record the templates cannot render) ends the "
                    "run FATAL; off: it goes to `failed` as {record, status, body} and the run goes on.",
                    default=True),
    ),
    impl=Rest, category="Integrations",
))
