"""Route handlers: parse the request, call one core service, write JSON. Route table at the bottom."""

from __future__ import annotations

import asyncio
import json
import re
import time
from typing import Any
from urllib.parse import quote

from tornado.web import stream_request_body

from ..audit import MAX_QUERY_LIMIT as MAX_AUDIT_LIMIT, parse_time
from ..errors import ValidationError, ZiggyError
from ..executions import ExecutionView, LaunchRequest, body_fingerprint, check_execution_id, parse_mode
from ..keys import missing_key_error
from ..models import iso_utc
from .base import BaseHandler, NotFoundHandler, ServerContext
from .openapi import openapi_document

LARGE_BODY_BYTES = 256 * 1024  # bodies above this are parsed off the loop
KILL_WAIT_SECONDS = 10.0


def _view_json(view: ExecutionView) -> dict[str, Any]:
    data = {"executionId": view.execution_id, "flowUuid": view.flow_uuid, "flowName": view.flow_name,
            "executionEnvironmentMode": view.mode, "state": view.state}
    if view.termination_status:
        data["terminationStatus"] = view.termination_status
    return data


def _parse_body(raw: bytes) -> tuple[str | None, str]:
    """(the body as text, or None when empty; its fingerprint). Raises on anything but JSON."""
    if not raw.strip():
        return None, body_fingerprint(None, has_body=False)
    try:
        text = raw.decode("utf-8")
        value = json.loads(text)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ValidationError(f"The request body is not valid JSON ({exc}). Send a JSON value with "
                              f"'Content-Type: application/json', or no body at all.", code="INVALID_JSON") from None
    return text, body_fingerprint(value, has_body=True)


@stream_request_body
class LaunchHandler(BaseHandler):
    """POST /api: queue a run of a flow; answers once the run is durably accepted."""

    SUPPORTED_METHODS = ("POST",)

    def prepare(self) -> None:
        super().prepare()
        self._chunks: list[bytes] = []
        self._received = 0
        limit = self.ctx.settings.max_body_bytes
        length = self.request.headers.get("Content-Length")
        if length and length.isdigit() and int(length) > limit:
            raise self._too_large(int(length))
        # Chunked bodies have no length up front: let them stream past the server's own limit so
        # we can count them and answer 413 in JSON, but stop keeping bytes beyond ours.
        self.request.connection.set_max_body_size(limit * 4 + 65536)

    def _too_large(self, size: int | None) -> ZiggyError:
        limit = self.ctx.settings.max_body_bytes
        told = f"is {size} bytes" if size is not None else "is larger than the limit"
        return ZiggyError(f"The body {told}; the limit is {limit} bytes (ZIGGY_MAX_BODY_BYTES). Send less data "
                          f"per call.", code="PAYLOAD_TOO_LARGE", http_status=413)

    def data_received(self, chunk: bytes) -> None:
        self._received += len(chunk)
        if self._received <= self.ctx.settings.max_body_bytes:
            self._chunks.append(chunk)

    def _raw_query_value(self, name: str) -> str | None:
        """A query value exactly as sent: Tornado's getters turn control characters into spaces and
        strip, which would let a malformed executionId through."""
        values = self.request.query_arguments.get(name)
        if not values:
            return None
        try:
            return values[-1].decode("utf-8")
        except UnicodeDecodeError:
            raise ValidationError(f"{name} must be UTF-8 text.", code="INVALID_EXECUTION_ID") from None

    async def post(self) -> None:
        key = self.execution_key()
        if not key:  # before the parameters are checked: an anonymous caller learns nothing else
            raise missing_key_error()
        flow_uuid = self.get_query_argument("flowUuid", "").strip()
        if not flow_uuid:
            raise ValidationError("The flowUuid query parameter is required: copy it from the flow's settings "
                                  "(Flow identifier).", code="MISSING_FLOW_UUID")
        mode = parse_mode(self.get_query_argument("executionEnvironmentMode", None))
        execution_id = check_execution_id(self._raw_query_value("executionId"))
        if self._received > self.ctx.settings.max_body_bytes:
            raise self._too_large(self._received)
        raw = b"".join(self._chunks)
        if len(raw) > LARGE_BODY_BYTES:
            body_json, body_hash = await self.in_db_thread(_parse_body, raw)
        else:
            body_json, body_hash = _parse_body(raw)
        request = LaunchRequest(flow_uuid, mode, execution_id, body_json, body_hash, "API", key)
        result = await asyncio.wrap_future(self.ctx.executions.launch_async(request))
        data = _view_json(result.view)
        status_url = (f"{self.request.protocol}://{self.request.host}/api/ziggy/execution-status/"
                      f"{quote(result.view.execution_id, safe='')}")
        data["statusUrl"] = status_url
        if result.created:
            self.set_header("Location", status_url)
        self.write_json(data, 202 if result.created else 200)


