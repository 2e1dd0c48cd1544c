"""``request.visitor``: who is browsing, loaded lazily, written once per response."""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from personalize.identity.cookies import new_visitor_id
from personalize.profiles.backlog import defer
from personalize.profiles.base import StoreUnavailable, get_store
from personalize.profiles.profile import Profile, ProfileOp
from personalize.tracking.context import VisitContext
from personalize.tracking.events import (
    MERGE_EVENT,
    EventRecord,
    event_ops,
    new_event_id,
    validate_event,
)

if TYPE_CHECKING:
    from django.http import HttpRequest

logger = logging.getLogger("personalize")


class Visitor:
    """The current visitor.

    The profile is fetched from the store the first time something needs it
    (one ``touch``); events tracked during the request change the in-memory
    profile at once and are written together by :meth:`flush` when the
    response leaves (one ``apply``).
    """

    def __init__(
        self,
        request: HttpRequest,
        visitor_id: str,
        *,
        tracked: bool,
        cookie_is_new: bool,
        is_bot: bool = False,
    ) -> None:
        self.request = request
        self.id = visitor_id
        self.tracked = tracked
        self.is_bot = is_bot
        self.cookie_is_new = cookie_is_new
        self.id_changed = False
        self.now = time.time()
        self.degraded = False
        self.started_new_visit = False
        self.attributes_accessed = False
        # Set by the middleware when a staff member previews the site as a segment.
        self.preview_segment: str | None = None
        self._profile: Profile | None = None
        self._loaded = False
        self._pending_ops: list[ProfileOp] = []
        self._pending_events: list[EventRecord] = []
        self._context: VisitContext | None = None

    def __repr__(self) -> str:
        return f"<Visitor {self.id} tracked={self.tracked}>"

    @property
    def context(self) -> VisitContext:
        if self._context is None:
            self._context = VisitContext.from_request(self.request, self.now)
        return self._context

    @property
    def profile(self) -> Profile | None:
        """The profile, or None for untracked visitors and when the store is down."""
        if not self._loaded:
            self._loaded = True
            if self.tracked:
                try:
                    self._profile, self.started_new_visit = get_store().touch(self.id, self.context)
                except StoreUnavailable:
                    self.degraded = True
        return self._profile

    @property
    def visit_count(self) -> int:
        profile = self.profile
        return profile.visit_count if profile else 0

    @property
    def is_new(self) -> bool:
        """In their first visit. Unknown (untracked or store down) is neither new nor returning."""
        return self.visit_count == 1

    @property
    def is_returning(self) -> bool:
        return self.visit_count >= 2

    @property
    def attributes(self) -> dict[str, Any]:
        """The attribute document targeting reads (computed once per request)."""
        self.attributes_accessed = True
        cached: dict[str, Any] | None = getattr(self, "_attributes", None)
        if cached is None:
            from personalize.attributes import build_attributes

            cached = build_attributes(self.request, self)
            self._attributes = cached
        return cached

    @property
    def segments(self) -> list[str]:
        """Slugs of the segments this visitor is in right now (evaluated once per request)."""
        segments: list[str] = self.attributes["segments"]
        return segments

    @property
    def real_segments(self) -> list[str]:
        """The segments the visitor is really in, ignoring a staff preview."""
        if self.preview_segment is None:
            return self.segments
        from personalize.segments.registry import get_registry

        return get_registry().evaluate(dict(self.attributes))

    def in_segment(self, *slugs: str) -> bool:
        """Whether the visitor is in any of the given segments.

        An unknown slug is simply not matched (and logged), so deleting a
        segment in the admin never breaks a page that still names it.
        """
        from personalize.segments.registry import get_registry

        current = self.segments
        known = get_registry().known_slugs
        for slug in slugs:
            if slug not in known and slug not in current:
                logger.warning("Unknown segment slug %r (no such segment in the admin)", slug)
        return any(slug in current for slug in slugs)

    def address_page(self, path: str) -> None:
        """Make ``path`` the page this request is about.

        A headless storefront or a lazy fragment asks on the page's behalf: targeting
        (page rules, segments on ``path``) and a visit started by this request read the
        page's path, not the endpoint's. Call it before anything reads the profile or
        the attributes.
        """
        self._context = replace(self.context, path=path)
        self.__dict__.pop("_attributes", None)
        self.__dict__.pop("_campaigns", None)

    def track(self, event: str, props: dict[str, Any]) -> None:
        """Validate an event, apply it to the profile now and queue it for the store."""
        cleaned = validate_event(event, props)
        if not self.tracked:
            return
        profile = self.profile
        visit = profile.visit_count if profile else 0
        if profile is not None:
            ops = event_ops(profile, event, cleaned, self.now)
            profile.apply(ops)
            self._pending_ops += ops
        self._pending_events.append(
            EventRecord(
                event_id=new_event_id(),
                visitor_id=self.id,
                name=event,
                props=cleaned,
                at=self.now,
                visit=visit,
                user_id=profile.user_id if profile else "",
            )
        )
        self.__dict__.pop("_attributes", None)

    def remember(self, key: str, value: Any) -> None:
        """Store an extension document on the profile (written with the request's changes)."""
        if not self.tracked or self.profile is None:
            return
        op = ProfileOp("ext", key, value)
        self.profile.apply([op])
        self._pending_ops.append(op)

    def flush(self) -> None:
        """Write what this request tracked (one store round trip). Never raises.

        Changes the store cannot take (it is down, or the profile never loaded) are
        not lost when the store can replay them: they are deferred to the database
        with the request's events and applied once by ``personalize_worker``.
        """
        if not self._pending_events and not self._pending_ops:
            return
        ops, events = self._pending_ops, self._pending_events
        self._pending_ops, self._pending_events = [], []
        # Degraded: no profile was loaded (the ops were never computed) or an earlier
        # write of this request failed; only the events can go to the store now.
        unapplied = self.degraded
        store = get_store()
        try:
            store.apply(self.id, [] if unapplied else ops, events)
        except StoreUnavailable:
            self.degraded = True
            self._defer(events, maybe_applied=bool(ops) and not unapplied)
        except Exception:
            logger.exception("Could not write visitor %s", self.id)
        else:
            if unapplied:
                self._defer(events, maybe_applied=False)

    def _defer(self, events: list[EventRecord], *, maybe_applied: bool) -> None:
        if not get_store().replays_changes:
            return
        # Without a profile, the request's visit went unrecorded too: replay it.
        visit = self.context if self._profile is None else None
        defer(self.id, events, maybe_applied=maybe_applied, visit=visit)

    def login(self, user_id: str) -> None:
        """Attach the visitor to a user, merging into the user's existing profile if any."""
        if not self.tracked:
            return
        current = self.profile
        if current is not None and current.user_id and current.user_id != user_id:
            # Another user's profile (they never logged out of this browser): never fold
            # it into this user's. This browser starts over, as after a logout.
            self.logout()
        self.flush()
        store = get_store()
        try:
            existing = store.visitor_for_user(user_id)
            if existing and existing != self.id:
                merged = self.id
                self._profile = store.merge(merged, existing)
                self._loaded = True
                self.id = existing
                self.id_changed = True
                # The merged id's past events keep it (and no user id): this record is
                # how an erasure or export of the user finds them (personalize.privacy).
                # Written now, not with the response: the merge is done, whatever the
                # response turns out to be.
                record = EventRecord(
                    event_id=new_event_id(),
                    visitor_id=existing,
                    name=MERGE_EVENT,
                    props={"from": merged},
                    at=self.now,
                    visit=self._profile.visit_count,
                    user_id=user_id,
                )
                store.apply(existing, [], [record])
            else:
                store.link_user(self.id, user_id)
                if self.profile is not None:
                    self.profile.user_id = user_id
        except Exception:
            logger.exception("Could not link visitor %s to user %s", self.id, user_id)
        self.__dict__.pop("_attributes", None)

    def logout(self) -> None:
        """Leave the user's profile: this browser continues as a new anonymous visitor.

        Without this, the browser kept the customer's visitor id after logout, so the
        next person at a shared computer saw their email, orders and searches.
        """
        if not self.tracked:
            return
        self.flush()  # what the user did before logging out stays theirs
        self.id = new_visitor_id()
        self.id_changed = True
        self._profile = None
        self._loaded = False
        self.started_new_visit = False
        self.degraded = False
        self.__dict__.pop("_attributes", None)


