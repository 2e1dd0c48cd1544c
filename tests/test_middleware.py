"""VisitorMiddleware through the test client: identity, visits, bots, consent, login merge."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.http import HttpResponse
from django.test import Client, override_settings

from personalize.identity.cookies import SALT
from personalize.models import Event, VisitorProfile
from personalize.profiles.base import get_store
from tests.conftest import Clock

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.urls")]

CHROME = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0 Safari/537.36"
)
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"
)


def browser(**headers: str) -> Client:
    return Client(headers={"User-Agent": CHROME, "Accept": "text/html", **headers})


def visitor_json(client: Client) -> dict[str, Any]:
    response = client.get("/personalize/api/visitor/")
    assert response.status_code == 200
    data: dict[str, Any] = response.json()
    return data


def test_first_request_sets_cookie_and_is_new(clock: Clock) -> None:
    client = browser()
    response = client.get("/page/")
    assert response.status_code == 200
    cookie = response.cookies["pz_vid"]
    assert cookie["httponly"]
    assert cookie["samesite"] == "Lax"
    assert int(cookie["max-age"]) == 365 * 24 * 3600
    assert not cookie["secure"]
    data = visitor_json(client)
    assert data["is_new"] is True
    assert data["is_returning"] is False
    assert data["visit_count"] == 1
    assert data["attributes"]["pageviews_visit"] == 1
    assert len(data["id"]) == 32


def test_visit_timeout_makes_a_returning_visitor(clock: Clock) -> None:
    client = browser()
    client.get("/page/")
    clock.advance(1799)
    assert visitor_json(client)["visit_count"] == 1
    clock.advance(1801)
    response = client.get("/page/")
    assert response.content == b"<html><body>visit 2</body></html>"
    assert "pz_vid" in response.cookies  # refreshed once per visit
    data = visitor_json(client)
    assert data["is_returning"] is True
    assert data["is_new"] is False
    assert data["visit_count"] == 2


def test_visit_timeout_is_a_setting(clock: Clock) -> None:
    client = browser()
    with override_settings(PERSONALIZE_VISIT_TIMEOUT=60):
        client.get("/page/")
        clock.advance(61)
        assert visitor_json(client)["visit_count"] == 2


def test_cookie_is_secure_on_https() -> None:
    response = browser().get("/page/", secure=True)
    assert response.cookies["pz_vid"]["secure"]


def test_cookie_name_is_configurable() -> None:
    with override_settings(PERSONALIZE_COOKIE_NAME="shop_vid"):
        response = browser().get("/page/")
    assert "shop_vid" in response.cookies
    assert "pz_vid" not in response.cookies


@pytest.mark.parametrize(
    "value",
    [
        "",
        "garbage",
        "a" * 5000,
        "\xe9\xff\xfe",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa:tampered",
        "../../etc/passwd",
        "\x00\x01",
    ],
)
def test_bad_cookie_means_new_visitor(value: str) -> None:
    client = browser()
    client.cookies["pz_vid"] = value
    response = client.get("/page/")
    assert response.status_code == 200
    assert response.cookies["pz_vid"].value != value
    assert visitor_json(client)["visit_count"] == 1


def signed_cookie(name: str, value: str, salt: str) -> str:
    """The cookie value Django signs; how it derives the key changes between versions."""
    response = HttpResponse()
    response.set_signed_cookie(name, value, salt=salt)
    return response.cookies[name].value


def test_cookie_signed_for_another_purpose_is_rejected() -> None:
    client = browser()
    client.cookies["pz_vid"] = signed_cookie("pz_vid", "a" * 32, salt="other")
    client.get("/page/")
    assert visitor_json(client)["id"] != "a" * 32
    client2 = browser()
    client2.cookies["pz_vid"] = signed_cookie("pz_vid", "b" * 32, salt=SALT)
    assert visitor_json(client2)["id"] == "b" * 32


@pytest.mark.parametrize(
    "user_agent",
    [
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
        "curl/8.5.0",
        "python-requests/2.32",
        "",
        "facebookexternalhit/1.1",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 HeadlessChrome/120.0 Safari/537.36",
    ],
)
def test_bots_get_pages_but_nothing_is_stored(user_agent: str) -> None:
    client = Client(headers={"User-Agent": user_agent, "Accept": "text/html"})
    assert client.get("/page/").status_code == 200
    response = client.get("/p/3/")
    assert response.status_code == 200
    assert "pz_vid" not in response.cookies
    data = visitor_json(client)
    assert data["tracked"] is False
    assert data["id"] is None
    assert VisitorProfile.objects.count() == 0
    assert Event.objects.count() == 0


def test_headless_browsers_tracked_when_allowed() -> None:
    client = Client(headers={"User-Agent": "Mozilla/5.0 HeadlessChrome/120.0", "Accept": "*/*"})
    with override_settings(PERSONALIZE_ALLOW_HEADLESS=True):
        assert "pz_vid" in client.get("/page/").cookies


@pytest.mark.parametrize(
    "headers",
    [
        {"User-Agent": "x" * 100_000},
        {"User-Agent": "\udcff\ufffd garbled \x7f"},
        {"User-Agent": CHROME, "Referer": "ht!tp://[bad"},
        {"User-Agent": CHROME, "Referer": "https://" + "a" * 10_000 + ".com/"},
        {"User-Agent": CHROME, "CF-IPCountry": "<script>"},
        {"User-Agent": CHROME, "Sec-GPC": "maybe"},
        {"User-Agent": CHROME, "Accept": "\x00"},
    ],
)
def test_bad_headers_never_error(headers: dict[str, str]) -> None:
    client = Client(headers=headers)
    assert client.get("/page/").status_code == 200
    assert client.get("/p/1/").status_code == 200
    assert client.get("/personalize/api/visitor/").status_code == 200


def test_utm_and_referrer_are_recorded_and_cleaned() -> None:
    client = browser(Referer="https://www.google.com/search?q=cat")
    client.get(
        "/page/",
        {"utm_source": "News<script>letter", "utm_medium": "e" * 500, "utm_campaign": "   "},
    )
    attributes = visitor_json(client)["attributes"]
    assert attributes["utm"] == {"source": "newsscriptletter", "medium": "e" * 80}
    assert attributes["first_utm"] == attributes["utm"]
    profile = get_store().load(visitor_json(client)["id"])
    assert profile is not None
    assert profile.first_referrer == "https://www.google.com/search?q=cat"


def test_device_and_country() -> None:
    client = Client(headers={"User-Agent": IPHONE, "CF-IPCountry": "de"})
    attributes = visitor_json(client)["attributes"]
    assert attributes["device"] == "mobile"
    assert attributes["country"] == "DE"
    client = browser(**{"CF-IPCountry": "XX1"})
    assert visitor_json(client)["attributes"]["country"] == ""


def test_consent_required_stores_nothing_until_granted() -> None:
    with override_settings(PERSONALIZE_REQUIRE_CONSENT=True):
        client = browser()
        response = client.get("/p/1/")
        assert "pz_vid" not in response.cookies
        data = visitor_json(client)
        assert data["tracked"] is False
        assert data["attributes"]["device"] == "desktop"  # request-only attributes
        assert VisitorProfile.objects.count() == 0
        assert Event.objects.count() == 0
        client.cookies["pz_consent"] = "granted"
        assert "pz_vid" in client.get("/page/").cookies
        assert VisitorProfile.objects.count() == 1


def test_denied_consent_is_honoured_even_when_not_required() -> None:
    client = browser()
    client.cookies["pz_consent"] = "denied"
    assert "pz_vid" not in client.get("/page/").cookies
    assert VisitorProfile.objects.count() == 0


def test_global_privacy_control() -> None:
    client = browser(**{"Sec-GPC": "1"})
    assert "pz_vid" not in client.get("/page/").cookies
    assert VisitorProfile.objects.count() == 0
    with override_settings(PERSONALIZE_HONOR_GPC=False):
        assert "pz_vid" in client.get("/page/").cookies


def test_page_views_only_for_html_navigations() -> None:
    client = browser()
    client.get("/page/")
    client.get("/page/", headers={"HX-Request": "true"})
    client.get("/page/", headers={"Accept": "application/json"})
    client.post("/page/")
    client.get("/page/", headers={"Accept": "image/avif,image/webp,*/*;q=0.8"})
    client.get("/page/", headers={"Sec-Fetch-Dest": "image", "Accept": "text/html,*/*"})
    client.get("/page/", headers={"Accept": ""})
    client.get("/page/", headers={"Sec-Fetch-Dest": "document", "Accept": "*/*"})
    assert visitor_json(client)["attributes"]["pageviews_total"] == 2
    assert list(Event.objects.values_list("name", flat=True)) == ["page_view", "page_view"]


def test_track_in_view_updates_profile_and_log() -> None:
    client = browser()
    client.get("/p/42/")
    attributes = visitor_json(client)["attributes"]
    assert attributes["viewed_products"] == ["42"]
    assert attributes["top_category"] == "cats"
    assert sorted(Event.objects.values_list("name", flat=True)) == ["page_view", "product_view"]


def test_failed_request_records_nothing() -> None:
    client = browser()
    client.raise_request_exception = False
    assert client.get("/crash/").status_code == 500
    assert Event.objects.count() == 0


def test_login_adopts_then_merges_profiles_across_devices(clock: Clock) -> None:
    user = get_user_model().objects.create_user("ann", "ann@example.com", "pw-12345678")
    laptop = browser()
    laptop.get("/p/1/")
    laptop_vid = laptop.get(f"/login-as/{user.pk}/").json()["visitor"]
    assert get_store().visitor_for_user(str(user.pk)) == laptop_vid

    clock.advance(5000)
    phone = Client(headers={"User-Agent": IPHONE, "Accept": "text/html"})
    phone.get("/p/2/")
    phone_vid_before = visitor_json(phone)["id"]
    response = phone.get(f"/login-as/{user.pk}/")
    assert response.json()["visitor"] == laptop_vid
    assert response.cookies["pz_vid"]  # the phone now carries the user's visitor id
    data = visitor_json(phone)
    assert data["id"] == laptop_vid
    assert data["visit_count"] == 2
    assert set(data["attributes"]["viewed_products"]) == {"1", "2"}
    assert get_store().load(phone_vid_before) is None


def test_logout_leaves_the_customer_behind() -> None:
    user = get_user_model().objects.create_user("bo", "bo@example.com", "pw-12345678")
    shared = browser()
    shared.get("/p/1/")
    customer_vid = shared.get(f"/login-as/{user.pk}/").json()["visitor"]
    shared.get("/p/2/")
    assert set(visitor_json(shared)["attributes"]["viewed_products"]) == {"1", "2"}

    response = shared.get("/logout/")
    assert response.json()["visitor"] != customer_vid
    assert response.cookies["pz_vid"]  # the browser now carries a new anonymous id
    after = visitor_json(shared)
    assert after["id"] != customer_vid
    assert after["attributes"]["viewed_products"] == []
    assert after["visit_count"] == 1 and after["personal"] is False
    assert "orders_count" not in after["attributes"] and "ids" not in after["attributes"]
    # The customer's profile is intact, with what they did while logged in.
    profile = get_store().load(customer_vid)
    assert profile is not None and set(profile.viewed_products) == {"1", "2"}
    assert get_store().visitor_for_user(str(user.pk)) == customer_vid


def test_track_rejects_bad_events() -> None:
    from django.test import RequestFactory

    import personalize
    from personalize.middleware import VisitorMiddleware

    request = RequestFactory().get("/", HTTP_USER_AGENT=CHROME)
    with pytest.raises(RuntimeError, match="VisitorMiddleware"):
        personalize.track(request, "product_view", product_id=1)
    VisitorMiddleware(lambda r: None).process_request(request)  # type: ignore[arg-type,return-value]
    with pytest.raises(ValueError, match="Unknown event 'viewed'"):
        personalize.track(request, "viewed")
    with pytest.raises(ValueError, match="'product_id' is required"):
        personalize.track(request, "product_view")
    with pytest.raises(ValueError, match="'price' must be a number"):
        personalize.track(request, "add_to_cart", product_id=1, price="ten")
    with pytest.raises(ValueError, match=r"unknown prop\(s\) 'colour'"):
        personalize.track(request, "product_view", product_id=1, colour="red")
    with pytest.raises(ValueError, match="valid email"):
        personalize.track(request, "identify", email="not-an-email")
    with pytest.raises(ValueError, match=r"items\[0\]"):
        personalize.track(request, "purchase", order_id="1", value=3, items=[{"price": 1}])


def test_async_stack_tracks_like_sync() -> None:
    from asgiref.sync import async_to_sync
    from django.test import AsyncClient

    client = AsyncClient()
    headers = {"User-Agent": CHROME, "Accept": "text/html"}
    response = async_to_sync(client.get)("/p/7/", headers=headers)
    assert response.status_code == 200
    assert "pz_vid" in response.cookies
    data = async_to_sync(client.get)("/personalize/api/visitor/", headers=headers).json()
    assert data["attributes"]["viewed_products"] == ["7"]
    assert sorted(Event.objects.values_list("name", flat=True)) == ["page_view", "product_view"]


def test_middleware_declares_sync_and_async() -> None:
    import asyncio

    from personalize.middleware import VisitorMiddleware

    async def handler(request: Any) -> Any:
        return None

    assert VisitorMiddleware.sync_capable and VisitorMiddleware.async_capable
    assert asyncio.iscoroutinefunction(VisitorMiddleware(handler))  # type: ignore[arg-type]
    assert not asyncio.iscoroutinefunction(VisitorMiddleware(lambda r: r))  # type: ignore[arg-type,return-value]
