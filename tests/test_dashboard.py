"""The analytics dashboard in the admin: KPIs, trends and the segment table from the
rollups, bounded queries, CSV downloads, range validation and permissions."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client
from pytest_django import DjangoAssertNumQueries

from personalize.analytics import summary
from personalize.analytics.summary import DateRange, ensure_rolled_up
from personalize.models import RFMReport, VisitDay
from tests.analytics_seed import DAYS, FIRST_DAY, seed

pytestmark = pytest.mark.django_db
URL = "/admin/personalize/dashboard/"
RANGE = {"range": "custom", "start": "2026-03-10", "end": "2026-03-12"}


@pytest.fixture
def boss(client: Client) -> Client:
    client.force_login(get_user_model().objects.create_superuser("boss", password="x"))
    return client


@pytest.fixture
def rolled_up() -> None:
    seed()
    period = DateRange(FIRST_DAY, FIRST_DAY.replace(day=FIRST_DAY.day + DAYS - 1))
    ensure_rolled_up(period.previous, period)


def test_the_dashboard_shows_kpis_trends_and_segments(boss: Client, rolled_up: None) -> None:
    response = boss.get(URL, RANGE)
    assert response.status_code == 200
    html = response.content.decode()
    for label in ("Visitors", "Conversion rate", "Average order value", "Capture rate"):
        assert label in html
    assert "124.99" in html  # revenue
    assert "Influenced by campaigns" in html and "49.99" in html
    assert html.count("pz-daily-chart") == 2 and "Visits and revenue per day" in html
    for caption in ("New vs returning", "Lifecycle stage", "RFM group", "Device", "UTM source"):
        assert f"<caption>{caption}</caption>" in html
    assert "newsletter" in html and "Welcome" in html and "PDP" in html
    assert 'title="Visits with an order ÷ visits."' in html  # every figure says how
    assert "<script" not in html.split('id="content-main"')[1]


def test_the_dashboard_query_count_is_bounded(
    boss: Client, rolled_up: None, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    # The user (1), the days rolled up (1), influence this period and the one before
    # (2), campaign and widget names (2), the trend (1), totals of both periods (3 + 3)
    # and five breakdowns (5): the same whatever the number of events.
    with django_assert_num_queries(18):
        assert boss.get(URL, RANGE).status_code == 200


@pytest.mark.parametrize("table", ["kpis", "segments", "daily", "campaigns", "widgets"])
def test_every_table_downloads_as_csv(boss: Client, rolled_up: None, table: str) -> None:
    response = boss.get(URL, {**RANGE, "format": "csv", "table": table})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert len(rows) > 1, rows


def test_an_unknown_csv_table_is_a_400(boss: Client) -> None:
    response = boss.get(URL, {**RANGE, "format": "csv", "table": "everything"})
    assert response.status_code == 400
    assert b"table must be one of" in response.content


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"range": "custom", "start": "yesterday", "end": "2026-03-12"}, "start must be a date"),
        ({"range": "custom", "start": "2026-03-12", "end": "2026-03-10"}, "is before start"),
        ({"range": "custom", "start": "2024-01-01", "end": "2026-03-10"}, "366 at most"),
        ({"range": "custom", "start": "2026-03-12"}, "end is required"),
    ],
)
def test_a_bad_range_is_explained_next_to_the_field(
    boss: Client, params: dict[str, str], message: str
) -> None:
    response = boss.get(URL, params)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert 'class="errorlist"' in response.content.decode()


def test_the_default_is_the_last_30_days_and_presets_work(
    boss: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(summary, "today", lambda: date(2026, 3, 12))
    seed()
    html = boss.get(URL).content.decode()
    assert "11 Feb 2026 \u2013 12 Mar 2026" in html
    html = boss.get(URL, {"range": "7"}).content.decode()
    assert "6 Mar 2026 \u2013 12 Mar 2026" in html and "223.99" in html  # o0 on 9 March is in too


def test_staff_need_the_view_dashboard_permission(client: Client) -> None:
    staff = get_user_model().objects.create_user("merch", password="x", is_staff=True)
    client.force_login(staff)
    assert client.get(URL).status_code == 403
    assert "pz-dashboard-link" not in client.get("/admin/").content.decode()
    staff.user_permissions.add(Permission.objects.get(codename="view_dashboard"))
    assert client.get(URL).status_code == 200
    index = client.get("/admin/").content.decode()
    # The demo's admin index links the dashboard first, above the app list.
    assert index.count('class="module pz-dashboard-link"') == 1
    assert index.index("pz-dashboard-link") < index.index('class="app-personalize module')


def test_anonymous_visitors_are_sent_to_the_login(client: Client) -> None:
    response = client.get(URL)
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_the_rfm_report_shows_revenue_per_rfm_group(
    boss: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(summary, "today", lambda: date(2026, 3, 12))
    RFMReport.objects.create(
        as_of=datetime(2026, 3, 12, tzinfo=UTC), customers=2, segments={"champions": 2}
    )
    VisitDay.objects.bulk_create(
        VisitDay(
            day=date(2026, 3, d), visitor_id=f"v{d}", visit=1, orders=1, revenue=value, rfm=rfm
        )
        for d, value, rfm in ((10, Decimal("120.50"), "champions"), (11, Decimal("9"), "at_risk"))
    )
    html = boss.get("/admin/personalize/rfmreport/").content.decode()
    assert "Revenue, 30 days" in html
    table = html[html.index('class="pz-rfm-segments"') :]
    champions = table[table.index(">Champions<") :]
    assert "120.50" in champions[: champions.index("</tr>")]


def test_the_personalization_app_page_links_the_dashboard_first(boss: Client) -> None:
    html = boss.get("/admin/personalize/").content.decode()
    assert html.count('class="module pz-dashboard-link"') == 1
    assert html.index("pz-dashboard-link") < html.index('class="app-personalize module')
