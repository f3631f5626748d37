"""Rate limits count in Redis when it is configured, so every process shares them."""

from __future__ import annotations

import pytest

from chat3d.domain import ratelimit
from chat3d.domain.errors import RateLimited
from chat3d.settings import reset_settings_cache


def test_limits_are_shared_through_redis(db, redis_url, monkeypatch) -> None:
    monkeypatch.setenv("REDIS_URL", redis_url)
    reset_settings_cache()
    ratelimit.reset_rate_limits()
    ratelimit.enforce_rate_limit(db, "probe", "2/minute", "10.0.0.1")
    ratelimit._limiter.cache_clear()  # as if another process answered the next request
    ratelimit.enforce_rate_limit(db, "probe", "2/minute", "10.0.0.1")
    ratelimit._limiter.cache_clear()
    with pytest.raises(RateLimited) as caught:
        ratelimit.enforce_rate_limit(db, "probe", "2/minute", "10.0.0.1")
    assert 0 < caught.value.retry_after <= 60
    ratelimit.enforce_rate_limit(db, "probe", "2/minute", "10.0.0.2")
    ratelimit.reset_rate_limits()
    ratelimit.enforce_rate_limit(db, "probe", "2/minute", "10.0.0.1")
