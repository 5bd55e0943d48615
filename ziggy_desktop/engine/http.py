"""HTTP for blocks: a pooled client per block per run with timeouts, a per-second rate limit shared by
connection, and retries with backoff that honour Retry-After; every wait ends at once on a kill."""

from __future__ import annotations

import datetime as dt
import email.utils
import itertools
import logging
import math
import random
import threading
import time
from typing import Any, Callable, Mapping
from urllib.parse import urlsplit, urlunsplit

import httpx

from .context import BlockError, RunContext

log = logging.getLogger("ziggy.engine.http")

BACKOFF_BASE_SECONDS = 0.5  # first retry after about this long, doubling each time
MAX_BACKOFF_SECONDS = 30.0
# A server asking for a longer pause than this (a daily quota, maintenance) ends the run with a clear
# message instead of silently holding a worker for hours.
MAX_RETRY_AFTER_SECONDS = 300.0
BODY_EXCERPT_CHARS = 300
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})

# Errors raised before a single byte of the request left this machine: always safe to send again.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


class RequestFailed(BlockError):
    """A request failed for good (retries exhausted, or a failure that retrying cannot fix)."""

    def __init__(self, message: str, status: int | None = None, body: str = ""):
        super().__init__(message)
        self.status = status
        self.body = body


class OutcomeUnknown(RequestFailed):
    """A request that is not safe to repeat (e.g. a create) may have reached the server, but no answer
    came back: it may or may not have taken effect, so it is not sent again."""


# -- rate limits -----------------------------------------------------------------------------------------

SPACING_MARGIN = 1.02  # calls are spaced 2% wider than the configured rate asks


class RateLimiter:
    """A token bucket holding one token (calls evenly spaced at the rate), safe across threads.

    Each caller reserves the next free slot and waits for it, so a request's own duration does not
    lower the rate. Several clients may share one limiter (attach/detach): the smallest rate any of
    them asked for wins, because the remote limit is per account, not per flow.
    """

    def __init__(self, rate_per_second: float, clock: Callable[[], float] = time.monotonic):
        if rate_per_second <= 0:
            raise ValueError("a rate limiter needs a positive rate")
        self._lock = threading.Lock()
        self._clock = clock
        self._base_rate = rate_per_second
        self._rates: dict[int, float] = {}
        self._ids = itertools.count(1)
        self._interval = SPACING_MARGIN / rate_per_second
        self._next_start = 0.0  # the earliest time the next call may start

    @property
    def rate(self) -> float:
        return SPACING_MARGIN / self._interval

    def attach(self, rate_per_second: float) -> int:
        """Count a client's rate in (the limiter runs at the smallest); returns the handle for detach()."""
        with self._lock:
            handle = next(self._ids)
            self._rates[handle] = rate_per_second
            self._update_interval()
            return handle

    def detach(self, handle: int) -> None:
        with self._lock:
            self._rates.pop(handle, None)
            self._update_interval()

    def _update_interval(self) -> None:
        rate = min(self._rates.values()) if self._rates else self._base_rate
        # A little under the limit: the server counts arrivals per second, and network jitter
        # would otherwise now and then squeeze one call too many into a second (a 429 costs more).
        self._interval = SPACING_MARGIN / rate

    def reserve(self) -> float:
        """Claim the next slot; return how many seconds to wait before using it."""
        with self._lock:
            now = self._clock()
            start = max(now, self._next_start)
            self._next_start = start + self._interval
            return start - now

    def hold_off(self, seconds: float) -> None:
        """The server asked everyone to pause (429 + Retry-After): no slot starts before then."""
        with self._lock:
            self._next_start = max(self._next_start, self._clock() + seconds)

    def acquire(self, ctx: RunContext) -> None:
        wait = self.reserve()
        if wait > 0:
            ctx.sleep(wait)
            # A sleep that overran must not let the next call start closer than the interval.
            with self._lock:
                self._next_start = max(self._next_start, self._clock() + self._interval)


_SHARED: dict[tuple[str, ...], RateLimiter] = {}
_SHARED_LOCK = threading.Lock()


def shared_limiter(key: tuple[str, ...], rate_per_second: float) -> RateLimiter:
    """The process-wide limiter for `key` (e.g. (connection name, mode)), made on first use.

    The caller still attaches its own rate (HttpClient does), so the smallest rate of the runs using
    the connection at the moment applies.
    """
    with _SHARED_LOCK:
        limiter = _SHARED.get(key)
        if limiter is None:
            limiter = _SHARED[key] = RateLimiter(rate_per_second)
        return limiter


# -- small helpers ---------------------------------------------------------------------------------------

def safe_url(url: str | httpx.URL) -> str:
    """The URL without credentials, query string or fragment: safe for messages and logs."""
    parts = urlsplit(str(url))
    host = parts.hostname or ""
    if ":" in host:  # an IPv6 literal
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = f"{host}:{port}" if port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def parse_retry_after(value: str | None, now: dt.datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delay-seconds or an HTTP date); None if absent or bad."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    now = now or dt.datetime.now(dt.timezone.utc)
    return max(0.0, (when - now).total_seconds())


def body_excerpt(response: httpx.Response) -> str:
    try:
        text = response.text
    except Exception:  # noqa: BLE001 - an undecodable body is described, not raised
        return f"({len(response.content)} bytes)"
    text = " ".join(text.split())
    return text if len(text) <= BODY_EXCERPT_CHARS else text[:BODY_EXCERPT_CHARS] + "…"


def describe_response(method: str, response: httpx.Response) -> str:
    """`POST https://host/path answered 400 Bad Request: <body excerpt>` (no query, no credentials)."""
    excerpt = body_excerpt(response)
    reason = f" {response.reason_phrase}" if response.reason_phrase else ""
    return (f"{method} {safe_url(response.request.url)} answered {response.status_code}{reason}"
            + (f": {excerpt}" if excerpt else ""))


