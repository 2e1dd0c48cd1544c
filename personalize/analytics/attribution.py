"""Which campaigns and widgets an order is attributed to: the results pages' rules.

An order (a ``purchase`` event) is attributed to a campaign when the visitor's first
exposure to it (not as the control group) was at most the campaign's
``attribution_days`` before it; to a widget when the visitor first clicked one of the
order's products in it at most the widget's ``attribution_days`` before, and then
only the lines of the clicked products count as its revenue. The ``order.attributed``
webhook and the dashboard's influenced revenue both ask this module.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Min

from personalize.campaigns.measurement import exposure_events
from personalize.campaigns.models import Campaign
from personalize.conf import settings
from personalize.measurement import CHUNK_SIZE, product_revenue
from personalize.models import Event
from personalize.recommendations.models import Widget

__all__ = ["CampaignCredit", "OrderAttribution", "WidgetCredit", "attribute_orders"]


@dataclass(frozen=True, slots=True)
class CampaignCredit:
    slug: str
    variant: str
    first_exposure_at: datetime


@dataclass(frozen=True, slots=True)
class WidgetCredit:
    slot: str
    product_id: str
    strategy: str
    first_click_at: datetime
    revenue: float  # the clicked product's lines of the order


@dataclass
class OrderAttribution:
    campaigns: list[CampaignCredit] = field(default_factory=list)
    widgets: list[WidgetCredit] = field(default_factory=list)


def attribute_orders(purchases: Sequence[Event]) -> dict[int, OrderAttribution]:
    """The credits of each purchase (by pk) that has any; two queries per 500 visitors."""
    using = settings.DATABASE_ALIAS
    events = Event.objects.using(using)
    if not purchases:
        return {}
    visitors = sorted({p.visitor_id for p in purchases})
    latest = max(p.occurred_at for p in purchases)
    exposures: dict[tuple[str, str], tuple[datetime, str]] = {}
    first_click: dict[tuple[str, str, str], tuple[datetime, str]] = {}
    for start in range(0, len(visitors), CHUNK_SIZE):
        chunk = visitors[start : start + CHUNK_SIZE]
        # First exposure per (visitor, campaign) and the variant seen then, counted as the
        # results page counts it: an arm's own event (an impression of a variant, the
        # control group's exposure), so a forged "exposure" of a variant credits nothing.
        rows = (
            exposure_events()
            .filter(visitor_id__in=chunk, occurred_at__lte=latest)
            .values("visitor_id", "props__campaign", "props__variant")
            .annotate(first=Min("occurred_at"))
            .order_by()
        )
        for item in rows:
            key = (item["visitor_id"], str(item["props__campaign"]))
            known = exposures.get(key)
            if known is None or item["first"] < known[0]:
                exposures[key] = (item["first"], str(item["props__variant"]))
        rows = (
            events.filter(name="rec_click", visitor_id__in=chunk, occurred_at__lte=latest)
            .values("visitor_id", "props__widget", "props__product_id", "props__strategy")
            .annotate(first=Min("occurred_at"))
            .order_by()
        )
        for item in rows:
            key3 = (item["visitor_id"], str(item["props__widget"]), str(item["props__product_id"]))
            known_click = first_click.get(key3)
            if known_click is None or item["first"] < known_click[0]:
                first_click[key3] = (item["first"], str(item["props__strategy"] or ""))
    if not exposures and not first_click:
        return {}
    campaign_days = dict(
        Campaign.objects.using(using).values_list("slug", "attribution_days").order_by()
    )
    widget_days = dict(
        Widget.objects.using(using).values_list("slot", "attribution_days").order_by()
    )
    seen: dict[str, list[tuple[str, datetime, str]]] = defaultdict(list)
    for (visitor_id, campaign), (at, variant) in exposures.items():
        seen[visitor_id].append((campaign, at, variant))
    clicks: dict[str, list[tuple[str, str, str, datetime]]] = defaultdict(list)
    for (visitor_id, widget, product_id), (at, strategy) in first_click.items():
        clicks[visitor_id].append((widget, product_id, strategy, at))
    credits: dict[int, OrderAttribution] = {}
    for purchase in purchases:
        props: Any = purchase.props if isinstance(purchase.props, dict) else {}
        found = OrderAttribution()
        for slug, at, variant in sorted(seen.get(purchase.visitor_id, [])):
            if (
                variant != "control"
                and slug in campaign_days
                and at <= purchase.occurred_at <= at + timedelta(days=campaign_days[slug])
            ):
                found.campaigns.append(CampaignCredit(slug, variant, at))
        for widget, product_id, strategy, at in sorted(clicks.get(purchase.visitor_id, [])):
            if widget not in widget_days:
                continue
            if not at <= purchase.occurred_at <= at + timedelta(days=widget_days[widget]):
                continue
            revenue = product_revenue(props, product_id)
            if revenue is None:
                continue  # the order has no line for the clicked product
            found.widgets.append(WidgetCredit(widget, product_id, strategy, at, revenue))
        if found.campaigns or found.widgets:
            credits[purchase.pk] = found
    return credits
