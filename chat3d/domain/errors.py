"""Errors the domain raises; the API maps each to its HTTP status in one handler, Reflex shows the message."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A rule refused the request; `message` is written for a person."""

    status = 400

    def __init__(self, message: str, detail: Any = None):
        super().__init__(message)
        self.message = message
        self.detail = detail


class InvalidInput(DomainError):
    status = 400


class Unauthorized(DomainError):
    status = 401


class Forbidden(DomainError):
    status = 403


class NotFound(DomainError):
    status = 404


class Conflict(DomainError):
    status = 409


class RateLimited(DomainError):
    status = 429

    def __init__(self, message: str, retry_after: int):
        super().__init__(message, {"retryAfter": retry_after})
        self.retry_after = retry_after
