"""hubspot_read and hubspot_write: HubSpot CRM v3 objects, batched, rate limited, retried.

Writes and "never lost, never twice": every input record ends in exactly one of `out` (with the
HubSpot id), `rejected` (with HubSpot's reason) or, when the run fails, in the run's error.
- upsert (by a unique id property) and update are idempotent: a chunk whose answer was lost (a
  timeout, a 5xx) is sent again safely, because writing the same values twice leaves one record.
- create is not: a create whose answer was lost may have created the records, so it is never
  repeated; its records go to `rejected` saying so (category UNKNOWN_OUTCOME).
- A chunk never holds the same id twice (HubSpot refuses that); a repeated id waits for the next
  chunk, so both writes happen, in input order.
"""

from __future__ import annotations

import itertools
import re
from collections import deque
from dataclasses import dataclass
from typing import Any, Iterator, Mapping

import httpx

from ...errors import ValidationError
from ..block import Block, Emitted
from ..context import BlockError
from ..expressions import Evaluator, ExpressionError, Template, compile_template, to_text
from ..http import HttpClient, OutcomeUnknown, body_excerpt, describe_response
from ..records import as_records, batched, get_path
from ..registry import BlockType, ConfigField, register

CHUNK = 100  # HubSpot's limit of inputs per batch call
LIST_PAGE = 100  # HubSpot's largest page for listing objects
SEARCH_PAGE = 100
DEFAULT_BASE_URL = "https://api.hubapi.com"
_OBJECT_TYPE = re.compile(r"^(?:[a-z][a-z0-9_]*|\d+-\d+)$")
OPERATORS = ("EQ", "NEQ", "LT", "LTE", "GT", "GTE", "IN", "NOT_IN", "HAS_PROPERTY", "NOT_HAS_PROPERTY",
             "CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN")
_NO_VALUE = ("HAS_PROPERTY", "NOT_HAS_PROPERTY")
_LIST_VALUE = ("IN", "NOT_IN")
# Asked for when the block names no properties (HubSpot's own defaults for these types).
DEFAULT_PROPERTIES = {
    "contacts": ("email", "firstname", "lastname"),
    "companies": ("name", "domain"),
    "deals": ("dealname", "amount", "dealstage", "pipeline", "closedate"),
}


def _key(value: Any, id_property: str) -> str | None:
    """How an id value is compared with HubSpot's (emails ignore case, as HubSpot does); None if empty."""
    if value is None or isinstance(value, (dict, list)):
        return None
    text = to_text(value).strip()
    if not text:
        return None
    return text.lower() if id_property == "email" else text


def _by_record_id(id_property: str) -> bool:
    return id_property in ("", "hs_object_id")


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _check_common(config: Mapping[str, Any], where: str) -> None:
    if not _OBJECT_TYPE.match(config["objectType"]):
        raise ValidationError(f"{where}: config.objectType {config['objectType']!r} must be an object type such as "
                              f"contacts, companies, deals or a custom object's id like 2-12345")
    for index, name in enumerate(config.get("properties") or ()):
        if not name.strip():
            raise ValidationError(f"{where}: config.properties[{index}] is empty; name a HubSpot property")


def _connection_fields(default_retries: int) -> tuple[tuple[ConfigField, ...], tuple[ConfigField, ...]]:
    """(fields that open the config, fields that close it) for both HubSpot blocks."""
    return (
        ConfigField("connection", "connection", "The HubSpot connection (private app token; base URL).",
                    required=True, connection_kind="hubspot"),
        ConfigField("objectType", "string", "contacts, companies, deals, tickets, ... or a custom object's id "
                    "(2-12345).", default="contacts"),
    ), (
        ConfigField("callsPerSecond", "number", "At most this many HubSpot calls per second, shared by every run "
                    "using this connection (HubSpot's limits are per account; 0: no limit).", default=10,
                    minimum=0, maximum=1000),
        ConfigField("timeoutSeconds", "number", "How long to wait for HubSpot to connect and to answer a call.",
                    default=30, minimum=0.1, maximum=600),
        ConfigField("maxRetries", "integer", "Retries of a call after a 429 (waiting for Retry-After), a 5xx or "
                    "a connection failure.", default=default_retries, minimum=0, maximum=20),
    )


