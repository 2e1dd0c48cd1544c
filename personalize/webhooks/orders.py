"""``order.attributed``: purchases that followed a campaign or a recommendation click.

The worker scans new ``purchase`` events of the durable log (both stores write
every event there) and applies the definitions of the results pages: an order is
attributed to a campaign when the visitor's first exposure to it (not as the
control group) was at most the campaign's ``attribution_days`` before; to a
widget when the visitor first clicked one of the order's products in it at most
the widget's ``attribution_days`` before. Scanning the log keeps it out of the
request entirely, and the deliveries' unique event key makes rescans harmless.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError
from django.db.models import Max
from django.utils import timezone

from personalize.analytics.attribution import attribute_orders
from personalize.conf import settings
from personalize.measurement import order_value
from personalize.models import Event
from personalize.webhooks.models import EventType, WebhookCursor
from personalize.webhooks.subscriptions import WebhookEvent, enqueue, get_subscriptions

CURSOR = "order.attributed"
#: Events logged this recently are left for the next scan: a transaction still in
#: flight may commit an event with a smaller id than one already visible.
SETTLE_SECONDS = 10.0


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def queue_attributed_orders(*, now: datetime | None = None, batch_size: int = 500) -> int:
    """Queue ``order.attributed`` for new attributed purchases; the number queued.

    No query at all when no webhook subscribes. The first scan starts at the end of
    the log: orders from before anyone subscribed are not announced.
    """
    if not get_subscriptions().wants(EventType.ORDER_ATTRIBUTED):
        return 0
    using = settings.DATABASE_ALIAS
    now = now or timezone.now()
    events = Event.objects.using(using)
    cursors = WebhookCursor.objects.using(using)
    row = cursors.filter(name=CURSOR).first()
    if row is None:
        start = events.aggregate(last=Max("pk"))["last"] or 0
        try:
            row = cursors.create(name=CURSOR, position=start)
        except IntegrityError:  # another worker started it first
            row = cursors.get(name=CURSOR)
        return 0
    purchases = list(
        events.filter(
            name="purchase",
            pk__gt=row.position,
            logged_at__lte=now - timedelta(seconds=SETTLE_SECONDS),
        ).order_by("pk")[:batch_size]
    )
    if not purchases:
        return 0
    queued = enqueue(_attributed(purchases), now=now)
    last = purchases[-1].pk
    cursors.filter(name=CURSOR, position__lt=last).update(position=last)
    return max(queued, 1)  # progress was made: scan again at once


def _attributed(purchases: list[Event]) -> list[WebhookEvent]:
    # The same credits as the results pages and the dashboard (one module decides).
    credits = attribute_orders(purchases)
    queued: list[WebhookEvent] = []
    for purchase in purchases:
        found = credits.get(purchase.pk)
        if found is None:
            continue
        props: Any = purchase.props if isinstance(purchase.props, dict) else {}
        campaigns = [
            {"slug": c.slug, "variant": c.variant, "first_exposure_at": _iso(c.first_exposure_at)}
            for c in found.campaigns
        ]
        widgets = [
            {
                "slot": w.slot,
                "strategy": w.strategy,
                "product_id": w.product_id,
                "first_click_at": _iso(w.first_click_at),
                "revenue": w.revenue,
            }
            for w in found.widgets
        ]
        data = {
            "order": {
                "id": str(props.get("order_id", "")),
                "value": order_value(props),
                "currency": str(props.get("currency") or settings.CURRENCY),
                "occurred_at": _iso(purchase.occurred_at),
                "event_id": purchase.event_id,
            },
            "visitor": {"id": purchase.visitor_id, "user_id": purchase.user_id},
            "campaigns": campaigns,
            "widgets": widgets,
        }
        queued.append(
            WebhookEvent(EventType.ORDER_ATTRIBUTED.value, data, key=f"order:{purchase.event_id}")
        )
    return queued
