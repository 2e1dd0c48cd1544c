"""The dashboard's numbers for a date range, read from the daily rollups.

Definitions (docs/analytics.md repeats them, the dashboard shows each as a note):

* **Visitors**: distinct visitor ids with at least one event in the range.
* **Visits**: distinct (visitor, visit number) pairs with an event in the range; a
  visit is a run of activity without a 30-minute gap.
* **Orders** / **revenue**: ``purchase`` events in the range and the sum of their
  ``value``.
* **Conversion rate**: visits with an order ÷ visits. **AOV**: revenue ÷ orders.
  **Revenue per visitor**: revenue ÷ visitors.
* **Email captures**: visitors with an ``identify`` event (an email given) in the
  range; **capture rate**: those ÷ visitors.
* **Influenced revenue**: orders in the range attributed to a campaign (the whole
  order) or a widget (the clicked products' lines), by the rules of the results pages
  (each campaign's and widget's own attribution window).

Dates are UTC calendar days, both ends included.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, Final

from django.db.models import Case, CharField, Count, Q, QuerySet, Sum, Value, When
from django.utils import timezone

from personalize.analytics.models import AttributedDay, RollupDay, VisitDay
from personalize.analytics.rollup import days_between, rollup_day
from personalize.campaigns.models import Campaign
from personalize.conf import settings
from personalize.recommendations.models import Widget

__all__ = [
    "DIMENSIONS",
    "MAX_DAYS",
    "BreakdownRow",
    "DateRange",
    "Influence",
    "RangeError",
    "Summary",
    "Totals",
    "TrendDay",
    "parse_range",
    "summarize",
]

#: The longest range one request may ask for, in days.
MAX_DAYS: Final = 366
#: The breakdown's dimensions: key -> heading.
DIMENSIONS: Final = {
    "visitor_type": "New vs returning",
    "lifecycle": "Lifecycle stage",
    "rfm": "RFM group",
    "device": "Device",
    "utm_source": "UTM source",
}
PRESETS: Final = (7, 30, 90)
#: Days a page or API request rolls up itself when they never were; older gaps are
#: left to ``personalize_rollup`` (a request must not take minutes on a big shop).
ROLL_UP_ON_REQUEST: Final = 7
#: Earlier than any event log (and far enough from ``date.min`` for the previous period).
EARLIEST: Final = date(1970, 1, 1)


class RangeError(ValueError):
    """A date range a user asked for that cannot be served; ``field`` names the parameter."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class DateRange:
    start: date
    end: date  # included

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def previous(self) -> DateRange:
        """The period of equal length just before this one."""
        return DateRange(self.start - timedelta(days=self.days), self.start - timedelta(days=1))


def today() -> date:
    return timezone.now().astimezone(UTC).date()


def _parse_date(name: str, raw: str | None) -> date:
    if not raw:
        raise RangeError(name, f"{name} is required, as a date like 2026-01-31 (YYYY-MM-DD).")
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise RangeError(
            name, f"{name} must be a date like 2026-01-31 (YYYY-MM-DD), not {raw[:20]!r}."
        ) from None


def parse_range(start: str | None, end: str | None) -> DateRange:
    """A validated range from ``YYYY-MM-DD`` strings (both included, UTC days)."""
    first = _parse_date("start", start)
    last = _parse_date("end", end)
    if first < EARLIEST:
        raise RangeError("start", f"start must be {EARLIEST} or later, not {first}.")
    if last < first:
        raise RangeError("end", f"end ({last}) is before start ({first}): swap them.")
    if (last - first).days + 1 > MAX_DAYS:
        raise RangeError(
            "end",
            f"start to end is {(last - first).days + 1} days; ask for {MAX_DAYS} at most "
            "(an earlier end or a later start).",
        )
    return DateRange(first, last)


def last_days(days: int, *, until: date | None = None) -> DateRange:
    """The last ``days`` days up to today (UTC), today included."""
    last = until or today()
    return DateRange(last - timedelta(days=days - 1), last)


def _money(value: Decimal | float | None) -> float:
    return round(float(value or 0), 2)


def _ratio(part: float, whole: float) -> float | None:
    return part / whole if whole else None


