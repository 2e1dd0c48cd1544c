"""Importing past behaviour: replay historical events into profiles and the event log.

Used by the demo's ``seed_demo`` and by shops that migrate from another tool.
The replay runs the same visit and event rules as live traffic, so an
imported profile is exactly what live tracking would have built.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from personalize.conf import settings
from personalize.identity.cookies import is_valid_visitor_id
from personalize.identity.device import device_class
from personalize.profiles.base import BaseProfileStore, get_store
from personalize.profiles.profile import Profile
from personalize.profiles.visits import touch
from personalize.tracking.context import VisitContext, clean_utm_value
from personalize.tracking.events import EventRecord, event_ops, new_event_id, validate_event


@dataclass(frozen=True)
class HistoricalEvent:
    """One past event. ``path``/``referrer``/``utm``/``user_agent`` describe the request."""

    visitor_id: str
    name: str
    at: datetime
    props: Mapping[str, Any] = field(default_factory=dict)
    user_id: str = ""
    path: str = "/"
    referrer: str = ""
    utm: Mapping[str, str] = field(default_factory=dict)
    user_agent: str = ""
    country: str = ""


@dataclass
class ImportSummary:
    visitors: int = 0
    events: int = 0


def replay(events: Iterable[HistoricalEvent]) -> tuple[list[Profile], list[EventRecord]]:
    """Build profiles and log records from events (any order; sorted per visitor)."""
    by_visitor: dict[str, list[HistoricalEvent]] = defaultdict(list)
    for event in events:
        if not is_valid_visitor_id(event.visitor_id):
            raise ValueError(f"Invalid visitor id {event.visitor_id!r}: expected 32 hex chars.")
        by_visitor[event.visitor_id].append(event)
    profiles: list[Profile] = []
    records: list[EventRecord] = []
    timeout = settings.VISIT_TIMEOUT
    for visitor_id, items in by_visitor.items():
        items.sort(key=lambda e: e.at)
        profile = Profile(visitor_id=visitor_id)
        for item in items:
            now = item.at.timestamp()
            utm = {k: clean_utm_value(v) for k, v in item.utm.items()}
            ctx = VisitContext(
                now=now,
                path=item.path,
                referrer=item.referrer,
                utm={k: v for k, v in utm.items() if v},
                device=device_class(item.user_agent),
                country=item.country,
            )
            touch(profile, ctx, timeout)
            if item.user_id:
                profile.user_id = item.user_id
            props = validate_event(item.name, item.props)
            profile.apply(event_ops(profile, item.name, props, now))
            records.append(
                EventRecord(
                    event_id=new_event_id(),
                    visitor_id=visitor_id,
                    name=item.name,
                    props=props,
                    at=now,
                    visit=profile.visit_count,
                    user_id=profile.user_id,
                )
            )
        profiles.append(profile)
    return profiles, records


def import_history(
    events: Iterable[HistoricalEvent],
    *,
    store: BaseProfileStore | None = None,
    progress: Callable[[int], None] | None = None,
    chunk_size: int = 500,
) -> ImportSummary:
    """Replay ``events`` and bulk-write the resulting profiles and event log.

    Visitors already in the store are replaced. ``progress`` is called with
    the number of visitors written after each chunk.
    """
    store = store or get_store()
    profiles, records = replay(events)
    by_visitor: dict[str, list[EventRecord]] = defaultdict(list)
    for record in records:
        by_visitor[record.visitor_id].append(record)
    summary = ImportSummary()
    for start in range(0, len(profiles), chunk_size):
        chunk = profiles[start : start + chunk_size]
        chunk_events = [r for p in chunk for r in by_visitor[p.visitor_id]]
        store.import_profiles(chunk, chunk_events)
        summary.visitors += len(chunk)
        summary.events += len(chunk_events)
        if progress is not None:
            progress(len(chunk))
    return summary
