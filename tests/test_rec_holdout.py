"""A widget's holdout: who is held out, what they see, what is logged, and the uplift."""

from __future__ import annotations

import json
import math
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.http import HttpResponse
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from personalize.bucketing import assign_variant
from personalize.conf import settings
from personalize.identity.cookies import SALT
from personalize.models import Event, Widget
from personalize.profiles.base import BaseProfileStore
from personalize.recommendations.measurement import holdout_results, widget_results
from personalize.recommendations.serving import WidgetSpec
from personalize.recommendations.training import train
from personalize.stats import compare_means, compare_proportions
from personalize.tracking.events import validate_event
from shop_demo.models import Product
from tests.test_rec_measurement import DATABASES, alias
from tests.test_rec_serving import CHROME, catalogue, ids, make_widget

__all__ = ["alias", "catalogue"]  # fixtures, shared with the serving and measurement tests

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.urls")]

SLOT = "product-viewed"


def vid(n: int) -> str:
    return f"{n:032x}"


def visitors(slot: str, percent: int, *, held: bool, count: int = 1) -> list[str]:
    spec = WidgetSpec(slot=slot, title="", strategy="similar", holdout_percent=percent)
    found = [vid(n) for n in range(1, 2000) if spec.holds_out(vid(n)) is held]
    return found[:count]


def client_for(visitor_id: str, **headers: str) -> Client:
    """A browser whose signed visitor cookie names ``visitor_id``."""
    client = Client(headers={"User-Agent": CHROME, "Accept": "text/html", **headers})
    # Signed the way Django signs it (how the key is derived changes between versions).
    response = HttpResponse()
    response.set_signed_cookie(settings.COOKIE_NAME, visitor_id, salt=SALT)
    client.cookies[settings.COOKIE_NAME] = response.cookies[settings.COOKIE_NAME].value
    return client


# Assignment ---------------------------------------------------------------------------


def test_assignment_is_the_campaign_bucketing_salted_by_the_widget() -> None:
    spec = WidgetSpec(slot="home", title="", strategy="similar", holdout_percent=20)
    ids_ = [vid(n) for n in range(5000)]
    held = [v for v in ids_ if spec.holds_out(v)]
    # The same function campaigns use, so any GrowthBook SDK recomputes it.
    assert held == [v for v in ids_ if assign_variant("widget-holdout:home", v, [0.2, 0.8]) == 0]
    assert held == [v for v in ids_ if spec.holds_out(v)]  # deterministic
    assert 0.18 < len(held) / len(ids_) < 0.22
    other = WidgetSpec(slot="cart", title="", strategy="similar", holdout_percent=20)
    assert set(held) != {v for v in ids_ if other.holds_out(v)}  # salted per widget
    off = WidgetSpec(slot="home", title="", strategy="similar")
    assert not any(off.holds_out(v) for v in ids_)


def test_holdout_percent_is_validated_with_a_clear_message() -> None:
    widget = Widget(slot="w", name="W", title="T", strategy="similar", holdout_percent=51)
    with pytest.raises(ValidationError) as raised:
        widget.full_clean()
    message = raised.value.message_dict["holdout_percent"][0]
    assert "0 to 50 percent" in message
    widget.holdout_percent = 50
    widget.full_clean()
    assert Widget._meta.get_field("holdout_percent").default == 0


@pytest.mark.urls("shop_demo.urls")
def test_admin_form_refuses_a_holdout_over_50(admin_client: Client) -> None:
    widget = make_widget(slot="w1")
    url = f"/admin/personalize/widget/{widget.pk}/change/"
    data = {
        "name": "W",
        "slot": "w1",
        "title": "T",
        "is_active": "on",
        "strategy": "similar",
        "fallback": "bestsellers",
        "count": 4,
        "minimum": 1,
        "attribution_days": 7,
        "holdout_percent": 60,
        "rules-TOTAL_FORMS": 0,
        "rules-INITIAL_FORMS": 0,
    }
    response = admin_client.post(url, data)
    assert response.status_code == 200
    assert "Hold out from 0 to 50 percent of visitors" in response.content.decode()
    widget.refresh_from_db()
    assert widget.holdout_percent == 0


# What held-out visitors see -------------------------------------------------------------


@pytest.fixture
def held_out_widget(catalogue: list[Product]) -> tuple[Widget, str, str]:
    train()
    widget = make_widget(holdout_percent=50)
    held = visitors(SLOT, 50, held=True)[0]
    shown = visitors(SLOT, 50, held=False)[0]
    return widget, held, shown


