"""The headless API: ``/personalize/api/v1/decisions/`` and ``/v1/recommendations/``.

Each answer is compared with what the server-rendered page shows the same visitor, on
the database store and on the Redis store.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext

import personalize
from personalize.api.models import ApiKey
from personalize.profiles.base import BaseProfileStore, get_store, reset_store
from personalize.recommendations.strategies import STRATEGIES
from personalize.recommendations.training import train
from shop_demo.models import Product
from tests.conftest import DB_STORE, Clock
from tests.test_campaigns import UA, make, shopper, shown
from tests.test_rec_serving import catalogue, ids, make_widget

__all__ = ["catalogue"]  # a fixture, shared with test_rec_serving

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.urls")]

DECISIONS = "/personalize/api/v1/decisions/"
RECS = "/personalize/api/v1/recommendations/"
EVENTS = "/personalize/api/events/"
DOC = Path(__file__).resolve().parent.parent / "docs" / "headless.md"
BOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"


@pytest.fixture(params=["database", "redis"])
def headless_store(request: pytest.FixtureRequest) -> Iterator[BaseProfileStore]:
    """The two stores a shop runs: the database (one machine) and Redis (many)."""
    if request.param == "redis":
        yield request.getfixturevalue("use_redis_store")
        return
    reset_store()
    with override_settings(PERSONALIZE_STORE=DB_STORE):
        yield get_store()
    reset_store()


def issue_key(*scopes: str) -> str:
    key = ApiKey(name="backend", scopes=list(scopes))
    token = key.issue().token
    key.save()
    return token


@pytest.fixture
def with_key(db: None) -> str:
    """An ``Authorization`` header value: a key holding both headless scopes."""
    return f"Bearer {issue_key('decisions:read', 'recommendations:read')}"


def storefront() -> Client:
    """A headless storefront's fetch(): JSON, not a page view."""
    return Client(headers={"User-Agent": UA, "Accept": "application/json"})


def decide(client: Client, path: str, **params: str) -> dict[str, Any]:
    response = client.get(DECISIONS, {"path": path, **params})
    assert response.status_code == 200, response.content
    assert response["Cache-Control"] == "private, no-store"
    assert "Cookie" in response["Vary"]
    body: dict[str, Any] = response.json()
    return body


def decided(body: dict[str, Any]) -> dict[str, str]:
    """slug -> variant of every campaign the decision shows (overlays and slots)."""
    placements = body["campaigns"] + [slot for slot in body["slots"].values() if slot]
    return {item["campaign"]: item["variant"] for item in placements}


def visitor_id_of(client: Client) -> str:
    return str(client.cookies["pz_vid"].value.split(":")[0])


def report(client: Client, token: str, events: list[dict[str, Any]]) -> Any:
    return client.post(
        EVENTS,
        json.dumps({"token": token, "events": events}),
        content_type="text/plain",
        headers={"Origin": "http://testserver"},
    )


# Decisions


def test_a_targeted_campaign_is_decided_exactly_where_the_page_shows_it(
    headless_store: BaseProfileStore, clock: Clock
) -> None:
    make(
        "welcome",
        segments=("new-visitors",),
        trigger="delay",
        trigger_value=5,
        page_rules={"include": [{"match": "prefix", "value": "/shop/p/"}]},
    )
    make("everywhere-bar", kind="bar", position="top")
    make("hero-cats", kind="slot", slot_name="hero")
    client = shopper()  # the page's browser; the same cookie asks the API
    for path in ("/shop/", "/shop/p/1/", "/shop/other/"):
        page = shown(client, path)
        decision = decide(client, path, slots="hero")
        assert decided(decision) == page, path
    assert "welcome" in decided(decide(client, "/shop/p/1/"))
    assert "welcome" not in decided(decide(client, "/shop/"))
    # A returning visitor is no longer new: gone from both.
    clock.advance(3600)
    assert "welcome" not in shown(client, "/shop/p/1/")
    assert "welcome" not in decided(decide(client, "/shop/p/1/"))
    assert "new-visitors" not in decide(client, "/shop/p/1/")["segments"]


