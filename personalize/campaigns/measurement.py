"""Honest campaign numbers from the durable event log: per variant and control.

A visitor is *exposed* to a variant when the runtime reported an impression of it
(the campaign was actually shown); to the control group when it reported an
exposure (the moment the campaign would have shown). Exposure events claiming the
wrong kind of arm (a ``campaign_exposure`` for a variant, an impression for the
control) are not counted. A visitor counts once, for the arm they saw first.

Clicks, closes and email captures are counted per exposed visitor: a visitor counts
at most once per arm, and only for an arm they had been exposed to by then, so
repeated beacons, or beacons from visitors who never saw the campaign, change
nothing. A *conversion* is a purchase by an exposed visitor within
``attribution_days`` after their first exposure. Rates are per exposed visitor.

A period (``since``/``until``) counts the visitors exposed in it (their window
opens at their first exposure in it), their interactions in it and their purchases
up to ``until``. :func:`campaign_results`
aggregates in the database: four queries plus one per 500 exposed visitors.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.db.models import Count, Exists, Min, OuterRef, Q, QuerySet
from django.utils import timezone

from personalize.conf import settings
from personalize.measurement import events_in_window, order_value
from personalize.models import Event
from personalize.stats import (
    MeanComparison,
    ProportionComparison,
    SampleRatioCheck,
    SampleSummary,
    compare_means,
    compare_proportions,
    sample_ratio_check,
)

CONTROL = "control"
IMPRESSION = "campaign_impression"
EXPOSURE = "campaign_exposure"
EXPOSURE_EVENTS = (IMPRESSION, EXPOSURE)
#: The interactions a campaign's results count per exposed visitor, and their column.
INTERACTIONS = {
    "campaign_click": "clicks",
    "campaign_close": "closes",
    "campaign_convert": "captures",
}


@dataclass
class VariantResult:
    key: str
    exposures: int = 0  # unique visitors first exposed to this arm
    impressions: int = 0  # impression (control: exposure) events, repeats included
    clicks: int = 0  # exposed visitors who clicked
    closes: int = 0  # exposed visitors who closed it
    captures: int = 0  # exposed visitors who left their email
    buyers: int = 0  # exposed visitors who bought within the window
    purchases: int = 0
    revenue: float = 0.0
    revenue_squares: float = 0.0  # sum over buyers of (revenue per visitor)^2, for Welch
    comparison: ProportionComparison | None = None
    revenue_comparison: MeanComparison | None = None

    @property
    def is_control(self) -> bool:
        return self.key == CONTROL

    @property
    def ctr(self) -> float | None:
        """Exposed visitors who clicked, out of exposed visitors."""
        return self.clicks / self.exposures if self.exposures else None

    @property
    def conversion_rate(self) -> float | None:
        return self.buyers / self.exposures if self.exposures else None

    @property
    def revenue_per_visitor(self) -> float | None:
        return self.revenue / self.exposures if self.exposures else None

    @property
    def revenue_summary(self) -> SampleSummary:
        """Revenue per exposed visitor (0 for visitors who bought nothing), summarised."""
        n = self.exposures
        if not n:
            return SampleSummary(0, 0.0, 0.0)
        mean = self.revenue / n
        variance = max(0.0, (self.revenue_squares - n * mean * mean) / (n - 1)) if n > 1 else 0.0
        return SampleSummary(n, mean, variance)


@dataclass
class DayCounts:
    """One day of one arm: visitors first exposed that day, buyers who first bought."""

    day: date
    exposures: int = 0
    buyers: int = 0


@dataclass
class CampaignResults:
    slug: str
    attribution_days: int
    variants: list[VariantResult] = field(default_factory=list)
    baseline: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    sequential: bool = True
    srm: SampleRatioCheck | None = None
    #: arm key -> its days, in order, from the first exposure (or ``since``) to ``until``.
    daily: dict[str, list[DayCounts]] = field(default_factory=dict)

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


def exposure_events(slug: str | None = None) -> QuerySet[Event]:
    """The events that expose a visitor to an arm of campaign ``slug`` (else of any)."""
    events = Event.objects.using(settings.DATABASE_ALIAS)
    if slug is not None:
        events = events.filter(props__campaign=slug)
    return events.filter(name__in=EXPOSURE_EVENTS).filter(
        Q(name=IMPRESSION) & ~Q(props__variant=CONTROL) | Q(name=EXPOSURE, props__variant=CONTROL)
    )


def campaign_results(
    slug: str,
    attribution_days: int = 7,
    variant_keys: list[str] | None = None,
    *,
    weights: dict[str, float] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    sequential: bool = True,
) -> CampaignResults:
    """Compute every number the admin shows for one campaign (see the module doc).

    ``weights`` is the configured split by arm key (control included); with it the
    exposed visitors get a sample ratio check. ``sequential`` picks always-valid
    comparisons (the default) or fixed-horizon ones.
    """
    by_variant: dict[str, VariantResult] = {}

    def result(key: str) -> VariantResult:
        if key not in by_variant:
            by_variant[key] = VariantResult(key)
        return by_variant[key]

    for key in variant_keys or []:
        result(key)
    period = Q()
    if since is not None:
        period &= Q(occurred_at__gte=since)
    if until is not None:
        period &= Q(occurred_at__lte=until)
    exposed = exposure_events(slug).filter(period)
    # ``name IN (...)``: the (name, occurred_at) index serves an IN list on its leading column.
    for row in exposed.values("props__variant").annotate(n=Count("id")).order_by():
        result(str(row["props__variant"])).impressions += row["n"]

    # An interaction counts when the visitor had been exposed to that arm by then.
    seen_arm = exposure_events(slug).filter(
        period,
        visitor_id=OuterRef("visitor_id"),
        props__variant=OuterRef("props__variant"),
        occurred_at__lte=OuterRef("occurred_at"),
    )
    interactions = (
        Event.objects.using(settings.DATABASE_ALIAS)
        .filter(period, name__in=list(INTERACTIONS), props__campaign=slug)
        .filter(Exists(seen_arm))
        .values("name", "props__variant")
        .annotate(n=Count("visitor_id", distinct=True))
        .order_by()
    )
    for row in interactions:
        setattr(result(str(row["props__variant"])), INTERACTIONS[row["name"]], row["n"])

    # First exposure per visitor and arm; a visitor counts for the arm they saw first.
    firsts = exposed.values("visitor_id", "props__variant").annotate(first=Min("occurred_at"))
    first_seen: dict[str, tuple[str, datetime]] = {}
    for row in firsts.order_by():
        known = first_seen.get(row["visitor_id"])
        if known is None or row["first"] < known[1]:
            first_seen[row["visitor_id"]] = (str(row["props__variant"]), row["first"])
    zone = timezone.get_current_timezone()
    exposed_days: dict[str, dict[date, int]] = defaultdict(lambda: defaultdict(int))
    for variant, first in first_seen.values():
        result(variant).exposures += 1
        exposed_days[variant][timezone.localdate(first, zone)] += 1

    window = timedelta(days=attribution_days)
    starts = {visitor_id: first for visitor_id, (_, first) in first_seen.items()}
    revenue: dict[str, float] = defaultdict(float)
    bought_on: dict[str, datetime] = {}
    for purchase in events_in_window(starts, window, until=until):
        item = result(first_seen[purchase.visitor_id][0])
        item.purchases += 1
        item.revenue += order_value(purchase.props)
        revenue[purchase.visitor_id] += order_value(purchase.props)
        known_at = bought_on.get(purchase.visitor_id)
        if known_at is None:
            item.buyers += 1
        if known_at is None or purchase.at < known_at:
            bought_on[purchase.visitor_id] = purchase.at
    buyer_days: dict[str, dict[date, int]] = defaultdict(lambda: defaultdict(int))
    for visitor_id, at in bought_on.items():
        buyer_days[first_seen[visitor_id][0]][timezone.localdate(at, zone)] += 1
    for visitor_id, amount in revenue.items():
        result(first_seen[visitor_id][0]).revenue_squares += amount * amount
    for item in by_variant.values():
        item.revenue = round(item.revenue, 2)

    ordered = sorted(by_variant.values(), key=lambda v: (not v.is_control, v.key))
    results = CampaignResults(
        slug, attribution_days, ordered, since=since, until=until, sequential=sequential
    )
    results.daily = _daily(ordered, exposed_days, buyer_days, since, until)
    if weights is not None and ordered:
        results.srm = sample_ratio_check(
            [v.exposures for v in ordered], [weights.get(v.key, 0.0) for v in ordered]
        )
    if ordered:
        baseline = ordered[0]
        results.baseline = baseline.key
        for item in ordered[1:]:
            item.comparison = compare_proportions(
                baseline.buyers,
                baseline.exposures,
                item.buyers,
                item.exposures,
                sequential=sequential,
            )
            item.revenue_comparison = compare_means(
                baseline.revenue_summary, item.revenue_summary, sequential=sequential
            )
    return results


def _daily(
    arms: list[VariantResult],
    exposed_days: dict[str, dict[date, int]],
    buyer_days: dict[str, dict[date, int]],
    since: datetime | None,
    until: datetime | None,
) -> dict[str, list[DayCounts]]:
    """Each arm's days from the period's first day (else the first exposure) to its last."""
    days = {d for counts in (*exposed_days.values(), *buyer_days.values()) for d in counts}
    zone = timezone.get_current_timezone()
    first = timezone.localdate(since, zone) if since is not None else min(days, default=None)
    last = timezone.localdate(until or timezone.now(), zone)
    if first is None or first > last:
        return {}
    span = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    return {
        arm.key: [
            DayCounts(d, exposed_days[arm.key].get(d, 0), buyer_days[arm.key].get(d, 0))
            for d in span
        ]
        for arm in arms
    }
