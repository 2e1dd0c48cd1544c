"""Writing events to the durable database log."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from django.db import IntegrityError, transaction

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


def insert_new_events(records: list[EventRecord], *, using: str) -> set[str]:
    """Insert events whose ids are not logged yet; return the ids this call inserted.

    Callers that change a profile per event (server-to-server batches) apply only the
    events this returns, so a batch sent again changes nothing. Run it inside the
    transaction that makes the change: a concurrent writer of the same ids waits on
    the unique index and finds them inserted.
    """
    if not records:
        return set()
    ids = [r.event_id for r in records]
    logged = set(
        Event.objects.using(using).filter(event_id__in=ids).values_list("event_id", flat=True)
    )
    fresh = [r for r in records if r.event_id not in logged]
    if not fresh:
        return set()
    try:
        with transaction.atomic(using=using):
            Event.objects.using(using).bulk_create([to_row(r) for r in fresh])
        return {r.event_id for r in fresh}
    except IntegrityError:
        pass  # another request inserted some of them since: find out which, one by one
    inserted: set[str] = set()
    for record in fresh:
        try:
            with transaction.atomic(using=using):
                to_row(record).save(using=using, force_insert=True)
            inserted.add(record.event_id)
        except IntegrityError:
            continue
    return inserted
