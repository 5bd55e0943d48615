"""A HubSpot CRM v3 objects API stand-in: a real HTTP server on loopback for the hubspot blocks' tests.

    with HubSpotStandIn(token="test-token", rate_limit_per_second=None) as hub:
        connection_base_url = hub.base_url          # http://127.0.0.1:<free port>
        ...
        assert hub.upsert_counts[("contacts", "email")]["ada@example.com"] == 1

Routes (all need `Authorization: Bearer <token>`, else 401 with HubSpot's error body):
    POST /crm/v3/objects/{type}/batch/upsert   {"inputs": [{"idProperty", "id", "properties"}]}
    POST /crm/v3/objects/{type}/batch/create   {"inputs": [{"properties", "associations"?}]}   -> 201
    POST /crm/v3/objects/{type}/batch/update   {"inputs": [{"id", "idProperty"?, "properties"}]}
    POST /crm/v3/objects/{type}/batch/read     {"idProperty"?, "properties"?, "inputs": [{"id"}]}
    POST /crm/v3/objects/{type}/search         {"filterGroups", "properties", "limit" (<= 200), "after"}
    GET  /crm/v3/objects/{type}?limit=&after=&properties=a,b                 (limit <= 100)
    GET  /crm/v3/objects/{type}/{id}?idProperty=&properties=
{type}: contacts, companies, deals, tickets, products, line_items, or a custom object id like 2-12345.

Like HubSpot: batches take at most 100 inputs (400 VALIDATION_ERROR beyond); a batch where some
inputs fail answers 207 Multi-Status with `results` for the good ones and `errors` naming the bad
ones (`context.ids` holds the input's id or the id property's value, `context.objectWriteTraceId`
the trace id when the input had one); all inputs failing is a 207 with empty results. Property
values are stored and returned as strings; contact emails are compared case-insensitively.
Simplified on purpose: per-record refusals are always a 207 (HubSpot may refuse a whole batch with
a 400 unless objectWriteTraceIds ask for multi-status), and the limit is one per-second window.

Constructor knobs:
    token                  the accepted bearer token ("test-token").
    rate_limit_per_second  None: unlimited; N: the (N+1)th call within any 1 s window gets 429 with
                           HubSpot's RATE_LIMIT body (policyName SECONDLY) and a Retry-After header
                           saying when the window frees a slot (seconds, to the millisecond).
    inject_429_every       N > 0: every Nth authenticated call gets the same 429 whatever the rate;
                           0: never.
    inject_500_every       N > 0: every Nth authenticated call gets a 500; 0: never.
    retry_after_seconds    the Retry-After header value sent with an injected 429 (default 1; may be a
                           fraction such as 0.05 to keep tests fast; formatted with %g).
    validate_emails        True: a contact whose `email` is not an address is rejected per record
                           (VALIDATION_ERROR / INVALID_EMAIL, as HubSpot does).
    reject                 callable(object_type, properties) -> str | None: a message rejects that
                           input per record (VALIDATION_ERROR), None accepts it.
    known_properties       None: any property name is accepted; {"contacts": {"email", ...}}: an
                           unknown property rejects the input per record (PROPERTY_DOESNT_EXIST).
    latency_seconds        a delay before every answer (a slow API for timeout/kill tests).
    clock                  the rate limiter's clock (time.monotonic); tests may pass a fake one.

Inspection (all under `hub.lock` if you read while calls are in flight):
    objects[type]          dict id -> {"id", "properties", "createdAt", "updatedAt", "archived"}.
    upsert_counts[(type, id_property)]   Counter of id-property value -> successful upserts.
    write_counts[type]     Counter of object id -> successful writes (create, update, upsert).
    calls                  list of Call(method, path, status, inputs) in arrival order.
    seed(type, properties) -> id;  find(type, property, value) -> object or None;  reset().
"""

from __future__ import annotations

import fnmatch
import itertools
import json
import re
import threading
import time
import uuid
from collections import Counter, defaultdict, deque
from dataclasses import dataclass
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