class _HubSpotBlock(Block):
    """What both blocks share: the connection, the client and HubSpot's error answers."""

    def __init__(self, *args: Any):
        super().__init__(*args)
        self._client: HttpClient | None = None
        self._base_url = ""

    def client(self) -> HttpClient:
        if self._client is None:
            name = self.config["connection"]
            connection = self.ctx.connection(name, "hubspot")
            token = (connection.get("token") or "").strip()
            if not token:
                raise BlockError(f"HubSpot connection {name!r} has no token for {self.ctx.mode}; paste a private app "
                                 f"token on the Connections page")
            self._base_url = (connection.get("baseUrl") or DEFAULT_BASE_URL).strip().rstrip("/")
            config = self.config
            self._client = HttpClient(self.ctx, timeout_seconds=config["timeoutSeconds"],
                                      max_retries=config["maxRetries"], rate_per_second=config["callsPerSecond"],
                                      limiter_key=("hubspot", name, self.ctx.mode),
                                      headers={"Authorization": f"Bearer {token}"}, what="HubSpot")
        return self._client

    def url(self, suffix: str = "") -> str:
        self.client()
        return f"{self._base_url}/crm/v3/objects/{self.config['objectType']}{suffix}"

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def refused(self, method: str, response: httpx.Response, advice: str) -> BlockError:
        status = response.status_code
        if status == 401:
            advice = (f"HubSpot refused the token of connection {self.config['connection']!r}; check it (a private "
                      f"app token starting pat-) for {self.ctx.mode}")
        elif status == 403:
            advice = "the token lacks a scope this call needs; add it to the private app (e.g. crm.objects.contacts.write)"
        return BlockError(f"{describe_response(method, response)}; {advice}")

    def requested_properties(self, id_property: str = "") -> list[str]:
        names = list(self.config["properties"]) or list(DEFAULT_PROPERTIES.get(self.config["objectType"], ()))
        if id_property and not _by_record_id(id_property) and id_property not in names:
            names.append(id_property)  # needed to tell which input each answer belongs to
        return names

    def shape(self, obj: dict[str, Any], source: Any) -> dict[str, Any]:
        if self.config["flatten"]:
            result = {"id": obj.get("id"), **(obj.get("properties") or {})}
        else:
            result = dict(obj)
        if self.config["inputField"] and source is not None:
            result[self.config["inputField"]] = source
        return result


# -- hubspot_read -------------------------------------------------------------------------------------------

