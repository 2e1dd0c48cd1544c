"""Devices, bots, history replay and profile merging: the pure parts, on hand-made inputs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from personalize.identity.bots import classify_user_agent, is_bot
from personalize.identity.device import device_class
from personalize.profiles.profile import CartLine, Profile, ProfileOp
from personalize.tracking.history import HistoricalEvent, import_history, replay


@pytest.mark.parametrize(
    ("user_agent", "expected"),
    [
        ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148", "mobile"),
        (
            "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/120 Mobile "
            "Safari/537.36",
            "mobile",
        ),
        ("Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X) AppleWebKit/605.1.15", "tablet"),
        (
            "Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 Chrome/120 Safari/537.36",
            "tablet",
        ),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120 Safari/537.36",
            "desktop",
        ),
        ("", "desktop"),
        ("garbage \x00", "desktop"),
    ],
)
def test_device_class(user_agent: str, expected: str) -> None:
    assert device_class(user_agent) == expected


def test_bot_classification() -> None:
    assert classify_user_agent("Mozilla/5.0 (compatible; Googlebot/2.1)") == "bot"
    assert classify_user_agent("   ") == "bot"
    assert classify_user_agent("Mozilla/5.0 HeadlessChrome/120") == "headless"
    assert classify_user_agent("Mozilla/5.0 (Windows NT 10.0) Chrome/120") == "browser"
    assert is_bot("Mozilla/5.0 HeadlessChrome/120", allow_headless=False)
    assert not is_bot("Mozilla/5.0 HeadlessChrome/120", allow_headless=True)
    assert is_bot("curl/8", allow_headless=True)


T = datetime(2025, 1, 1, 12, tzinfo=UTC)
VID = "1" * 32


def test_replay_builds_visits_from_timestamps() -> None:
    events = [
        HistoricalEvent(VID, "page_view", T, {"path": "/"}, path="/", utm={"source": "Google"}),
        HistoricalEvent(
            VID, "product_view", T + timedelta(minutes=2), {"product_id": 7, "category": "cats"}
        ),
        HistoricalEvent(
            VID, "page_view", T + timedelta(days=3), {"path": "/c/cats/"}, path="/c/cats/"
        ),
        HistoricalEvent(
            VID,
            "purchase",
            T + timedelta(days=3, minutes=5),
            {
                "order_id": "9",
                "value": 20,
                "items": [{"product_id": 7, "category": "cats", "price": 20, "quantity": 1}],
            },
            user_id="5",
        ),
    ]
    profiles, records = replay(reversed(events))  # order of input does not matter
    (profile,) = profiles
    assert profile.visit_count == 2
    assert profile.pageviews_total == 2
    assert profile.first_utm == {"source": "google"}
    assert profile.landing_path == "/"
    assert profile.visit_landing_path == "/c/cats/"
    assert profile.orders_count == 1
    assert profile.user_id == "5"
    assert [r.visit for r in records] == [1, 1, 2, 2]


def test_replay_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="Invalid visitor id"):
        replay([HistoricalEvent("nope", "page_view", T)])
    with pytest.raises(ValueError, match="Unknown event"):
        replay([HistoricalEvent(VID, "teleport", T)])


@pytest.mark.django_db
def test_import_history_writes_store_and_log() -> None:
    from personalize.models import Event
    from personalize.profiles.base import get_store

    seen: list[int] = []
    summary = import_history(
        [HistoricalEvent(VID, "page_view", T), HistoricalEvent("2" * 32, "page_view", T)],
        progress=seen.append,
        chunk_size=1,
    )
    assert (summary.visitors, summary.events) == (2, 2)
    assert seen == [1, 1]
    assert Event.objects.count() == 2
    loaded = get_store().load(VID)
    assert loaded is not None and loaded.visit_count == 1


def test_merge_adds_counters_and_keeps_latest_visit() -> None:
    mine = Profile(
        "a" * 32,
        first_seen=100,
        last_seen=200,
        visit_count=2,
        pageviews_total=5,
        orders_count=1,
        total_spent=10,
        first_order_at=150,
        last_order_at=150,
        viewed_products={"1": 120},
        affinity_raw={"cats": 1.0},
        device="desktop",
    )
    other = Profile(
        "b" * 32,
        first_seen=50,
        last_seen=300,
        visit_count=1,
        pageviews_total=2,
        orders_count=1,
        total_spent=5.5,
        first_order_at=60,
        last_order_at=60,
        viewed_products={"1": 250, "2": 260},
        affinity_raw={"cats": 0.5, "dogs": 2},
        device="mobile",
        landing_path="/x/",
        email="a@b.cd",
        cart={"3": CartLine(1, 4.0)},
        cart_changed_at=290,
        ext={"rfm": {"r": 1}},
    )
    mine.merge_from(other)
    assert (mine.visit_count, mine.pageviews_total, mine.orders_count) == (3, 7, 2)
    assert mine.total_spent == 15.5
    assert (mine.first_seen, mine.landing_path, mine.last_seen) == (50, "/x/", 300)
    assert mine.device == "mobile"
    assert (mine.first_order_at, mine.last_order_at) == (60, 150)
    assert mine.viewed_products == {"1": 250, "2": 260}
    assert mine.affinity_raw == {"cats": 1.5, "dogs": 2}
    assert mine.email == "a@b.cd"
    assert mine.cart_value == 4.0
    assert mine.ext == {"rfm": {"r": 1}}


def test_unknown_op_is_rejected() -> None:
    with pytest.raises(ValueError, match="Unknown profile op"):
        Profile("a" * 32).apply([ProfileOp("explode")])


def test_document_round_trip() -> None:
    profile = Profile("a" * 32, cart={"1": CartLine(2, 3.5, "cats")}, utm={"source": "x"})
    assert Profile.from_document(profile.to_document()) == profile


@pytest.mark.django_db
def test_purge_enforces_retention() -> None:
    from io import StringIO

    from django.core.management import call_command

    from personalize.models import Event, VisitorProfile

    old, fresh = "3" * 32, "4" * 32
    import_history(
        [
            HistoricalEvent(old, "page_view", datetime.now(tz=UTC) - timedelta(days=400)),
            HistoricalEvent(fresh, "page_view", datetime.now(tz=UTC) - timedelta(days=2)),
        ]
    )
    from personalize.models import TrainedModel

    long_ago = datetime.now(tz=UTC) - timedelta(days=400)
    stale, live_but_old = TrainedModel.objects.create(), TrainedModel.objects.create(is_active=True)
    TrainedModel.objects.filter(pk__in=[stale.pk, live_but_old.pk]).update(created_at=long_ago)
    recent = TrainedModel.objects.create()
    out = StringIO()
    call_command("personalize_purge", "--dry-run", stdout=out)
    assert "Would delete 1 profiles, 1 events and 1 past training records" in out.getvalue()
    assert VisitorProfile.objects.count() == 2
    call_command("personalize_purge", stdout=out)
    assert list(VisitorProfile.objects.values_list("pk", flat=True)) == [fresh]
    assert Event.objects.count() == 1
    # The live model stays whatever its age; so do recent records.
    assert set(TrainedModel.objects.values_list("pk", flat=True)) == {live_but_old.pk, recent.pk}
