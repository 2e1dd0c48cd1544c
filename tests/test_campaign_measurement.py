"""Campaign numbers come from the event log: exposures, clicks, attributed purchases.

Every test runs on SQLite and on PostgreSQL (the JSON lookups and the correlated
subqueries differ underneath); the event logs are written by hand so every number
is known.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from django.conf import settings as django_settings
from django.test import override_settings

from personalize.campaigns.measurement import campaign_results
from personalize.models import Event
from personalize.stats import compare_means, compare_proportions

DATABASES = ["default", "postgres"] if "postgres" in django_settings.DATABASES else ["default"]
pytestmark = pytest.mark.django_db(databases=DATABASES)

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)


@pytest.fixture(params=["default", pytest.param("postgres", marks=pytest.mark.postgres)])
def alias(request: pytest.FixtureRequest) -> Iterator[str]:
    if request.param not in django_settings.DATABASES:
        pytest.skip("PostgreSQL not available")  # the conftest fails this in CI instead
    with override_settings(PERSONALIZE_DATABASE_ALIAS=request.param):
        yield request.param


def vid(n: int) -> str:
    return f"{n:032x}"


def event(n: int, name: str, at: datetime, **props: Any) -> Event:
    return Event(
        event_id=uuid.uuid4().hex, visitor_id=vid(n), name=name, props=props, occurred_at=at
    )


def exposure(n: int, variant: str, at: datetime = T0, slug: str = "promo") -> Event:
    name = "campaign_exposure" if variant == "control" else "campaign_impression"
    return event(n, name, at, campaign=slug, variant=variant)


def interaction(n: int, variant: str, kind: str, at: datetime = T0) -> Event:
    return event(n, f"campaign_{kind}", at, campaign="promo", variant=variant)


def purchase(n: int, at: datetime, value: float) -> Event:
    items = [{"product_id": 1, "price": value, "quantity": 1}]
    return event(n, "purchase", at, order_id=f"{n}-{at.timestamp()}", value=value, items=items)


def write(alias: str, events: list[Event]) -> None:
    Event.objects.using(alias).bulk_create(events)


def test_results_per_variant_with_attribution_window(alias: str) -> None:
    write(
        alias,
        [
            # control: 4 exposed visitors, 1 buys inside the window
            *[exposure(i, "control") for i in range(1, 5)],
            purchase(1, T0 + timedelta(days=2), 50.0),
            purchase(2, T0 + timedelta(days=9), 80.0),  # outside the 7-day window
            purchase(3, T0 - timedelta(days=1), 10.0),  # before exposure
            # variant a: 4 exposed, 2 buy (one twice), clicks and a close
            *[exposure(i, "a") for i in range(5, 9)],
            exposure(5, "a", T0 + timedelta(hours=1)),  # second impression, same visitor
            interaction(5, "a", "click"),
            interaction(5, "a", "click", T0 + timedelta(minutes=5)),  # the same visitor again
            interaction(6, "a", "close"),
            interaction(7, "a", "convert"),
            purchase(5, T0 + timedelta(days=1), 20.0),
            purchase(5, T0 + timedelta(days=3), 30.0),
            purchase(6, T0 + timedelta(days=6), 40.0),
            # another campaign's events are not counted
            exposure(9, "a", slug="other"),
        ],
    )
    results = campaign_results("promo", attribution_days=7, variant_keys=["a", "b"])
    by_key = {v.key: v for v in results.variants}
    assert [v.key for v in results.variants] == ["control", "a", "b"]
    control, a, b = by_key["control"], by_key["a"], by_key["b"]
    assert (control.exposures, control.buyers, control.purchases, control.revenue) == (
        4,
        1,
        1,
        50.0,
    )
    assert (a.exposures, a.impressions, a.clicks, a.closes, a.captures) == (4, 5, 1, 1, 1)
    assert (a.buyers, a.purchases, a.revenue) == (2, 3, 90.0)
    assert a.conversion_rate == 0.5 and control.conversion_rate == 0.25
    assert a.ctr == pytest.approx(0.25)  # exposed visitors who clicked, out of exposed
    assert a.revenue_per_visitor == 22.5
    assert b.exposures == 0 and b.conversion_rate is None and b.ctr is None
    assert results.baseline == "control" and results.sequential
    assert a.comparison is not None and a.comparison.insufficient_data
    assert a.comparison.sequential
    assert results.totals.exposures == 8 and results.totals.revenue == 140.0
    # Revenue per visitor, 0 for those who bought nothing: Welch on the raw values.
    summary = a.revenue_summary
    expected = compare_means([50.0, 0, 0, 0], [50.0, 40.0, 0, 0], sequential=True)
    assert (summary.n, summary.mean) == (4, 22.5)
    assert summary.variance == pytest.approx(float(np.var([50, 40, 0, 0], ddof=1)))
    assert a.revenue_comparison is not None
    assert a.revenue_comparison.p_value == pytest.approx(expected.p_value)


def test_exposure_is_an_impression_of_the_arm_once_per_visitor(alias: str) -> None:
    write(
        alias,
        [
            exposure(1, "a"),
            exposure(1, "a", T0 + timedelta(days=1)),
            exposure(2, "control"),
            # Forged or stray: an "exposure" claiming a shown variant, an impression
            # claiming the control group.
            event(3, "campaign_exposure", T0, campaign="promo", variant="a"),
            event(4, "campaign_impression", T0, campaign="promo", variant="control"),
            # A visitor who first saw b counts for b only.
            exposure(5, "b"),
            exposure(5, "a", T0 + timedelta(hours=1)),
        ],
    )
    by_key = {v.key: v for v in campaign_results("promo").variants}
    assert {k: v.exposures for k, v in by_key.items()} == {"control": 1, "a": 1, "b": 1}


def test_beacons_from_unexposed_visitors_change_nothing(alias: str) -> None:
    write(
        alias,
        [
            *[exposure(i, "a") for i in range(1, 41)],
            *[exposure(i, "b") for i in range(41, 81)],
            *[interaction(i, "b", "click") for i in range(41, 45)],
            *[purchase(i, T0 + timedelta(days=1), 30.0) for i in (1, 2, 41, 42, 43)],
        ],
    )
    before = campaign_results("promo", weights={"a": 1, "b": 1})
    # 2,720 scripted clicks from one fresh visitor who never had an impression, then
    # repeated clicks and an impression-less click on the other arm by exposed visitors.
    write(alias, [interaction(999, "b", "click", T0 + timedelta(seconds=s)) for s in range(2720)])
    write(alias, [interaction(41, "b", "click", T0 + timedelta(seconds=s)) for s in range(50)])
    write(alias, [interaction(1, "b", "click"), interaction(1, "a", "click", T0 - timedelta(1))])
    after = campaign_results("promo", weights={"a": 1, "b": 1})
    assert dataclasses.asdict(after) == dataclasses.asdict(before)
    assert {v.key: v.clicks for v in after.variants} == {"a": 0, "b": 4}


def test_a_period_counts_visitors_first_exposed_in_it(alias: str) -> None:
    write(
        alias,
        [
            exposure(1, "a", T0 - timedelta(days=10)),  # before the period
            exposure(1, "a", T0),  # ... so not "first exposed" here, but counted from T0
            exposure(2, "a", T0 + timedelta(days=1)),
            exposure(3, "b", T0 + timedelta(days=1)),
            exposure(4, "b", T0 + timedelta(days=20)),  # after the period
            purchase(2, T0 + timedelta(days=2), 10.0),
            purchase(3, T0 + timedelta(days=6), 10.0),  # after ``until``: not yet known
            # Exposed only before the period: a click in it does not count.
            exposure(5, "b", T0 - timedelta(days=3)),
            interaction(5, "b", "click", T0 + timedelta(days=1)),
            interaction(3, "b", "click", T0 + timedelta(days=1, hours=1)),
        ],
    )
    since, until = T0 - timedelta(hours=12), T0 + timedelta(days=4)
    results = campaign_results("promo", since=since, until=until)
    by_key = {v.key: v for v in results.variants}
    assert (by_key["a"].exposures, by_key["a"].buyers) == (2, 1)
    assert (by_key["b"].exposures, by_key["b"].buyers, by_key["b"].clicks) == (1, 0, 1)
    # The daily series runs over the whole period, with empty days.
    days = results.daily["a"]
    assert days[0].day == date(2026, 3, 1) and days[-1].day == date(2026, 3, 5)
    assert [(d.exposures, d.buyers) for d in days] == [(1, 0), (1, 0), (0, 1), (0, 0), (0, 0)]
    assert [d.exposures for d in results.daily["b"]] == [0, 1, 0, 0, 0]


def test_sample_ratio_check_and_analysis_choice(alias: str) -> None:
    write(
        alias,
        [
            *[exposure(i, "control") for i in range(500)],
            *[exposure(1000 + i, "a") for i in range(620)],
            *[purchase(1000 + i, T0 + timedelta(days=1), 10.0) for i in range(60)],
            *[purchase(i, T0 + timedelta(days=1), 10.0) for i in range(30)],
        ],
    )
    results = campaign_results("promo", weights={"control": 0.5, "a": 0.5})
    assert results.srm is not None and results.srm.mismatch  # 500 vs 620 on a 50/50 split
    matching = campaign_results("promo", weights={"control": 0.45, "a": 0.55}).srm
    assert matching is not None and not matching.mismatch
    fixed = campaign_results("promo", sequential=False)
    a = fixed.variants[1]
    assert a.comparison == compare_proportions(30, 500, 60, 620)
    assert campaign_results("promo").srm is None  # no split given, no check


def test_queries_stay_bounded(alias: str, django_assert_num_queries: Any) -> None:
    write(alias, [exposure(i, "a" if i % 2 else "b") for i in range(1_200)])
    # Impressions, interactions, first exposures, and purchases per 500 exposed visitors.
    with django_assert_num_queries(3 + 3, using=alias):
        campaign_results("promo")


def test_no_events_no_numbers(alias: str) -> None:
    results = campaign_results("nothing")
    assert results.variants == [] and results.baseline is None and results.daily == {}
