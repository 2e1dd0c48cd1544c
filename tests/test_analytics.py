"""Rollups and the analytics summary API: idempotent days, and numbers equal to a
direct count over the event log on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.test import Client, override_settings

from personalize.analytics import summary
from personalize.analytics.rollup import RollupResult, rollup_day, rollup_recent
from personalize.analytics.summary import DateRange, parse_range, summarize
from personalize.api.models import ApiKey
from personalize.management.commands import personalize_worker
from personalize.models import AttributedDay, Event, RollupDay, VisitDay
from personalize.privacy.person import Identifier
from personalize.privacy.service import erase_person, export_person
from tests.analytics_seed import DAYS, FIRST_DAY, direct, seed, vid

DATABASES = ["default", "postgres"] if "postgres" in django_settings.DATABASES else ["default"]
pytestmark = [pytest.mark.django_db(databases=DATABASES), pytest.mark.urls("tests.urls")]
URL = "/personalize/api/analytics/summary/"
LAST_DAY = FIRST_DAY + timedelta(days=DAYS - 1)


@pytest.fixture(params=["default", pytest.param("postgres", marks=pytest.mark.postgres)])
def alias(request: pytest.FixtureRequest) -> Iterator[str]:
    if request.param not in django_settings.DATABASES:
        pytest.skip("PostgreSQL not available")  # the conftest fails this in CI instead
    with override_settings(PERSONALIZE_DATABASE_ALIAS=request.param):
        yield request.param


def key_client(*scopes: str) -> Client:
    key = ApiKey(name="bi", scopes=list(scopes))
    token = key.issue().token
    key.save()
    return Client(headers={"authorization": f"Bearer {token}"})


def rows(alias: str) -> list[tuple[Any, ...]]:
    visit_days = VisitDay.objects.using(alias).order_by("day", "visitor_id", "visit")
    attributed = AttributedDay.objects.using(alias).order_by("day", "kind", "key")
    days = RollupDay.objects.using(alias).order_by("day")
    return [
        *visit_days.values_list(
            "day", "visitor_id", "visit", "events", "orders", "revenue", "captures", "device"
        ),
        *attributed.values_list("day", "kind", "key", "orders", "revenue"),
        *days.values_list("day", "visitors", "visits", "converting_visits", "orders", "revenue"),
    ]


def test_rolling_a_day_up_twice_gives_the_same_rows(alias: str) -> None:
    seed(alias)
    for day in range(DAYS):
        rollup_day(FIRST_DAY + timedelta(days=day))
    first = rows(alias)
    assert len(first) > DAYS
    for day in range(DAYS):
        rollup_day(FIRST_DAY + timedelta(days=day))
    assert rows(alias) == first


def test_a_day_rolled_up_again_sees_new_events(alias: str) -> None:
    seed(alias)
    rollup_day(FIRST_DAY)
    Event.objects.using(alias).filter(visitor_id=vid(4), name="purchase").delete()
    rollup_day(FIRST_DAY)
    day = RollupDay.objects.using(alias).get(day=FIRST_DAY)
    assert (day.orders, float(day.revenue)) == (1, 30.0)


@pytest.mark.parametrize(
    ("first", "last"),
    [
        (FIRST_DAY, LAST_DAY),
        (FIRST_DAY, FIRST_DAY),
        (FIRST_DAY + timedelta(days=1), LAST_DAY),
        (FIRST_DAY - timedelta(days=5), LAST_DAY + timedelta(days=5)),
    ],
)
def test_the_summary_equals_a_direct_count_over_the_event_log(
    alias: str, first: date, last: date
) -> None:
    seed(alias)
    # Up to seven missing days are rolled up on request; a longer range needs the command.
    period = DateRange(first, last)
    call_command("personalize_rollup", since=str(period.previous.start), until=str(last))
    response = key_client("analytics:read").get(URL, {"start": str(first), "end": str(last)})
    assert response.status_code == 200, response.content
    body = response.json()
    expected = direct(Event.objects.using(alias), first, last)
    assert {name: body[name] for name in expected} == expected
    assert (body["start"], body["end"]) == (first.isoformat(), last.isoformat())
    assert body["segments"], body
    assert body["missing_days"] == []


def test_a_request_rolls_up_a_week_at_most_and_names_the_days_left(alias: str) -> None:
    seed(alias)
    response = key_client("analytics:read").get(URL, {"start": "2026-03-01", "end": "2026-03-12"})
    body = response.json()
    # 24 days (the range and the one before); the 7 most recent were rolled up.
    assert body["missing_days"] == [f"2026-02-{d:02d}" for d in range(17, 29)] + [
        f"2026-03-{d:02d}" for d in range(1, 6)
    ]
    assert body["orders"] == 6  # 9-12 March: in the week rolled up


def test_the_summary_counts_a_visit_past_midnight_once_and_credits_campaigns_and_widgets(
    alias: str,
) -> None:
    seed(alias)
    summary = summarize(DateRange(FIRST_DAY, LAST_DAY))
    totals = summary.totals
    # Visitors 1-6 and 8 on visit 1, 1 and 3 on visit 2, 7 on visit 3; visitor 2's
    # visit 1 runs past midnight and counts once.
    assert (totals.visitors, totals.visits) == (8, 10)
    assert (totals.orders, totals.revenue, totals.converting_visits) == (5, 124.99, 5)
    assert totals.capturing_visitors == 1
    # The campaign: visitor 1's two orders (visitor 4 was the control group).
    assert [(c.key, c.orders, c.revenue) for c in summary.campaigns] == [("welcome", 2, 49.99)]
    # The widget: visitor 3's order, the clicked product's line only.
    assert [(w.key, w.orders, w.revenue) for w in summary.widgets] == [("product-detail", 1, 25.0)]
    types = {row.segment: row for row in summary.breakdown["visitor_type"]}
    assert (types["new"].visitors, types["returning"].visitors) == (7, 3)
    devices = {row.segment: row.visitors for row in summary.breakdown["device"]}
    assert devices == {"mobile": 4, "desktop": 3, "unknown": 1}
    sources = {row.segment: row.visitors for row in summary.breakdown["utm_source"]}
    assert sources == {"newsletter": 3, "(none)": 5}
    assert summary.previous.orders == 1  # the day before: 99.0
    assert summary.previous.revenue == 99.0


def test_a_key_needs_the_analytics_scope_and_staff_the_view_permission(client: Client) -> None:
    params = {"start": "2026-03-10", "end": "2026-03-12"}
    assert client.get(URL, params).status_code in (401, 403)
    assert key_client("segments:read").get(URL, params).status_code == 403
    assert key_client("analytics:read").get(URL, params).status_code == 200
    staff = get_user_model().objects.create_user("merch", password="x", is_staff=True)
    client.force_login(staff)
    assert client.get(URL, params).status_code == 403
    staff.user_permissions.add(Permission.objects.get(codename="view_dashboard"))
    assert client.get(URL, params).status_code == 200


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"end": "2026-03-12"}, "start"),
        ({"start": "2026-03-10"}, "end"),
        ({"start": "10/03/2026", "end": "2026-03-12"}, "start"),
        ({"start": "2026-03-10", "end": "2026-02-30"}, "end"),
        ({"start": "2026-03-12", "end": "2026-03-10"}, "end"),
        ({"start": "2025-01-01", "end": "2026-03-10"}, "end"),
        ({"start": "2026-03-10", "end": "2026-03-12", "format": "xml"}, "format"),
        ({"start": "2026-03-10", "end": "2026-03-12", "format": "csv", "table": "x"}, "table"),
    ],
)
def test_bad_parameters_are_a_400_naming_the_parameter(params: dict[str, str], field: str) -> None:
    response = key_client("analytics:read").get(URL, params)
    assert response.status_code == 400
    assert response.json()["field"] == field
    assert field in response.json()["detail"]


def test_a_range_of_366_days_is_allowed() -> None:
    assert parse_range("2024-01-01", "2024-12-31").days == 366


def test_the_summary_downloads_as_csv() -> None:
    seed()
    response = key_client("analytics:read").get(
        URL, {"start": "2026-03-10", "end": "2026-03-12", "format": "csv", "table": "segments"}
    )
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert {"visitor_type", "device", "utm_source"} <= {row["dimension"] for row in table}


def test_the_rollup_command_reports_progress_and_is_idempotent() -> None:
    seed()
    out, err = io.StringIO(), io.StringIO()
    call_command(
        "personalize_rollup", since="2026-03-09", until="2026-03-13", stdout=out, stderr=err
    )
    assert "Rolled up 5 day(s)" in out.getvalue()
    assert "Rolling up days: 5/5 (100%)" in err.getvalue()
    first = rows("default")
    call_command(
        "personalize_rollup", since="2026-03-09", until="2026-03-13", stdout=out, stderr=err
    )
    assert rows("default") == first


def test_the_rollup_command_rejects_bad_dates() -> None:
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="--since must be a date"):
        call_command("personalize_rollup", since="March")
    with pytest.raises(CommandError, match="before --since"):
        call_command("personalize_rollup", since="2026-03-10", until="2026-03-01")


def test_erasing_a_person_deletes_their_visit_days_and_exporting_lists_them() -> None:
    seed()
    rollup_day(FIRST_DAY)
    person = Identifier.parse("visitor_id", vid(1))
    exported = export_person(person, requested_by="test")
    assert [row["visit"] for row in exported["data"]["analytics_visit_days"]] == [1]
    erasure = erase_person(person, requested_by="test")
    assert erasure.counts["analytics_visit_days"] == 1
    assert not VisitDay.objects.filter(visitor_id=vid(1)).exists()
    assert VisitDay.objects.filter(day=FIRST_DAY).exists()  # everyone else's stay


def test_the_worker_step_rolls_up_today_and_yesterday() -> None:
    seed()
    now = datetime(2026, 3, 11, 12, tzinfo=UTC)
    results = rollup_recent(now=now)
    assert [r.day for r in results] == [FIRST_DAY, FIRST_DAY + timedelta(days=1)]
    assert list(RollupDay.objects.values_list("day", flat=True)) == [r.day for r in results]


def test_the_rollup_command_can_fill_in_only_the_missing_days(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(summary, "today", lambda: date(2026, 3, 20))
    seed()
    rollup_day(FIRST_DAY)
    out = io.StringIO()
    days = {"since": "2026-03-10", "until": "2026-03-20", "missing": True}
    call_command("personalize_rollup", **days, stdout=out, stderr=io.StringIO())
    # 11 days, 10 March done already: 10 rolled up (19 and 20 March would be anyway).
    assert "Rolled up 10 day(s)" in out.getvalue()
    call_command("personalize_rollup", **days, stdout=out, stderr=io.StringIO())
    assert "Rolled up 2 day(s)" in out.getvalue()  # today and yesterday, always


def test_the_purge_deletes_visit_rows_past_the_retention_limit() -> None:
    old, fresh = date.today() - timedelta(days=500), date.today() - timedelta(days=1)
    for day in (old, fresh):
        VisitDay.objects.create(day=day, visitor_id=vid(1), visit=1)
        RollupDay.objects.create(day=day, visitors=1, visits=1, rolled_at=datetime.now(tz=UTC))
    out = io.StringIO()
    call_command("personalize_purge", stdout=out, stderr=io.StringIO())
    assert "Deleted 1 analytics visit rows of days older than 395 days" in out.getvalue()
    assert list(VisitDay.objects.values_list("day", flat=True)) == [fresh]
    assert RollupDay.objects.count() == 2  # totals hold no visitor ids


@pytest.mark.django_db(transaction=True)
def test_the_worker_keeps_rolling_up_in_a_thread_of_its_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(summary, "today", lambda: FIRST_DAY + timedelta(days=1))
    seed()
    rolled = threading.Event()

    def rollup_recent(*, now: datetime | None = None) -> list[RollupResult]:
        rolled.set()
        return [rollup_day(FIRST_DAY)]

    monkeypatch.setattr(personalize_worker, "rollup_recent", rollup_recent)
    stop = threading.Event()
    out = io.StringIO()
    command = personalize_worker.Command(stdout=out)
    thread = command._start_rollups(stop, 0.01)
    assert rolled.wait(5)
    stop.set()
    thread.join(5)
    assert not thread.is_alive()
    assert "rolled up 2026-03-10 (" in out.getvalue()
    assert RollupDay.objects.filter(day=FIRST_DAY).exists()


@pytest.mark.postgres
@pytest.mark.django_db(databases=DATABASES, transaction=True)
def test_workers_rolling_up_the_same_day_at_once_agree() -> None:
    """Every personalize_worker rolls up today: four at once wait their turn on the
    day's row instead of colliding on the unique constraints."""
    from django.db import connections

    if "postgres" not in DATABASES:
        pytest.skip("PostgreSQL not available")  # the conftest fails this in CI instead
    with override_settings(PERSONALIZE_DATABASE_ALIAS="postgres"):
        seed("postgres")
        errors: list[BaseException] = []
        start = threading.Barrier(4)

        def roll_up() -> None:
            try:
                start.wait()
                rollup_day(FIRST_DAY)
            except BaseException as exc:
                errors.append(exc)
            finally:
                connections.close_all()

        workers = [threading.Thread(target=roll_up) for _ in range(4)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        assert errors == []
        together = rows("postgres")
        assert together
        rollup_day(FIRST_DAY)
        assert rows("postgres") == together