def test_tag_lazy_endpoint_and_json_show_held_out_visitors_no_products(
    catalogue: list[Product], held_out_widget: tuple[Widget, str, str]
) -> None:
    _, held, shown = held_out_widget
    product = catalogue[0].pk
    pages = {
        "tag": f"/recs/{SLOT}/?product={product}",
        "lazy": f"/personalize/recommendations/{SLOT}/?product={product}",
    }
    for surface, url in pages.items():
        html = client_for(held).get(url).content.decode()
        assert ids(html) == [], surface
        assert "pz-recs-title" not in html, surface
        marker = re.search(r'<div class="pz-recs-holdout"[^>]*>', html)
        assert marker is not None, surface
        assert f'data-pz-widget="{SLOT}"' in marker.group(0) and "data-pz-holdout" in marker.group(
            0
        )
        assert 'data-pz-token="' in marker.group(0)
        # Everyone else still sees the widget.
        assert ids(client_for(shown).get(url).content.decode()), surface
    api = "/personalize/api/v1/recommendations/"
    held_json = client_for(held, Accept="application/json").get(
        api, {"slot": SLOT, "product": str(product)}
    )
    assert held_json.status_code == 200
    body = held_json.json()
    assert body["items"] == [] and body["holdout"] is True
    assert body["beacon"]["token"]  # so the storefront can report the holdout view
    shown_json = (
        client_for(shown, Accept="application/json")
        .get(api, {"slot": SLOT, "product": str(product)})
        .json()
    )
    assert shown_json["items"] and shown_json["holdout"] is False


def test_holdout_costs_no_extra_query_on_the_hot_path(
    catalogue: list[Product],
    held_out_widget: tuple[Widget, str, str],
    django_assert_num_queries: Any,
) -> None:
    _, held, shown = held_out_widget
    url = f"/recs/{SLOT}/?product={catalogue[0].pk}"
    budgets = {}
    for visitor_id in (shown, held):
        client = client_for(visitor_id)
        client.get(url)  # warm up: the profile, compiled configuration, cached rows
        with CaptureQueriesContext(connection) as captured:
            client.get(url)
        budgets[visitor_id] = len(captured.captured_queries)
    # The held-out visitor costs exactly what a shown one does: the assignment is a hash.
    with django_assert_num_queries(budgets[shown]):
        client_for(held).get(url)
    assert budgets[held] == budgets[shown]


def test_redis_hot_path_of_a_held_out_visitor_is_the_one_product_query(
    use_redis_store: BaseProfileStore,
    catalogue: list[Product],
    django_assert_num_queries: Any,
) -> None:
    train()
    make_widget(holdout_percent=50)
    client = client_for(visitors(SLOT, 50, held=True)[0])
    url = f"/recs/{SLOT}/?product={catalogue[0].pk}"
    client.get(url)  # warm up: scripts, compiled configuration
    with django_assert_num_queries(1) as captured:
        html = client.get(url).content.decode()
    # What a shown visitor costs: the widget is chosen, then withheld.
    assert "shop_demo_product" in captured.captured_queries[0]["sql"]
    assert "data-pz-holdout" in html and ids(html) == []


def test_visitors_who_cannot_be_measured_are_never_held_out(
    catalogue: list[Product], held_out_widget: tuple[Widget, str, str]
) -> None:
    _, held, _ = held_out_widget
    client = client_for(held, **{"Sec-GPC": "1"})  # Global Privacy Control: not tracked
    html = client.get(f"/recs/{SLOT}/?product={catalogue[0].pk}").content.decode()
    assert ids(html) and "data-pz-holdout" not in html


# What is logged ---------------------------------------------------------------------------


def report(client: Client, token: str, events: list[Any]) -> Any:
    return client.post(
        "/personalize/api/events/",
        json.dumps({"token": token, "events": events}),
        content_type="text/plain",
        headers={"Origin": "http://testserver"},
    )


def test_the_holdout_view_is_logged_as_a_rec_view_with_holdout(
    catalogue: list[Product], held_out_widget: tuple[Widget, str, str]
) -> None:
    _, held, _ = held_out_widget
    client = client_for(held)
    html = client.get(f"/recs/{SLOT}/?product={catalogue[0].pk}").content.decode()
    token = re.search(r'data-pz-token="([^"]+)"', html)
    assert token is not None
    view = {"type": "rec_view", "widget": SLOT, "strategy": "", "holdout": True, "path": "/p/"}
    response = report(client, token.group(1), [view])
    assert response.status_code == 200, response.content
    logged = list(Event.objects.filter(name="rec_view").values_list("visitor_id", "props"))
    assert logged == [(held, {"widget": SLOT, "holdout": True, "path": "/p/"})]
    # A holdout view shows no products: a count or a strategy with it is refused.
    refused = report(client, token.group(1), [{**view, "count": 3}])
    assert refused.status_code == 400
    assert "holdout" in next(e for e in refused.json()["events"] if e)
    # ``holdout: false`` is the shown arm: not flagged in the log.
    plain = {"type": "rec_view", "widget": SLOT, "strategy": "similar", "count": 3}
    assert report(client, token.group(1), [{**plain, "holdout": False}]).status_code == 200
    assert Event.objects.filter(name="rec_view").exclude(props__has_key="holdout").count() == 1


# The uplift ------------------------------------------------------------------------------

