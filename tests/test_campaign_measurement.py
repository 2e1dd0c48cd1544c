"""Campaign numbers come from the event log: exposures, clicks, attributed purchases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from personalize.campaigns.measurement import campaign_results
from personalize.tracking.history import HistoricalEvent, import_history

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)


def vid(n: int) -> str:
    return f"{n:032x}"


def exposure(
    n: int, variant: str, at: datetime, name: str = "campaign_impression"
) -> HistoricalEvent:
    return HistoricalEvent(vid(n), name, at, {"campaign": "promo", "variant": variant})


def purchase(n: int, at: datetime, value: float) -> HistoricalEvent:
    return HistoricalEvent(
        vid(n),
        "purchase",
        at,
        {
            "order_id": f"{n}-{at.timestamp()}",
            "value": value,
            "items": [{"product_id": 1, "price": value, "quantity": 1}],
        },
    )


def test_results_per_variant_with_attribution_window() -> None:
    events = [
        # control: 4 exposed visitors, 1 buys inside the window
        *[exposure(i, "control", T0, "campaign_exposure") for i in range(1, 5)],
        purchase(1, T0 + timedelta(days=2), 50.0),
        purchase(2, T0 + timedelta(days=9), 80.0),  # outside the 7-day window
        purchase(3, T0 - timedelta(days=1), 10.0),  # before exposure
        # variant a: 4 exposed, 2 buy (one twice), clicks and a close
        *[exposure(i, "a", T0) for i in range(5, 9)],
        exposure(5, "a", T0 + timedelta(hours=1)),  # second impression, same visitor
        HistoricalEvent(vid(5), "campaign_click", T0, {"campaign": "promo", "variant": "a"}),
        HistoricalEvent(vid(6), "campaign_close", T0, {"campaign": "promo", "variant": "a"}),
        HistoricalEvent(vid(7), "campaign_convert", T0, {"campaign": "promo", "variant": "a"}),
        purchase(5, T0 + timedelta(days=1), 20.0),
        purchase(5, T0 + timedelta(days=3), 30.0),
        purchase(6, T0 + timedelta(days=6), 40.0),
        # another campaign's events are not counted
        HistoricalEvent(vid(9), "campaign_impression", T0, {"campaign": "other", "variant": "a"}),
    ]
    import_history(events)
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
    assert a.ctr == pytest.approx(0.2)
    assert a.revenue_per_visitor == 22.5
    assert b.exposures == 0 and b.conversion_rate is None and b.ctr is None
    assert results.baseline == "control"
    assert a.comparison is not None and a.comparison.insufficient_data
    assert results.totals.exposures == 8 and results.totals.revenue == 140.0


def test_no_events_no_numbers() -> None:
    results = campaign_results("nothing")
    assert results.variants == [] and results.baseline is None
