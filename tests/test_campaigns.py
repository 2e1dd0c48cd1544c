"""Campaigns on the server: targeting, caps, variants, rendering, the events API, capture."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.test import Client, override_settings

from personalize.campaigns.models import Campaign, CouponCode, Lead, Variant
from personalize.models import Event, Segment
from personalize.profiles.redis import RedisProfileStore
from tests.conftest import Clock

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.urls")]

UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36"
IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148 Safari/604.1"


def shopper(ua: str = UA) -> Client:
    return Client(headers={"User-Agent": ua, "Accept": "text/html", "Sec-Fetch-Dest": "document"})


def make(
    slug: str,
    *,
    kind: str = "popup",
    segments: tuple[str, ...] = (),
    variants: tuple[tuple[str, int], ...] = (("a", 1),),
    **fields: Any,
) -> Campaign:
    campaign = Campaign.objects.create(
        name=slug.title(), slug=slug, kind=kind, status="active", **fields
    )
    for key, weight in variants:
        Variant.objects.create(
            campaign=campaign,
            key=key,
            weight=weight,
            title=f"{slug} {key}",
            body="<p>Hello</p>",
            cta_label="Go",
            cta_url="/c/cats/",
        )
    if segments:
        campaign.include_segments.set(Segment.objects.filter(slug__in=segments))
    from personalize import configuration

    configuration.bump()
    return campaign


def shown(client: Client, path: str = "/shop/") -> dict[str, str]:
    """slug -> variant of every campaign element on the page."""
    html = client.get(path).content.decode()
    return dict(re.findall(r'data-pz-campaign="([^"]+)" data-pz-variant="([^"]+)"', html))


def token_of(client: Client) -> str:
    html = client.get("/shop/").content.decode()
    found = re.search(r'data-pz-token="([^"]+)"', html)
    assert found is not None
    return found.group(1)


def report(
    client: Client,
    events: list[dict[str, Any]],
    *,
    token: str | None = None,
    origin: str = "http://testserver",
) -> Any:
    body = json.dumps({"token": token or token_of(client), "events": events})
    return client.post(
        "/personalize/api/events/", body, content_type="text/plain", headers={"Origin": origin}
    )


def test_popup_targets_new_visitors_only(clock: Clock) -> None:
    make("welcome", segments=("new-visitors",), trigger="delay", trigger_value=5)
    client = shopper()
    html = client.get("/shop/").content.decode()
    assert 'data-pz-campaign="welcome"' in html
    assert 'data-pz-trigger="delay" data-pz-trigger-value="5"' in html
    assert 'role="dialog" aria-modal="true"' in html
    assert "personalize/runtime.js" in html
    clock.advance(3600)
    assert "welcome" not in shown(client)


def test_one_popup_per_page_by_priority_bars_coexist() -> None:
    make("low", priority=1)
    make("high", priority=5)
    make("top-bar", kind="bar", position="top")
    make("bottom-bar", kind="bar", position="bottom")
    make("second-top-bar", kind="bar", position="top", priority=-1)
    assert shown(shopper()) == {"high": "a", "top-bar": "a", "bottom-bar": "a"}


def test_once_per_visit_cap_and_new_visit(clock: Clock) -> None:
    make("offer", frequency="once_per_visit")
    client = shopper()
    assert "offer" in shown(client)
    assert "offer" in shown(client)  # not seen yet: the trigger never fired
    response = report(client, [{"type": "impression", "campaign": "offer", "variant": "a"}])
    assert response.status_code == 200, response.content
    assert response.json() == {"accepted": 1}
    assert "offer" not in shown(client)
    clock.advance(3600)
    assert "offer" in shown(client)


@pytest.mark.parametrize(
    ("fields", "event", "hidden_after"),
    [
        ({"stop_after_close": True, "frequency": "every_page"}, "close", True),
        ({"stop_after_close": False, "frequency": "every_page"}, "close", False),
        ({"frequency": "once_ever"}, "impression", True),
        ({"frequency": "every_page", "max_impressions": 1}, "impression", True),
        ({"frequency": "every_n_days", "frequency_days": 3}, "impression", True),
    ],
)
def test_frequency_caps(fields: dict[str, Any], event: str, hidden_after: bool) -> None:
    make("capped", **fields)
    client = shopper()
    report(
        client,
        [{"type": "impression", "campaign": "capped", "variant": "a"}]
        if event == "impression"
        else [
            {"type": "impression", "campaign": "capped", "variant": "a"},
            {"type": event, "campaign": "capped", "variant": "a"},
        ],
    )
    assert ("capped" not in shown(client)) is hidden_after


def test_every_n_days_comes_back(clock: Clock) -> None:
    make("weekly", frequency="every_n_days", frequency_days=7)
    client = shopper()
    report(client, [{"type": "impression", "campaign": "weekly", "variant": "a"}])
    clock.advance(6 * 86400)
    assert "weekly" not in shown(client)
    clock.advance(2 * 86400)
    assert "weekly" in shown(client)


def test_variants_are_deterministic_and_sticky() -> None:
    campaign = make("split", variants=(("a", 1), ("b", 1)))
    counts = {"a": 0, "b": 0}
    clients = [shopper() for _ in range(40)]
    first = {}
    for index, client in enumerate(clients):
        variant = shown(client)["split"]
        counts[variant] += 1
        first[index] = variant
    assert counts["a"] > 5 and counts["b"] > 5
    Variant.objects.filter(campaign=campaign, key="a").update(weight=99)
    from personalize import configuration

    configuration.bump()
    for index, client in enumerate(clients):
        assert shown(client)["split"] == first[index]  # weights changed, nobody reshuffled


def test_control_group_sees_nothing_but_is_exposed() -> None:
    make("held", control_percent=50)
    variants = {shown(shopper()).get("held") for _ in range(30)}
    assert variants == {"a", "control"}
    client = shopper()
    while shown(client).get("held") != "control":
        client = shopper()
    html = client.get("/shop/").content.decode()
    assert 'data-pz-variant="control"' in html and "data-pz-control" in html
    assert "held a" not in html  # no content rendered for the control
    assert (
        report(client, [{"type": "exposure", "campaign": "held", "variant": "control"}]).status_code
        == 200
    )
    assert Event.objects.filter(name="campaign_exposure", props__variant="control").exists()


def test_page_device_and_schedule_targeting(clock: Clock) -> None:
    from datetime import UTC, datetime, timedelta

    make(
        "products-only",
        page_rules={
            "include": [{"match": "prefix", "value": "/shop/p/"}],
            "exclude": [{"match": "contains", "value": "secret"}],
        },
        kind="bar",
    )
    make("mobile-only", kind="slidein", devices=["mobile"], position="bottom-right")
    now = datetime.fromtimestamp(clock.now, tz=UTC)
    make("later", kind="bar", position="bottom", starts_at=now + timedelta(days=1))
    make("ended", kind="slot", slot_name="hero", ends_at=now - timedelta(days=1))
    client = shopper()
    assert shown(client, "/shop/") == {}
    assert shown(client, "/shop/p/1/") == {"products-only": "a"}
    assert shown(client, "/shop/p/secret/") == {}
    assert shown(shopper(IPHONE)) == {"mobile-only": "a"}
    clock.advance(2 * 86400)
    assert "later" in shown(client)


def test_nth_page_view_trigger() -> None:
    make("third", trigger="pageview", trigger_value=3)
    client = shopper()
    assert [("third" in shown(client)) for _ in range(4)] == [False, False, True, False]


def test_content_slot_server_side_and_lazy() -> None:
    client = shopper()
    html = client.get("/shop/").content.decode()
    assert "<p>default hero</p>" in html
    assert 'data-pz-lazy hx-get="/personalize/slots/hero/?path=/shop/"' in html
    make("hero-cats", kind="slot", slot_name="hero")
    html = client.get("/shop/").content.decode()
    assert "default hero" not in html
    assert 'data-pz-kind="slot"' in html and "hero-cats a" in html
    response = client.get("/personalize/slots/hero/?path=/shop/")
    assert response.status_code == 200 and b"hero-cats a" in response.content
    assert client.get("/personalize/slots/nothing/").status_code == 204


def test_merchandiser_html_and_tokens_render_inert() -> None:
    campaign = make("xss")
    Variant.objects.filter(campaign=campaign).update(
        title='<script>alert(1)</script>{{ first_name|default:"<b>there</b>" }}',
        body='<p onclick="x()">Hi <img src=x onerror=alert(1)><a href="javascript:alert(1)">'
        "link</a> {{ cart_value }}</p><style>body{display:none}</style>",
        cta_label='"><script>alert(2)</script>',
        cta_url="javascript:alert(3)",
        accent_color="red;}</style><script>alert(4)</script>",
        image_url="data:text/html,<script>alert(5)</script>",
    )
    from personalize import configuration

    configuration.bump()
    html = shopper().get("/shop/").content.decode()
    assert "<script>alert" not in html
    assert "onerror" not in html and "onclick" not in html
    assert "javascript:" not in html
    assert "data:text/html" not in html
    assert "display:none" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;b&gt;there&lt;/b&gt;" in html
    assert "0.00" in html or ">0<" in html or " 0</p>" in html


@override_settings(PERSONALIZE_FREE_SHIPPING_THRESHOLD=60)
def test_free_shipping_token_and_bar_refresh() -> None:
    campaign = make("free-shipping", kind="bar", position="top")
    Variant.objects.filter(campaign=campaign).update(
        title="Add €{{ free_shipping_remaining }} more for free shipping"
    )
    from personalize import configuration

    configuration.bump()
    client = shopper()
    html = client.get("/shop/").content.decode()
    assert "Add €60.00 more" in html or "Add €60 more" in html
    assert 'data-pz-src="/personalize/campaigns/free-shipping/render/"' in html
    vid = client.get("/personalize/api/visitor/").json()["id"]
    from personalize.profiles.base import get_store
    from personalize.profiles.profile import ProfileOp

    get_store().apply(vid, [ProfileOp("cart_add", member="1", value=1, extra=(47.5, "cats"))], [])
    fragment = client.get("/personalize/campaigns/free-shipping/render/").content.decode()
    assert "Add €12.50 more" in fragment
    assert client.get("/personalize/campaigns/nope/render/").status_code == 204


def test_events_api_rejects_bad_reports() -> None:
    make("api")
    client = shopper()
    good = {"type": "impression", "campaign": "api", "variant": "a"}
    assert report(client, [good], origin="https://evil.example").status_code == 403
    assert report(client, [good], token="forged").status_code == 403
    other = shopper()
    assert report(client, [good], token=token_of(other)).status_code == 403
    bad = report(client, [{"type": "explode", "campaign": "nope", "variant": "zz"}])
    assert bad.status_code == 400
    assert "type" in bad.json()["events"][0]
    bad = report(client, [{"type": "click", "campaign": "nope", "variant": "a"}])
    assert bad.json()["events"][0]["campaign"] == ["Not an active campaign."]
    bad = report(client, [{"type": "click", "campaign": "api", "variant": "zz"}])
    assert "variant" in bad.json()["events"][0]
    assert report(client, [good] * 21).status_code == 400
    assert report(client, []).status_code == 400
    for body in ("not json", "[]", '{"events": "x"}', "\xff"):
        response = client.post(
            "/personalize/api/events/",
            body,
            content_type="text/plain",
            headers={"Origin": "http://testserver"},
        )
        assert response.status_code == 400, body
    assert client.get("/personalize/api/events/").status_code == 405
    assert Event.objects.filter(name__startswith="campaign_").count() == 0


@pytest.mark.parametrize("errors_as_dict", [True, False])
@pytest.mark.filterwarnings("ignore:The list-based error format")  # DRF 3.18+ with False
def test_event_errors_line_up_with_the_events_whatever_the_drf_settings(
    settings: Any, errors_as_dict: bool
) -> None:
    make("api")
    client = shopper()
    good = {"type": "impression", "campaign": "api", "variant": "a"}
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "LIST_SERIALIZER_ERRORS_AS_DICT": errors_as_dict,
    }
    response = report(client, [good, {**good, "variant": "zz"}, good])
    assert response.status_code == 400
    errors = response.json()["events"]
    assert len(errors) == 3
    assert errors[0] == errors[2] == {}
    assert "variant" in errors[1]


@override_settings(PERSONALIZE_EVENTS_RATE_LIMIT=3)
def test_events_api_is_rate_limited_per_visitor() -> None:
    from django.core.cache import cache

    cache.clear()
    make("limited")
    client = shopper()
    event = {"type": "click", "campaign": "limited", "variant": "a"}
    statuses = [report(client, [event]).status_code for _ in range(5)]
    assert statuses[:3] == [200, 200, 200]
    assert statuses[3:] == [429, 429]
    assert report(shopper(), [event]).status_code == 200  # another visitor is not affected


def test_email_capture_identifies_and_converts() -> None:
    make(
        "capture",
        capture_email=True,
        coupon_mode="fixed",
        coupon_code="WELCOME10",
        stop_after_conversion=True,
    )
    client = shopper()
    html = client.get("/shop/").content.decode()
    assert 'hx-post="/personalize/capture/capture/"' in html
    bad = client.post(
        "/personalize/capture/capture/",
        {"email": "nope", "variant": "a"},
        headers={"HX-Request": "true"},
    )
    assert bad.status_code == 200  # htmx swaps only 2xx responses
    assert b"Enter a valid email address" in bad.content
    bad = client.post("/personalize/capture/capture/", {"email": "nope", "variant": "a"})
    assert bad.status_code == 422
    ok = client.post(
        "/personalize/capture/capture/",
        {"email": "Ann@Example.com", "consent": "1", "variant": "a"},
    )
    assert ok.status_code == 200
    assert b"Thank you" in ok.content and b"WELCOME10" in ok.content
    lead = Lead.objects.get()
    assert (lead.email, lead.consent, lead.variant) == ("ann@example.com", True, "a")
    data = client.get("/personalize/api/visitor/").json()
    assert data["attributes"]["is_identified"] is True
    assert "capture" not in shown(client)  # stop after conversion
    assert Event.objects.filter(name="campaign_convert").count() == 1
    assert client.post("/personalize/capture/nope/", {"email": "a@b.cd"}).status_code == 404


def test_coupon_pool_hands_out_unique_codes_then_stops(
    django_capture_on_commit_callbacks: Any,
) -> None:
    campaign = make("winback", coupon_mode="pool")
    CouponCode.objects.bulk_create([CouponCode(campaign=campaign, code=c) for c in ("X1", "X2")])
    from personalize import configuration

    configuration.bump()
    Variant.objects.filter(campaign=campaign).update(title="Code {{ coupon_code }}")
    configuration.bump()
    first, second, third = shopper(), shopper(), shopper()
    codes = set()
    for client in (first, second):
        html = client.get("/shop/").content.decode()
        codes.add(re.search(r'class="pz-code">([^<]+)<', html).group(1))  # type: ignore[union-attr]
    assert codes == {"X1", "X2"}
    again = first.get("/shop/").content.decode()
    assert re.search(r'class="pz-code">([^<]+)<', again).group(1) in codes  # type: ignore[union-attr]
    with django_capture_on_commit_callbacks(execute=True):
        third.get("/shop/")  # pool exhausted: the campaign stops showing
    assert "winback" not in shown(shopper())
    assert set(CouponCode.objects.values_list("visitor_id", flat=True)) != {""}


def test_campaign_validation_names_fields() -> None:
    from django.core.exceptions import ValidationError

    campaign = Campaign(
        name="x",
        slug="x",
        kind="slot",
        trigger="scroll",
        trigger_value=0,
        coupon_mode="fixed",
        page_rules={"include": [{"match": "regex", "value": "("}]},
        devices=["fridge"],
        countdown_mode="fixed",
    )
    with pytest.raises(ValidationError) as excinfo:
        campaign.full_clean()
    fields = excinfo.value.message_dict
    assert {
        "slot_name",
        "trigger_value",
        "coupon_code",
        "page_rules",
        "devices",
        "countdown_ends_at",
    } <= set(fields)


@pytest.mark.django_db(transaction=True)
def test_thirty_campaigns_keep_the_redis_hot_path_free_of_sql(
    use_redis_store: RedisProfileStore,
    django_assert_num_queries: Any,
) -> None:
    for index in range(30):
        make(
            f"c{index}",
            kind=("popup", "bar", "slidein", "slot")[index % 4],
            slot_name="hero",
            position=("center", "top", "bottom-right", "center")[index % 4],
            page_rules={"include": [{"match": "prefix", "value": "/shop"}]},
        )
    client = shopper()
    client.get("/shop/")
    with django_assert_num_queries(0):
        html = client.get("/shop/").content.decode()
    assert html.count("data-pz-campaign=") >= 3
