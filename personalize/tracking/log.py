"""Writing events to the durable database log."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from personalize.models import Event
from personalize.tracking.events import EventRecord


def to_row(record: EventRecord) -> Event:
    return Event(
        event_id=record.event_id,
        visitor_id=record.visitor_id,
        user_id=record.user_id,
        name=record.name,
        props=record.props,
        visit=record.visit,
        occurred_at=datetime.fromtimestamp(record.at, tz=UTC),
    )


def write_events(records: Iterable[EventRecord], *, using: str, batch_size: int = 1000) -> int:
    """Insert events, skipping ids already logged, so replays never duplicate."""
    rows = [to_row(r) for r in records]
    if rows:
        Event.objects.using(using).bulk_create(rows, batch_size=batch_size, ignore_conflicts=True)
    return len(rows)