MAX_BATCH_INPUTS = 100
MAX_SEARCH_LIMIT = 200
MAX_LIST_LIMIT = 100
_STANDARD_TYPES = ("contacts", "companies", "deals", "tickets", "products", "line_items")
_CUSTOM_TYPE = re.compile(r"^\d+-\d+$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z0-9-]{2,}$")
_OBJECT_PATH = re.compile(r"^/crm/v3/objects/(?P<type>[^/]+)(?:/(?P<rest>.+))?$")
# What HubSpot returns when a read names no properties (plus hs_object_id and the timestamps).
_DEFAULT_PROPERTIES = {
    "contacts": ("createdate", "email", "firstname", "hs_object_id", "lastmodifieddate", "lastname"),
    "companies": ("createdate", "domain", "hs_lastmodifieddate", "hs_object_id", "name"),
    "deals": ("amount", "closedate", "createdate", "dealname", "dealstage", "hs_lastmodifieddate",
              "hs_object_id", "pipeline"),
}
_SINGULAR = {"contacts": "CONTACT", "companies": "COMPANY", "deals": "DEAL", "tickets": "TICKET",
             "products": "PRODUCT", "line_items": "LINE_ITEM"}

Reject = Callable[[str, dict[str, Any]], "str | None"]


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    status: int
    inputs: int  # number of batch inputs (0 for reads without inputs)