class AuthenticatedHandler(BaseHandler):
    async def authenticate(self) -> None:
        await self.in_db_thread(self.ctx.executions.authenticate, self.execution_key())


class StatusHandler(AuthenticatedHandler):
    """GET /api/ziggy/execution-status/<id>: the seven-field result, or 409 while not finished."""

    SUPPORTED_METHODS = ("GET",)

    async def get(self, execution_id: str) -> None:
        await self.authenticate()
        view = await self.in_db_thread(self.ctx.executions.get, execution_id)
        if view.finished:
            self.write_json(view.status_json())
            return
        position = self.ctx.executions.queue_position(execution_id)
        # The queue knows a run has started a moment before its RUNNING row is committed.
        state = "RUNNING" if position == 0 else view.state
        if position is None and state == "RUNNING":
            position = 0
        self.write_json({"executionId": view.execution_id, "state": state, "queuePosition": position}, 409)


class ExecutionDetailHandler(AuthenticatedHandler):
    """GET /api/ziggy/executions/<id>: everything recorded about one run."""

    SUPPORTED_METHODS = ("GET",)

    async def get(self, execution_id: str) -> None:
        await self.authenticate()
        detail = await self.in_db_thread(self.ctx.executions.detail, execution_id)
        view = detail.view
        data = {**_view_json(view), "trigger": view.trigger, "keyName": view.key_name,
                "reason": view.reason, "failedBlock": view.failed_block, "createdAt": iso_utc(view.created_at),
                "startedAt": iso_utc(view.started_at), "finishedAt": iso_utc(view.finished_at), "ms": view.ms,
                "queuePosition": self.ctx.executions.queue_position(execution_id),
                "input": detail.input, "result": detail.result, "steps": detail.steps, "edges": detail.edges,
                "console": [{**line, "at": iso_utc(line["at"])} for line in detail.console],
                "audit": [line.to_json() for line in detail.audit]}
        self.write_json(data)


