"""A third-party profile store, as a shop would write one: only the required methods.

It keeps profiles in process memory and writes events straight to the database
log. It implements none of the optional capabilities (configuration broadcast,
event stream, model storage, email lookup, checks), so the app must fall back to
their safe defaults. Used by ``tests/test_store_capabilities.py`` and the store
contract suite.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterable, Iterator
from typing import Any

from personalize.conf import settings
from personalize.profiles.base import BaseProfileStore
from personalize.profiles.profile import Profile, ProfileOp
from personalize.profiles.visits import touch
from personalize.tracking.context import VisitContext
from personalize.tracking.events import EventRecord
from personalize.tracking.log import write_events


class MemoryProfileStore(BaseProfileStore):
    """Profiles in a dict under one lock; one instance per process."""

    def __init__(self) -> None:
        self._profiles: dict[str, Profile] = {}
        self._users: dict[str, str] = {}
        self._lock = threading.Lock()

    def _get(self, visitor_id: str) -> Profile:
        profile = self._profiles.get(visitor_id)
        if profile is None:
            profile = self._profiles[visitor_id] = Profile(visitor_id=visitor_id)
        return profile

    def touch(self, visitor_id: str, ctx: VisitContext) -> tuple[Profile, bool]:
        with self._lock:
            profile = self._get(visitor_id)
            new_visit = touch(profile, ctx, settings.VISIT_TIMEOUT)
            return copy.deepcopy(profile), new_visit

    def apply(self, visitor_id: str, ops: list[ProfileOp], events: list[EventRecord]) -> None:
        with self._lock:
            if ops:
                self._get(visitor_id).apply(ops)
        write_events(events, using=settings.DATABASE_ALIAS)

    def load(self, visitor_id: str) -> Profile | None:
        with self._lock:
            profile = self._profiles.get(visitor_id)
            return None if profile is None else copy.deepcopy(profile)

    def save(self, profile: Profile) -> None:
        with self._lock:
            self._profiles[profile.visitor_id] = copy.deepcopy(profile)
            if profile.user_id:
                self._users[profile.user_id] = profile.visitor_id

    def delete(self, visitor_id: str) -> None:
        with self._lock:
            self._profiles.pop(visitor_id, None)

    def visitor_for_user(self, user_id: str) -> str | None:
        return self._users.get(user_id)

    def link_user(self, visitor_id: str, user_id: str) -> None:
        with self._lock:
            self._users[user_id] = visitor_id
            self._get(visitor_id).user_id = user_id

    def iter_profiles(self, *, seen_since: float = 0.0) -> Iterator[Profile]:
        with self._lock:
            found = [copy.deepcopy(p) for p in self._profiles.values() if p.last_seen >= seen_since]
        yield from found

    def import_profiles(self, profiles: Iterable[Profile], events: Iterable[EventRecord]) -> None:
        for profile in profiles:
            self.save(profile)
        write_events(list(events), using=settings.DATABASE_ALIAS)

    def write_ext(self, key: str, values: dict[str, Any]) -> None:
        with self._lock:
            for visitor_id, value in values.items():
                if visitor_id in self._profiles:
                    self._profiles[visitor_id].ext[key] = value