class StoredVisitor(Visitor):
    """A stored person an API caller addresses (by visitor id, user or email).

    Read, never touched: loading the profile records no activity and starts no visit,
    and nothing this request decides about them is written back. Attributes that come
    from the request (device, path, UTM) describe the caller's request.
    """

    def __init__(self, request: HttpRequest, visitor_id: str) -> None:
        super().__init__(request, visitor_id, tracked=True, cookie_is_new=False)

    @property
    def profile(self) -> Profile | None:
        if not self._loaded:
            self._loaded = True
            try:
                self._profile = get_store().load(self.id)
            except StoreUnavailable:
                self.degraded = True
        return self._profile

    def flush(self) -> None:
        """Nothing to write: a stored person is only read."""
        self._pending_ops, self._pending_events = [], []


def attach_visitor(request: HttpRequest, visitor: Visitor) -> None:
    request.visitor = visitor  # type: ignore[attr-defined]


def get_visitor(request: HttpRequest) -> Visitor:
    visitor = getattr(request, "visitor", None)
    if not isinstance(visitor, Visitor):
        raise RuntimeError(
            "request.visitor is missing: add 'personalize.middleware.VisitorMiddleware' "
            "to MIDDLEWARE (after AuthenticationMiddleware)."
        )
    return visitor