def test_a_decision_renders_what_the_page_renders(headless_store: BaseProfileStore) -> None:
    make(
        "welcome",
        trigger="delay",
        trigger_value=5,
        frequency="every_n_days",
        frequency_days=3,
        stop_after_close=True,
    )
    client = shopper()
    page = client.get("/shop/").content.decode()
    body = decide(client, "/shop/")
    [popup] = body["campaigns"]
    # The same template, context and sanitising as {% personalize_overlays %}.
    assert popup["html"] in page
    assert popup["kind"] == "popup" and popup["position"] == "center" and popup["slot"] is None
    assert popup["variant"] == "a" and popup["is_control"] is False
    assert popup["trigger"] == {"type": "delay", "value": 5}
    assert popup["frequency"] == {
        "frequency": "every_n_days",
        "every_days": 3,
        "max_impressions": None,
        "stop_after_close": True,
        "stop_after_conversion": True,  # the default
    }
    assert popup["content"]["title"] == "welcome a"
    assert popup["content"]["body"] == "<p>Hello</p>"
    assert popup["content"]["cta_url"] == "/c/cats/"
    assert body["visitor"]["id"] == visitor_id_of(client)
    assert body["beacon"]["endpoint"] == "http://testserver/personalize/api/events/"


def test_merchandiser_html_is_sanitised_as_on_the_page(headless_store: BaseProfileStore) -> None:
    from personalize.campaigns.models import Variant

    campaign = make("xss")
    Variant.objects.filter(campaign=campaign).update(
        title="<script>alert(1)</script>",
        body='<p onclick="alert(1)">Hi <script>alert(2)</script></p>',
        cta_url="javascript:alert(3)",
    )
    from personalize import configuration

    configuration.bump()
    [popup] = decide(shopper(), "/shop/")["campaigns"]
    assert "<script" not in popup["html"] and "onclick" not in popup["html"]
    assert "javascript:" not in popup["html"]
    assert "<script" not in popup["content"]["body"] and "onclick" not in popup["content"]["body"]
    assert popup["content"]["cta_url"] == ""
    assert popup["content"]["title"] == "<script>alert(1)</script>"  # plain text: escape it


def test_content_slots_answer_each_requested_slot(headless_store: BaseProfileStore) -> None:
    make("hero-cats", kind="slot", slot_name="hero")
    client = storefront()
    body = decide(client, "/shop/", slots="hero, sidebar,hero")
    assert list(body["slots"]) == ["hero", "sidebar"]
    assert body["slots"]["sidebar"] is None  # nothing targeted: show the default
    hero = body["slots"]["hero"]
    assert hero["kind"] == "slot" and hero["slot"] == "hero"
    assert 'data-pz-kind="slot"' in hero["html"] and "hero-cats a" in hero["html"]
    assert body["campaigns"] == []  # slots are only where they are asked for
    assert decide(client, "/shop/")["slots"] == {}


def test_the_control_group_is_decided_as_control(headless_store: BaseProfileStore) -> None:
    make("held-out", control_percent=100)
    make("hero-held", kind="slot", slot_name="hero", control_percent=100)
    client = shopper()
    assert shown(client, "/shop/") == {"held-out": "control", "hero-held": "control"}
    body = decide(client, "/shop/", slots="hero")
    [popup] = body["campaigns"]
    assert popup["is_control"] is True and popup["variant"] == "control"
    assert "data-pz-control" in popup["html"] and popup["content"] is None
    hero = body["slots"]["hero"]
    assert hero["is_control"] is True and hero["html"] is None  # the default content, reported


def test_the_beacon_token_reports_to_the_events_endpoint_and_caps_apply(
    headless_store: BaseProfileStore,
) -> None:
    make("offer", frequency="once_per_visit")
    client = storefront()
    body = decide(client, "/shop/")
    assert decided(body) == {"offer": "a"}
    token = body["beacon"]["token"]
    response = report(
        client, token, [{"type": "impression", "campaign": "offer", "variant": "a", "path": "/"}]
    )
    assert response.status_code == 200, response.content
    assert response.json() == {"accepted": 1}
    # Seen once this visit: neither the API nor the page shows it again.
    assert decided(decide(client, "/shop/")) == {}
    page = shopper()
    page.cookies = client.cookies
    assert shown(page, "/shop/") == {}
    # The token is bound to its visitor's cookie.
    other = storefront()
    decide(other, "/shop/")
    stolen = report(other, token, [{"type": "close", "campaign": "offer", "variant": "a"}])
    assert stolen.status_code == 403


