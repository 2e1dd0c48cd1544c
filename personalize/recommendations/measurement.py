"""Widget numbers from the durable event log: views, clicks and what the clicks led to.

Definitions (the admin partial ``widget_results.html`` repeats them for merchandisers):

* A **view** is a ``rec_view`` event (the widget was at least half in view once on a
  page); a **click** is a ``rec_click`` event. **CTR** is clicks / views, both counted
  as events.
* A **clicked item** is a distinct (visitor, product) pair clicked in the widget. Its
  attribution window opens at the visitor's first click on that product and closes
  ``attribution_days`` later (both ends inclusive).
* **Attributed add-to-carts** are that visitor's ``add_to_cart`` events for that
  product within the window. **Attributed orders** are their ``purchase`` events within
  the window with a line for that product; **revenue** is price x quantity of those
  lines only, never the rest of the order.
* **Clicked items bought** (:attr:`StrategyResult.purchase_rate`) is the share of
  clicked items that were bought within their window. It is attribution, not cause:
  some of these shoppers would have bought the product anyway.

The period is the last ``days`` calendar days (in the current time zone) up to
``now``: views and clicks in it count, and the add-to-carts and orders those clicks
led to up to ``now``. A clicked item counts for the strategy of its first click.

Strategies are compared with the widget's main strategy on **viewers who clicked**
(visitors who saw the strategy and clicked it, out of visitors who saw it), not on
CTR: one shopper's views are not independent trials, and clicks can outnumber views.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import cached_property
from typing import Any, Final

from django.db.models import Count, Min
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.formats import date_format

from personalize.charts import DailyChart, bar_and_line_chart
from personalize.conf import settings
from personalize.measurement import CHUNK_SIZE, events_in_window, product_revenue
from personalize.models import Event
from personalize.recommendations.models import Strategy, Widget
from personalize.stats import (
    MIN_EXPOSURES,
    Interval,
    ProportionComparison,
    compare_proportions,
    wilson_interval,
)

ALL: Final = "all"
_COUNTERS: Final = (
    "views",
    "clicks",
    "viewers",
    "clickers",
    "clicking_viewers",
    "clicked_items",
    "add_to_carts",
    "purchased_items",
    "purchases",
)


def _percent(rate: float | None) -> float | None:
    return None if rate is None else rate * 100


@dataclass
class StrategyResult:
    """One strategy's numbers (``key`` is ``"all"`` for the widget's totals).

    ``viewers``, ``clickers`` and ``clicking_viewers`` are unique visitors;
    ``purchases`` counts distinct orders (an order with two clicked products counts
    once, and once in each strategy the products were clicked in).
    """

    key: str  # the strategy that filled the widget; "" when the runtime reported none
    views: int = 0
    clicks: int = 0
    viewers: int = 0
    clickers: int = 0
    clicking_viewers: int = 0  # viewers of this strategy who also clicked it
    clicked_items: int = 0
    add_to_carts: int = 0
    purchased_items: int = 0
    purchases: int = 0
    revenue: float = 0.0
    is_baseline: bool = False
    comparison: ProportionComparison | None = None  # viewers who clicked, vs the baseline

    @property
    def label(self) -> str:
        if self.key == ALL:
            return "All strategies"
        if self.key in Strategy.values:
            return str(Strategy(self.key).label)
        return self.key or "(not reported)"

    @property
    def ctr(self) -> float | None:
        """Clicks per view (events)."""
        return self.clicks / self.views if self.views else None

    @property
    def click_rate(self) -> float | None:
        """Share of the visitors who saw it that clicked it: what strategies are compared on."""
        return self.clicking_viewers / self.viewers if self.viewers else None

    @property
    def purchase_rate(self) -> float | None:
        """Clicked items bought: ``purchased_items / clicked_items`` (see the module doc)."""
        return self.purchased_items / self.clicked_items if self.clicked_items else None

    @property
    def revenue_per_click(self) -> float | None:
        return self.revenue / self.clicks if self.clicks else None

    @property
    def interval(self) -> Interval | None:
        """The 95% Wilson interval of :attr:`click_rate`."""
        return wilson_interval(self.clicking_viewers, self.viewers)

    @property
    def tone(self) -> str:
        """``baseline``, ``win``, ``loss``, ``neutral`` (no clear difference) or ``wait``."""
        comparison = self.comparison
        if self.is_baseline or comparison is None:
            return "baseline" if self.is_baseline else "neutral"
        if comparison.insufficient_data:
            return "wait"
        if not comparison.significant or comparison.difference is None:
            return "neutral"
        return "win" if comparison.difference > 0 else "loss"

    # Percent and point values for the template, which cannot multiply.

    @property
    def ctr_percent(self) -> float | None:
        return _percent(self.ctr)

    @property
    def click_rate_percent(self) -> float | None:
        return _percent(self.click_rate)

    @property
    def purchase_rate_percent(self) -> float | None:
        return _percent(self.purchase_rate)

    @property
    def interval_percent(self) -> tuple[float, float] | None:
        interval = self.interval
        return None if interval is None else (interval.low * 100, interval.high * 100)

    @property
    def difference_points(self) -> float | None:
        comparison = self.comparison
        return None if comparison is None else _percent(comparison.difference)

    @property
    def difference_interval_points(self) -> tuple[float, float] | None:
        comparison = self.comparison
        if comparison is None or comparison.interval is None:
            return None
        return (comparison.interval.low * 100, comparison.interval.high * 100)


@dataclass
class DayResult:
    """One day of the series: views and clicks that day, attributed orders placed that day."""

    day: date
    views: int = 0
    clicks: int = 0
    purchases: int = 0
    revenue: float = 0.0


@dataclass
class WidgetResults:
    """Every number the admin shows for one widget over one period (see the module doc)."""

    slot: str
    attribution_days: int
    days: int
    since: datetime
    until: datetime
    currency: str
    totals: StrategyResult
    strategies: list[StrategyResult]  # the baseline first, then by views
    daily: list[DayResult]
    baseline: str | None = None

    @property
    def has_data(self) -> bool:
        return bool(self.totals.views or self.totals.clicks)

    @property
    def compared(self) -> list[StrategyResult]:
        """The strategies compared with the baseline."""
        return [s for s in self.strategies if s.comparison is not None]

    @property
    def min_viewers(self) -> int:
        return MIN_EXPOSURES

    @cached_property
    def chart(self) -> DailyChart | None:
        return daily_chart(self.daily, self.currency)


def _key(strategy: Any) -> str:
    return "" if strategy is None else str(strategy)


def widget_results(
    slot: str,
    attribution_days: int = 7,
    *,
    days: int = 30,
    now: datetime | None = None,
    baseline: str | None = None,
) -> WidgetResults:
    """Compute every number the admin shows for the widget in ``slot``.

    ``baseline`` is the strategy the others are compared with; by default the
    widget's own strategy (else the most viewed one). Five queries, one fewer with
    ``baseline`` given, plus two per 500 visitors who clicked.
    """
    if days < 1:
        raise ValueError(f"days must be at least 1, got {days}.")
    if attribution_days < 0:
        raise ValueError(f"attribution_days cannot be negative, got {attribution_days}.")
    until = now or timezone.now()
    zone = timezone.get_current_timezone()
    first_day = timezone.localdate(until, zone) - timedelta(days=days - 1)
    since = datetime.combine(first_day, time.min, tzinfo=zone)
    using = settings.DATABASE_ALIAS
    widget_events = Event.objects.using(using).filter(
        props__widget=slot, occurred_at__gte=since, occurred_at__lte=until
    )
    views = widget_events.filter(name="rec_view")
    clicks = widget_events.filter(name="rec_click")

    by_key: dict[str, StrategyResult] = {}

    def result(key: str) -> StrategyResult:
        if key not in by_key:
            by_key[key] = StrategyResult(key)
        return by_key[key]

    totals = StrategyResult(ALL)
    daily = {
        first_day + timedelta(days=n): DayResult(first_day + timedelta(days=n)) for n in range(days)
    }
    if baseline is None:
        baseline = (
            Widget.objects.using(using).filter(slot=slot).values_list("strategy", flat=True).first()
        )
    if baseline is not None:
        result(baseline)

    counts = (
        widget_events.filter(name__in=("rec_view", "rec_click"))
        .annotate(day=TruncDate("occurred_at", tzinfo=zone))
        .values("day", "name", "props__strategy")
        .annotate(n=Count("id"))
        .order_by()
    )
    for row in counts:
        name = "views" if row["name"] == "rec_view" else "clicks"
        for item in (result(_key(row["props__strategy"])), totals, daily.get(row["day"])):
            if item is not None:
                setattr(item, name, getattr(item, name) + row["n"])
    viewers = views.values("props__strategy").annotate(n=Count("visitor_id", distinct=True))
    for row in viewers.order_by():
        result(_key(row["props__strategy"])).viewers = row["n"]
    totals.viewers = views.aggregate(n=Count("visitor_id", distinct=True))["n"]

    # Clicked items: (visitor, product) -> (first click, its strategy).
    items: dict[tuple[str, str], tuple[datetime, str]] = {}
    clicked: dict[str, set[str]] = defaultdict(set)  # strategy -> visitors who clicked it
    pairs = (
        clicks.values("visitor_id", "props__product_id", "props__strategy")
        .annotate(first=Min("occurred_at"))
        .order_by()
    )
    for row in pairs:
        key = _key(row["props__strategy"])
        visitor_id = row["visitor_id"]
        clicked[key].add(visitor_id)
        item_key = (visitor_id, str(row["props__product_id"]))
        known = items.get(item_key)
        if known is None or (row["first"], key) < known:
            items[item_key] = (row["first"], key)
    for key, visitors in clicked.items():
        result(key).clickers = len(visitors)
    clickers = sorted({visitor_id for visitor_id, _ in items})
    totals.clickers = len(clickers)
    for _, key in items.values():
        result(key).clicked_items += 1
    totals.clicked_items = len(items)

    # Which clickers saw the strategy they clicked (the rate strategies are compared on).
    viewing_clickers: set[str] = set()
    for start in range(0, len(clickers), CHUNK_SIZE):
        seen = (
            views.filter(visitor_id__in=clickers[start : start + CHUNK_SIZE])
            .values_list("visitor_id", "props__strategy")
            .distinct()
            .order_by()
        )
        for visitor_id, strategy in seen:
            key = _key(strategy)
            viewing_clickers.add(visitor_id)
            if visitor_id in clicked.get(key, ()):
                result(key).clicking_viewers += 1
    totals.clicking_viewers = len(viewing_clickers)

    _attribute(items, attribution_days, until, result, totals, daily)

    ordered = sorted(by_key.values(), key=lambda s: (s.key != baseline, -s.views, s.key))
    if baseline is None and ordered:
        baseline = ordered[0].key
    if ordered:
        base = ordered[0]
        base.is_baseline = True
        for other in ordered[1:]:
            other.comparison = compare_proportions(
                base.clicking_viewers, base.viewers, other.clicking_viewers, other.viewers
            )
    for counted in (*ordered, totals):
        counted.revenue = round(counted.revenue, 2)
    for day in daily.values():
        day.revenue = round(day.revenue, 2)
    return WidgetResults(
        slot=slot,
        attribution_days=attribution_days,
        days=days,
        since=since,
        until=until,
        currency=settings.CURRENCY,
        totals=totals,
        strategies=ordered,
        daily=list(daily.values()),
        baseline=baseline,
    )


def _attribute(
    items: dict[tuple[str, str], tuple[datetime, str]],
    attribution_days: int,
    until: datetime,
    result: Callable[[str], StrategyResult],
    totals: StrategyResult,
    daily: dict[date, DayResult],
) -> None:
    """Add the add-to-carts, orders and revenue each clicked item led to."""
    window = timedelta(days=attribution_days)
    starts: dict[str, datetime] = {}
    by_visitor: dict[str, list[tuple[str, datetime, str]]] = defaultdict(list)
    for (visitor_id, product_id), (first, key) in items.items():
        starts[visitor_id] = min(starts.get(visitor_id, first), first)
        by_visitor[visitor_id].append((product_id, first, key))
    bought: set[tuple[str, str]] = set()
    orders: dict[str, set[int]] = defaultdict(set)  # strategy (or "all") -> purchase events
    day_orders: dict[date, set[int]] = defaultdict(set)
    outcomes = events_in_window(starts, window, ("add_to_cart", "purchase"), until=until)
    for event in outcomes:
        for product_id, first, key in by_visitor[event.visitor_id]:
            if not first <= event.at <= first + window:
                continue
            if event.name == "add_to_cart":
                if str(_get(event.props, "product_id")) == product_id:
                    result(key).add_to_carts += 1
                    totals.add_to_carts += 1
                continue
            revenue = product_revenue(event.props, product_id)
            if revenue is None:
                continue
            bought.add((event.visitor_id, product_id))
            orders[key].add(event.pk)
            orders[ALL].add(event.pk)
            result(key).revenue += revenue
            totals.revenue += revenue
            day = daily.get(timezone.localdate(event.at, timezone.get_current_timezone()))
            if day is not None:
                day_orders[day.day].add(event.pk)
                day.revenue += revenue
    for item_key in bought:
        result(items[item_key][1]).purchased_items += 1
    totals.purchased_items = len(bought)
    for key, pks in orders.items():
        (totals if key == ALL else result(key)).purchases = len(pks)
    for day_key, pks in day_orders.items():
        daily[day_key].purchases = len(pks)


def _get(props: Any, name: str) -> Any:
    return props.get(name) if isinstance(props, dict) else None


# --- the daily chart --------------------------------------------------------------------


def daily_chart(series: Sequence[DayResult], currency: str) -> DailyChart | None:
    """Clicks per day as bars (left axis) and attributed revenue per day as a line (right).

    ``None`` when the series holds no view, click or revenue at all.
    """
    if not any(d.views or d.clicks or d.revenue for d in series):
        return None
    titles = [
        f"{date_format(day.day, 'D j M')}: {day.views:,} view{'s' * (day.views != 1)}, "
        f"{day.clicks:,} click{'s' * (day.clicks != 1)}, "
        f"{day.purchases:,} attributed order{'s' * (day.purchases != 1)}, "
        f"{day.revenue:,.2f} {currency}"
        for day in series
    ]
    return bar_and_line_chart(
        [d.day for d in series], [d.clicks for d in series], [d.revenue for d in series], titles
    )
