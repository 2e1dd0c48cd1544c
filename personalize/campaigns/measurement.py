"""Honest campaign numbers from the durable event log: per variant and control.

A visitor is *exposed* to a variant when the runtime reported an impression (or,
for the control group, an exposure: the moment the campaign would have shown).
A *conversion* is a purchase by an exposed visitor within ``attribution_days``
after their first exposure. Rates are per exposed visitor, compared with the
control group (or the first variant when there is none) with a two-sided test.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Count, Min

from personalize.conf import settings
from personalize.measurement import events_in_window, order_value
from personalize.models import Event
from personalize.stats import ProportionComparison, compare_proportions

EXPOSURE_EVENTS = ("campaign_impression", "campaign_exposure")
#: The events a campaign's results count, and the column each adds to.
COUNTED_EVENTS = {
    "campaign_impression": "impressions",
    "campaign_exposure": "impressions",
    "campaign_click": "clicks",
    "campaign_close": "closes",
    "campaign_convert": "captures",
}


@dataclass
class VariantResult:
    key: str
    exposures: int = 0  # unique visitors
    impressions: int = 0
    clicks: int = 0
    closes: int = 0
    captures: int = 0
    buyers: int = 0  # exposed visitors who bought within the window
    purchases: int = 0
    revenue: float = 0.0
    comparison: ProportionComparison | None = None

    @property
    def is_control(self) -> bool:
        return self.key == "control"

    @property
    def ctr(self) -> float | None:
        return self.clicks / self.impressions if self.impressions else None

    @property
    def conversion_rate(self) -> float | None:
        return self.buyers / self.exposures if self.exposures else None

    @property
    def revenue_per_visitor(self) -> float | None:
        return self.revenue / self.exposures if self.exposures else None


@dataclass
class CampaignResults:
    slug: str
    attribution_days: int
    variants: list[VariantResult] = field(default_factory=list)
    baseline: str | None = None

    @property
    def totals(self) -> VariantResult:
        total = VariantResult("all")
        for v in self.variants:
            for name in (
                "exposures",
                "impressions",
                "clicks",
                "closes",
                "captures",
                "buyers",
                "purchases",
            ):
                setattr(total, name, getattr(total, name) + getattr(v, name))
            total.revenue += v.revenue
        return total


def campaign_results(
    slug: str, attribution_days: int = 7, variant_keys: list[str] | None = None
) -> CampaignResults:
    """Compute every number the admin shows for one campaign."""
    events = Event.objects.using(settings.DATABASE_ALIAS)
    by_variant: dict[str, VariantResult] = {}

    def result(key: str) -> VariantResult:
        if key not in by_variant:
            by_variant[key] = VariantResult(key)
        return by_variant[key]

    for key in variant_keys or []:
        result(key)
    # ``name IN (...)``, not ``LIKE 'campaign_%'``: the (name, occurred_at) index serves
    # an IN list on its leading column; a LIKE prefix it could serve only in the C collation.
    counts = (
        events.filter(name__in=list(COUNTED_EVENTS), props__campaign=slug)
        .values("name", "props__variant")
        .annotate(n=Count("id"))
    )
    for row in counts:
        item = result(str(row["props__variant"]))
        name = COUNTED_EVENTS[row["name"]]
        setattr(item, name, getattr(item, name) + row["n"])
    # First exposure per visitor; a visitor counts for the variant they first saw.
    firsts = (
        events.filter(name__in=EXPOSURE_EVENTS, props__campaign=slug)
        .values("visitor_id", "props__variant")
        .annotate(first=Min("occurred_at"))
    )
    first_seen: dict[str, tuple[str, datetime]] = {}
    for row in firsts:
        known = first_seen.get(row["visitor_id"])
        if known is None or row["first"] < known[1]:
            first_seen[row["visitor_id"]] = (str(row["props__variant"]), row["first"])
    for variant, _ in first_seen.values():
        result(variant).exposures += 1
    window = timedelta(days=attribution_days)
    starts = {visitor_id: first for visitor_id, (_, first) in first_seen.items()}
    bought: set[str] = set()
    for purchase in events_in_window(starts, window):
        item = result(first_seen[purchase.visitor_id][0])
        item.purchases += 1
        item.revenue += order_value(purchase.props)
        if purchase.visitor_id not in bought:
            bought.add(purchase.visitor_id)
            item.buyers += 1
    ordered = sorted(by_variant.values(), key=lambda v: (not v.is_control, v.key))
    results = CampaignResults(slug, attribution_days, ordered)
    if ordered:
        baseline = ordered[0]
        results.baseline = baseline.key
        for item in ordered[1:]:
            item.comparison = compare_proportions(
                baseline.buyers, baseline.exposures, item.buyers, item.exposures
            )
    return results