def test_untracked_visitors_get_nothing_to_show_and_nothing_to_report(
    headless_store: BaseProfileStore,
) -> None:
    make("offer")
    body = decide(Client(headers={"User-Agent": BOT}), "/shop/")
    assert body["campaigns"] == [] and body["visitor"]["tracked"] is False
    assert body["beacon"] == {"endpoint": None, "token": None}
    assert shown(shopper(BOT), "/shop/") == {}
    gpc = Client(headers={"User-Agent": UA, "Sec-GPC": "1"})
    assert decide(gpc, "/shop/")["visitor"]["id"] is None


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ({}, "path", "Required"),
        ({"path": ""}, "path", "Required"),
        ({"path": "shop/"}, "path", "Must start with '/'"),
        ({"path": "https://shop.example/"}, "path", "Must start with '/'"),
        ({"path": "/shop/?q=1"}, "path", "no query string"),
        ({"path": "/" + "a" * 300}, "path", "At most 300 characters"),
        ({"path": "/a\x00b"}, "path", "Control characters"),
        ({"path": "/", "slots": "hero,<b>"}, "slots", "Not a slot name: '<b>'"),
        ({"path": "/", "slots": ",".join(f"s{n}" for n in range(21))}, "slots", "At most 20"),
    ],
)
def test_bad_decision_parameters_are_400_naming_the_field(
    query: dict[str, str], field: str, message: str
) -> None:
    response = storefront().get(DECISIONS, query)
    assert response.status_code == 400
    assert message in response.json()[field][0]
    assert response["Cache-Control"] == "private, no-store" and "Cookie" in response["Vary"]


@pytest.mark.django_db(transaction=True)
def test_decisions_on_redis_cost_no_sql(
    use_redis_store: BaseProfileStore, django_assert_num_queries: Any
) -> None:
    for index in range(12):
        make(
            f"c{index}",
            kind=("popup", "bar", "slidein", "slot")[index % 4],
            slot_name="hero",
            position=("center", "top", "bottom-right", "center")[index % 4],
        )
    client = storefront()
    decide(client, "/shop/", slots="hero")
    with django_assert_num_queries(0):
        body = decide(client, "/shop/", slots="hero")
    assert len(body["campaigns"]) == 3 and body["slots"]["hero"] is not None


# Addressing another person


@pytest.mark.parametrize(
    ("url", "param", "scope"),
    [
        (DECISIONS, "visitor_id", "decisions:read"),
        (DECISIONS, "user_id", "decisions:read"),
        (DECISIONS, "email", "decisions:read"),
        (RECS, "visitor_id", "recommendations:read"),
        (RECS, "user_id", "recommendations:read"),
        (RECS, "email", "recommendations:read"),
    ],
)
def test_another_person_needs_a_key_with_the_scope(url: str, param: str, scope: str) -> None:
    make_widget(slot="picks", strategy="bestsellers")
    other = "recommendations:read" if scope == "decisions:read" else "decisions:read"
    for headers in ({}, {"Authorization": f"Bearer {issue_key('events:write', other)}"}):
        response = storefront().get(
            url, {"path": "/", "slot": "picks", param: "someone"}, headers=headers
        )
        assert response.status_code == 403
        detail = response.json()["detail"]
        assert f"'{param}'" in detail and f"'{scope}' scope" in detail
        assert response["Cache-Control"] == "private, no-store"
    revoked = storefront().get(url, {"path": "/"}, headers={"Authorization": "Bearer pz_0_nope"})
    assert revoked.status_code == 401


def test_with_a_key_decisions_address_a_stored_visitor(
    headless_store: BaseProfileStore, with_key: str
) -> None:
    make("welcome", segments=("new-visitors",))
    browser = shopper()
    assert shown(browser, "/shop/") == {"welcome": "a"}
    vid = visitor_id_of(browser)
    server = Client(headers={"User-Agent": "shop-backend/1.0", "Authorization": with_key})
    body = decide(server, "/shop/", visitor_id=vid)
    assert body["visitor"]["id"] == vid and "new-visitors" in body["segments"]
    assert decided(body) == {"welcome": "a"}
    assert body["beacon"] == {"endpoint": None, "token": None}  # no page of theirs to report
    assert get_store().load(visitor_id_of(server)) is None  # the caller is nobody's visit
    assert get_store().load(vid).visit_count == 1  # type: ignore[union-attr]  # read, not touched

    unknown = server.get(DECISIONS, {"path": "/", "visitor_id": "0" * 32})
    assert unknown.status_code == 404 and "No stored visitor" in unknown.json()["detail"]
    bad = server.get(DECISIONS, {"path": "/", "visitor_id": "nope"})
    assert bad.status_code == 400 and "32 lower-case hex" in bad.json()["visitor_id"][0]
    both = server.get(DECISIONS, {"path": "/", "visitor_id": vid, "email": "a@b.example"})
    assert both.status_code == 400 and "Give only one of" in both.json()["email"][0]