class AuditHandler(AuthenticatedHandler):
    """GET /api/ziggy/audit: audit lines, newest first, filtered and paged with a cursor."""

    SUPPORTED_METHODS = ("GET",)
    TEXT_FILTERS = {"executionId": "execution_id", "flowUuid": "flow_uuid", "topic": "topic",
                    "identifier": "identifier", "primaryKey": "primary_key", "cursor": "cursor"}
    KNOWN = {*TEXT_FILTERS, "isError", "since", "until", "limit", "execution-key"}

    def filters(self) -> dict[str, Any]:
        unknown = sorted(set(self.request.query_arguments) - self.KNOWN)
        if unknown:
            # Names are echoed only when they look like names: a key pasted as a name is not repeated.
            shown = [name if re.fullmatch(r"[A-Za-z-]{1,30}", name) else "(a parameter)" for name in unknown]
            raise ValidationError(f"Unknown audit filter(s) {', '.join(shown)}; use "
                                  f"{', '.join(sorted(self.KNOWN - {'execution-key'}))}.", code="INVALID_FILTER")
        filters: dict[str, Any] = {}
        for name, keyword in self.TEXT_FILTERS.items():
            value = self.get_query_argument(name, "")
            if value:
                filters[keyword] = value.lower() if name == "flowUuid" else value
        is_error = self.get_query_argument("isError", "").lower()
        if is_error:
            if is_error not in ("true", "false"):
                raise ValidationError("isError must be true or false.", code="INVALID_FILTER")
            filters["is_error"] = is_error == "true"
        for name in ("since", "until"):
            value = self.get_query_argument(name, "")
            if value:
                filters[name] = parse_time(value, name)
        limit_text = self.get_query_argument("limit", "100")
        if not re.fullmatch(r"[0-9]{1,4}", limit_text) or not 1 <= int(limit_text) <= MAX_AUDIT_LIMIT:
            raise ValidationError(f"limit must be a whole number from 1 to {MAX_AUDIT_LIMIT}.", code="INVALID_LIMIT")
        filters["limit"] = int(limit_text)
        return filters

    async def get(self) -> None:
        await self.authenticate()
        filters = self.filters()
        page = await self.in_db_thread(lambda: self.ctx.executions.audit.query(**filters))
        self.write_json({"items": [line.to_json() for line in page.items], "nextCursor": page.next_cursor})


class HealthHandler(BaseHandler):
    SUPPORTED_METHODS = ("GET",)

    def get(self) -> None:
        queue = self.ctx.queue
        self.write_json({"status": "ok", "version": self.ctx.version, "acceptingRuns": queue.accepting,
                         "running": queue.running_count(), "queued": queue.depth(),
                         "maxConcurrentJobs": queue.max_jobs})


class OpenApiHandler(BaseHandler):
    SUPPORTED_METHODS = ("GET",)

    def get(self) -> None:
        self.write_json(openapi_document(self.ctx.version, self.ctx.settings.base_url))


class QueueSizeHandler(AuthenticatedHandler):
    SUPPORTED_METHODS = ("GET",)

    async def get(self) -> None:
        await self.authenticate()
        queue = self.ctx.queue
        self.write_json({"size": queue.depth(), "running": queue.running_count(),
                         "maxConcurrentJobs": queue.max_jobs, "maxSystemQueueSize": queue.max_backlog})


class QueueListHandler(AuthenticatedHandler):
    SUPPORTED_METHODS = ("GET",)

    async def get(self) -> None:
        await self.authenticate()
        limit_text = self.get_query_argument("limit", "100")
        if not re.fullmatch(r"[0-9]{1,5}", limit_text) or not 1 <= int(limit_text) <= 10000:
            raise ValidationError("limit must be a whole number from 1 to 10000.", code="INVALID_LIMIT")
        running, queued, total = self.ctx.queue.snapshot(int(limit_text))

        def item_json(item, state: str, position: int, started_at: float | None = None) -> dict[str, Any]:
            return {"executionId": item.execution_id, "flowUuid": item.flow_uuid, "flowName": item.flow_name,
                    "executionEnvironmentMode": item.mode, "trigger": item.trigger, "state": state,
                    "queuePosition": position, "createdAt": iso_utc(item.created_at),
                    "startedAt": iso_utc(started_at)}

        self.write_json({
            "running": [item_json(item, "RUNNING", 0, started) for item, started in running],
            "queued": [item_json(item, "QUEUED", index + 1) for index, item in enumerate(queued)],
            "queuedTotal": total, "maxConcurrentJobs": self.ctx.queue.max_jobs,
            "namedQueues": self.ctx.queue.named_queue_view(),
        })


class NamedQueuesHandler(AuthenticatedHandler):
    """GET /api/ziggy/queues: every named queue with its settings, waiting and running runs."""

    SUPPORTED_METHODS = ("GET",)

    async def get(self) -> None:
        await self.authenticate()
        self.write_json({"queues": await self.queue_views()})

    async def queue_views(self) -> list[dict[str, Any]]:
        live = {view["name"]: view for view in self.ctx.queue.named_queue_view()}
        stored = await self.in_db_thread(self.ctx.named_queues.list)
        return [live.get(q.name, {**q.to_json(), "depth": 0, "running": 0}) for q in stored]


