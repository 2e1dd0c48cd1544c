"""RFM over the store, segment size estimates, and the commands that run them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from personalize.models import RFMReport, Segment
from personalize.profiles.base import BaseProfileStore, get_store
from personalize.rfm.run import run_rfm
from personalize.tracking.history import HistoricalEvent, import_history

AS_OF = datetime(2026, 6, 1, tzinfo=UTC)


def vid(n: int) -> str:
    return f"{n:032x}"


def customers(count: int) -> list[HistoricalEvent]:
    """Customer n ordered n times, the last one n*10 days before AS_OF, spending n*20."""
    events = []
    for n in range(1, count + 1):
        for k in range(n):
            at = AS_OF - timedelta(days=n * 10 + k)
            events.append(
                HistoricalEvent(
                    vid(n),
                    "purchase",
                    at,
                    {
                        "order_id": f"{n}-{k}",
                        "value": 20,
                        "items": [
                            {"product_id": n, "category": "cats", "price": 20, "quantity": 1}
                        ],
                    },
                )
            )
            events.append(HistoricalEvent(vid(n), "page_view", at, {"path": "/"}))
    events.append(HistoricalEvent(vid(99), "page_view", AS_OF - timedelta(days=1)))
    return events


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_run_rfm_scores_customers_in_every_store(store: BaseProfileStore) -> None:
    import_history(customers(10), store=store)
    result = run_rfm(AS_OF, store=store)
    assert result.customers == 10  # the visitor without orders is not a customer
    best = store.load(vid(1))
    worst = store.load(vid(10))
    assert best is not None and worst is not None
    assert best.ext["rfm"]["r"] == 5 and best.ext["rfm"]["f"] == 1
    assert worst.ext["rfm"]["r"] == 1 and worst.ext["rfm"]["f"] == 5
    assert worst.ext["rfm"]["segment"] == "cant_lose"
    assert worst.ext["rfm"]["spend_percentile"] == 90
    assert best.ext["rfm"]["spend_percentile"] == 0
    assert sum(result.grid.values()) == 10
    assert sum(result.segments.values()) == 10
    assert 1 <= best.ext["rfm"]["e"] <= 5
    assert store.load(vid(99)) is not None and "rfm" not in store.load(vid(99)).ext  # type: ignore[union-attr]


@pytest.mark.django_db
def test_rfm_command_prints_table_and_saves_report() -> None:
    import_history(customers(6))
    out = StringIO()
    call_command("personalize_rfm", "--as-of", "2026-06-01", stdout=out, stderr=StringIO())
    assert "Scored 6 customers" in out.getvalue()
    assert "Champions" in out.getvalue()
    report = RFMReport.objects.get()
    assert report.customers == 6
    assert sum(report.grid.values()) == 6
    with pytest.raises(CommandError, match="--as-of"):
        call_command("personalize_rfm", "--as-of", "June")


@pytest.mark.django_db
def test_rfm_on_an_empty_store() -> None:
    assert run_rfm(AS_OF).customers == 0


@pytest.mark.django_db
def test_vip_and_rfm_segments_follow_scores(client: object) -> None:
    import_history(customers(10))
    run_rfm(AS_OF)
    from personalize.attributes import attributes_for_profile
    from personalize.segments.registry import build_registry

    registry = build_registry()
    profile = get_store().load(vid(10))
    assert profile is not None
    segments = registry.evaluate(attributes_for_profile(profile, AS_OF.timestamp()))
    assert "vip" in segments
    assert "rfm-cant-lose" in segments
    assert "repeat-customers" in segments


@pytest.mark.django_db
def test_segment_sizes_command() -> None:
    now = datetime.now(tz=UTC)
    import_history(
        [
            HistoricalEvent(vid(1), "page_view", now - timedelta(days=2)),
            HistoricalEvent(vid(1), "page_view", now - timedelta(days=1)),
            HistoricalEvent(vid(2), "page_view", now - timedelta(hours=1)),
            HistoricalEvent(vid(3), "page_view", now - timedelta(days=90)),
        ]
    )
    Segment.objects.filter(slug="vip").update(enabled=False)
    out = StringIO()
    call_command("personalize_segment_sizes", "--days", "30", stdout=out, stderr=StringIO())
    assert "2 visitors seen" in out.getvalue()
    returning = Segment.objects.get(slug="returning-visitors")
    assert returning.estimated_size == 1
    assert returning.estimated_population == 2
    assert returning.estimated_at is not None
    assert Segment.objects.get(slug="new-visitors").estimated_size == 1
    assert Segment.objects.get(slug="vip").estimated_size is None
    with pytest.raises(CommandError):
        call_command("personalize_segment_sizes", "--days", "0")