class _Refusal(Exception):
    """A whole-request error answered with HubSpot's error body."""

    def __init__(self, status: int, category: str, message: str, retry_after: float | None = None, **extra: Any):
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after
        self.body = {"status": "error", "message": message, "correlationId": str(uuid.uuid4()),
                     "category": category, **extra}


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _as_string(value: Any) -> str | None:
    """HubSpot keeps every property value as a string."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def _record_error(category: str, message: str, ids: list[str], trace_id: str | None,
                  details: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    context: dict[str, list[str]] = {"ids": ids}
    if trace_id:
        context["objectWriteTraceId"] = [trace_id]
    error: dict[str, Any] = {"status": "error", "category": category, "message": message, "context": context}
    if details:
        error["errors"] = details
    return error


class HubSpotStandIn:
    """The fake HubSpot account; see the module docstring for the knobs and what tests can inspect."""

    def __init__(self, token: str = "test-token", *, rate_limit_per_second: int | None = None,
                 inject_429_every: int = 0, inject_500_every: int = 0, retry_after_seconds: float = 1,
                 validate_emails: bool = True, reject: Reject | None = None,
                 known_properties: dict[str, set[str]] | None = None, latency_seconds: float = 0.0,
                 clock: Callable[[], float] = time.monotonic):
        self.token = token
        self.rate_limit_per_second = rate_limit_per_second
        self.inject_429_every = inject_429_every
        self.inject_500_every = inject_500_every
        self.retry_after_seconds = retry_after_seconds
        self.validate_emails = validate_emails
        self.reject = reject
        self.known_properties = known_properties
        self.latency_seconds = latency_seconds
        self.clock = clock
        self.lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.reset()

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> "HubSpotStandIn":
        handler = type("Handler", (_Handler,), {"hub": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        # A short poll interval so that stop() returns at once (serve_forever checks for shutdown that often).
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), name="hubspot-standin",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> "HubSpotStandIn":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start the stand-in first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # -- state for tests -------------------------------------------------------------------------

    def reset(self) -> None:
        with self.lock:
            self.objects: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
            self.upsert_counts: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
            self.write_counts: dict[str, Counter[str]] = defaultdict(Counter)
            self.calls: list[Call] = []
            self._index: dict[tuple[str, str], dict[str, str]] = defaultdict(dict)
            self._ids = itertools.count(1001)
            self._authenticated_calls = 0
            self._window: deque[float] = deque()

    def seed(self, object_type: str, properties: dict[str, Any]) -> str:
        """Store an object directly (no call recorded); returns its id."""
        with self.lock:
            return self._create(object_type, properties)["id"]

    def find(self, object_type: str, id_property: str, value: Any) -> dict[str, Any] | None:
        with self.lock:
            return self._find_by(object_type, id_property, _as_string(value))

    def calls_with_status(self, status: int) -> list[Call]:
        with self.lock:
            return [call for call in self.calls if call.status == status]

    # -- the store -------------------------------------------------------------------------------

    def _normalize(self, object_type: str, name: str, value: str | None) -> str | None:
        if value is not None and object_type == "contacts" and name == "email":
            return value.strip().lower()
        return value

    def _find_by(self, object_type: str, id_property: str | None, value: str | None) -> dict[str, Any] | None:
        if value is None:
            return None
        store = self.objects[object_type]
        if not id_property or id_property == "hs_object_id":
            return store.get(value)
        object_id = self._index[(object_type, id_property)].get(self._normalize(object_type, id_property, value))
        return None if object_id is None else store.get(object_id)

    def _create(self, object_type: str, properties: dict[str, Any]) -> dict[str, Any]:
        object_id = str(next(self._ids))
        stamp = _now()
        obj = {"id": object_id, "properties": {"hs_object_id": object_id, "createdate": stamp,
                                               "lastmodifieddate": stamp},
               "createdAt": stamp, "updatedAt": stamp, "archived": False}
        self._apply(object_type, obj, properties)
        self.objects[object_type][object_id] = obj
        return obj

    def _apply(self, object_type: str, obj: dict[str, Any], properties: dict[str, Any]) -> None:
        for name, value in properties.items():
            index = self._index[(object_type, name)]  # value -> id, so lookups by a property stay fast
            old = obj["properties"].get(name)
            if old is not None and index.get(old) == obj["id"]:
                del index[old]
            new = self._normalize(object_type, name, _as_string(value))
            obj["properties"][name] = new
            if new is not None:
                index.setdefault(new, obj["id"])
        stamp = _now()
        obj["updatedAt"] = stamp
        obj["properties"]["lastmodifieddate"] = stamp

    def _problem(self, object_type: str, properties: Any) -> tuple[str, str, list[dict[str, Any]]] | None:
        """(category, message, details) when HubSpot would refuse this input's properties."""
        if not isinstance(properties, dict):
            return "VALIDATION_ERROR", "properties must be an object", []
        known = (self.known_properties or {}).get(object_type)
        if known is not None:
            for name in properties:
                if name not in known:
                    message = f'Property "{name}" does not exist'
                    return "VALIDATION_ERROR", message, [{"message": message, "code": "PROPERTY_DOESNT_EXIST",
                                                          "in": name}]
        email = properties.get("email")
        if object_type == "contacts" and self.validate_emails and email not in (None, ""):
            text = _as_string(email) or ""
            if not _EMAIL.match(text.strip()):
                detail = {"isValid": False, "message": f"Email address {text} is invalid", "error": "INVALID_EMAIL",
                          "name": "email", "localizedErrorMessage": f"Email address {text} is invalid"}
                return ("VALIDATION_ERROR", f"Property values were not valid: {json.dumps([detail])}",
                        [{"message": detail["message"], "code": "INVALID_EMAIL", "in": "email"}])
        if self.reject is not None:
            message = self.reject(object_type, properties)
            if message:
                return "VALIDATION_ERROR", message, [{"message": message, "code": "INVALID_PROPERTY_VALUE"}]
        return None

    def _view(self, object_type: str, obj: dict[str, Any], properties: list[str] | None,
              extra: dict[str, Any] | None = None) -> dict[str, Any]:
        stored = obj["properties"]
        if properties is None:
            names = _DEFAULT_PROPERTIES.get(object_type, ("hs_createdate", "hs_lastmodifieddate", "hs_object_id"))
        else:
            names = (*properties, "hs_object_id", "createdate", "lastmodifieddate")
        view = {"id": obj["id"], "properties": {name: stored.get(name) for name in names},
                "createdAt": obj["createdAt"], "updatedAt": obj["updatedAt"], "archived": obj["archived"]}
        view.update(extra or {})
        return view

    # -- request handling (called on the server's threads) --------------------------------------

    def handle(self, method: str, raw_path: str, headers: Any, body: bytes) -> tuple[int, dict[str, str], Any]:
        """Answer one request: (status, extra headers, JSON body)."""
        if self.latency_seconds:
            time.sleep(self.latency_seconds)
        parts = urlsplit(raw_path)
        inputs = 0
        with self.lock:
            try:
                self._authenticate(headers)
                self._authenticated_calls += 1
                self._throttle()
                payload = self._parse(body) if method == "POST" else {}
                if isinstance(payload.get("inputs"), list):
                    inputs = len(payload["inputs"])
                status, result = self._route(method, parts.path, parse_qs(parts.query), payload)
                extra_headers = self._rate_headers()
            except _Refusal as refusal:
                status, result = refusal.status, refusal.body
                extra_headers = self._rate_headers()
                if refusal.retry_after is not None:
                    extra_headers["Retry-After"] = f"{refusal.retry_after:g}"
            self.calls.append(Call(method, parts.path, status, inputs))
        return status, extra_headers, result

    def _authenticate(self, headers: Any) -> None:
        value = headers.get("Authorization") or ""
        if not value.startswith("Bearer ") or not value[7:].strip():
            raise _Refusal(401, "INVALID_AUTHENTICATION",
                           "Authentication credentials not found. This API supports OAuth 2.0 authentication and "
                           "you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview")
        if value[7:].strip() != self.token:
            raise _Refusal(401, "INVALID_AUTHENTICATION",
                           "The OAuth token used to make this call expired or is invalid. Check the private app's "
                           "access token.")

    def _throttle(self) -> None:
        number = self._authenticated_calls
        if self.inject_500_every and number % self.inject_500_every == 0:
            raise _Refusal(500, "INTERNAL_ERROR", "internal error (injected by the stand-in)")
        if self.inject_429_every and number % self.inject_429_every == 0:
            raise self._rate_limited(self.retry_after_seconds)
        if self.rate_limit_per_second is not None:
            now = self.clock()
            while self._window and now - self._window[0] >= 1.0:
                self._window.popleft()
            if len(self._window) >= self.rate_limit_per_second:
                # Honest advice: the time until the oldest call in the window leaves it.
                raise self._rate_limited(max(0.001, round(self._window[0] + 1.0 - now, 3)))
            self._window.append(now)

    def _rate_limited(self, retry_after: float) -> _Refusal:
        return _Refusal(429, "RATE_LIMITS", "You have reached your secondly limit.", retry_after=retry_after,
                        errorType="RATE_LIMIT", policyName="SECONDLY", groupName=f"privateapp:{self.token[:4]}")

    def _rate_headers(self) -> dict[str, str]:
        if self.rate_limit_per_second is None:
            return {}
        remaining = max(0, self.rate_limit_per_second - len(self._window))
        return {"X-HubSpot-RateLimit-Max": str(self.rate_limit_per_second),
                "X-HubSpot-RateLimit-Remaining": str(remaining),
                "X-HubSpot-RateLimit-Interval-Milliseconds": "1000"}

    @staticmethod
    def _parse(body: bytes) -> dict[str, Any]:
        try:
            payload = json.loads(body or b"{}")
        except ValueError as exc:
            raise _Refusal(400, "VALIDATION_ERROR", f"Invalid input JSON on line {getattr(exc, 'lineno', 1)}, "
                           f"column {getattr(exc, 'colno', 1)}: {exc}") from None
        if not isinstance(payload, dict):
            raise _Refusal(400, "VALIDATION_ERROR", "Invalid input JSON: the body must be a JSON object")
        return payload

    def _route(self, method: str, path: str, query: dict[str, list[str]], payload: dict[str, Any]) -> tuple[int, Any]:
        match = _OBJECT_PATH.match(path)
        if not match:
            raise _Refusal(404, "OBJECT_NOT_FOUND", f"No route for {method} {path}")
        object_type, rest = match["type"], match["rest"]
        if object_type not in _STANDARD_TYPES and not _CUSTOM_TYPE.match(object_type):
            raise _Refusal(400, "VALIDATION_ERROR", f"Unable to infer object type from: {object_type}")
        if method == "GET" and rest is None:
            return 200, self._list(object_type, query)
        if method == "GET" and "/" not in rest:
            return 200, self._get_one(object_type, rest, query)
        if method == "POST" and rest == "search":
            return 200, self._search(object_type, payload)
        if method == "POST" and rest in ("batch/upsert", "batch/create", "batch/update", "batch/read"):
            inputs = payload.get("inputs")
            if not isinstance(inputs, list):
                raise _Refusal(400, "VALIDATION_ERROR", "Invalid input JSON: 'inputs' must be a list")
            if len(inputs) > MAX_BATCH_INPUTS:
                raise _Refusal(400, "VALIDATION_ERROR", f"The maximum number of inputs supported in a batch request is "
                               f"{MAX_BATCH_INPUTS}. Please reduce the number of items and try again")
            if not all(isinstance(item, dict) for item in inputs):
                raise _Refusal(400, "VALIDATION_ERROR", "Invalid input JSON: every input must be an object")
            operation = getattr(self, "_batch_" + rest.split("/")[1])
            return operation(object_type, payload, inputs)
        raise _Refusal(404, "OBJECT_NOT_FOUND", f"No route for {method} {path}")

    @staticmethod
    def _batch_answer(results: list[dict[str, Any]], errors: list[dict[str, Any]], ok_status: int,
                      started: str) -> tuple[int, dict[str, Any]]:
        body: dict[str, Any] = {"status": "COMPLETE", "results": results, "startedAt": started,
                                "completedAt": _now()}
        if errors:
            body["numErrors"] = len(errors)
            body["errors"] = errors
            return 207, body
        return ok_status, body

    def _batch_upsert(self, object_type: str, payload: dict[str, Any], inputs: list[dict[str, Any]]):
        started = _now()
        seen: Counter[str] = Counter()
        for item in inputs:
            if not item.get("idProperty") or item.get("id") in (None, ""):
                raise _Refusal(400, "VALIDATION_ERROR", "Each upsert input needs an 'idProperty' naming a unique "
                               "property and an 'id' holding its value")
            seen[str(self._normalize(object_type, item["idProperty"], _as_string(item["id"])))] += 1
        duplicates = sorted(key for key, count in seen.items() if count > 1)
        if duplicates:
            raise _Refusal(400, "VALIDATION_ERROR", f"Duplicate IDs found in batch input: {duplicates}. "
                           "IDs must be unique")
        results, errors = [], []
        for item in inputs:
            id_property, value = item["idProperty"], _as_string(item["id"])
            trace = item.get("objectWriteTraceId")
            properties = item.get("properties") or {}
            if isinstance(properties, dict) and id_property != "hs_object_id":
                # The id property's value is a property too (an upsert by email sets the email).
                properties = {id_property: value, **properties}
            problem = self._problem(object_type, properties)
            if problem:
                errors.append(_record_error(problem[0], problem[1], [value], trace, problem[2]))
                continue
            obj = self._find_by(object_type, id_property, value)
            created = obj is None
            if created:
                obj = self._create(object_type, properties)
            else:
                self._apply(object_type, obj, properties)
            key = self._normalize(object_type, id_property, value)
            self.upsert_counts[(object_type, id_property)][key] += 1
            self.write_counts[object_type][obj["id"]] += 1
            extra = {"new": created, **({"objectWriteTraceId": trace} if trace else {})}
            results.append(self._view(object_type, obj, list(properties), extra))
        return self._batch_answer(results, errors, 200, started)

    def _batch_create(self, object_type: str, payload: dict[str, Any], inputs: list[dict[str, Any]]):
        started = _now()
        # A conflict refuses the whole batch before anything is created, as HubSpot does: a client
        # may then resend the others without making duplicates.
        if object_type == "contacts":
            for item in inputs:
                email = (item.get("properties") or {}).get("email")
                existing = self._find_by("contacts", "email", _as_string(email)) if email else None
                if existing is not None:
                    raise _Refusal(409, "CONFLICT", f"Contact already exists. Existing ID: {existing['id']}")
        results, errors = [], []
        for item in inputs:
            trace = item.get("objectWriteTraceId")
            properties = item.get("properties") or {}
            problem = self._problem(object_type, properties)
            if problem:
                errors.append(_record_error(problem[0], problem[1], [], trace, problem[2]))
                continue
            obj = self._create(object_type, properties)
            self.write_counts[object_type][obj["id"]] += 1
            results.append(self._view(object_type, obj, list(properties),
                                      {"objectWriteTraceId": trace} if trace else None))
        return self._batch_answer(results, errors, 201, started)

    def _batch_update(self, object_type: str, payload: dict[str, Any], inputs: list[dict[str, Any]]):
        started = _now()
        results, errors = [], []
        for item in inputs:
            value, trace = _as_string(item.get("id")), item.get("objectWriteTraceId")
            properties = item.get("properties") or {}
            obj = self._find_by(object_type, item.get("idProperty"), value)
            if obj is None:
                errors.append(_record_error("OBJECT_NOT_FOUND", f"Could not get some {self._label(object_type)} "
                                            "objects, they may be deleted or not exist. Check that ids are valid.",
                                            [value or ""], trace))
                continue
            problem = self._problem(object_type, properties)
            if problem:
                errors.append(_record_error(problem[0], problem[1], [value or ""], trace, problem[2]))
                continue
            self._apply(object_type, obj, properties)
            self.write_counts[object_type][obj["id"]] += 1
            results.append(self._view(object_type, obj, list(properties),
                                      {"objectWriteTraceId": trace} if trace else None))
        return self._batch_answer(results, errors, 200, started)

    def _batch_read(self, object_type: str, payload: dict[str, Any], inputs: list[dict[str, Any]]):
        started = _now()
        properties = payload.get("properties")
        id_property = payload.get("idProperty")
        results, missing = [], []
        for item in inputs:
            value = _as_string(item.get("id"))
            obj = self._find_by(object_type, id_property, value)
            if obj is None:
                missing.append(value or "")
            else:
                results.append(self._view(object_type, obj, properties if properties else None))
        errors = []
        if missing:
            errors.append(_record_error("OBJECT_NOT_FOUND", f"Could not get some {self._label(object_type)} "
                                        "objects, they may be deleted or not exist. Check that ids are valid.",
                                        missing, None))
        return self._batch_answer(results, errors, 200, started)

    def _get_one(self, object_type: str, object_id: str, query: dict[str, list[str]]) -> dict[str, Any]:
        id_property = (query.get("idProperty") or [None])[0]
        obj = self._find_by(object_type, id_property, object_id)
        if obj is None:
            raise _Refusal(404, "OBJECT_NOT_FOUND", "Object not found.  objectId are usually numeric.")
        return self._view(object_type, obj, self._query_properties(query))

    @staticmethod
    def _query_properties(query: dict[str, list[str]]) -> list[str] | None:
        names = [name.strip() for value in query.get("properties", []) for name in value.split(",") if name.strip()]
        return names or None

    @staticmethod
    def _label(object_type: str) -> str:
        return _SINGULAR.get(object_type, object_type)

    def _page(self, objects: list[dict[str, Any]], after: Any, limit: Any, maximum: int,
              object_type: str, properties: list[str] | None) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        try:
            limit = int(limit)
            offset = int(after or 0)
        except (TypeError, ValueError):
            raise _Refusal(400, "VALIDATION_ERROR", "limit and after must be whole numbers") from None
        if not 1 <= limit <= maximum:
            raise _Refusal(400, "VALIDATION_ERROR", f"limit must be between 1 and {maximum} (got {limit})")
        page = objects[offset:offset + limit]
        results = [self._view(object_type, obj, properties) for obj in page]
        paging = None
        if offset + limit < len(objects):
            paging = {"next": {"after": str(offset + limit)}}
        return results, paging

    def _list(self, object_type: str, query: dict[str, list[str]]) -> dict[str, Any]:
        objects = sorted(self.objects[object_type].values(), key=lambda obj: int(obj["id"]))
        results, paging = self._page(objects, (query.get("after") or [0])[0], (query.get("limit") or [10])[0],
                                     MAX_LIST_LIMIT, object_type, self._query_properties(query))
        body: dict[str, Any] = {"results": results}
        if paging:
            paging["next"]["link"] = f"/crm/v3/objects/{object_type}?after={paging['next']['after']}"
            body["paging"] = paging
        return body

    def _search(self, object_type: str, payload: dict[str, Any]) -> dict[str, Any]:
        groups = payload.get("filterGroups") or []
        if not isinstance(groups, list) or not all(isinstance(g, dict) for g in groups):
            raise _Refusal(400, "VALIDATION_ERROR", "filterGroups must be a list of objects")
        objects = sorted(self.objects[object_type].values(), key=lambda obj: int(obj["id"]))
        if groups:
            objects = [obj for obj in objects
                       if any(all(self._matches(object_type, obj, f) for f in group.get("filters") or [])
                              for group in groups)]
        query = payload.get("query")
        if query:
            needle = str(query).lower()
            objects = [obj for obj in objects if any(needle in (v or "").lower() for v in obj["properties"].values())]
        results, paging = self._page(objects, payload.get("after"), payload.get("limit", 10), MAX_SEARCH_LIMIT,
                                     object_type, payload.get("properties") or None)
        body: dict[str, Any] = {"total": len(objects), "results": results}
        if paging:
            body["paging"] = paging
        return body

    def _matches(self, object_type: str, obj: dict[str, Any], rule: dict[str, Any]) -> bool:
        name, operator = rule.get("propertyName"), rule.get("operator", "EQ")
        if not name:
            raise _Refusal(400, "VALIDATION_ERROR", "each filter needs a propertyName")
        actual = obj["properties"].get(name)
        folded = None if actual is None else actual.lower()

        def fold(value: Any) -> str:
            return (_as_string(value) or "").lower()

        if operator == "EQ":
            return folded == fold(rule.get("value"))
        if operator == "NEQ":
            return folded != fold(rule.get("value"))
        if operator in ("IN", "NOT_IN"):
            values = rule.get("values")
            if not isinstance(values, list):
                raise _Refusal(400, "VALIDATION_ERROR", f"operator {operator} needs a 'values' list")
            found = folded in {fold(v) for v in values}
            return found if operator == "IN" else not found
        if operator == "HAS_PROPERTY":
            return actual not in (None, "")
        if operator == "NOT_HAS_PROPERTY":
            return actual in (None, "")
        if operator in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
            pattern = fold(rule.get("value"))
            tokens = re.split(r"[^0-9a-z@._*-]+", folded or "")
            if "*" in pattern:
                found = fnmatch.fnmatchcase(folded or "", pattern) or any(fnmatch.fnmatchcase(t, pattern)
                                                                          for t in tokens)
            else:
                found = pattern in tokens or pattern in re.split(r"[^0-9a-z]+", folded or "")
            return found if operator == "CONTAINS_TOKEN" else not found
        if operator in ("GT", "GTE", "LT", "LTE"):
            try:
                left, right = float(actual), float(rule.get("value"))
            except (TypeError, ValueError):
                return False
            return {"GT": left > right, "GTE": left >= right, "LT": left < right, "LTE": left <= right}[operator]
        raise _Refusal(400, "VALIDATION_ERROR", f"Unsupported operator {operator!r} in the stand-in "
                       "(EQ, NEQ, IN, NOT_IN, HAS_PROPERTY, NOT_HAS_PROPERTY, CONTAINS_TOKEN, GT, GTE, LT, LTE)")


class _Handler(BaseHTTPRequestHandler):
    """Turns HTTP into HubSpotStandIn.handle() calls; keep-alive, like the real API behind httpx."""

    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; without TCP_NODELAY, Nagle and the client's delayed ACK
    # add ~40 ms to every answer on a kept-alive connection.
    disable_nagle_algorithm = True
    hub: HubSpotStandIn

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        status, headers, result = self.hub.handle(self.command, self.path, self.headers, body)
        data = json.dumps(result).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json;charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    do_GET = _answer
    do_POST = _answer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass  # quiet: pytest shows failures, not every request
