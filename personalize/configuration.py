"""The configuration version: how every worker learns, within seconds, that the admin changed.

Saving a segment (and later campaigns and widgets) bumps a counter in the
database and, with the Redis store, in Redis. Each process compares the counter
with the one its compiled configuration was built for and rebuilds on change.

Reading the counter costs nothing on the hot path: the Redis store fetches it
in the same round trip as the profile (:meth:`observe` is called with it); the
database store re-reads it at most every ``PERSONALIZE_CONFIG_POLL_SECONDS``.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from django.db import transaction
from django.db.models import F

from personalize.conf import settings
from personalize.profiles.base import StoreUnavailable, get_store

REDIS_KEY_SUFFIX = "config:version"

_lock = threading.Lock()
_observed: tuple[int, float] | None = None  # (version, monotonic time)


def redis_key() -> str:
    return f"{settings.REDIS_PREFIX}:{REDIS_KEY_SUFFIX}"


def observe(version: int) -> None:
    """Record a version read alongside other work (the Redis touch)."""
    global _observed
    with _lock:
        _observed = (version, time.monotonic())


def _read_version() -> int:
    from personalize.models import ConfigVersion

    try:
        broadcast = get_store().config_version()
    except StoreUnavailable:
        broadcast = None  # fall back to the database, the source of truth
    if broadcast is not None:
        return broadcast
    row = ConfigVersion.objects.using(settings.DATABASE_ALIAS).filter(pk=1).first()
    return row.version if row else 0


def current_version() -> int:
    """The latest known version, re-read when the last reading is older than the poll period."""
    observed = _observed
    if observed is not None and time.monotonic() - observed[1] < settings.CONFIG_POLL_SECONDS:
        return observed[0]
    version = _read_version()
    observe(version)
    return version


def bump() -> int:
    """Mark the configuration as changed (call after saving configuration rows)."""
    from personalize.models import ConfigVersion

    using = settings.DATABASE_ALIAS
    with transaction.atomic(using=using):
        updated = ConfigVersion.objects.using(using).filter(pk=1).update(version=F("version") + 1)
        if not updated:
            ConfigVersion.objects.using(using).create(pk=1, version=1)
        version = ConfigVersion.objects.using(using).get(pk=1).version
    # If the store's channel is down, app servers fall back to polling the database.
    with contextlib.suppress(StoreUnavailable):
        version = get_store().bump_config_version() or version
    observe(version)
    return version


def bump_on_commit(using: str | None = None) -> None:
    """Bump once the current transaction commits (now, outside one): for admin actions and
    bulk updates, which send no model signals."""
    transaction.on_commit(bump, using=using or settings.DATABASE_ALIAS)


T = TypeVar("T")


_instances: list[Compiled[Any]] = []


def reset_all() -> None:
    """Forget every compiled configuration and the last version seen (tests, reloads)."""
    global _observed
    _observed = None
    for compiled in _instances:
        compiled.reset()


class Compiled(Generic[T]):
    """A value built from configuration tables, rebuilt when the version changes."""

    def __init__(self, build: Callable[[], T]) -> None:
        _instances.append(self)
        self._build = build
        self._lock = threading.Lock()
        self._value: T | None = None
        self._version: int | None = None

    def get(self) -> T:
        version = current_version()
        value = self._value
        if value is not None and version == self._version:
            return value
        with self._lock:
            if self._value is None or version != self._version:
                self._value = self._build()
                self._version = version
            return self._value

    def reset(self) -> None:
        with self._lock:
            self._value = None
            self._version = None
