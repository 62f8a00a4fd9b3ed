"""The API's per-user throttle, counted with one cache round trip per request (issue 14).

DRF's `UserRateThrottle` keeps each user's request times as a list, read from the cache and
written back on every request: two round trips, and the whole list (up to the rate's count of
floats) pickled both ways. This one counts requests in fixed windows of the rate's period (an
`INCR` and its expiry in one pipeline on Redis), with the same rates, scope and cache keys'
prefix; a client can make up to twice the rate across a window's edge, which the limit (abuse
protection, not billing) allows.
"""

from __future__ import annotations

from typing import Any

from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from rest_framework import throttling


def _count(key: str, seconds: int) -> int:
    """Add one to the counter under `key` (made with a lifetime of `seconds`) and return it."""
    cache = caches["default"]
    if isinstance(cache, RedisCache):
        full_key = cache.make_and_validate_key(key)
        client = cache._cache.get_client(full_key, write=True)
        with client.pipeline() as pipe:
            count, _ = pipe.incr(full_key).expire(full_key, seconds).execute()
        return int(count)
    cache.add(key, 0, seconds)
    return cache.incr(key)


class UserRateThrottle(throttling.UserRateThrottle):
    def allow_request(self, request: Any, view: Any) -> bool:
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        self.now = self.timer()
        window = int(self.now // self.duration)
        self.window_ends = (window + 1) * self.duration
        return _count(f"{self.key}:{window}", self.duration) <= self.num_requests

    def wait(self) -> float:
        return max(self.window_ends - self.now, 0.0)