class HubSpotRead(_HubSpotBlock):
    """batch_read by an id property, search by a property, or list every object."""

    @classmethod
    def prepare(cls, config: Mapping[str, Any], where: str) -> Template | None:
        _check_common(config, where)
        operation = config["operation"]
        if operation == "batch_read" and not config["idField"].strip():
            raise ValidationError(f"{where}: config.idField is required for batch_read (the field of each incoming "
                                  f"record holding the value to look up)")
        if operation != "search":
            return None
        if not config["propertyName"].strip():
            raise ValidationError(f"{where}: config.propertyName is required for search (e.g. email)")
        if config["operator"] in _NO_VALUE:
            return None
        if not config["value"].strip():
            raise ValidationError(f"{where}: config.value is required for operator {config['operator']} (a template "
                                  f"such as {{{{ email }}}})")
        return compile_template(config["value"], f"{where}: config.value")

    def __init__(self, *args: Any):
        super().__init__(*args)
        self._listed = False
        ctx = self.ctx
        self._evaluator = Evaluator(ctx.variables, ctx.mode, ctx.execution_id, ctx.secret)

    def process(self, port: str, data: Any) -> Emitted:
        operation = self.config["operation"]
        if operation == "list":
            if not self._listed:  # once per run, whatever arrives: a full export is not repeated per batch
                self._listed = True
                yield from self._list()
        elif operation == "batch_read":
            yield from self._batch_read(as_records(data))
        else:
            yield from self._search(as_records(data))

    def _batch_read(self, records: list[Any]) -> Emitted:
        id_field, id_property = self.config["idField"], self.config["idProperty"].strip()
        not_found: list[Any] = []
        wanted: dict[str, tuple[Any, list[Any]]] = {}  # key -> (value sent, records asking for it)
        for record in records:
            value = get_path(record, id_field) if isinstance(record, dict) else None
            key = _key(value, id_property)
            if key is None:
                not_found.append(record)
            else:
                wanted.setdefault(key, (value, []))[1].append(record)
        properties = self.requested_properties(id_property)
        keys = list(wanted)
        for start in range(0, len(keys), CHUNK):
            self.ctx.check()
            chunk = keys[start:start + CHUNK]
            body: dict[str, Any] = {"inputs": [{"id": to_text(wanted[k][0]).strip()} for k in chunk]}
            if properties:
                body["properties"] = properties
            if not _by_record_id(id_property):
                body["idProperty"] = id_property
            response = self.client().request("POST", self.url("/batch/read"), json_body=body, idempotent=True)
            if response.status_code not in (200, 207):
                raise self.refused("POST", response, "check objectType, idProperty and the property names")
            found: dict[str, dict[str, Any]] = {}
            for obj in (_json(response) or {}).get("results") or []:
                answer = obj.get("id") if _by_record_id(id_property) else get_path(obj, f"properties.{id_property}")
                answer_key = _key(answer, id_property)
                if answer_key is not None:
                    found[answer_key] = obj
            out = []
            for key in chunk:
                obj = found.get(key)
                for record in wanted[key][1]:
                    if obj is None:
                        not_found.append(record)
                    else:
                        out.append(self.shape(obj, record))
            if out:
                yield "out", out
        if not_found:
            yield "notFound", not_found

    def _filter(self, record: Any) -> dict[str, Any] | None:
        """The search filter for one record; None when its value is empty (nothing to look for)."""
        operator = self.config["operator"]
        rule: dict[str, Any] = {"propertyName": self.config["propertyName"].strip(), "operator": operator}
        if operator in _NO_VALUE:
            return rule
        try:
            value = self._evaluator.render(self.prepared, record)
        except ExpressionError as exc:
            raise BlockError(f"value: {exc}") from None
        if operator in _LIST_VALUE:
            values = value if isinstance(value, list) else [] if value in (None, "") else to_text(value).split(",")
            values = [to_text(v).strip() for v in values if v not in (None, "") and to_text(v).strip()]
            if not values:
                return None
            rule["values"] = values
        else:
            if value in (None, "") or not to_text(value).strip():
                return None
            rule["value"] = to_text(value).strip()
        return rule

    def _search(self, records: list[Any]) -> Emitted:
        batch_size, max_pages = self.config["batchSize"], self.config["maxIterations"]
        properties = self.requested_properties()
        out: list[Any] = []
        not_found: list[Any] = []
        for record in records:
            self.ctx.check()
            rule = self._filter(record)
            if rule is None:
                not_found.append(record)
                continue
            body: dict[str, Any] = {"filterGroups": [{"filters": [rule]}], "limit": SEARCH_PAGE}
            if properties:
                body["properties"] = properties
            matched, pages = 0, 0
            while True:
                response = self.client().request("POST", self.url("/search"), json_body=body, idempotent=True)
                if response.status_code != 200:
                    raise self.refused("POST", response, "check objectType, propertyName, operator and value")
                answer = _json(response) or {}
                results = answer.get("results") or []
                matched += len(results)
                out.extend(self.shape(obj, record) for obj in results)
                if batch_size and len(out) >= batch_size:
                    yield "out", out
                    out = []
                pages += 1
                after = get_path(answer, "paging.next.after")
                if not after or (max_pages and pages >= max_pages):
                    break
                self.ctx.check()
                body["after"] = after
            if not matched:
                not_found.append(record)
        if out:
            yield "out", out
        if not_found:
            yield "notFound", not_found

    def _objects(self) -> Iterator[dict[str, Any]]:
        batch_size = self.config["batchSize"]
        params: dict[str, Any] = {"limit": min(batch_size, LIST_PAGE) if batch_size > 0 else LIST_PAGE}
        properties = self.requested_properties()
        if properties:
            params["properties"] = ",".join(properties)
        while True:
            self.ctx.check()
            response = self.client().request("GET", self.url(), params=params)
            if response.status_code != 200:
                raise self.refused("GET", response, "check objectType and the property names")
            answer = _json(response) or {}
            yield from answer.get("results") or []
            after = get_path(answer, "paging.next.after")
            if not after:
                return
            params["after"] = after

    def _list(self) -> Emitted:
        for batch in batched(self._objects(), self.config["batchSize"], self.config["maxIterations"]):
            yield "out", [self.shape(obj, None) for obj in batch]


