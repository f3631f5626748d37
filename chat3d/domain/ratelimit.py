"""Rate limits with the `limits` library: in Redis when REDIS_URL is set (shared by every process), else in memory."""

from __future__ import annotations

import functools
import math
import time
import uuid

from limits import parse
from limits.storage import Storage, storage_from_string
from limits.strategies import MovingWindowRateLimiter
from sqlmodel import Session

from chat3d.domain.errors import RateLimited
from chat3d.domain.security_events import record_security_event
from chat3d.settings import get_settings


@functools.lru_cache(maxsize=4)
def _limiter(storage_uri: str) -> tuple[MovingWindowRateLimiter, Storage]:
    storage = storage_from_string(storage_uri)
    if not isinstance(storage, Storage):  # an "async+..." URI: the checks here are synchronous
        raise ValueError(f"not a synchronous rate-limit storage: {storage_uri}")
    return MovingWindowRateLimiter(storage), storage


def _current() -> tuple[MovingWindowRateLimiter, Storage]:
    return _limiter(get_settings().redis_url or "memory://")


def enforce_rate_limit(
    session: Session,
    name: str,
    rate: str,
    *keys: str,
    user_id: uuid.UUID | None = None,
    email: str | None = None,
    ip: str | None = None,
) -> None:
    """Count one hit of `name` for `keys`; over `rate` (e.g. "10/minute") record the event and raise RateLimited."""
    limiter, _ = _current()
    item = parse(rate)
    if limiter.hit(item, name, *keys):
        return
    reset_at = limiter.get_window_stats(item, name, *keys).reset_time
    retry_after = max(1, math.ceil(reset_at - time.time()))
    record_security_event(
        session, "rate_limited", user_id=user_id, email=email, ip=ip, details={"limit": name, "rate": rate}
    )
    raise RateLimited(f"Too many requests; try again in {retry_after} s.", retry_after)


def budget_left(rate: str, name: str, *keys: str) -> bool:
    """Whether one more hit of `name` for `keys` fits in `rate`, without counting it."""
    limiter, _ = _current()
    return limiter.test(parse(rate), name, *keys)


def spend(rate: str, name: str, *keys: str) -> None:
    """Count one hit (e.g. a failed sign-in) without refusing anything now."""
    limiter, _ = _current()
    limiter.hit(parse(rate), name, *keys)


def refuse(
    session: Session, rate: str, name: str, *keys: str, message: str, email: str | None = None, ip: str | None = None
) -> RateLimited:
    """The RateLimited error (with Retry-After) for a spent budget, recorded as a security event."""
    limiter, _ = _current()
    reset_at = limiter.get_window_stats(parse(rate), name, *keys).reset_time
    retry_after = max(1, math.ceil(reset_at - time.time()))
    record_security_event(session, "rate_limited", email=email, ip=ip, details={"limit": name, "rate": rate})
    return RateLimited(f"{message} Try again in {retry_after} s.", retry_after)


def reset_rate_limits() -> None:
    """Forget every counter (tests, and an admin unblocking after an incident)."""
    _current()[1].reset()
