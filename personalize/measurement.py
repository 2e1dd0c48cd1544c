"""Attribution from the durable event log, shared by campaign and widget results.

Both ask the same question: which of a visitor's later events (purchases,
add-to-carts) fall within the attribution window that opened when the visitor
first saw (or clicked) something? :func:`events_in_window` answers it with one
query per :data:`CHUNK_SIZE` visitors, whatever the number of visitors, and the
helpers below read what a ``purchase`` event's props say about money.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from personalize.conf import settings
from personalize.models import Event

#: Visitors per query: keeps ``visitor_id IN (...)`` well under every database's limits.
CHUNK_SIZE: Final = 500


@dataclass(frozen=True, slots=True)
class LoggedEvent:
    """One event of the log, as attribution reads it."""

    pk: int
    visitor_id: str
    name: str
    at: datetime
    props: Any


def events_in_window(
    starts: Mapping[str, datetime],
    window: timedelta,
    names: Sequence[str] = ("purchase",),
    *,
    until: datetime | None = None,
) -> Iterator[LoggedEvent]:
    """The events named ``names`` each visitor had within ``[start, start + window]``.

    ``starts`` maps a visitor id to the moment their window opens (their first
    exposure, say). Both ends are inclusive; ``until`` cuts every window off (results
    "as of" a moment). One query per :data:`CHUNK_SIZE` visitors, in no particular
    order.
    """
    events = Event.objects.using(settings.DATABASE_ALIAS)
    visitor_ids = list(starts)
    for first in range(0, len(visitor_ids), CHUNK_SIZE):
        chunk = visitor_ids[first : first + CHUNK_SIZE]
        earliest = min(starts[v] for v in chunk)
        latest = max(starts[v] for v in chunk) + window
        if until is not None:
            latest = min(latest, until)
        rows = (
            events.filter(
                name__in=names,
                visitor_id__in=chunk,
                occurred_at__gte=earliest,
                occurred_at__lte=latest,
            )
            .order_by()
            .values_list("pk", "visitor_id", "name", "occurred_at", "props")
        )
        for pk, visitor_id, name, at, props in rows:
            start = starts[visitor_id]
            if start <= at <= start + window and (until is None or at <= until):
                yield LoggedEvent(pk, visitor_id, name, at, props)


def order_value(props: Any) -> float:
    """A purchase's ``value`` (the whole order), 0.0 when missing or malformed."""
    try:
        return round(float(props.get("value", 0.0)), 2)
    except (AttributeError, TypeError, ValueError):
        return 0.0


def product_revenue(props: Any, product_id: str) -> float | None:
    """What an order spent on one product: price x quantity of its lines for it.

    ``None`` when the order has no line for the product (a line of a free gift is
    ``0.0``, not ``None``). Malformed lines are skipped rather than trusted.
    """
    try:
        items = props.get("items") or []
    except AttributeError:
        return None
    total: float | None = None
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, Mapping) or str(item.get("product_id")) != product_id:
            continue
        try:
            line = float(item.get("price", 0.0)) * int(item.get("quantity", 1))
        except (TypeError, ValueError):
            line = 0.0
        total = (total or 0.0) + line
    return None if total is None else round(total, 2)