class NamedQueueHandler(NamedQueuesHandler):
    """GET, PUT (create or change) and DELETE /api/ziggy/queues/<name>."""

    SUPPORTED_METHODS = ("GET", "PUT", "DELETE")

    async def get(self, name: str) -> None:  # type: ignore[override]
        await self.authenticate()
        match = next((view for view in await self.queue_views() if view["name"] == name), None)
        if match is None:
            await self.in_db_thread(self.ctx.named_queues.get, name)  # raises the 404
        self.write_json(match)

    async def put(self, name: str) -> None:
        await self.authenticate()
        try:
            body = json.loads(self.request.body or b"{}")
        except ValueError:
            body = None
        if not isinstance(body, dict) or set(body) - {"ratePerSecond", "paused"}:
            raise ValidationError('Send a JSON object with "ratePerSecond" (0: no limit) and/or "paused" '
                                  '(true/false).', code="INVALID_QUEUE")
        paused = body.get("paused")
        if paused is not None and not isinstance(paused, bool):
            raise ValidationError('"paused" must be true or false.', code="INVALID_QUEUE")
        saved = await self.in_db_thread(self.ctx.named_queues.save, name, body.get("ratePerSecond"), paused)
        await self.in_db_thread(self.ctx.queue.refresh_named_queues)
        self.write_json(saved.to_json())

    async def delete(self, name: str) -> None:
        await self.authenticate()
        await self.in_db_thread(self.ctx.named_queues.delete, name)
        await self.in_db_thread(self.ctx.queue.refresh_named_queues)
        self.set_status(204)


class KillHandler(AuthenticatedHandler):
    """DELETE kill-system-queue-item (queued only) and kill-flow (running, or still queued)."""

    SUPPORTED_METHODS = ("DELETE",)

    def initialize(self, ctx: ServerContext, allow_running: bool) -> None:  # type: ignore[override]
        super().initialize(ctx)
        self.allow_running = allow_running

    async def delete(self, execution_id: str) -> None:
        await self.authenticate()
        view = await self.in_db_thread(
            lambda: self.ctx.executions.kill(execution_id, allow_running=self.allow_running, wait_seconds=0))
        # A running run stops at its next check; wait for it here, not in a database thread.
        deadline = time.monotonic() + KILL_WAIT_SECONDS
        while not view.finished and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
            view = await self.in_db_thread(self.ctx.executions.get, execution_id)
        data = _view_json(view)
        if not view.finished:
            data["message"] = "The run was asked to stop and is finishing its current step."
        self.write_json(data, 200 if view.finished else 202)


def make_routes(ctx: ServerContext) -> list[tuple]:
    args = {"ctx": ctx}
    return [
        (r"/api/?", LaunchHandler, args),
        (r"/api/ziggy/health", HealthHandler, args),
        (r"/api/ziggy/openapi\.json", OpenApiHandler, args),
        (r"/api/ziggy/execution-status/(.+)", StatusHandler, args),
        (r"/api/ziggy/executions/(.+)", ExecutionDetailHandler, args),
        (r"/api/ziggy/system-queue-size", QueueSizeHandler, args),
        (r"/api/ziggy/system-queue-list", QueueListHandler, args),
        (r"/api/ziggy/queues", NamedQueuesHandler, args),
        (r"/api/ziggy/queues/(?P<name>[^/]+)", NamedQueueHandler, args),
        (r"/api/ziggy/kill-system-queue-item/(.+)", KillHandler, {**args, "allow_running": False}),
        (r"/api/ziggy/kill-flow/(.+)", KillHandler, {**args, "allow_running": True}),
        (r"/api/ziggy/audit", AuditHandler, args),
    ]


__all__ = ["make_routes", "NotFoundHandler"]
