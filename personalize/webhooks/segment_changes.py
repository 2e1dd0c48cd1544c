"""``segment.entered`` / ``segment.left``: detected when a request changes the profile.

The segments a visitor was last seen in are remembered on the profile (the
``segments`` extension document, written with the request's other changes, so
no extra store round trip). A request that evaluated the visitor's segments
compares them with that memory; a difference becomes webhook events.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from personalize.segments.registry import get_registry
from personalize.webhooks.models import EventType
from personalize.webhooks.subscriptions import WebhookEvent

if TYPE_CHECKING:
    from personalize.identity.visitor import Visitor

#: The profile extension document holding the last segments seen.
REMEMBERED_KEY = "segments"


def segment_changes(visitor: Visitor) -> list[WebhookEvent]:
    """Remember the visitor's segments if they changed; the events to send for it.

    Call in the response phase, before the visitor is flushed. Nothing happens for
    bots and untracked visitors, during a staff preview (the segments are forced),
    when the store is down, or when the request never evaluated segments. A request
    that logged in (merging profiles) or out is left to the next one: the visitor it
    ends with is not the one whose segments it evaluated, and looking would cost a
    profile load.
    """
    if not visitor.tracked or visitor.is_bot or visitor.preview_segment is not None:
        return []
    if not visitor.attributes_accessed or visitor.degraded or visitor.id_changed:
        return []
    profile = visitor.profile
    if profile is None:
        return []
    current = visitor.segments
    remembered = profile.ext.get(REMEMBERED_KEY)
    if isinstance(remembered, list):
        previous = {str(slug) for slug in remembered}
    elif profile.pageviews_total <= 1 and profile.visit_count <= 1:
        previous = set()  # a brand-new visitor enters each of their segments
    else:
        # A profile from before webhooks existed: start remembering, announce nothing
        # (or every known visitor would "enter" all their segments at once).
        visitor.remember(REMEMBERED_KEY, list(current))
        return []
    entered = [slug for slug in current if slug not in previous]
    registry = get_registry()
    left = sorted(slug for slug in previous - set(current) if slug in registry.known_slugs)
    if not entered and not left and set(current) == previous:
        return []
    visitor.remember(REMEMBERED_KEY, list(current))
    names = {segment.slug: segment.name for segment in registry.segments}
    who = {"id": visitor.id, "user_id": profile.user_id, "email": profile.email}
    events = []
    for event_type, slugs in ((EventType.SEGMENT_ENTERED, entered), (EventType.SEGMENT_LEFT, left)):
        for slug in slugs:
            data: dict[str, Any] = {
                "segment": {"slug": slug, "name": names.get(slug, slug)},
                "visitor": who,
                "segments": list(current),
            }
            events.append(WebhookEvent(event_type.value, data, segment=slug))
    return events