def backoff_seconds(attempt: int) -> float:
    """Exponential backoff with a little jitter so parallel runs do not retry in lockstep."""
    delay = min(MAX_BACKOFF_SECONDS, BACKOFF_BASE_SECONDS * (2 ** attempt))
    return delay * (1.0 + random.random() * 0.1)


def _describe_transport_error(exc: httpx.TransportError) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return f"no answer in time ({type(exc).__name__})"
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:BODY_EXCERPT_CHARS]


# -- the client ------------------------------------------------------------------------------------------

class HttpClient:
    """One block's HTTP connection pool for one run; close() it in the block's close().

    request() retries 429, 5xx and connection failures with exponential backoff (a Retry-After on 429
    or 503 sets the wait), at most `max_retries` times, and returns every other answer (2xx, 3xx, 4xx)
    for the caller to judge. A request that is not idempotent is only sent again when it surely did not
    reach the server (a connection refused, a 429); otherwise OutcomeUnknown is raised.
    """

    def __init__(self, ctx: RunContext, *, timeout_seconds: float = 30.0, max_retries: int = 3,
                 rate_per_second: float = 0.0, limiter_key: tuple[str, ...] | None = None,
                 headers: Mapping[str, str] | None = None, auth: httpx.Auth | tuple[str, str] | None = None,
                 follow_redirects: bool = False, what: str = "the server"):
        self.ctx = ctx
        self.max_retries = max_retries
        self.what = what
        self.limiter: RateLimiter | None = None
        self._limiter_handle: int | None = None
        if rate_per_second > 0:
            self.limiter = (shared_limiter(limiter_key, rate_per_second) if limiter_key is not None
                            else RateLimiter(rate_per_second))
            self._limiter_handle = self.limiter.attach(rate_per_second)
        self._client = httpx.Client(timeout=httpx.Timeout(timeout_seconds), headers=dict(headers or {}),
                                    auth=auth, follow_redirects=follow_redirects)
        self.timeout_seconds = timeout_seconds
        self.calls = 0  # requests sent, retries included

    def close(self) -> None:
        if self.limiter is not None and self._limiter_handle is not None:
            self.limiter.detach(self._limiter_handle)
            self._limiter_handle = None
        self._client.close()

    def _send(self, method: str, url: str, params: Any, json_body: Any, headers: Mapping[str, str] | None,
              has_body: bool) -> httpx.Response:
        if has_body:
            return self._client.request(method, url, params=params, json=json_body, headers=headers)
        return self._client.request(method, url, params=params, headers=headers)

    def request(self, method: str, url: str, *, params: Any = None, json_body: Any = None, has_body: bool | None = None,
                headers: Mapping[str, str] | None = None, idempotent: bool | None = None) -> httpx.Response:
        method = method.upper()
        idempotent = method in IDEMPOTENT_METHODS if idempotent is None else idempotent
        has_body = json_body is not None if has_body is None else has_body
        shown = f"{method} {safe_url(url)}"
        attempt = 0
        while True:
            if self.limiter is not None:
                self.limiter.acquire(self.ctx)
            self.calls += 1
            try:
                response = self.ctx.call_blocking(self._send, method, url, params, json_body, headers, has_body)
            except httpx.TransportError as exc:
                problem = _describe_transport_error(exc)
                log.debug("%s failed: %s", shown, problem)
                if not idempotent and not isinstance(exc, _NOT_SENT):
                    raise OutcomeUnknown(
                        f"{shown}: {problem} after the request was sent, so it may or may not have taken effect; "
                        f"it was not sent again because repeating it is not safe. Check {self.what} before "
                        f"sending it again.") from None
                if attempt >= self.max_retries:
                    raise RequestFailed(
                        f"{shown} failed after {attempt + 1} attempt(s): {problem}. Check that {self.what} is "
                        f"reachable at that address, or raise timeoutSeconds / maxRetries.") from None
                delay = backoff_seconds(attempt)
            else:
                status = response.status_code
                log.debug("%s answered %s", shown, status)
                if status != 429 and status < 500:
                    return response
                if status >= 500 and not idempotent:
                    raise OutcomeUnknown(
                        f"{describe_response(method, response)}. The request may or may not have taken effect "
                        f"and repeating it is not safe, so it was not sent again; check {self.what} before "
                        f"sending it again.", status, body_excerpt(response))
                if attempt >= self.max_retries:
                    raise RequestFailed(
                        f"{describe_response(method, response)} (after {attempt + 1} attempt(s)). "
                        + ("Lower the calls per second or raise maxRetries." if status == 429 else
                           f"{self.what[0].upper()}{self.what[1:]} is failing; try again later or raise maxRetries."),
                        status, body_excerpt(response))
                retry_after = (parse_retry_after(response.headers.get("Retry-After"))
                               if status in (429, 503) else None)
                if retry_after is not None and retry_after > MAX_RETRY_AFTER_SECONDS:
                    raise RequestFailed(
                        f"{describe_response(method, response)}; it asks to wait {retry_after:.0f} s, longer than "
                        f"{MAX_RETRY_AFTER_SECONDS:.0f} s (a daily quota?). Run the flow again later.",
                        status, body_excerpt(response))
                delay = retry_after if retry_after is not None else backoff_seconds(attempt)
                if retry_after is not None and self.limiter is not None:
                    # Everyone on this connection pauses, not just this request; acquire() then waits.
                    self.limiter.hold_off(retry_after)
                    delay = 0.0
            attempt += 1
            if delay > 0:
                self.ctx.sleep(delay)