@dataclass
class Totals:
    visitors: int = 0
    visits: int = 0
    converting_visits: int = 0
    orders: int = 0
    revenue: float = 0.0
    capturing_visitors: int = 0

    @property
    def conversion_rate(self) -> float | None:
        return _ratio(self.converting_visits, self.visits)

    @property
    def aov(self) -> float | None:
        value = _ratio(self.revenue, self.orders)
        return None if value is None else round(value, 2)

    @property
    def revenue_per_visitor(self) -> float | None:
        value = _ratio(self.revenue, self.visitors)
        return None if value is None else round(value, 2)

    @property
    def capture_rate(self) -> float | None:
        return _ratio(self.capturing_visitors, self.visitors)


@dataclass
class BreakdownRow:
    dimension: str
    segment: str
    visitors: int
    visits: int
    converting_visits: int
    orders: int
    revenue: float

    @property
    def conversion_rate(self) -> float | None:
        return _ratio(self.converting_visits, self.visits)

    @property
    def conversion_percent(self) -> float | None:
        rate = self.conversion_rate
        return None if rate is None else rate * 100

    @property
    def aov(self) -> float | None:
        value = _ratio(self.revenue, self.orders)
        return None if value is None else round(value, 2)


@dataclass
class TrendDay:
    day: date
    visitors: int = 0
    visits: int = 0
    converting_visits: int = 0
    orders: int = 0
    revenue: float = 0.0

    @property
    def conversion_rate(self) -> float | None:
        return _ratio(self.converting_visits, self.visits)


@dataclass
class Influence:
    kind: str  # "campaign" or "widget"
    key: str  # slug or slot; "" for the kind's total (an order counted once)
    label: str
    orders: int = 0
    revenue: float = 0.0


@dataclass
class Summary:
    period: DateRange
    totals: Totals
    previous: Totals
    trend: list[TrendDay]
    breakdown: dict[str, list[BreakdownRow]]
    campaigns: list[Influence]
    widgets: list[Influence]
    influenced: dict[str, Influence]  # kind -> this period's total
    influenced_previous: dict[str, Influence]
    currency: str = field(default_factory=lambda: settings.CURRENCY)
    rolled_at: datetime | None = None
    #: Days of the range or the previous period never rolled up: counted as empty.
    missing_days: list[date] = field(default_factory=list)

    @property
    def start(self) -> date:
        return self.period.start

    @property
    def end(self) -> date:
        return self.period.end


def ensure_rolled_up(*periods: DateRange, limit: int | None = None) -> list[date]:
    """Roll up the past or current days of ``periods`` that never were, the most recent
    first, at most ``limit`` of them; the days left missing (one query if none)."""
    last = today()
    wanted = {d for p in periods for d in days_between(p.start, min(p.end, last))}
    if not wanted:
        return []
    done = set(
        RollupDay.objects.using(settings.DATABASE_ALIAS)
        .filter(day__gte=min(wanted), day__lte=max(wanted))
        .values_list("day", flat=True)
    )
    missing = sorted(wanted - done, reverse=True)
    for day in missing[:limit]:
        rollup_day(day)
    return sorted(missing[limit:]) if limit is not None else []


def _visits(period: DateRange) -> QuerySet[VisitDay]:
    return VisitDay.objects.using(settings.DATABASE_ALIAS).filter(
        day__gte=period.start, day__lte=period.end
    )


def totals(period: DateRange) -> Totals:
    """The range's totals: three queries."""
    rows = _visits(period)
    agg = rows.aggregate(
        visitors=Count("visitor_id", distinct=True),
        orders=Sum("orders"),
        revenue=Sum("revenue"),
        capturing=Count("visitor_id", distinct=True, filter=Q(captures__gt=0)),
    )
    # A visit that runs past midnight has a row on both days: count pairs, not rows.
    visits = rows.values("visitor_id", "visit").distinct().order_by().count()
    converting = (
        rows.filter(orders__gt=0).values("visitor_id", "visit").distinct().order_by().count()
    )
    return Totals(
        visitors=agg["visitors"] or 0,
        visits=visits,
        converting_visits=converting,
        orders=agg["orders"] or 0,
        revenue=_money(agg["revenue"]),
        capturing_visitors=agg["capturing"] or 0,
    )


def _segment_column(dimension: str) -> Any:
    if dimension == "visitor_type":
        return Case(
            When(visit=1, then=Value("new")), default=Value("returning"), output_field=CharField()
        )
    return Case(
        When(**{dimension: ""}, then=Value("(none)")),
        default=dimension,
        output_field=CharField(),
    )


