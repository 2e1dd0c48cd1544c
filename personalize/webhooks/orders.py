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

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError
from django.db.models import Max, Min
from django.utils import timezone

from personalize.campaigns.measurement import exposure_events
from personalize.campaigns.models import Campaign
from personalize.conf import settings
from personalize.measurement import order_value, product_revenue
from personalize.models import Event
from personalize.recommendations.models import Widget
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
    using = settings.DATABASE_ALIAS
    events = Event.objects.using(using)
    visitors = sorted({p.visitor_id for p in purchases})
    latest = max(p.occurred_at for p in purchases)
    # First exposure per (visitor, campaign) and the variant seen then.
    exposures: dict[tuple[str, str], tuple[datetime, str]] = {}
    rows = (
        exposure_events()  # as the results page counts them: an arm's own event
        .filter(visitor_id__in=visitors, occurred_at__lte=latest)
        .values("visitor_id", "props__campaign", "props__variant")
        .annotate(first=Min("occurred_at"))
        .order_by()
    )
    for item in rows:
        key = (item["visitor_id"], str(item["props__campaign"]))
        known = exposures.get(key)
        if known is None or item["first"] < known[0]:
            exposures[key] = (item["first"], str(item["props__variant"]))
    clicks: dict[str, list[tuple[str, str, str, datetime]]] = defaultdict(list)
    rows = (
        events.filter(name="rec_click", visitor_id__in=visitors, occurred_at__lte=latest)
        .values("visitor_id", "props__widget", "props__product_id", "props__strategy")
        .annotate(first=Min("occurred_at"))
        .order_by()
    )
    first_click: dict[tuple[str, str, str], tuple[datetime, str]] = {}
    for item in rows:
        key3 = (item["visitor_id"], str(item["props__widget"]), str(item["props__product_id"]))
        known_click = first_click.get(key3)
        if known_click is None or item["first"] < known_click[0]:
            first_click[key3] = (item["first"], str(item["props__strategy"] or ""))
    for (visitor_id, widget, product_id), (at, strategy) in first_click.items():
        clicks[visitor_id].append((widget, product_id, strategy, at))
    campaign_days = dict(
        Campaign.objects.using(using).values_list("slug", "attribution_days").order_by()
    )
    widget_days = dict(Widget.objects.using(using).values_list("slot", "attribution_days"))
    by_visitor: dict[str, list[tuple[str, datetime, str]]] = defaultdict(list)
    for (visitor_id, campaign), (at, variant) in exposures.items():
        by_visitor[visitor_id].append((campaign, at, variant))
    queued: list[WebhookEvent] = []
    for purchase in purchases:
        props: Any = purchase.props if isinstance(purchase.props, dict) else {}
        campaigns = [
            {"slug": slug, "variant": variant, "first_exposure_at": _iso(at)}
            for slug, at, variant in sorted(by_visitor.get(purchase.visitor_id, []))
            if variant != "control"
            and slug in campaign_days
            and at <= purchase.occurred_at <= at + timedelta(days=campaign_days[slug])
        ]
        widgets = []
        for widget, product_id, strategy, at in sorted(clicks.get(purchase.visitor_id, [])):
            if widget not in widget_days:
                continue
            if not at <= purchase.occurred_at <= at + timedelta(days=widget_days[widget]):
                continue
            revenue = product_revenue(props, product_id)
            if revenue is None:
                continue  # the order has no line for the clicked product
            widgets.append(
                {
                    "slot": widget,
                    "strategy": strategy,
                    "product_id": product_id,
                    "first_click_at": _iso(at),
                    "revenue": revenue,
                }
            )
        if not campaigns and not widgets:
            continue
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
