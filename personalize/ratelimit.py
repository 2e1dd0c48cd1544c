"""How many reported events a visitor may send, shared by every app server.

The events API accepts at most ``PERSONALIZE_EVENTS_RATE_LIMIT`` events (not
requests: one report carries up to 20) per visitor per minute. The count must be
shared by all processes, or three app servers let three times the limit through.

A store may bring its own limiter (:meth:`BaseProfileStore.rate_limiter`; the Redis
store keeps an exact sliding window next to the visitor's profile). Otherwise
:class:`CacheRateLimiter` counts in Django's cache: shared when the cache is
(Redis, Memcached), per process when it is local memory, which the system check
``personalize.W007`` reports.
"""

from __future__ import annotations

import time
from typing import Protocol

from django.core.cache import caches

from personalize.conf import settings
from personalize.profiles.base import StoreUnavailable, get_store

WINDOW = 60  # seconds


class EventRateLimiter(Protocol):
    def allow(self, visitor_id: str, count: int, limit: int) -> bool:
        """Count ``count`` events for the visitor if that keeps them within ``limit``
        in the last minute; ``False`` (nothing counted) otherwise."""
        ...


class CacheRateLimiter:
    """Fixed one-minute windows in Django's default cache.

    ``incr`` is atomic on Redis and Memcached caches, so concurrent reports never
    both slip through. A window starts on the minute: a visitor can send ``limit``
    events at 12:00:59 and ``limit`` more at 12:01:00.
    """

    def __init__(self, alias: str = "default") -> None:
        self.alias = alias

    def allow(self, visitor_id: str, count: int, limit: int) -> bool:
        cache = caches[self.alias]
        key = f"pz-events:{visitor_id}:{int(time.time() // WINDOW)}"
        cache.add(key, 0, WINDOW + 5)
        try:
            total = cache.incr(key, count)
        except ValueError:  # evicted between add and incr: start the window again
            cache.set(key, count, WINDOW + 5)
            total = count
        if total > limit:
            cache.decr(key, count)  # refused events do not use up the allowance
            return False
        return True


def is_process_local(alias: str = "default") -> bool:
    """Whether the cache is private to each process (so a limit counts per process)."""
    from django.core.cache.backends.dummy import DummyCache
    from django.core.cache.backends.locmem import LocMemCache

    return isinstance(caches[alias], (LocMemCache, DummyCache))


def allow(subject: str, count: int, limit: int) -> bool:
    """Count ``count`` for ``subject`` if that keeps it within ``limit`` a minute.

    The one entry point to the shared limiter: the store's own when it has one, else
    Django's cache. ``subject`` is a visitor id, or a name no visitor id can take (the
    API's ``apikey-<prefix>``: visitor ids are hex only).
    """
    limiter = get_store().rate_limiter()
    if limiter is not None:
        try:
            return limiter.allow(subject, count, limit)
        except StoreUnavailable:
            pass  # the store is down: the cache still limits, if less precisely
    return CacheRateLimiter().allow(subject, count, limit)


def allow_events(visitor_id: str, count: int) -> bool:
    """Whether the visitor may report ``count`` more events now (and count them if so)."""
    return allow(visitor_id, count, settings.EVENTS_RATE_LIMIT)