def test_with_a_key_recommendations_address_a_customer_by_user_or_email(
    catalogue: list[Product], with_key: str, clock: Clock
) -> None:
    train()
    make_widget(slot="for-you", strategy="recently_viewed", fallback="", count=3)
    user = get_user_model().objects.create_user("ann", "ann@example.com", "pw")
    browser = shopper()
    browser.get(f"/login-as/{user.pk}/")
    for product in (catalogue[2], catalogue[4]):
        clock.advance(60)
        browser.get(f"/p/{product.pk}/")  # tracks a product view
    vid = visitor_id_of(browser)
    store = get_store()
    profile = store.load(vid)
    assert profile is not None
    profile.email = "ann@example.com"
    store.save(profile)

    server = Client(headers={"User-Agent": "email-tool/2.0", "Authorization": with_key})
    by_user = server.get(RECS, {"slot": "for-you", "user_id": str(user.pk)})
    assert by_user.status_code == 200, by_user.content
    assert [item["id"] for item in by_user.json()["items"]] == [
        str(catalogue[4].pk),
        str(catalogue[2].pk),
    ]
    assert by_user.json()["beacon"] == {"endpoint": None, "token": None}
    by_email = server.get(RECS, {"slot": "for-you", "email": "ANN@example.com"})
    assert by_email.json()["items"] == by_user.json()["items"]
    nobody = server.get(RECS, {"slot": "for-you", "email": "bob@example.com"})
    assert nobody.status_code == 404 and "bob@example.com" in nobody.json()["detail"]
    invalid = server.get(RECS, {"slot": "for-you", "email": "not-an-email"})
    assert invalid.status_code == 400 and "valid email" in invalid.json()["email"][0]


# Recommendations


def test_recommendations_are_the_widgets_products_at_the_widgets_query_cost(
    headless_store: BaseProfileStore,
    catalogue: list[Product],
    django_assert_num_queries: Any,
) -> None:
    train()
    make_widget()
    client = storefront()  # fetches of both: no page view recorded by either
    first = catalogue[0].pk
    client.get(f"/recs/product-viewed/?product={first}")  # warm up: config, rows, scripts
    client.get(RECS, {"slot": "product-viewed", "product": first})
    with CaptureQueriesContext(connection) as widget:
        html = client.get(f"/recs/product-viewed/?product={first}").content.decode()
    with django_assert_num_queries(len(widget.captured_queries)):
        response = client.get(RECS, {"slot": "product-viewed", "product": str(first)})
    if headless_store.event_stream() is not None:  # Redis: the product query alone
        assert len(widget.captured_queries) == 1
    assert response.status_code == 200, response.content
    assert response["Cache-Control"] == "private, no-store" and "Cookie" in response["Vary"]
    body = response.json()
    assert [int(item["id"]) for item in body["items"]] == ids(html)
    assert body["widget"] == "product-viewed" and body["title"] == "Customers also viewed"
    assert body["strategy"] == "viewed_together" and body["used_fallback"] is True
    second = catalogue[1]
    assert body["items"][0] == {
        "id": str(second.pk),
        "title": "Product 2",
        "url": f"http://testserver{second.get_absolute_url()}",
        "image_url": f"http://testserver{second.image_url}",
        "price": "5.00",
        "currency": "EUR",
        "price_display": "€5.00",
        "category": "toys",
        "in_stock": True,
        "strategy": "viewed_together",
        "position": 1,
    }
    assert [item["position"] for item in body["items"]] == [1, 2, 3]
    assert body["items"][2]["strategy"] == "bestsellers"  # the fallback filled it
    assert "€5.00" in html and str(second.get_absolute_url()) in html


