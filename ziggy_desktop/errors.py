"""Errors that are the user's or the environment's fault, each with a message fit for a person."""

from __future__ import annotations


class ZiggyError(Exception):
    """A problem the user can fix; `code` is machine-readable, the message says what to do.

    Anything that is not a ZiggyError is a bug and is reported as one.
    """

    code = "ZIGGY_ERROR"
    http_status = 400

    def __init__(self, message: str, *, code: str | None = None, http_status: int | None = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if http_status is not None:
            self.http_status = http_status


class ConfigError(ZiggyError):
    """A setting in the environment or a .env file is invalid."""

    code = "CONFIG_ERROR"


class ValidationError(ZiggyError):
    """Input (a flow document, a request parameter, a body) is malformed."""

    code = "VALIDATION_ERROR"
    http_status = 400


class NotFoundError(ZiggyError):
    code = "NOT_FOUND"
    http_status = 404


class AuthError(ZiggyError):
    code = "UNAUTHORIZED"
    http_status = 401


class ConflictError(ZiggyError):
    code = "CONFLICT"
    http_status = 409


class QueueFullError(ZiggyError):
    """The backlog is at MAX_SYSTEM_QUEUE_SIZE; the caller should retry later."""

    code = "QUEUE_FULL"
    http_status = 503

    def __init__(self, message: str, retry_after_seconds: int):
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


class ShuttingDownError(ZiggyError):
    code = "SHUTTING_DOWN"
    http_status = 503
    retry_after_seconds = 5