NOW = datetime(2026, 3, 20, 12, tzinfo=UTC)
T0 = datetime(2026, 3, 10, 12, tzinfo=UTC)


def add(rows: list[Event], n: int, name: str, at: datetime, **props: Any) -> None:
    rows.append(
        Event(
            event_id=uuid.uuid4().hex,
            visitor_id=vid(n),
            name=name,
            props=validate_event(name, props),
            occurred_at=at,
        )
    )


def order(rows: list[Event], n: int, at: datetime, number: str, value: float) -> None:
    line = {"product_id": "7", "price": value, "quantity": 1}
    add(rows, n, "purchase", at, order_id=number, value=value, items=[line])


def uplift_log(shift: timedelta = timedelta(0)) -> list[Event]:
    """40 shown visitors (8 buy: 6 once for 50, 2 twice for 30 + 20) and 40 held out
    (4 buy once for 25), plus the events that must not count."""
    rows: list[Event] = []
    add(rows, 1000, "rec_view", T0, widget=SLOT, holdout=True)  # the holdout starts here
    for n in range(1, 41):
        add(rows, n, "rec_view", T0 + timedelta(hours=1), widget=SLOT, strategy="similar", count=4)
        add(rows, n, "rec_view", T0 + timedelta(hours=2), widget=SLOT, strategy="similar", count=4)
    for n in range(41, 80):
        add(rows, n, "rec_view", T0 + timedelta(hours=1), widget=SLOT, holdout=True)
    for n in range(1, 7):
        order(rows, n, T0 + timedelta(days=1), f"a{n}", 50.0)
    for n in (7, 8):
        order(rows, n, T0 + timedelta(days=1), f"b{n}", 30.0)
        order(rows, n, T0 + timedelta(days=2), f"c{n}", 20.0)
    for n in range(41, 45):
        order(rows, n, T0 + timedelta(days=3), f"d{n}", 25.0)
    # Not counted: an order after the 7-day window, an order before the first view, a
    # shown visitor first seen before the holdout started, another widget's holdout.
    order(rows, 9, T0 + timedelta(days=8), "late", 999.0)
    order(rows, 10, T0 - timedelta(days=1), "early", 999.0)
    add(rows, 2000, "rec_view", T0 - timedelta(hours=1), widget=SLOT, strategy="similar", count=4)
    order(rows, 2000, T0, "before", 999.0)
    add(rows, 3000, "rec_view", T0 + timedelta(hours=1), widget="other", holdout=True)
    for row in rows:
        row.occurred_at += shift
    return rows


@pytest.mark.django_db(databases=DATABASES)
def test_uplift_against_hand_computed_numbers(alias: str) -> None:
    Event.objects.using(alias).bulk_create(uplift_log())
    results = holdout_results(SLOT, 7, holdout_percent=50, days=30, now=NOW)
    assert results.since == T0
    exposed, holdout = results.exposed, results.holdout
    assert (exposed.visitors, exposed.buyers, exposed.orders, exposed.revenue) == (40, 8, 10, 400.0)
    assert (holdout.visitors, holdout.buyers, holdout.orders, holdout.revenue) == (40, 4, 4, 100.0)
    assert exposed.order_rate == 0.2 and holdout.order_rate == 0.1
    assert exposed.revenue_per_visitor == 10.0 and holdout.revenue_per_visitor == 2.5
    assert exposed.orders_per_visitor == 0.25
    # The stats module's own tests check its formulas; here, that the right counts go in.
    assert results.orders == compare_proportions(4, 40, 8, 40)
    assert results.orders is not None and math.isclose(results.orders.difference or 0, 0.1)
    assert math.isclose(results.orders.relative_uplift or 0, 1.0)
    shown_values = [50.0] * 8 + [0.0] * 32
    held_values = [25.0] * 4 + [0.0] * 36
    assert results.revenue == compare_means(held_values, shown_values)
    assert results.revenue is not None and math.isclose(results.revenue.difference or 0, 7.5)
    assert math.isclose(results.revenue_uplift_percent or 0, 300.0)
    # Holdout views never count as widget views.
    assert widget_results(SLOT, 7, days=30, now=NOW).totals.viewers == 41


@pytest.mark.urls("shop_demo.urls")
def test_results_page_shows_the_uplift(admin_client: Client) -> None:
    widget = Widget.objects.create(
        slot=SLOT, name="PDP", title="Also viewed", strategy="similar", holdout_percent=50
    )
    Event.objects.bulk_create(uplift_log(shift=timezone.now() - NOW))  # the page's "now"
    page = admin_client.get(f"/admin/personalize/widget/{widget.pk}/results/?days=30")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Uplift against the holdout" in html
    assert "50% of visitors held out" in html
    assert "How the uplift is counted" in html
    # The hand-computed numbers of test_uplift_against_hand_computed_numbers.
    assert "(20.0%)" in html and "(10.0%)" in html  # shown and held-out visitors who ordered
    assert "+10.0 points (+100%)" in html
    assert "+7.50 EUR per visitor (+300%)" in html