def test_a_strategy_with_a_limit(catalogue: list[Product]) -> None:
    train()
    response = storefront().get(RECS, {"strategy": "bestsellers", "limit": "2"})
    assert response.status_code == 200, response.content
    body = response.json()
    expected = personalize.recommend(None, "bestsellers", limit=2)
    assert [item["id"] for item in body["items"]] == [item.id for item in expected]
    assert body["widget"] is None and body["strategy"] == "bestsellers"
    assert body["beacon"] == {"endpoint": None, "token": None}  # reports name a widget


def test_the_beacon_token_reports_widget_views_and_clicks(catalogue: list[Product]) -> None:
    train()
    make_widget()
    client = storefront()
    body = client.get(RECS, {"slot": "product-viewed", "product": catalogue[0].pk}).json()
    item = body["items"][0]
    response = report(
        client,
        body["beacon"]["token"],
        [
            {
                "type": "rec_view",
                "widget": body["widget"],
                "strategy": body["strategy"],
                "count": 3,
            },
            {
                "type": "rec_click",
                "widget": body["widget"],
                "strategy": item["strategy"],
                "product_id": item["id"],
                "position": item["position"],
            },
        ],
    )
    assert response.status_code == 200, response.content
    assert response.json() == {"accepted": 2}


@pytest.mark.parametrize(
    ("query", "status", "field", "message"),
    [
        ({}, 400, "slot", "Give either slot"),
        ({"slot": "picks", "strategy": "bestsellers"}, 400, "slot", "not both"),
        ({"slot": "nope"}, 404, "detail", "No active recommendation widget with slot 'nope'"),
        ({"slot": "a b"}, 400, "slot", "letters, digits"),
        ({"slot": "picks", "limit": "3"}, 400, "limit", "leave limit out with slot=picks"),
        ({"strategy": "magic"}, 400, "strategy", "Unknown strategy 'magic': use one of"),
        ({"strategy": "bestsellers", "limit": "0"}, 400, "limit", "from 1 to 50"),
        ({"strategy": "bestsellers", "limit": "51"}, 400, "limit", "from 1 to 50"),
        ({"strategy": "bestsellers", "limit": "-1"}, 400, "limit", "from 1 to 50"),
        ({"strategy": "bestsellers", "limit": "x"}, 400, "limit", "whole number"),
        ({"strategy": "similar", "product": "99999"}, 404, "detail", "No product '99999'"),
        ({"slot": "picks", "product": "99999"}, 404, "detail", "No product '99999'"),
        ({"slot": "picks", "product": "<b>"}, 400, "product", "a product id"),
        ({"slot": "picks", "category": "a/b"}, 400, "category", "a category"),
    ],
)
def test_bad_recommendation_parameters_are_clear(
    catalogue: list[Product], query: dict[str, str], status: int, field: str, message: str
) -> None:
    train()
    make_widget(slot="picks", strategy="bestsellers")
    response = storefront().get(RECS, query)
    assert response.status_code == status, response.content
    answer = response.json()[field]
    assert message in (answer if isinstance(answer, str) else answer[0])
    if "Unknown strategy" in message:
        assert all(name in answer[0] for name in STRATEGIES)
    assert response["Cache-Control"] == "private, no-store"


def test_an_unknown_product_is_404_even_when_the_widget_has_nothing_to_show(
    catalogue: list[Product],
) -> None:
    make_widget(slot="picks", strategy="viewed_together", fallback="")  # untrained: empty
    client = storefront()
    existing = client.get(RECS, {"slot": "picks", "product": catalogue[0].pk})
    assert existing.status_code == 200 and existing.json()["items"] == []
    missing = client.get(RECS, {"slot": "picks", "product": "99999"})
    assert missing.status_code == 404


@pytest.mark.parametrize(
    "query",
    [
        "slot=%00",
        "slot=%ff%fe",
        "path=%2F%ff&slots=%ff",
        "strategy=bestsellers&limit=99999999999999999999999",
        "strategy=bestsellers&limit=%EF%BC%91",  # a full-width digit one
        "strategy=bestsellers&product=" + "9" * 64,
        "path=/&slots=" + "," * 5000,
        "path=/&slots=a&slots=b&path=//",
        "slot=picks&product=1&product=",
        "path=/&email=&visitor_id=",
    ],
)
def test_no_input_is_a_server_error(catalogue: list[Product], query: str) -> None:
    make_widget(slot="picks", strategy="bestsellers")
    client = storefront()
    for url in (DECISIONS, RECS):
        response = client.get(f"{url}?{query}")
        assert response.status_code < 500, (url, query, response.content)
        assert response["Content-Type"] == "application/json"


