"""A small, hand-checkable event log for the analytics tests and the dashboard screenshot."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.db.models import QuerySet

from personalize.measurement import order_value
from personalize.models import Campaign, Event, VisitorProfile, Widget
from personalize.profiles.profile import Profile
from personalize.tracking.events import validate_event

FIRST_DAY = date(2026, 3, 10)
DAYS = 3


def vid(n: int) -> str:
    return f"{n:032x}"


def at(day: int, hour: int, minute: int = 0) -> datetime:
    start = datetime(FIRST_DAY.year, FIRST_DAY.month, FIRST_DAY.day, tzinfo=UTC)
    return start + timedelta(days=day, hours=hour, minutes=minute)


def seed(using: str = "default") -> None:
    """Three days of visits: new and returning visitors, a visit past midnight, orders,
    an email capture, a campaign exposure and a widget click that led to orders."""
    Campaign.objects.using(using).create(
        name="Welcome", slug="welcome", kind="popup", attribution_days=7
    )
    Widget.objects.using(using).create(
        slot="product-detail", name="PDP", title="You may also like", attribution_days=7
    )
    rows: list[Event] = []

    def add(n: int, visit: int, name: str, when: datetime, **props: Any) -> None:
        rows.append(
            Event(
                event_id=uuid.uuid4().hex,
                visitor_id=vid(n),
                name=name,
                visit=visit,
                props=validate_event(name, props),
                occurred_at=when,
            )
        )

    line = {"product_id": "17", "price": 12.5, "quantity": 2, "category": "cats"}
    other = {"product_id": "3", "price": 5.0, "quantity": 1, "category": "dogs"}
    for n in range(1, 7):
        add(n, 1, "page_view", at(0, 9 + n), path="/")
    # Visitor 1: a campaign, a capture, an order; back on day 2 and orders again.
    add(1, 1, "campaign_impression", at(0, 10, 1), campaign="welcome", variant="a")
    add(1, 1, "identify", at(0, 10, 2), email="ann@example.com")
    add(1, 1, "purchase", at(0, 10, 5), order_id="o1", value=30.0, items=[line, other])
    add(1, 2, "page_view", at(1, 8), path="/")
    add(1, 2, "purchase", at(1, 8, 10), order_id="o2", value=19.99, items=[other])
    # Visitor 2: a visit that runs past midnight, with an order after it.
    add(2, 1, "page_view", at(0, 23, 50), path="/p")
    add(2, 1, "product_view", at(1, 0, 5), product_id="17", price=12.5)
    add(2, 1, "purchase", at(1, 0, 10), order_id="o3", value=25.0, items=[line])
    # Visitor 3: clicks a recommendation, buys the product two days later.
    add(3, 1, "rec_click", at(0, 12, 1), widget="product-detail", product_id="17", position=1)
    add(3, 2, "page_view", at(2, 9), path="/")
    add(3, 2, "purchase", at(2, 9, 5), order_id="o4", value=40.0, items=[line, other])
    # Visitor 4: the control group of the campaign; the order is not influenced.
    add(4, 1, "campaign_exposure", at(0, 13, 1), campaign="welcome", variant="control")
    add(4, 1, "purchase", at(0, 13, 5), order_id="o5", value=10.0, items=[other])
    # Visitors 7-8 only come on day 3, on a returning visit.
    add(7, 3, "page_view", at(2, 15), path="/")
    add(8, 1, "page_view", at(2, 16), path="/")
    # Outside the range: the day before, and the day after.
    add(5, 1, "purchase", at(-1, 12), order_id="o0", value=99.0, items=[other])
    add(6, 2, "purchase", at(3, 12), order_id="o9", value=77.0, items=[other])
    Event.objects.using(using).bulk_create(rows)
    VisitorProfile.objects.using(using).bulk_create(
        VisitorProfile(
            visitor_id=vid(n),
            last_seen=at(3, 0).timestamp(),
            data=Profile(
                visitor_id=vid(n),
                device="mobile" if n % 2 else "desktop",
                utm={"source": "newsletter"} if n < 4 else {},
                last_seen=at(3, 0).timestamp(),
            ).to_document(),
        )
        for n in range(1, 8)  # visitor 8 has no stored profile
    )


def direct(events: QuerySet[Event], first: date, last: date) -> dict[str, Any]:
    """The summary's headline numbers counted straight from the event log."""
    start = datetime(first.year, first.month, first.day, tzinfo=UTC)
    end = datetime(last.year, last.month, last.day, tzinfo=UTC) + timedelta(days=1)
    rows = events.filter(occurred_at__gte=start, occurred_at__lt=end)
    purchases = rows.filter(name="purchase")
    visits = rows.values("visitor_id", "visit").distinct().count()
    converting = purchases.values("visitor_id", "visit").distinct().count()
    orders = purchases.count()
    revenue = round(sum(order_value(p.props) for p in purchases), 2)
    return {
        "visitors": rows.values("visitor_id").distinct().count(),
        "visits": visits,
        "orders": orders,
        "revenue": revenue,
        "conversion_rate": round(converting / visits, 6) if visits else None,
        "aov": round(revenue / orders, 2) if orders else None,
    }
