"""Widget numbers come from the event log: views, clicks and what the clicks led to.

Every test runs on SQLite and on PostgreSQL (the JSON lookups and the date grouping
differ underneath); the event logs are built by hand so every number is known.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.db import connections
from django.template.loader import render_to_string
from django.test import override_settings

from personalize.models import Event, Widget
from personalize.recommendations.measurement import widget_results
from personalize.tracking.events import validate_event

DATABASES = ["default", "postgres"] if "postgres" in django_settings.DATABASES else ["default"]
pytestmark = pytest.mark.django_db(databases=DATABASES)

T0 = datetime(2026, 3, 10, 12, tzinfo=UTC)
NOW = datetime(2026, 3, 20, 12, tzinfo=UTC)
SLOT = "product-detail"


@pytest.fixture(params=["default", pytest.param("postgres", marks=pytest.mark.postgres)])
def alias(request: pytest.FixtureRequest) -> Iterator[str]:
    if request.param not in django_settings.DATABASES:
        pytest.skip("PostgreSQL not available")  # the conftest fails this in CI instead
    with override_settings(PERSONALIZE_DATABASE_ALIAS=request.param):
        yield request.param


def vid(n: int) -> str:
    return f"{n:032x}"


class Log:
    """Hand-written events, validated like live ones and written in one insert."""

    def __init__(self) -> None:
        self.rows: list[Event] = []

    def add(self, n: int, name: str, at: datetime, **props: Any) -> None:
        self.rows.append(
            Event(
                event_id=uuid.uuid4().hex,
                visitor_id=vid(n),
                name=name,
                props=validate_event(name, props),
                occurred_at=at,
            )
        )

    def view(self, n: int, at: datetime, strategy: str = "viewed_together", **props: Any) -> None:
        props.setdefault("widget", SLOT)
        self.add(n, "rec_view", at, strategy=strategy, count=4, path="/products/1/", **props)

    def click(
        self,
        n: int,
        at: datetime,
        product: str,
        strategy: str = "viewed_together",
        **props: Any,
    ) -> None:
        props.setdefault("widget", SLOT)
        self.add(n, "rec_click", at, strategy=strategy, product_id=product, position=1, **props)

    def add_to_cart(self, n: int, at: datetime, product: str) -> None:
        self.add(n, "add_to_cart", at, product_id=product, quantity=1, price=10.0)

    def purchase(self, n: int, at: datetime, *lines: tuple[str, float, int]) -> None:
        items = [{"product_id": p, "price": price, "quantity": q} for p, price, q in lines]
        value = sum(price * q for _, price, q in lines)
        self.add(n, "purchase", at, order_id=uuid.uuid4().hex[:12], value=value, items=items)

    def save(self, alias: str) -> None:
        Event.objects.using(alias).bulk_create(self.rows)


def known_log() -> Log:
    log = Log()
    # 1: two views, one click on 12, adds 12 (and 13) to the cart, buys 12 x2 with 99.
    log.view(1, T0)
    log.view(1, T0 + timedelta(hours=1))
    log.click(1, T0 + timedelta(minutes=5), "12")
    log.add_to_cart(1, T0 + timedelta(days=1), "12")
    log.add_to_cart(1, T0 + timedelta(days=1), "13")  # not the clicked product
    log.purchase(1, T0 + timedelta(days=2), ("12", 10.0, 2), ("99", 100.0, 1))
    # 2: clicks 14 twice; the window runs from the first click.
    log.view(2, T0)
    log.click(2, T0, "14")
    log.click(2, T0 + timedelta(days=1), "14")
    log.add_to_cart(2, T0 + timedelta(days=7), "14")  # the window's last moment: counts
    log.add_to_cart(2, T0 + timedelta(days=8), "14")  # outside the 7-day window
    log.purchase(2, T0 + timedelta(days=6), ("15", 30.0, 1))  # no line for 14
    log.purchase(2, T0 + timedelta(days=9), ("14", 25.0, 1))  # too late
    # 3: sees it, never clicks.
    log.view(3, T0)
    # 4: a per-segment rule showed bestsellers; clicks 20 and buys it the next hour.
    log.view(4, T0 + timedelta(days=1), strategy="bestsellers")
    log.click(4, T0 + timedelta(days=1), "20", strategy="bestsellers")
    log.purchase(4, T0 + timedelta(days=1, hours=1), ("20", 5.0, 1))
    # 5: bought 12 before clicking it: not attributed.
    log.purchase(5, T0 - timedelta(days=1), ("12", 10.0, 1))
    log.view(5, T0)
    log.click(5, T0, "12")
    # Not counted: another widget, a view before the period, a view after "now".
    log.click(6, T0, "12", widget="cart")
    log.view(7, T0 - timedelta(days=30))
    log.view(8, NOW + timedelta(hours=1))
    return log


def test_totals_strategies_and_attribution(alias: str) -> None:
    known_log().save(alias)
    Widget.objects.using(alias).create(
        slot=SLOT, name="PDP", title="Also viewed", strategy="viewed_together"
    )
    results = widget_results(SLOT, 7, days=30, now=NOW)
    totals = results.totals
    assert (totals.views, totals.clicks, totals.viewers, totals.clickers) == (6, 5, 5, 4)
    assert totals.ctr == pytest.approx(5 / 6)
    assert (totals.clicked_items, totals.add_to_carts) == (4, 2)
    assert (totals.purchased_items, totals.purchases, totals.revenue) == (2, 2, 25.0)
    assert totals.purchase_rate == 0.5

    assert [s.key for s in results.strategies] == ["viewed_together", "bestsellers"]
    together, best = results.strategies
    assert results.baseline == "viewed_together" and together.is_baseline
    assert (together.views, together.clicks, together.viewers, together.clickers) == (5, 4, 4, 3)
    assert together.clicking_viewers == 3 and together.click_rate == 0.75
    assert (together.clicked_items, together.add_to_carts, together.purchased_items) == (3, 2, 1)
    assert (together.purchases, together.revenue) == (1, 20.0)  # 12 x2, not the 120 order
    assert together.purchase_rate == pytest.approx(1 / 3)
    assert together.comparison is None and together.tone == "baseline"
    assert (best.views, best.clicks, best.clicked_items, best.purchases, best.revenue) == (
        1,
        1,
        1,
        1,
        5.0,
    )
    assert best.comparison is not None and best.comparison.insufficient_data
    assert best.tone == "wait" and best.label == "Bestsellers"


def test_daily_series_covers_every_day_of_the_period(alias: str) -> None:
    known_log().save(alias)
    results = widget_results(SLOT, 7, days=30, now=NOW)
    assert len(results.daily) == 30
    assert results.daily[0].day == date(2026, 2, 19)
    assert results.daily[-1].day == date(2026, 3, 20)
    by_day = {d.day: d for d in results.daily}
    first, second, third = (
        by_day[date(2026, 3, 10)],
        by_day[date(2026, 3, 11)],
        by_day[date(2026, 3, 12)],
    )
    assert (first.views, first.clicks, first.purchases, first.revenue) == (5, 3, 0, 0.0)
    assert (second.views, second.clicks, second.purchases, second.revenue) == (1, 2, 1, 5.0)
    assert (third.views, third.clicks, third.purchases, third.revenue) == (0, 0, 1, 20.0)
    assert sum(d.views for d in results.daily) == results.totals.views
    assert sum(d.revenue for d in results.daily) == results.totals.revenue


def test_a_shorter_period_and_window(alias: str) -> None:
    known_log().save(alias)
    # From 11 March: only visitor 4's view and click, and visitor 2's second click
    # (its first click is before the period, so that item starts at the second one).
    results = widget_results(SLOT, 1, days=10, now=NOW)
    assert (results.totals.views, results.totals.clicks) == (1, 2)
    assert results.totals.purchases == 1 and results.totals.revenue == 5.0
    # With a zero-day window only what happens at the click's very moment counts.
    assert widget_results(SLOT, 0, days=30, now=NOW).totals.purchases == 0


def test_one_order_with_two_clicked_products_counts_once_with_both_lines(alias: str) -> None:
    log = Log()
    log.view(1, T0)
    log.click(1, T0, "12")
    log.click(1, T0, "13", strategy="similar")
    log.purchase(1, T0 + timedelta(hours=2), ("12", 10.0, 1), ("13", 2.5, 2), ("14", 50.0, 1))
    log.save(alias)
    results = widget_results(SLOT, now=NOW, baseline="viewed_together")
    totals = results.totals
    assert (totals.purchases, totals.purchased_items, totals.revenue) == (1, 2, 15.0)
    by_key = {s.key: s for s in results.strategies}
    assert (by_key["viewed_together"].purchases, by_key["viewed_together"].revenue) == (1, 10.0)
    assert (by_key["similar"].purchases, by_key["similar"].revenue) == (1, 5.0)
    # "similar" was clicked without a view of it: no viewer to count.
    assert by_key["similar"].viewers == 0 and by_key["similar"].clicking_viewers == 0
    day = next(d for d in results.daily if d.day == T0.date())
    assert (day.purchases, day.revenue) == (1, 15.0)


def test_strategies_are_compared_on_viewers_who_clicked(alias: str) -> None:
    log = Log()
    for n in range(200):  # baseline: 20 of 200 viewers click
        log.view(n, T0)
        if n < 20:
            log.click(n, T0, "1")
            log.click(n, T0, "2")  # clicks outnumber clicking viewers
    for n in range(200, 400):  # trending: 60 of 200 viewers click
        log.view(n, T0, strategy="trending")
        if n < 260:
            log.click(n, T0, "1", strategy="trending")
    log.save(alias)
    Widget.objects.using(alias).create(slot=SLOT, name="x", title="x", strategy="viewed_together")
    results = widget_results(SLOT, now=NOW)
    base, trending = results.strategies
    assert (base.clicks, base.clicking_viewers, base.viewers) == (40, 20, 200)
    assert trending.comparison is not None
    assert trending.comparison.rate_a == 0.1 and trending.comparison.rate_b == 0.3
    assert trending.comparison.significant and trending.tone == "win"
    assert trending.difference_points == pytest.approx(20.0)
    html = render_to_string(
        "personalize/admin/recommendations/widget_results.html", {"results": results}
    )
    html = re.sub(r"\s+", " ", html)
    assert "Trending now:</strong> a larger share of its viewers click than with" in html
    assert trending.comparison.sequential  # the page is a rolling window checked daily
    p_value = trending.comparison.p_value
    assert p_value is not None and 0.001 < p_value < 0.05
    assert re.search(
        rf"\+20\.0 points \(95% interval \+\d+\.\d to \+\d+\.\d\), p = {p_value:.3f}", html
    )


def test_no_events_no_numbers(alias: str) -> None:
    results = widget_results("nothing", now=NOW)
    assert not results.has_data and results.strategies == [] and results.baseline is None
    assert results.chart is None and len(results.daily) == 30
    with pytest.raises(ValueError, match="days"):
        widget_results("nothing", days=0)


def test_query_count_is_constant_plus_two_per_500_clickers(
    alias: str, django_assert_num_queries: Any
) -> None:
    log = Log()
    for n in range(501):
        log.view(n, T0)
        log.click(n, T0, str(n % 7))
        log.purchase(n, T0 + timedelta(hours=1), (str(n % 7), 1.0, 1))
    log.save(alias)
    Widget.objects.using(alias).create(slot=SLOT, name="x", title="x", strategy="viewed_together")
    connection = connections[alias]
    # widget, counts per day, viewers per strategy, all viewers, clicked items
    # + 2 chunks x (viewers among clickers, add-to-carts and orders)
    with django_assert_num_queries(9, connection=connection):
        results = widget_results(SLOT, now=NOW)
    assert results.totals.purchases == 501 and results.totals.clicking_viewers == 501
    with django_assert_num_queries(4, connection=connection):
        widget_results("empty", now=NOW, baseline="bestsellers")


def test_results_partial_renders_tables_and_a_csp_safe_chart(alias: str) -> None:
    known_log().save(alias)
    Widget.objects.using(alias).create(
        slot=SLOT, name="PDP", title="Also viewed", strategy="viewed_together"
    )
    html = render_to_string(
        "personalize/admin/recommendations/widget_results.html",
        {"results": widget_results(SLOT, 7, days=30, now=NOW)},
    )
    text = re.sub(r"\s+", " ", html)
    assert "Customers who viewed this also viewed <small>(baseline)</small>" in text
    assert "Bestsellers:</strong> not enough data yet" in text
    assert "83.33%" in text  # totals CTR: 5 clicks / 6 views
    assert "25.00 EUR" in text and "20.00 EUR" in text
    assert "50.0% <small>(2 of 4)</small>" in text  # clicked items bought
    assert text.count('<rect class="pz-daily-bar"') == 30
    assert '<polyline class="pz-daily-line"' in text
    assert "Wed 11 Mar: 1 view, 2 clicks, 1 attributed order, 5.00 EUR" in text
    assert "<script" not in html and "style=" not in html
    assert not re.search(r"\son[a-z]+=", html)  # no inline event handlers
    empty = render_to_string(
        "personalize/admin/recommendations/widget_results.html",
        {"results": widget_results("nothing", now=NOW)},
    )
    assert "No one has seen this widget" in empty and "<svg" not in empty