def test_documented_examples(
    catalogue: list[Product], artifacts_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The JSON in docs/headless.md: real answers (also written to test-artifacts/headless/)."""
    from personalize.campaigns.models import Variant

    train()
    make_widget()
    campaign = make(
        "welcome",
        segments=("new-visitors",),
        trigger="delay",
        trigger_value=5,
        frequency="once_per_visit",
    )
    Variant.objects.filter(campaign=campaign).update(
        title='Welcome, {{ first_name|default:"there" }}!',
        body="<p>Take <strong>10% off</strong>.</p>",
    )
    make("hero-cats", kind="slot", slot_name="home-hero")
    monkeypatch.setattr(
        "personalize.campaigns.rendering.beacon_token", lambda visitor: "<beacon-token>"
    )
    monkeypatch.setattr("personalize.api.decisions.beacon_token", lambda visitor: "<beacon-token>")
    monkeypatch.setattr(
        "personalize.api.recommendations.beacon_token", lambda visitor: "<beacon-token>"
    )
    client = Client(headers={"User-Agent": UA, "Accept": "application/json"})
    decision = decide(client, "/", slots="home-hero,sidebar")
    recs = client.get(RECS, {"slot": "product-viewed", "product": catalogue[0].pk}).json()
    forbidden = client.get(RECS, {"slot": "product-viewed", "email": "ann@example.com"}).json()
    out = artifacts_dir / "headless"
    out.mkdir(exist_ok=True)
    vid = re.escape(visitor_id_of(client))
    for name, body in (
        ("decisions", decision),
        ("recommendations", recs),
        ("forbidden", forbidden),
    ):
        text = re.sub(vid, "<visitor-id>", json.dumps(body, indent=2, ensure_ascii=False))
        (out / f"{name}.json").write_text(text + "\n")
        # The docs print these answers: a change to them is a change to the docs.
        assert f"```json\n{text}\n```" in DOC.read_text(), (
            f"docs/headless.md no longer shows the {name} answer: "
            f"paste test-artifacts/headless/{name}.json into it"
        )
    assert decided(decision) == {"welcome": "a", "hero-cats": "a"}
    assert recs["items"] and "recommendations:read" in forbidden["detail"]


def test_segments_on_the_path_follow_the_page_not_the_endpoint() -> None:
    from personalize.segments.models import Segment

    Segment.objects.create(
        name="Product pages", slug="product-pages", condition={"path": {"$regex": "^/shop/p/"}}
    )
    make("product-hero", kind="slot", slot_name="hero", segments=("product-pages",))
    client = shopper()
    assert "product-hero" in shown(client, "/shop/p/1/")
    assert "product-pages" in decide(client, "/shop/p/1/")["segments"]
    assert decided(decide(client, "/shop/p/1/", slots="hero")) == {"product-hero": "a"}
    assert decided(decide(client, "/shop/", slots="hero")) == {}
    # The lazy slot endpoint asks on behalf of its page too.
    lazy = client.get("/personalize/slots/hero/", {"path": "/shop/p/1/"})
    assert lazy.status_code == 200 and b"product-hero a" in lazy.content
    assert client.get("/personalize/slots/hero/", {"path": "/shop/"}).status_code == 204


@pytest.mark.parametrize(
    ("trusted", "origin", "status"),
    [
        ([], "https://www.shop.example", 403),
        (["https://www.shop.example"], "https://www.shop.example", 200),
        (["https://www.shop.example"], "http://www.shop.example", 403),  # another scheme
        (["https://*.shop.example"], "https://www.shop.example", 200),
        (["https://*.shop.example"], "https://shop.example.evil.example", 403),
    ],
)
def test_a_storefront_on_a_trusted_origin_reports_with_its_token(
    trusted: list[str], origin: str, status: int
) -> None:
    make("offer")
    client = storefront()
    token = decide(client, "/")["beacon"]["token"]
    with override_settings(CSRF_TRUSTED_ORIGINS=trusted):
        response = client.post(
            EVENTS,
            json.dumps(
                {
                    "token": token,
                    "events": [{"type": "impression", "campaign": "offer", "variant": "a"}],
                }
            ),
            content_type="text/plain",
            headers={"Origin": origin},
        )
    assert response.status_code == status, response.content
