"""Roll one UTC day of the event log up into :class:`VisitDay`, :class:`AttributedDay`
and :class:`RollupDay` rows.

A day's rows are replaced as a whole in one transaction, so rolling a day up again
(the worker redoes today and yesterday every few minutes) gives the same rows for the
same events. What is exact and what is approximate is in docs/analytics.md: counts,
orders and revenue are exact; the visitor's device, UTM source, lifecycle stage and
RFM group are read from their profile when the day is rolled up.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from decimal import Decimal
from typing import Any, Final

from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from personalize.analytics.attribution import attribute_orders
from personalize.analytics.models import AttributedDay, RollupDay, VisitDay
from personalize.attributes import profile_attributes
from personalize.conf import settings
from personalize.measurement import order_value
from personalize.models import Event
from personalize.profiles.base import get_store
from personalize.profiles.profile import Profile

__all__ = ["RollupResult", "day_bounds", "days_between", "rollup_day", "rollup_recent"]

#: Rows per INSERT statement.
BATCH: Final = 2000
#: What a dimension says when the visitor has no stored profile (erased, never stored).
UNKNOWN: Final = "unknown"
#: Purchases attributed per round of :func:`attribute_orders`.
PURCHASE_BATCH: Final = 2000


@dataclass(frozen=True)
class RollupResult:
    day: date
    events: int
    visits: int
    orders: int
    seconds: float


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """``[start, end)`` of a UTC calendar day."""
    start = datetime.combine(day, clock.min, tzinfo=UTC)
    return start, start + timedelta(days=1)


def days_between(first: date, last: date) -> Iterator[date]:
    """Every day from ``first`` to ``last``, both included."""
    for n in range((last - first).days + 1):
        yield first + timedelta(days=n)


@dataclass
class _Visit:
    events: int = 0
    orders: int = 0
    revenue: Decimal = Decimal("0.00")
    captures: int = 0


def _dimensions(profile: Profile | None, now: float) -> dict[str, str]:
    if profile is None:
        return {"device": UNKNOWN, "utm_source": "", "lifecycle": UNKNOWN, "rfm": ""}
    attributes = profile_attributes(profile, now)
    rfm = attributes.get("rfm")
    segment = rfm.get("segment") if isinstance(rfm, dict) else None
    return {
        "device": (profile.device or "desktop")[:16],
        "utm_source": str(profile.utm.get("source") or "")[:64],
        "lifecycle": str(attributes.get("lifecycle_stage") or UNKNOWN)[:32],
        "rfm": str(segment or "")[:32],
    }


def rollup_day(day: date, *, now: datetime | None = None) -> RollupResult:
    """Replace the rollup rows of ``day`` (UTC) with what the event log holds now."""
    started = time.monotonic()
    using = settings.DATABASE_ALIAS
    start, end = day_bounds(day)
    events = Event.objects.using(using).filter(occurred_at__gte=start, occurred_at__lt=end)
    visits: dict[tuple[str, int], _Visit] = {}
    counted = events.values("visitor_id", "visit").annotate(n=Count("id")).order_by()
    for row in counted.iterator(chunk_size=BATCH):
        visits[(row["visitor_id"], row["visit"])] = _Visit(events=row["n"])
    purchases = list(events.filter(name="purchase").order_by("pk"))
    for purchase in purchases:
        # setdefault: an event may have been logged since the count above.
        item = visits.setdefault((purchase.visitor_id, purchase.visit), _Visit(events=1))
        item.orders += 1
        item.revenue += Decimal(str(order_value(purchase.props)))
    captured = events.filter(name="identify").values("visitor_id", "visit").annotate(n=Count("id"))
    for row in captured.order_by():
        key = (row["visitor_id"], row["visit"])
        visits.setdefault(key, _Visit(events=row["n"])).captures = row["n"]
    attributed = _attributed(purchases)

    rolled_at = now or timezone.now()
    visitor_ids = {visitor_id for visitor_id, _ in visits}
    profiles = get_store().load_many(visitor_ids) if visitor_ids else {}
    moment = rolled_at.timestamp()
    dimensions = {v: _dimensions(profiles.get(v), moment) for v in visitor_ids}

    def rows() -> Iterable[VisitDay]:
        for (visitor_id, visit), item in visits.items():
            yield VisitDay(
                day=day,
                visitor_id=visitor_id,
                visit=visit,
                events=item.events,
                orders=item.orders,
                revenue=item.revenue,
                captures=item.captures,
                **dimensions[visitor_id],
            )

    with transaction.atomic(using=using):
        # One rollup of a day at a time (several workers each roll up today): the
        # second waits on the day's row, then replaces the first's rows whole,
        # instead of colliding with them on the unique constraints.
        RollupDay.objects.using(using).get_or_create(day=day, defaults={"rolled_at": rolled_at})
        RollupDay.objects.using(using).select_for_update().get(day=day)
        VisitDay.objects.using(using).filter(day=day).delete()
        AttributedDay.objects.using(using).filter(day=day).delete()
        _insert(rows(), VisitDay.objects.using(using).bulk_create)
        AttributedDay.objects.using(using).bulk_create(
            AttributedDay(day=day, kind=kind, key=key, orders=orders, revenue=revenue)
            for (kind, key), (orders, revenue) in sorted(attributed.items())
        )
        RollupDay.objects.using(using).update_or_create(
            day=day,
            defaults={
                "events": sum(v.events for v in visits.values()),
                "visitors": len(visitor_ids),
                "visits": len(visits),
                "converting_visits": sum(1 for v in visits.values() if v.orders),
                "orders": len(purchases),
                "revenue": sum((v.revenue for v in visits.values()), Decimal("0.00")),
                "captures": sum(1 for v in visits.values() if v.captures),
                "rolled_at": rolled_at,
            },
        )
    return RollupResult(
        day=day,
        events=sum(v.events for v in visits.values()),
        visits=len(visits),
        orders=len(purchases),
        seconds=time.monotonic() - started,
    )


def _insert(rows: Iterable[VisitDay], create: Callable[..., Any]) -> None:
    batch: list[VisitDay] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= BATCH:
            create(batch)
            batch = []
    if batch:
        create(batch)


def _attributed(purchases: list[Event]) -> dict[tuple[str, str], tuple[int, Decimal]]:
    """(kind, key) -> (orders, revenue); key "" totals each kind, counting an order once.

    A campaign's revenue is the whole order's value; a widget's only the lines of the
    products clicked in it (the results pages' rules).
    """
    totals: dict[tuple[str, str], tuple[int, Decimal]] = {}

    def add(kind: str, key: str, revenue: Decimal) -> None:
        orders, value = totals.get((kind, key), (0, Decimal("0.00")))
        totals[(kind, key)] = (orders + 1, value + revenue)

    for first in range(0, len(purchases), PURCHASE_BATCH):
        batch = purchases[first : first + PURCHASE_BATCH]
        credits = attribute_orders(batch)
        for purchase in batch:
            found = credits.get(purchase.pk)
            if found is None:
                continue
            value = Decimal(str(order_value(purchase.props)))
            if found.campaigns:
                add("campaign", "", value)
                for slug in sorted({c.slug for c in found.campaigns}):
                    add("campaign", slug, value)
            if found.widgets:
                by_slot: dict[str, Decimal] = {}
                lines: dict[str, Decimal] = {}  # a product clicked in two widgets counts once
                for credit in found.widgets:
                    line = Decimal(str(credit.revenue))
                    by_slot[credit.slot] = by_slot.get(credit.slot, Decimal("0.00")) + line
                    lines[credit.product_id] = line
                add("widget", "", sum(lines.values(), Decimal("0.00")))
                for slot, revenue in sorted(by_slot.items()):
                    add("widget", slot, revenue)
    return totals


def rollup_recent(*, now: datetime | None = None) -> list[RollupResult]:
    """Roll up yesterday and today (UTC): what the worker keeps current."""
    moment = now or timezone.now()
    today = moment.astimezone(UTC).date()
    return [rollup_day(today - timedelta(days=1), now=moment), rollup_day(today, now=moment)]
