"""Segments in real time: built-ins, static lists, live config changes, template tags, preview."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.template import Context, Template, TemplateSyntaxError
from django.test import Client, RequestFactory, override_settings

from personalize import configuration
from personalize.conditions import validate_condition
from personalize.lifecycle import lifecycle_stage
from personalize.models import ConfigVersion, Segment, SegmentMember
from personalize.profiles.redis import RedisProfileStore
from personalize.segments.builtin import BUILTIN_SEGMENTS
from personalize.testing import override_segment
from tests.conftest import Clock

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.urls")]

CHROME = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36"


def browser() -> Client:
    return Client(headers={"User-Agent": CHROME, "Accept": "text/html"})


def segments_of(client: Client) -> list[str]:
    data: dict[str, Any] = client.get("/personalize/api/visitor/").json()
    assert data["segments"] == data["attributes"]["segments"]
    segments: list[str] = data["segments"]
    return segments


def test_builtin_segments_are_installed_and_valid() -> None:
    slugs = set(Segment.objects.filter(builtin=True).values_list("slug", flat=True))
    assert slugs == {spec["slug"] for spec in BUILTIN_SEGMENTS}
    assert len(slugs) == 25
    assert {"rfm-champions", "rfm-cant-lose", "lifecycle-lapsed", "vip"} <= slugs
    for spec in BUILTIN_SEGMENTS:
        assert validate_condition(spec["condition"]) == [], spec["slug"]


def test_new_then_returning(clock: Clock) -> None:
    client = browser()
    client.get("/page/")
    segments = segments_of(client)
    assert "new-visitors" in segments
    assert "returning-visitors" not in segments
    assert "lifecycle-prospect" in segments
    clock.advance(3600)
    segments = segments_of(client)
    assert "returning-visitors" in segments
    assert "new-visitors" not in segments


def test_cart_and_browse_abandoners(clock: Clock) -> None:
    client = browser()
    for pk in (1, 2, 3):
        client.get(f"/p/{pk}/")
    assert "browse-abandoners" not in segments_of(client)  # same visit
    clock.advance(3600)
    assert "browse-abandoners" in segments_of(client)

    shopper = browser()
    shopper.get("/page/")
    from personalize.profiles.base import get_store
    from personalize.profiles.profile import ProfileOp

    vid = shopper.get("/personalize/api/visitor/").json()["id"]
    get_store().apply(
        vid,
        [
            ProfileOp("cart_add", member="9", value=1, extra=(5.0, "cats")),
            ProfileOp("set", "cart_visit", 1),
            ProfileOp("set", "cart_changed_at", clock.now),
        ],
        [],
    )
    assert "cart-abandoners" not in segments_of(shopper)
    clock.advance(3600)
    assert "cart-abandoners" in segments_of(shopper)


@pytest.mark.parametrize(
    ("orders", "days", "stage"),
    [
        (0, None, "prospect"),
        (1, 10, "first_time_buyer"),
        (2, 10, "repeat"),
        (4, 59, "loyal"),
        (4, 60, "at_risk"),
        (1, 120, "at_risk"),
        (1, 121, "lapsed"),
        (9, 400, "lapsed"),
    ],
)
def test_lifecycle_stage(orders: int, days: int | None, stage: str) -> None:
    assert lifecycle_stage(orders, days) == stage


def test_lifecycle_thresholds_are_settings() -> None:
    with override_settings(
        PERSONALIZE_LIFECYCLE_AT_RISK_DAYS=10,
        PERSONALIZE_LIFECYCLE_LAPSED_DAYS=20,
        PERSONALIZE_LIFECYCLE_LOYAL_ORDERS=3,
    ):
        assert lifecycle_stage(3, 5) == "loyal"
        assert lifecycle_stage(3, 15) == "at_risk"
        assert lifecycle_stage(3, 21) == "lapsed"


@pytest.mark.django_db(transaction=True)
def test_segment_changes_apply_without_restart() -> None:
    client = browser()
    assert "cat-people" not in segments_of(client)
    segment = Segment.objects.create(
        name="Cat people", slug="cat-people", condition={"device": "desktop"}
    )
    assert "cat-people" in segments_of(client)
    segment.enabled = False
    segment.save()
    assert "cat-people" not in segments_of(client)


@pytest.mark.django_db(transaction=True)
def test_another_worker_sees_the_change_within_the_poll_period() -> None:
    client = browser()
    segments_of(client)  # this worker compiles the current configuration
    # Another process saves a segment: rows and version change behind our back.
    Segment.objects.bulk_create([Segment(name="Late", slug="late", condition={})])
    ConfigVersion.objects.update_or_create(pk=1, defaults={"version": 999})
    assert "late" not in segments_of(client)  # still within the poll period
    with override_settings(PERSONALIZE_CONFIG_POLL_SECONDS=0):
        assert "late" in segments_of(client)


@pytest.mark.django_db(transaction=True)
def test_redis_workers_see_changes_on_their_next_request(
    use_redis_store: RedisProfileStore,
) -> None:
    client = browser()
    segments_of(client)
    Segment.objects.bulk_create([Segment(name="Late", slug="late", condition={})])
    use_redis_store.client.incr(configuration.redis_key())  # what bump() does elsewhere
    assert "late" in segments_of(client)


@pytest.mark.django_db(transaction=True)
def test_fifty_segments_keep_the_redis_hot_path_free_of_sql(
    use_redis_store: RedisProfileStore,
    django_assert_num_queries: Any,
) -> None:
    Segment.objects.all().delete()  # transactional tests start without the built-ins
    Segment.objects.bulk_create(
        [
            Segment(
                name=f"S{i}",
                slug=f"s-{i}",
                condition={"visit_count": {"$gte": i % 5}},
                position=1000 + i,
            )
            for i in range(49)
        ]
        + [Segment(name="New", slug="new-visitors", condition={"is_new": True})]
    )
    configuration.bump()
    assert Segment.objects.filter(enabled=True).count() == 50
    client = browser()
    client.get("/page/")
    with django_assert_num_queries(0):
        response = client.get("/page/")
        data = client.get("/personalize/api/visitor/").json()
    assert response.status_code == 200
    assert {"s-0", "s-1", "new-visitors"} <= set(data["segments"])


@pytest.mark.django_db(transaction=True)
def test_static_members_by_visitor_user_and_email() -> None:
    user = get_user_model().objects.create_user("bo", "bo@example.com", "pw-12345678")
    segment = Segment.objects.create(
        name="Press", slug="press", condition={"ids": {"$inGroup": "press"}}
    )
    client = browser()
    vid = client.get("/personalize/api/visitor/").json()["id"]
    assert "press" not in segments_of(client)
    SegmentMember.objects.create(segment=segment, kind="visitor", value=vid)
    assert "press" in segments_of(client)

    other = browser()
    other.get(f"/login-as/{user.pk}/")
    assert "press" not in segments_of(other)
    SegmentMember.objects.create(segment=segment, kind="user", value=str(user.pk))
    assert "press" in segments_of(other)

    third = browser()
    third.get("/page/")
    SegmentMember.objects.create(segment=segment, kind="email", value="Ann@Example.com")
    vid3 = third.get("/personalize/api/visitor/").json()["id"]
    from personalize.profiles.base import get_store
    from personalize.profiles.profile import ProfileOp

    get_store().apply(vid3, [ProfileOp("set", "email", "ann@example.com")], [])
    assert "press" in segments_of(third)


def test_override_segment_as_decorator_and_context_manager() -> None:
    client = browser()
    with override_segment("vip"):
        assert "vip" in segments_of(client)
        with override_segment("vip", active=False):
            assert "vip" not in segments_of(client)
        assert "vip" in segments_of(client)
    assert "vip" not in segments_of(client)

    @override_segment("new-visitors", active=False)
    def check() -> None:
        assert "new-visitors" not in segments_of(browser())

    check()
    with pytest.raises(TypeError):
        override_segment()


def render(template: str, client_request: Any) -> str:
    return Template("{% load personalize %}" + template).render(
        Context({"request": client_request})
    )


def _request_for(path: str = "/") -> Any:
    from personalize.middleware import VisitorMiddleware

    request = RequestFactory().get(path, HTTP_USER_AGENT=CHROME)
    from django.contrib.auth.models import AnonymousUser

    request.user = AnonymousUser()
    VisitorMiddleware(lambda r: None).process_request(request)  # type: ignore[arg-type,return-value]
    return request


def test_ifsegment_tag() -> None:
    request = _request_for()
    tpl = '{% ifsegment "returning-visitors" "new-visitors" %}yes{% else %}no{% endifsegment %}'
    assert render(tpl, request) == "yes"
    assert render('{% ifsegment "vip" %}yes{% else %}no{% endifsegment %}', request) == "no"
    assert render('{% ifsegment "vip" %}yes{% endifsegment %}', request) == ""
    with override_segment("vip"):
        request = _request_for()
        assert render('{% ifsegment "vip" %}yes{% endifsegment %}', request) == "yes"
    assert render('{% ifsegment "new-visitors" %}yes{% endifsegment %}', None) == ""


def test_ifsegment_unknown_slug_is_no_match_not_an_error(caplog: Any) -> None:
    request = _request_for()
    out = render('{% ifsegment "no-such-segment" %}yes{% else %}no{% endifsegment %}', request)
    assert out == "no"
    assert "Unknown segment slug 'no-such-segment'" in caplog.text
    with pytest.raises(TemplateSyntaxError, match="needs at least one segment slug"):
        render("{% ifsegment %}x{% endifsegment %}", request)


def test_visitor_attribute_tag() -> None:
    request = _request_for()
    assert render('{% visitor_attribute "cart.value" %}', request) == "0.0"
    assert render('{% visitor_attribute "nope.deeper" "n/a" %}', request) == "n/a"
    assert render('{% visitor_attribute "visit_count" %}', None) == ""


def test_attribute_hooks_add_shop_attributes_and_failures_are_contained(caplog: Any) -> None:
    with override_settings(
        PERSONALIZE_ATTRIBUTE_HOOKS=["tests.hooks.loyalty_tier", "tests.hooks.broken"]
    ):
        attributes = browser().get("/personalize/api/visitor/").json()["attributes"]
    assert attributes["loyalty_tier"] == "gold"
    assert "Attribute hook" in caplog.text


def test_staff_preview() -> None:
    user_model = get_user_model()
    staff = user_model.objects.create_user("staff", "s@example.com", "pw-12345678", is_staff=True)
    shopper = user_model.objects.create_user("shop", "p@example.com", "pw-12345678")
    clerk = user_model.objects.create_user("clerk", "c@example.com", "pw-12345678", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_segment"))

    # A shopper, and staff without personalize's permissions, cannot preview.
    for user in (shopper, clerk):
        client = browser()
        client.force_login(user)
        response = client.get("/personalize/api/visitor/?pz_preview=vip")
        assert response.json()["segments"] != ["vip"]
        assert "pz_preview" not in client.cookies or not client.cookies["pz_preview"].value

    client = browser()
    client.force_login(staff)
    response = client.get("/personalize/api/visitor/?pz_preview=vip")
    assert response.json()["segments"] == ["vip"]
    assert client.cookies["pz_preview"].value
    assert client.get("/personalize/api/visitor/").json()["segments"] == ["vip"]  # remembered
    client.get("/page/?pz_preview=off")
    assert "vip" not in client.get("/personalize/api/visitor/").json()["segments"]

    # A preview cookie copied into a non-staff browser does nothing.
    client2 = browser()
    client2.force_login(staff)
    client2.get("/page/?pz_preview=vip")
    stolen = client2.cookies["pz_preview"].value
    anonymous = browser()
    anonymous.cookies["pz_preview"] = stolen
    assert anonymous.get("/personalize/api/visitor/").json()["segments"] != ["vip"]
    anonymous.cookies["pz_preview"] = "forged"
    assert anonymous.get("/page/").status_code == 200


def test_preview_toolbar_only_for_active_previews() -> None:
    staff = get_user_model().objects.create_user(
        "staff2", "t@example.com", "pw-12345678", is_staff=True
    )
    staff.user_permissions.add(Permission.objects.get(codename="change_segment"))
    request = _request_for()
    assert "pz-preview" not in render("{% personalize_toolbar %}", request)
    request = _request_for("/?pz_preview=vip")
    assert request.visitor.preview_segment is None  # anonymous: ignored
    request = RequestFactory().get("/?pz_preview=vip", HTTP_USER_AGENT=CHROME)
    request.user = staff
    from personalize.middleware import VisitorMiddleware

    VisitorMiddleware(lambda r: None).process_request(request)  # type: ignore[arg-type,return-value]
    html = render("{% personalize_toolbar %}", request)
    assert 'aria-label="Segment preview"' in html
    assert "VIP" in html
    assert "New visitors" in html  # real segments
    assert "?pz_preview=off" in html
    request = RequestFactory().get("/?pz_preview=<b>x</b>", HTTP_USER_AGENT=CHROME)
    request.user = staff
    VisitorMiddleware(lambda r: None).process_request(request)  # type: ignore[arg-type,return-value]
    html = render("{% personalize_toolbar %}", request)
    assert "&lt;b&gt;x&lt;/b&gt;" in html and "<b>x</b>" not in html
    assert "no such segment" in html