def breakdown(period: DateRange, dimension: str) -> list[BreakdownRow]:
    """One row per value of ``dimension``, largest revenue first: one query."""
    rows = (
        _visits(period)
        .annotate(segment=_segment_column(dimension))
        .values("segment")
        .annotate(
            visitors=Count("visitor_id", distinct=True),
            visits=Count("id"),
            converting=Count("id", filter=Q(orders__gt=0)),
            orders=Sum("orders"),
            revenue=Sum("revenue"),
        )
        .order_by()
    )
    result = [
        BreakdownRow(
            dimension=dimension,
            segment=str(row["segment"]),
            visitors=row["visitors"],
            visits=row["visits"],
            converting_visits=row["converting"],
            orders=row["orders"] or 0,
            revenue=_money(row["revenue"]),
        )
        for row in rows
    ]
    return sorted(result, key=lambda r: (-r.revenue, -r.visitors, r.segment))


def revenue_by_rfm_segment(period: DateRange) -> dict[str, float]:
    """RFM segment slug -> revenue in ``period``, from the rollups as they are (one query;
    no day is rolled up here)."""
    rows = _visits(period).values("rfm").annotate(value=Sum("revenue")).order_by()
    return {str(row["rfm"]): _money(row["value"]) for row in rows if row["rfm"]}


def trend(period: DateRange) -> tuple[list[TrendDay], datetime | None]:
    """Each day of the range (zeros for days without events), and the latest rollup time."""
    by_day = {d: TrendDay(d) for d in days_between(period.start, period.end)}
    rolled_at = None
    rows = RollupDay.objects.using(settings.DATABASE_ALIAS).filter(
        day__gte=period.start, day__lte=period.end
    )
    for row in rows:
        by_day[row.day] = TrendDay(
            row.day,
            visitors=row.visitors,
            visits=row.visits,
            converting_visits=row.converting_visits,
            orders=row.orders,
            revenue=_money(row.revenue),
        )
        rolled_at = row.rolled_at if rolled_at is None else max(rolled_at, row.rolled_at)
    return list(by_day.values()), rolled_at


def _influence(period: DateRange, *, totals_only: bool = False) -> list[Influence]:
    rows = AttributedDay.objects.using(settings.DATABASE_ALIAS).filter(
        day__gte=period.start, day__lte=period.end
    )
    if totals_only:
        rows = rows.filter(key="")
    grouped = rows.values("kind", "key").annotate(n=Sum("orders"), value=Sum("revenue"))
    return [
        Influence(row["kind"], row["key"], row["key"], row["n"] or 0, _money(row["value"]))
        for row in grouped.order_by()
    ]


def summarize(period: DateRange, *, roll_up_missing: bool = True) -> Summary:
    """Every number of the dashboard for ``period`` and the period before it.

    Up to :data:`ROLL_UP_ON_REQUEST` days never rolled up are rolled up first (none
    without ``roll_up_missing``); the rest are listed in ``missing_days``.
    """
    previous = period.previous
    missing = ensure_rolled_up(previous, period, limit=ROLL_UP_ON_REQUEST if roll_up_missing else 0)
    using = settings.DATABASE_ALIAS
    influence = _influence(period)
    campaign_names = dict(Campaign.objects.using(using).values_list("slug", "name"))
    widget_names = dict(Widget.objects.using(using).values_list("slot", "name"))
    names = {"campaign": campaign_names, "widget": widget_names}
    influenced = {kind: Influence(kind, "", "") for kind in names}
    per_key: dict[str, list[Influence]] = {kind: [] for kind in names}
    for item in influence:
        if item.key == "":
            influenced[item.kind] = item
        elif item.kind in per_key:
            item.label = names[item.kind].get(item.key, item.key)
            per_key[item.kind].append(item)
    influenced_previous = {kind: Influence(kind, "", "") for kind in names}
    for item in _influence(previous, totals_only=True):
        influenced_previous[item.kind] = item
    days, rolled_at = trend(period)
    return Summary(
        period=period,
        totals=totals(period),
        previous=totals(previous),
        trend=days,
        breakdown={dimension: breakdown(period, dimension) for dimension in DIMENSIONS},
        campaigns=sorted(per_key["campaign"], key=lambda i: (-i.revenue, i.key)),
        widgets=sorted(per_key["widget"], key=lambda i: (-i.revenue, i.key)),
        influenced=influenced,
        influenced_previous=influenced_previous,
        rolled_at=rolled_at,
        missing_days=missing,
    )