# -- hubspot_write ------------------------------------------------------------------------------------------

@dataclass(eq=False)
class _Item:
    record: Any
    key: str | None  # the id compared (None for create)
    trace: str  # objectWriteTraceId: ties HubSpot's per-record answer to this input
    payload: dict[str, Any]


class _Rejected(Exception):
    def __init__(self, reason: str, category: str):
        super().__init__(reason)
        self.reason = reason
        self.category = category


def _rejection(record: Any, reason: str, status: int | None, category: str | None) -> dict[str, Any]:
    return {"record": record, "reason": reason, "status": status, "category": category}


def _mentions(text: str, key: str) -> bool:
    """Whether a message names this id as a whole word; short or numeric ids are too ambiguous to tell."""
    if len(key) < 3 or key.isdigit():
        return False
    return re.search(rf"(?<![\w.@+-]){re.escape(key)}(?![\w.@+-])", text) is not None


def _message(answer: Any) -> str:
    if isinstance(answer, dict):
        return str(answer.get("message") or "")
    return ""


class HubSpotWrite(_HubSpotBlock):
    """upsert/create/update in chunks of 100; rejected records go to `rejected` with HubSpot's reason."""

    @classmethod
    def prepare(cls, config: Mapping[str, Any], where: str) -> None:
        _check_common(config, where)
        operation = config["operation"]
        if operation == "upsert" and _by_record_id(config["idProperty"].strip()):
            raise ValidationError(f"{where}: config.idProperty must name a unique property for upsert (e.g. email "
                                  f"for contacts, domain for companies)")
        if operation != "create" and not config["idField"].strip():
            raise ValidationError(f"{where}: config.idField is required for {operation} (the field of each record "
                                  f"holding its id)")

    def __init__(self, *args: Any):
        super().__init__(*args)
        self._pending: deque[_Item] = deque()
        self._sequence = itertools.count(1)
        self._trace_prefix = f"{self.ctx.execution_id[:12]}-{self.node.id}"[:60]

    # -- inputs ---------------------------------------------------------------------------------------------

    def _item(self, record: Any) -> _Item:
        config = self.config
        operation, id_field = config["operation"], config["idField"].strip()
        id_property = config["idProperty"].strip()
        if not isinstance(record, dict):
            raise _Rejected(f"each record must be an object, not {type(record).__name__}", "INVALID_RECORD")
        key = None
        value: Any = None
        if operation != "create":
            value = get_path(record, id_field)
            key = _key(value, id_property)
            if key is None:
                raise _Rejected(f"the id field {id_field!r} is missing or empty", "MISSING_ID")
        if config["propertiesField"]:
            properties = get_path(record, config["propertiesField"])
            if not isinstance(properties, dict):
                raise _Rejected(f"field {config['propertiesField']!r} must hold an object of HubSpot properties",
                                "INVALID_RECORD")
        else:
            skip = id_field if operation != "create" else None
            properties = {name: v for name, v in record.items() if name != skip}
        clean: dict[str, Any] = {}
        for name, v in properties.items():
            if v is None:
                continue  # not given: left as it is in HubSpot (an empty string clears a property)
            if isinstance(v, (dict, list)):
                raise _Rejected(f"property {name!r} holds a {'list' if isinstance(v, list) else 'object'}; HubSpot "
                                f"properties take text, numbers, booleans or dates (map it to text first)",
                                "INVALID_PROPERTY")
            clean[name] = to_text(v) if isinstance(v, bool) else v
        trace = f"{self._trace_prefix}-{next(self._sequence)}"
        payload: dict[str, Any] = {"properties": clean, "objectWriteTraceId": trace}
        if operation != "create":
            payload["id"] = to_text(value).strip()
            if not _by_record_id(id_property):
                payload["idProperty"] = id_property
        return _Item(record, key, trace, payload)

    def _take_chunk(self) -> list[_Item]:
        """Up to CHUNK pending items with distinct ids; a repeated id stays pending for a later chunk."""
        chunk: list[_Item] = []
        keys: set[str] = set()
        skipped: list[_Item] = []
        while self._pending and len(chunk) < CHUNK:
            item = self._pending.popleft()
            if item.key is not None and item.key in keys:
                skipped.append(item)
                continue
            if item.key is not None:
                keys.add(item.key)
            chunk.append(item)
        self._pending.extendleft(reversed(skipped))
        return chunk

    def process(self, port: str, data: Any) -> Emitted:
        rejected = []
        for record in as_records(data):
            try:
                self._pending.append(self._item(record))
            except _Rejected as problem:
                rejected.append(_rejection(record, problem.reason, None, problem.category))
        if rejected:
            yield "rejected", rejected
        while len(self._pending) >= CHUNK:
            yield from self._flush(self._take_chunk())

    def finish(self) -> Emitted:
        while self._pending:
            yield from self._flush(self._take_chunk())

    def _flush(self, chunk: list[_Item]) -> Emitted:
        self.ctx.check()
        accepted, rejected = self._write(chunk)
        if accepted:
            yield "out", accepted
        if rejected:
            yield "rejected", rejected

    # -- calls ----------------------------------------------------------------------------------------------

    def _write(self, chunk: list[_Item]) -> tuple[list[Any], list[Any]]:
        """Write one chunk; every item ends accepted or rejected (or the run fails)."""
        accepted: list[Any] = []
        rejected: list[Any] = []
        operation = self.config["operation"]
        parts = [chunk]
        refused_whole: list[tuple[int, str]] = []  # unnamed whole-part refusals, to spot a request-level problem
        while parts:
            part = parts.pop()
            self.ctx.check()
            try:
                response = self.client().request("POST", self.url(f"/batch/{operation}"),
                                                 json_body={"inputs": [item.payload for item in part]},
                                                 idempotent=operation != "create")
            except OutcomeUnknown as unknown:
                rejected += [_rejection(item.record, str(unknown), unknown.status, "UNKNOWN_OUTCOME") for item in part]
                continue
            status, answer = response.status_code, _json(response)
            if status in (200, 201, 207):
                ok, bad = self._match(part, answer if isinstance(answer, dict) else {}, status)
                accepted += ok
                rejected += bad
                continue
            if status in (401, 403, 404) or not 400 <= status < 500:
                raise self.refused("POST", response, "check objectType, idProperty and the properties sent")
            message = _message(answer) or body_excerpt(response)
            category = answer.get("category") if isinstance(answer, dict) else None
            named = self._named(part, answer, message)
            if named:
                # HubSpot refused the whole chunk because of these records: drop them and send the rest again.
                rejected += [_rejection(item.record, message, status, category) for item in named]
                rest = [item for item in part if item not in named]
                if rest:
                    parts.append(rest)
                continue
            if len(part) == 1:
                rejected.append(_rejection(part[0].record, message, status, category))
                refused_whole.append((status, message))
                continue
            if operation == "create":
                # Not safe to split and send again: HubSpot may have created some of them.
                reason = (f"HubSpot refused this batch of {len(part)} records as a whole ({message}); some of them "
                          f"may already exist. Use operation upsert by a unique property to write them safely.")
                rejected += [_rejection(item.record, reason, status, category) for item in part]
                continue
            # Upsert/update are idempotent: halve the chunk until the records at fault are alone.
            refused_whole.append((status, message))
            middle = len(part) // 2
            parts += [part[middle:], part[:middle]]
        if len(chunk) > 1 and not accepted and len(refused_whole) > 1 and len(set(refused_whole)) == 1:
            status, message = refused_whole[0]
            raise BlockError(f"HubSpot refused every record of a batch with the same answer ({status}: {message}); "
                             f"check objectType, idProperty and the property names")
        return accepted, rejected

    def _named(self, part: list[_Item], answer: Any, message: str) -> list[_Item]:
        """The items a whole-chunk refusal names (in its context lists or its message)."""
        mentioned: set[str] = set()

        def collect(context: Any) -> None:
            if isinstance(context, dict):
                for values in context.values():
                    for value in values if isinstance(values, list) else [values]:
                        if isinstance(value, (str, int, float)):
                            mentioned.add(to_text(value).strip())

        if isinstance(answer, dict):
            collect(answer.get("context"))
            for error in answer.get("errors") or []:
                if isinstance(error, dict):
                    collect(error.get("context"))
        lowered = {m.lower() for m in mentioned}
        text = message.lower()
        named = []
        for item in part:
            if item.trace in mentioned:
                named.append(item)
            elif item.key is not None and (item.key.lower() in lowered or _mentions(text, item.key.lower())):
                named.append(item)
        return named

    def _match(self, part: list[_Item], answer: dict[str, Any], status: int) -> tuple[list[Any], list[Any]]:
        """Pair HubSpot's results and errors with the inputs (by trace id, else by id value)."""
        by_trace = {item.trace: item for item in part}
        id_property = self.config["idProperty"].strip()
        written: dict[str, dict[str, Any]] = {}
        failed: dict[str, dict[str, Any]] = {}
        loose: list[dict[str, Any]] = []

        def by_key(key: str | None, taken: Mapping[str, Any]) -> _Item | None:
            return next((i for i in part if key is not None and i.key == key and i.trace not in taken), None)

        for obj in answer.get("results") or []:
            item = by_trace.get(obj.get("objectWriteTraceId"))
            if item is None and self.config["operation"] != "create":
                value = obj.get("id") if _by_record_id(id_property) else get_path(obj, f"properties.{id_property}")
                item = by_key(_key(value, id_property), written)
            if item is None:
                loose.append(obj)
            else:
                written[item.trace] = obj
        stray_errors: list[dict[str, Any]] = []
        for error in answer.get("errors") or []:
            context = error.get("context") or {}
            items = [by_trace[t] for t in context.get("objectWriteTraceId") or [] if t in by_trace]
            if not items:
                keys = {_key(v, id_property) for v in context.get("ids") or []}
                items = [i for i in part if i.key is not None and i.key in keys and i.trace not in written]
            if not items:
                stray_errors.append(error)
            for item in items:
                failed.setdefault(item.trace, error)
        unanswered = [i for i in part if i.trace not in written and i.trace not in failed]
        if loose and len(loose) == len(unanswered):  # results without a trace id: HubSpot keeps input order
            written.update({item.trace: obj for item, obj in zip(unanswered, loose)})
            unanswered = []
        accepted = [{**item.record, "hubspotId": written[item.trace].get("id")} for item in part
                    if item.trace in written]
        rejected = [_rejection(item.record, str(failed[item.trace].get("message") or "refused by HubSpot"), status,
                               failed[item.trace].get("category")) for item in part if item.trace in failed]
        if unanswered:
            reason = ("; ".join(str(e.get("message")) for e in stray_errors if e.get("message")) or
                      "HubSpot's answer did not mention this record; check it in HubSpot before sending it again")
            rejected += [_rejection(item.record, reason, status, "UNKNOWN_OUTCOME" if not stray_errors else
                                    stray_errors[0].get("category")) for item in unanswered]
        return accepted, rejected


