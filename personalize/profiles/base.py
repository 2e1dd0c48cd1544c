"""The profile store contract every backend implements."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from django.utils.module_loading import import_string

from personalize.conf import settings
from personalize.profiles.profile import Profile, ProfileOp
from personalize.tracking.context import VisitContext
from personalize.tracking.events import EventRecord

if TYPE_CHECKING:
    from django.core.checks import CheckMessage

    from personalize.profiles.redis_client import RedisClient
    from personalize.ratelimit import EventRateLimiter
    from personalize.recommendations.storage import ModelStore


#: How long a store that :attr:`~BaseProfileStore.replays_changes` remembers that it
#: applied a batch: a deferred batch whose first attempt may have landed is replayed
#: within this time or not at all (``personalize.profiles.backlog``).
BATCH_MARK_SECONDS = 600


@dataclass(frozen=True)
class EventStream:
    """Redis Streams where a store leaves events for ``personalize_worker``."""

    #: Every stream (shard) events may wait in; each has its own consumer group.
    names: tuple[str, ...]
    #: A new connection for the worker (a ``RedisCluster`` on a cluster), whose read
    #: timeout outlasts a blocking read of ``block_ms`` milliseconds.
    connect: Callable[[int], RedisClient]


class StoreUnavailable(Exception):
    """The store could not be reached in time; the request degrades to request-only data."""


class BaseProfileStore:
    """Where visitor profiles live.

    Subclasses implement every method. The request hot path calls exactly two:
    :meth:`touch` when a request first needs the profile and :meth:`apply` once
    at the end of the response with everything the request tracked.
    """

    def touch(self, visitor_id: str, ctx: VisitContext) -> tuple[Profile, bool]:
        """Record activity and return ``(profile, started_new_visit)``, atomically."""
        raise NotImplementedError

    def apply(self, visitor_id: str, ops: list[ProfileOp], events: list[EventRecord]) -> None:
        """Apply ops to the profile and append events to the log, atomically."""
        raise NotImplementedError

    def load(self, visitor_id: str) -> Profile | None:
        """The stored profile, without recording activity."""
        raise NotImplementedError

    def save(self, profile: Profile) -> None:
        """Replace the whole stored profile (imports, merges)."""
        raise NotImplementedError

    def delete(self, visitor_id: str) -> None:
        """Erase the profile (not the event log)."""
        raise NotImplementedError

    def visitor_for_user(self, user_id: str) -> str | None:
        """The visitor id that holds this user's profile, if any."""
        raise NotImplementedError

    def link_user(self, visitor_id: str, user_id: str) -> None:
        """Make ``visitor_id`` the profile of ``user_id``."""
        raise NotImplementedError

    def iter_profiles(self, *, seen_since: float = 0.0) -> Iterator[Profile]:
        """Every stored profile last seen at or after ``seen_since``."""
        raise NotImplementedError

    def import_profiles(self, profiles: Iterable[Profile], events: Iterable[EventRecord]) -> None:
        """Bulk-write profiles and their event log (seeding, migrations between stores)."""
        raise NotImplementedError

    def write_ext(self, key: str, values: dict[str, Any]) -> None:
        """Set extension document ``key`` on many profiles at once (RFM scores, ...)."""
        raise NotImplementedError

    #: Whether :meth:`apply` marks each batch of changes with its first event's id and
    #: :meth:`apply_once` honours the marks. Then the changes of a request that could
    #: not be applied (``StoreUnavailable``) are deferred to the database and replayed
    #: exactly once by ``personalize_worker`` (``personalize.profiles.backlog``);
    #: otherwise they are lost with the failure, as before.
    replays_changes: bool = False

    def apply_once(self, visitor_id: str, batch_id: str, ops: list[ProfileOp]) -> bool:
        """Apply ``ops`` and mark ``batch_id`` applied, atomically, unless it already
        is; return whether they were applied. Needed when :attr:`replays_changes`.

        Raises :class:`StoreUnavailable` when the store cannot answer in time.
        """
        raise NotImplementedError

    # Capabilities. Each has a safe default, so a store implementing only the methods
    # above is complete: configuration changes are polled from the database, events
    # are written to the log by apply() itself, trained recommendation tables live in
    # the database. A store overrides what it can do better.

    def config_version(self) -> int | None:
        """The configuration version this store broadcasts to every app server, or
        ``None`` when it has no such channel (the database is polled instead).

        Raises :class:`StoreUnavailable` when the store cannot answer in time.
        """
        return None

    def bump_config_version(self) -> int | None:
        """Advance the broadcast configuration version; ``None`` without a channel."""
        return None

    def event_stream(self) -> EventStream | None:
        """The streams ``personalize_worker`` drains, or ``None`` when :meth:`apply`
        writes events to the database log itself (nothing to drain)."""
        return None

    def model_store(self) -> ModelStore | None:
        """Where trained recommendation tables live; ``None``: the database."""
        return None

    def rate_limiter(self) -> EventRateLimiter | None:
        """A limiter of reported events shared by every app server, or ``None``:
        Django's cache counts them (``personalize.ratelimit.CacheRateLimiter``)."""
        return None

    def load_many(self, visitor_ids: Collection[str]) -> dict[str, Profile]:
        """The stored profiles of ``visitor_ids`` (missing ones left out), for batch jobs
        such as the analytics rollups. The default loads them one by one; a store that
        can fetch many at once overrides it."""
        found = {}
        for visitor_id in visitor_ids:
            profile = self.load(visitor_id)
            if profile is not None:
                found[visitor_id] = profile
        return found

    def iter_profiles_by_id(self, *, after: str = "") -> Iterator[Profile] | None:
        """Profiles whose visitor id sorts after ``after``, in visitor-id order, streamed
        (keyset pagination), or ``None`` when the store can only scan in no particular
        order: callers then pick each page out of a full :meth:`iter_profiles` scan."""
        return None

    def visitor_for_email(self, email: str) -> str | None:
        """The visitor id of an identified visitor (an email captured on the site,
        with or without an account), when the store can look it up."""
        return None

    def check(self) -> list[CheckMessage]:
        """System checks of this store (reachability, database options...)."""
        return []

    # Privacy requests (personalize.privacy): rare, so these may scan the whole store.

    def find_visitors(
        self, *, user_ids: Collection[str] = (), emails: Collection[str] = ()
    ) -> set[str]:
        """Every visitor id whose stored profile belongs to one of these users or emails.

        The default asks :meth:`visitor_for_user` and :meth:`visitor_for_email`; a store
        that can find more (every profile carrying an email, not just the latest) says so.
        """
        found = {v for v in (self.visitor_for_user(u) for u in user_ids) if v}
        found |= {v for v in (self.visitor_for_email(e) for e in emails) if v}
        return found

    def erase_profile(self, visitor_id: str) -> bool:
        """Remove everything the store keeps for ``visitor_id`` (the profile and any side
        records, such as a rate-limit window); whether a profile was there."""
        existed = self.load(visitor_id) is not None
        self.delete(visitor_id)
        return existed

    def unlink_user(self, user_id: str) -> bool:
        """Remove the link from ``user_id`` to its profile; whether there was one.

        By default the link lives in the profile itself (its ``user_id``), so erasing
        that profile removes it and there is nothing else to delete. A store that keeps
        links apart from profiles (the Redis store's ``pz:user:{id}`` keys) deletes them.
        """
        return self.visitor_for_user(user_id) is not None

    def unlink_email(self, email: str) -> bool:
        """Remove the link from ``email`` to its profile; whether there was one. Like
        :meth:`unlink_user`: by default the email lives in the profile only."""
        return self.visitor_for_email(email) is not None

    def buffered_events(self, match: Callable[[EventRecord], bool]) -> list[EventRecord]:
        """Events the store holds that have not reached the database log yet (an event
        stream), those for which ``match`` is true. ``[]`` when :meth:`apply` writes
        events to the log itself."""
        return []

    def drop_buffered_events(self, match: Callable[[EventRecord], bool]) -> int:
        """Delete the buffered events for which ``match`` is true; how many went."""
        return 0

    def merge(self, source_id: str, target_id: str) -> Profile:
        """Fold ``source_id`` into ``target_id`` and delete the source; return the result."""
        source = self.load(source_id)
        target = self.load(target_id) or Profile(visitor_id=target_id)
        if source is not None:
            target.merge_from(source)
            self.save(target)
            self.delete(source_id)
        return target


@lru_cache(maxsize=8)
def _store_for(path: str) -> BaseProfileStore:
    cls = import_string(path)
    store = cls()
    if not isinstance(store, BaseProfileStore):
        raise TypeError(f"{path} is not a BaseProfileStore subclass.")
    return store


def get_store() -> BaseProfileStore:
    """The configured store (one instance per class path, created on first use)."""
    return _store_for(settings.STORE)


def reset_store() -> None:
    """Forget store instances (after settings change); the next call builds a new one."""
    _store_for.cache_clear()