# -- registration -------------------------------------------------------------------------------------------

_HEAD, _TAIL = _connection_fields(default_retries=5)
_OUTPUT_FIELDS = (
    ConfigField("flatten", "boolean", "Emit each object as {id, ...properties} (off: HubSpot's object as it is, "
                "with id, properties, createdAt, ...).", default=True),
    ConfigField("inputField", "string", "Copy the incoming record into this field of each result, to join them "
                "later (empty: not copied).", default=""),
)

register(BlockType(
    "hubspot_read", "HubSpot Read", "Reads HubSpot CRM objects: batch read by an id property (100 per call), "
    "search by a property for each incoming record, or list every object page by page; inputs without a match go "
    "to `notFound`.",
    inputs=("in",), outputs=("out", "notFound"),
    config=(
        *_HEAD,
        ConfigField("operation", "enum", "batch_read: look up each incoming record's idField value; search: one "
                    "search per incoming record; list: every object (once per run).", default="batch_read",
                    choices=("batch_read", "search", "list")),
        ConfigField("idField", "string", "batch_read: the field of each incoming record holding the value to look "
                    "up.", default="email"),
        ConfigField("idProperty", "string", "batch_read: the unique HubSpot property that value is (email, domain, "
                    "a custom unique property; hs_object_id or empty: HubSpot's record id).", default="email"),
        ConfigField("propertyName", "string", "search: the property to compare.", default="email"),
        ConfigField("operator", "enum", "search: how to compare (IN/NOT_IN take a list or comma-separated text; "
                    "HAS_PROPERTY/NOT_HAS_PROPERTY take no value).", default="EQ", choices=OPERATORS),
        ConfigField("value", "template", "search: the value, rendered with each incoming record, e.g. "
                    "{{ email }}; an empty value is not searched (the record goes to notFound).",
                    default="{{ email }}"),
        ConfigField("properties", "list", "Properties to return (empty: HubSpot's usual ones for the type).",
                    default=[], item_kind="string"),
        ConfigField("batchSize", "integer", "search/list: records per batch sent downstream (list also reads pages "
                    "of up to this many, at most 100; 0: everything in one batch).", default=100, minimum=0,
                    maximum=1_000_000),
        ConfigField("maxIterations", "integer", "list: stop after this many batches; search: after this many pages "
                    "per record (0: all).", default=0, minimum=0),
        *_OUTPUT_FIELDS,
        *_TAIL,
    ),
    impl=HubSpotRead, category="Integrations",
))

register(BlockType(
    "hubspot_write", "HubSpot Write", "Writes HubSpot CRM objects in chunks of 100: upsert by a unique property "
    "(safe to retry), create or update. Accepted records go to `out` with `hubspotId`; records HubSpot refuses (or "
    "that cannot be sent) go to `rejected` as {record, reason, status, category}.",
    inputs=("in",), outputs=("out", "rejected"),
    config=(
        *_HEAD,
        ConfigField("operation", "enum", "upsert: create or update by idProperty (idempotent, retried safely); "
                    "create: new objects (never repeated after a lost answer); update: existing objects by id or "
                    "idProperty.", default="upsert", choices=("upsert", "create", "update")),
        ConfigField("idField", "string", "upsert/update: the field of each record holding its id.", default="email"),
        ConfigField("idProperty", "string", "upsert/update: the unique HubSpot property that id is (email, domain, "
                    "...); update also accepts empty or hs_object_id for HubSpot's record id.", default="email"),
        ConfigField("propertiesField", "string", "Empty: every field of the record except idField is a property; "
                    "else the field holding an object of properties.", default=""),
        *_TAIL,
    ),
    impl=HubSpotWrite, category="Integrations",
))
