"""The campaign admin: list numbers, actions, the change form, results, preview, coupons, leads."""

from __future__ import annotations

import csv
import html
import io
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser, Permission
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from personalize.campaigns import admin as campaign_admin
from personalize.campaigns import coupons
from personalize.campaigns import results as results_page
from personalize.campaigns.forms import removed_markup
from personalize.campaigns.measurement import VariantResult
from personalize.campaigns.models import Campaign, CouponCode, Lead, Variant
from personalize.campaigns.preview import (
    SAMPLE_COUPON,
    compile_campaign,
    forced_placement,
    preview_url,
    safe_preview_path,
)
from personalize.campaigns.registry import get_campaign_registry
from personalize.models import ConfigVersion, Segment
from personalize.stats import compare_proportions, nice_ceiling, wilson_interval
from personalize.tracking.history import HistoricalEvent, import_history
from tests.pages import plain, text_of

pytestmark = pytest.mark.django_db

LIST_URL = "/admin/personalize/campaign/"
ADD_URL = "/admin/personalize/campaign/add/"
LEADS_URL = "/admin/personalize/lead/"
T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)
XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'


@pytest.fixture(autouse=True)
def _empty_cache() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()


def version() -> int:
    row = ConfigVersion.objects.filter(pk=1).first()
    return row.version if row else 0


def make_campaign(variants: tuple[str, ...] = ("a",), **fields: Any) -> Campaign:
    defaults: dict[str, Any] = {"name": "Spring sale", "slug": "spring-sale"}
    campaign = Campaign.objects.create(**{**defaults, **fields})
    for key in variants:
        Variant.objects.create(campaign=campaign, key=key, title=f"Title {key}")
    return campaign


def url(campaign: Campaign, suffix: str) -> str:
    return f"{LIST_URL}{campaign.pk}/{suffix}"


def form_data(
    campaign: Campaign | None = None,
    /,
    variants: list[dict[str, Any]] | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    """A complete, valid POST for the change form; ``overrides`` replace fields."""
    data: dict[str, Any] = {
        "name": campaign.name if campaign else "Spring sale",
        "slug": campaign.slug if campaign else "spring-sale",
        "kind": "popup",
        "slot_name": "",
        "position": "center",
        "status": "draft",
        "priority": "0",
        "starts_at_0": "",
        "starts_at_1": "",
        "ends_at_0": "",
        "ends_at_1": "",
        "include_mode": "any",
        "page_rules_editor": "json",
        "page_rules": "{}",
        "trigger": "immediate",
        "trigger_value": "0",
        "frequency": "once_per_visit",
        "frequency_days": "7",
        "stop_after_conversion": "on",
        "max_impressions": "",
        "control_percent": "0",
        "attribution_days": "7",
        "coupon_mode": "none",
        "coupon_code": "",
        "countdown_mode": "none",
        "countdown_ends_at_0": "",
        "countdown_ends_at_1": "",
        "countdown_minutes": "30",
        "capture_consent_text": "Send me offers by email.",
    }
    existing = list(campaign.variants.order_by("key")) if campaign else []
    rows = variants if variants is not None else [{"key": "a", "title": "Hello"}]
    data.update(
        {
            "variants-TOTAL_FORMS": str(max(len(rows), len(existing))),
            "variants-INITIAL_FORMS": str(len(existing)),
            "variants-MIN_NUM_FORMS": "0",
            "variants-MAX_NUM_FORMS": "1000",
        }
    )
    for index, row in enumerate(rows):
        values = {
            "key": "a",
            "weight": "1",
            "title": "",
            "body": "",
            "image_url": "",
            "cta_label": "",
            "cta_url": "",
            "dismiss_label": "No thanks",
            "accent_color": "#e8613c",
            "background_color": "#ffffff",
            "text_color": "#1f2937",
            **row,
        }
        if index < len(existing):
            values["id"] = str(existing[index].pk)
            values["campaign"] = str(campaign.pk) if campaign else ""
        for name, value in values.items():
            data[f"variants-{index}-{name}"] = value
    data.update(overrides)
    return data


def post_form(client: Client, data: dict[str, Any], campaign: Campaign | None = None) -> Any:
    return client.post(url(campaign, "change/") if campaign else ADD_URL, data)


def form_errors(response: Any) -> str:
    """The text of every error list on the page."""
    body = response.content.decode()
    lists = re.findall(r'<ul class="errorlist[^"]*"[^>]*>(.*?)</ul>', body, re.S)
    lists += re.findall(r'<p class="errornote">(.*?)</p>', body, re.S)
    lists += re.findall(r'<p class="pz-pr-error"[^>]*>(.*?)</p>', body, re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", " ".join(lists)))


def vid(n: int) -> str:
    return f"{n:032x}"


def exposure(slug: str, n: int, variant: str, at: datetime = T0) -> HistoricalEvent:
    name = "campaign_exposure" if variant == "control" else "campaign_impression"
    return HistoricalEvent(vid(n), name, at, {"campaign": slug, "variant": variant})


def campaign_event(slug: str, n: int, variant: str, kind: str) -> HistoricalEvent:
    return HistoricalEvent(vid(n), f"campaign_{kind}", T0, {"campaign": slug, "variant": variant})


def purchase(n: int, value: float, at: datetime = T0 + timedelta(days=1)) -> HistoricalEvent:
    return HistoricalEvent(
        vid(n),
        "purchase",
        at,
        {
            "order_id": f"o-{n}-{at.timestamp()}",
            "value": value,
            "items": [{"product_id": 1, "price": value, "quantity": 1}],
        },
    )


def arm(
    slug: str, variant: str, start: int, visitors: int, buyers: int, value: float = 40.0
) -> list[HistoricalEvent]:
    """``visitors`` exposed to ``variant``, the first ``buyers`` of them buying once."""
    events = [exposure(slug, start + i, variant) for i in range(visitors)]
    events += [purchase(start + i, value) for i in range(buyers)]
    return events


def staff_user(*codenames: str, username: str = "merch") -> Any:
    user = get_user_model().objects.create_user(username, password="pw", is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(content_type__app_label="personalize", codename__in=codenames)
    )
    return user


# --- change list ------------------------------------------------------------------------


def test_changelist_shows_numbers_schedule_targeting_and_pools(admin_client: Client) -> None:
    cats = Segment.objects.create(name="Cat owners", slug="cat-owners", condition={})
    dogs = Segment.objects.create(name="Dog owners", slug="dog-owners", condition={})
    signed = Segment.objects.create(name="Signed in", slug="signed-in", condition={})
    promo = make_campaign(
        ("a", "b"),
        name="Promo",
        slug="promo",
        status="active",
        control_percent=10,
        starts_at=datetime(2026, 3, 1, 10, tzinfo=UTC),
        ends_at=datetime(2026, 3, 31, tzinfo=UTC),
    )
    promo.include_segments.set([cats, dogs])
    promo.exclude_segments.set([signed])
    make_campaign(name="Quiet", slug="quiet", coupon_mode="fixed", coupon_code="WELCOME10")
    pool = make_campaign(name="Pool", slug="pool", coupon_mode="pool")
    CouponCode.objects.create(campaign=pool, code="AAA111")
    CouponCode.objects.create(campaign=pool, code="AAA222")
    CouponCode.objects.create(campaign=pool, code="AAA333", visitor_id=vid(1))
    make_campaign(name="Empty pool", slug="empty-pool", coupon_mode="pool")
    import_history(
        [
            *arm("promo", "a", 0, 8, 2),  # 8 impressions, 2 buyers
            *arm("promo", "b", 100, 2, 1),
            *arm("promo", "control", 200, 10, 9),  # control is not in the list's numbers
            campaign_event("promo", 0, "a", "click"),
            campaign_event("promo", 1, "a", "click"),
            campaign_event("promo", 100, "b", "click"),
        ]
    )
    response = admin_client.get(LIST_URL)
    assert response.status_code == 200
    body = text_of(response)
    row = re.search(r"<tr[^>]*>(?:(?!</tr>).)*Promo(?:(?!</tr>).)*</tr>", body, re.S)
    assert row is not None
    cells = dict(re.findall(r'<td class="field-(\w+)[^"]*">(.*?)</td>', row.group(0), re.S))
    assert cells["impressions"] == "10"
    assert cells["ctr"] == "30.0%"
    assert cells["conversion"] == "30.0%"  # 3 buyers of 10 exposed
    assert '<span class="pz-badge pz-badge-active">Active</span>' in cells["status_badge"]
    assert cells["schedule"].startswith("from 1 Mar 2026 10:00 until 31 Mar 2026 00:00")
    assert "any of Cat owners, Dog owners" in cells["targeting"]
    assert "not Signed in" in cells["targeting"]
    assert "Results" in cells["report_links"] and "Preview" in cells["report_links"]
    text = plain(response)
    assert "2 codes left" in text
    assert "pool exhausted" in text
    assert "code WELCOME10" in text
    quiet = re.search(r"<tr[^>]*>(?:(?!</tr>).)*Quiet(?:(?!</tr>).)*</tr>", body, re.S)
    assert quiet is not None
    assert '<td class="field-impressions">—</td>' in quiet.group(0)
    assert "always" in quiet.group(0)


def test_schedule_text() -> None:
    now = datetime(2026, 3, 10, tzinfo=UTC)
    campaign = Campaign(name="x", slug="x")
    assert campaign_admin.schedule_text(campaign, now) == "always"
    campaign.starts_at = datetime(2026, 4, 1, 9, tzinfo=UTC)
    assert campaign_admin.schedule_text(campaign, now) == "from 1 Apr 2026 09:00 (not started)"
    campaign.starts_at = None
    campaign.ends_at = datetime(2026, 3, 1, tzinfo=UTC)
    assert campaign_admin.schedule_text(campaign, now) == "until 1 Mar 2026 00:00 (ended)"
    campaign.ends_at = datetime(2026, 5, 1, tzinfo=UTC)
    assert campaign_admin.schedule_text(campaign, now) == "until 1 May 2026 00:00"


def test_changelist_queries_do_not_grow_with_campaigns(admin_client: Client) -> None:
    segment = Segment.objects.create(name="Cats", slug="cats", condition={})

    def count_queries() -> int:
        admin_client.get(LIST_URL)  # fill the numbers cache for new campaigns
        with CaptureQueriesContext(connection) as queries:
            assert admin_client.get(LIST_URL).status_code == 200
        return len(queries)

    first = make_campaign(name="C0", slug="c-0", coupon_mode="pool")
    first.include_segments.set([segment])
    before = count_queries()
    for number in range(1, 9):
        campaign = make_campaign(name=f"C{number}", slug=f"c-{number}", coupon_mode="pool")
        campaign.include_segments.set([segment])
        campaign.exclude_segments.set([segment])
        CouponCode.objects.create(campaign=campaign, code=f"CODE{number}")
    assert count_queries() == before


def test_numbers_are_computed_for_the_page_only_and_cached(
    admin_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    for number in range(5):
        make_campaign(name=f"C{number}", slug=f"c-{number}")
    computed: list[str] = []
    real = campaign_admin.campaign_results

    def counting(slug: str, *args: Any, **kwargs: Any) -> Any:
        computed.append(slug)
        return real(slug, *args, **kwargs)

    monkeypatch.setattr(campaign_admin, "campaign_results", counting)
    monkeypatch.setattr(campaign_admin.CampaignAdmin, "list_per_page", 2)
    assert admin_client.get(LIST_URL).status_code == 200
    assert sorted(computed) == ["c-0", "c-1"]
    admin_client.get(LIST_URL)
    assert len(computed) == 2  # cached
    admin_client.get(LIST_URL, {"p": "2"})
    assert sorted(computed) == ["c-0", "c-1", "c-2", "c-3"]
    cache.clear()
    admin_client.get(LIST_URL)
    assert len(computed) == 6


def test_filters_and_search(admin_client: Client) -> None:
    make_campaign(name="Hello bar", slug="hello-bar", kind="bar", position="top")
    make_campaign(name="Big popup", slug="big-popup", status="active")
    body = plain(admin_client.get(LIST_URL, {"kind__exact": "bar"}))
    assert "Hello bar" in body and "Big popup" not in body
    body = plain(admin_client.get(LIST_URL, {"status__exact": "active"}))
    assert "Big popup" in body and "Hello bar" not in body
    body = plain(admin_client.get(LIST_URL, {"q": "hello"}))
    assert "Hello bar" in body and "Big popup" not in body


# --- actions ----------------------------------------------------------------------------


def run_action(client: Client, action: str, *campaigns: Campaign) -> Any:
    return client.post(
        LIST_URL,
        {"action": action, "_selected_action": [str(c.pk) for c in campaigns]},
        follow=True,
    )


def test_activate_and_pause(admin_client: Client, django_capture_on_commit_callbacks: Any) -> None:
    ready = make_campaign(name="Ready", slug="ready")
    empty = make_campaign((), name="Empty", slug="empty")
    off = make_campaign(name="Off", slug="off")
    Variant.objects.filter(campaign=off).update(weight=0)
    before = version()
    with django_capture_on_commit_callbacks(execute=True):
        response = run_action(admin_client, "activate_campaigns", ready, empty, off)
    text = plain(response)
    assert "Activated 1 campaign(s)." in text
    assert "Not activated, as they have no variant with a weight above 0" in text
    assert "Empty, Off" in text
    assert version() > before
    assert Campaign.objects.get(pk=ready.pk).status == "active"
    assert Campaign.objects.get(pk=empty.pk).status == "draft"

    before = version()
    with django_capture_on_commit_callbacks(execute=True):
        response = run_action(admin_client, "pause_campaigns", ready, empty)
    assert "Paused 1 active campaign(s)." in plain(response)
    assert version() > before
    assert Campaign.objects.get(pk=ready.pk).status == "paused"
    assert Campaign.objects.get(pk=empty.pk).status == "draft"


def test_duplicate_copies_variants_and_segments_but_not_coupons(admin_client: Client) -> None:
    cats = Segment.objects.create(name="Cats", slug="cats", condition={})
    dogs = Segment.objects.create(name="Dogs", slug="dogs", condition={})
    original = make_campaign(
        ("a", "b"), status="active", coupon_mode="pool", control_percent=20, priority=5
    )
    original.include_segments.set([cats])
    original.exclude_segments.set([dogs])
    Variant.objects.filter(campaign=original, key="b").update(weight=3, body="<p>Hi</p>")
    CouponCode.objects.create(campaign=original, code="ABC123")
    response = run_action(admin_client, "duplicate_campaigns", original)
    assert "Created 1 draft copy: Copy of Spring sale." in plain(response)
    copy = Campaign.objects.get(slug="spring-sale-copy")
    assert copy.status == "draft"
    assert (copy.coupon_mode, copy.control_percent, copy.priority) == ("pool", 20, 5)
    assert list(copy.include_segments.values_list("slug", flat=True)) == ["cats"]
    assert list(copy.exclude_segments.values_list("slug", flat=True)) == ["dogs"]
    assert list(copy.variants.values_list("key", "weight", "body")) == [
        ("a", 1, ""),
        ("b", 3, "<p>Hi</p>"),
    ]
    assert not CouponCode.objects.filter(campaign=copy).exists()
    assert Variant.objects.filter(campaign=original).count() == 2  # the original is untouched
    run_action(admin_client, "duplicate_campaigns", original)
    run_action(admin_client, "duplicate_campaigns", original)
    slugs = set(Campaign.objects.values_list("slug", flat=True))
    assert {"spring-sale-copy", "spring-sale-copy-2", "spring-sale-copy-3"} <= slugs


def test_actions_follow_permissions(client: Client) -> None:
    make_campaign()
    client.force_login(staff_user("view_campaign", "change_campaign"))
    body = client.get(LIST_URL).content.decode()
    assert 'value="activate_campaigns"' in body
    assert 'value="pause_campaigns"' in body
    assert 'value="duplicate_campaigns"' not in body  # needs the add permission
    client.force_login(staff_user("view_campaign", username="viewer"))
    body = client.get(LIST_URL).content.decode()
    assert 'value="activate_campaigns"' not in body


# --- the change form --------------------------------------------------------------------


def test_add_form_renders_fieldsets_rows_and_two_blank_variants(admin_client: Client) -> None:
    response = admin_client.get(ADD_URL)
    assert response.status_code == 200
    body = text_of(response)
    for heading in (
        "Basics",
        "Targeting",
        "Trigger",
        "Frequency",
        "Experiment",
        "Coupon",
        "Countdown",
        "Email capture",
    ):
        assert f">{heading}</h2>" in body
    assert 'name="variants-TOTAL_FORMS" value="2"' in body
    assert 'name="page_rules_editor" value="rows" checked' in body
    assert body.count("data-pr-row>") >= 2  # blank rows to add rules without JavaScript
    assert 'type="checkbox" name="devices" value="mobile"' in body
    assert "Save the campaign first, then upload a CSV file of codes." in body
    assert "personalize/admin/campaign-page-rules.js" in body
    assert "selectfilter" in body.lower()  # segments use filter_horizontal


def test_create_a_campaign_with_rows_devices_and_two_variants(
    admin_client: Client, django_capture_on_commit_callbacks: Any
) -> None:
    cats = Segment.objects.create(name="Cat owners", slug="cat-owners", condition={})
    data = form_data(
        variants=[
            {
                "key": "a",
                "title": "Hi {{ first_name|default:'friend' }}",
                "body": '<p>Save <strong>10%</strong> <a href="/c/cats/" onclick="x()">now</a></p>'
                "<script>steal()</script>",
                "cta_label": "Shop",
                "cta_url": " /c/cats/ ",
                "accent_color": "#E8613C",
            },
            {"key": "b", "title": "Plain", "weight": "3", "background_color": ""},
        ],
        status="active",
        include_segments=[str(cats.pk)],
        devices=["mobile", "desktop"],
        page_rules_editor="rows",
        page_rules="ignored when the rows are used",
        **{
            "pr-0-side": "include",
            "pr-0-match": "prefix",
            "pr-0-value": " /p/ ",
            "pr-1-side": "exclude",
            "pr-1-match": "equals",
            "pr-1-value": "/p/secret/",
            "pr-7-side": "include",
            "pr-7-match": "prefix",
            "pr-7-value": "",
        },
    )
    before = version()
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(ADD_URL, data, follow=True)
    assert response.status_code == 200
    assert form_errors(response).strip() == ""
    campaign = Campaign.objects.get(slug="spring-sale")
    assert campaign.status == "active"
    assert campaign.devices == ["mobile", "desktop"]
    assert campaign.page_rules == {
        "include": [{"match": "prefix", "value": "/p/"}],
        "exclude": [{"match": "equals", "value": "/p/secret/"}],
    }
    assert list(campaign.include_segments.all()) == [cats]
    a, b = campaign.variants.order_by("key")
    assert "<script>" not in a.body and "onclick" not in a.body and "steal" not in a.body
    assert '<a href="/c/cats/" rel="noopener noreferrer">now</a>' in a.body
    assert a.cta_url == "/c/cats/"
    assert a.accent_color == "#e8613c"
    assert (b.weight, b.background_color) == (3, "")
    messages = plain(response)
    assert "Variant “a”: removed from the body because campaign content may not contain it" in (
        messages
    )
    assert "&lt;script&gt;, onclick on &lt;a&gt;" in response.content.decode()
    assert "Variant “b”" not in messages
    assert version() > before


def test_change_form_shows_pool_counts_and_warns_when_empty(admin_client: Client) -> None:
    campaign = make_campaign(coupon_mode="pool", status="active")
    body = plain(admin_client.get(url(campaign, "change/")))
    assert "This campaign has stopped showing: its coupon pool is empty. Upload more codes." in body
    assert "0 codes, 0 handed out, 0 left" in body
    CouponCode.objects.create(campaign=campaign, code="AAA111", visitor_id=vid(1))
    CouponCode.objects.create(campaign=campaign, code="AAA222")
    body = plain(admin_client.get(url(campaign, "change/")))
    assert "stopped showing" not in body
    assert "2 codes, 1 handed out, 1 left" in body
    assert f"{LIST_URL}{campaign.pk}/coupons/upload/" in text_of(
        admin_client.get(url(campaign, "change/"))
    )
    Campaign.objects.filter(pk=campaign.pk).update(status="draft")
    CouponCode.objects.filter(campaign=campaign).update(visitor_id=vid(2))
    body = plain(admin_client.get(url(campaign, "change/")))
    assert "Its coupon pool is empty: the campaign will not show until it has codes." in body


def test_existing_rules_show_as_rows_and_odd_ones_as_json(admin_client: Client) -> None:
    campaign = make_campaign(page_rules={"include": [{"match": "regex", "value": "^/p/\\d+"}]})
    body = text_of(admin_client.get(url(campaign, "change/")))
    assert 'value="^/p/\\d+"' in body
    assert '<option value="regex" selected>' in body
    Campaign.objects.filter(pk=campaign.pk).update(page_rules={"include": "/p/"})
    body = text_of(admin_client.get(url(campaign, "change/")))
    assert "These page rules cannot be shown as rows" in body
    assert 'name="page_rules_editor" value="json"' in body


def test_json_editor_saves_rules_and_rows_come_back(admin_client: Client) -> None:
    campaign = make_campaign()
    rules = '{"include": [{"match": "contains", "value": "cat"}]}'
    response = post_form(admin_client, form_data(campaign, page_rules=rules), campaign)
    assert response.status_code == 302, form_errors(response)
    campaign.refresh_from_db()
    assert campaign.page_rules == {"include": [{"match": "contains", "value": "cat"}]}
    # A JSON error keeps the rows the valid JSON would give (here: the saved rules).
    response = post_form(admin_client, form_data(campaign, page_rules="{"), campaign)
    assert "The page rules are not valid JSON" in form_errors(response)
    assert 'value="cat"' in response.content.decode()
    response = post_form(admin_client, form_data(campaign, page_rules='{"include": 5}'), campaign)
    assert "include must be a list of rules." in form_errors(response)
    assert "These page rules cannot be shown as rows" not in text_of(response)


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"name": ""}, "name", "This field is required."),
        ({"name": "x" * 121}, "name", "at most 120 characters"),
        ({"slug": "no spaces!"}, "slug", "Enter a valid “slug”"),
        ({"kind": "modal"}, "kind", "Select a valid choice"),
        ({"kind": "slot", "position": "center"}, "slot_name", "Inline slots need the slot name"),
        ({"kind": "bar", "position": "center"}, "position", "choose Top or Bottom"),
        ({"kind": "slidein", "position": "top"}, "position", "choose Bottom right or Bottom left"),
        ({"kind": "popup", "position": "top"}, "position", "choose Centre"),
        (
            {"kind": "slot", "slot_name": "hero", "trigger": "exit"},
            "trigger",
            "choose Immediately",
        ),
        ({"priority": "99999"}, "priority", "from -1,000 to 1,000"),
        ({"priority": "1e309"}, "priority", "Enter a whole number from -1,000 to 1,000"),
        (
            {
                "starts_at_0": "2026-03-10",
                "starts_at_1": "10:00",
                "ends_at_0": "2026-03-01",
                "ends_at_1": "10:00",
            },
            "ends_at",
            "The end must be after the start.",
        ),
        ({"starts_at_0": "31/31/2026", "starts_at_1": "25:99"}, "starts_at", "Enter a valid date"),
        ({"include_segments": ["999999"]}, "include_segments", "Select a valid choice"),
        ({"include_mode": "most"}, "include_mode", "Select a valid choice"),
        ({"devices": ["fridge"]}, "devices", "Select a valid choice. fridge is not one"),
        ({"trigger": "scroll", "trigger_value": "150"}, "trigger_value", "from 1 to 100"),
        ({"trigger": "pageview", "trigger_value": "0"}, "trigger_value", "starts at 1"),
        ({"trigger": "delay", "trigger_value": "0"}, "trigger_value", "from 1"),
        ({"trigger_value": "-5"}, "trigger_value", "from 0 to 86,400"),
        ({"frequency_days": "0"}, "frequency_days", "from 1 to 3,650"),
        ({"max_impressions": "0"}, "max_impressions", "leave empty for no limit"),
        ({"control_percent": "95"}, "control_percent", "from 0 to 90"),
        ({"attribution_days": "365"}, "attribution_days", "from 1 to 90"),
        ({"coupon_mode": "fixed"}, "coupon_code", "Enter the code to show"),
        ({"coupon_mode": "fixed", "coupon_code": "AB"}, "coupon_code", "is too short"),
        (
            {"coupon_mode": "fixed", "coupon_code": "TEN OFF"},
            "coupon_code",
            "may only contain letters A-Z, digits, _ and -",
        ),
        ({"countdown_mode": "fixed"}, "countdown_ends_at", "Enter when the countdown ends."),
        ({"countdown_minutes": "0"}, "countdown_minutes", "at most a week"),
        (
            {"capture_consent_text": "Hi {{ first_name }}"},
            "capture_consent_text",
            "no tokens can be used here",
        ),
        ({"capture_consent_text": "x" * 301}, "capture_consent_text", "at most 300"),
        ({"page_rules": "[1, 2"}, "page_rules", "The page rules are not valid JSON"),
        ({"page_rules": "NaN"}, "page_rules", "not valid JSON"),
        ({"page_rules": "x" * 20_001}, "page_rules", "The page rules JSON is too long"),
        ({"page_rules": '{"sometimes": []}'}, "page_rules", 'Page rules are {"include"'),
        (
            {"page_rules": '{"include": [{"match": "prefix", "value": "p/"}]}'},
            "page_rules",
            "include[0]: Paths start with /",
        ),
        (
            {"page_rules": '{"include": [{"match": "regex", "value": "(a+)+$"}]}'},
            "page_rules",
            "repeats a repeated group",
        ),
        (
            {"page_rules": '{"exclude": [{"match": "regex", "value": "(unclosed"}]}'},
            "page_rules",
            "invalid regular expression",
        ),
        (
            {"page_rules": '{"include": [{"match": "equals", "value": "/", "x": 1}]}'},
            "page_rules",
            "unknown key 'x'",
        ),
        (
            {"page_rules": '{"include": [{"match": "contains", "value": "' + "a" * 301 + '"}]}'},
            "page_rules",
            "Keep the value under 300 characters.",
        ),
        (
            {
                "page_rules": '{"include": '
                + str([{"match": "contains", "value": "a"}] * 51).replace("'", '"')
                + "}"
            },
            "page_rules",
            "At most 50 page rules",
        ),
    ],
)
def test_campaign_field_errors_name_the_fix(
    admin_client: Client, overrides: dict[str, Any], field: str, message: str
) -> None:
    response = post_form(admin_client, form_data(**overrides))
    assert response.status_code == 200
    form = response.context["adminform"].form
    assert field in form.errors, form.errors
    assert message in " ".join(form.errors[field])
    assert not Campaign.objects.exists()


@pytest.mark.parametrize(
    ("row", "field", "message"),
    [
        ({"key": "", "title": "Hi"}, "key", "This field is required."),
        ({"key": "b c"}, "key", "Enter a valid “slug”"),
        ({"key": "Control"}, "key", "hold-out group"),
        ({"key": "x" * 21}, "key", "at most 20 characters"),
        ({"weight": "-1"}, "weight", "from 0 to 1,000,000"),
        ({"weight": "abc"}, "weight", "Enter a whole number"),
        (
            {"title": "Hi {{ frist_name }}"},
            "title",
            "Unknown token {{ frist_name }}: use one of cart_items",
        ),
        ({"title": "Hi {{ frist_name }}"}, "title", "did you mean first_name?"),
        ({"title": "{% if x %}Hi{% endif %}"}, "title", "is not a token"),
        ({"title": "x" * 201}, "title", "at most 200 characters"),
        ({"body": "<p>{{ cart.__class__ }}</p>"}, "body", "is not a token"),
        ({"body": "<p>" + "x" * 20_001 + "</p>"}, "body", "The body is too long"),
        ({"cta_label": "Go {{ nope }}", "cta_url": "/"}, "cta_label", "Unknown token"),
        ({"cta_label": "Go"}, "cta_url", "The button needs a link"),
        ({"cta_url": "/c/"}, "cta_label", "Enter the button text"),
        (
            {"cta_label": "Go", "cta_url": "javascript:alert(1)"},
            "cta_url",
            "Use an https:// URL or a path starting with /",
        ),
        ({"cta_label": "Go", "cta_url": "//evil.example/"}, "cta_url", "not a safe link"),
        ({"image_url": "data:image/png;base64,AAAA"}, "image_url", "Use an https:// URL"),
        ({"image_url": "https://user@evil.example/x.png"}, "image_url", "not a safe link"),
        ({"dismiss_label": "Bye {{ first_name }}"}, "dismiss_label", "no tokens can be used"),
        ({"accent_color": "red"}, "accent_color", "Use a hex colour like #e8613c"),
        ({"background_color": "#fff;}body{x"}, "background_color", "Use a hex colour"),
        ({"text_color": "url(x)"}, "text_color", "Use a hex colour like #e8613c"),
    ],
)
def test_variant_field_errors_name_the_fix(
    admin_client: Client, row: dict[str, Any], field: str, message: str
) -> None:
    response = post_form(admin_client, form_data(variants=[{"key": "a", **row}]))
    assert response.status_code == 200
    formset = response.context["inline_admin_formsets"][0].formset
    errors = formset.forms[0].errors
    assert field in errors, errors
    assert message in " ".join(errors[field])
    assert not Campaign.objects.exists()


def test_variant_set_rules(admin_client: Client) -> None:
    response = post_form(
        admin_client, form_data(variants=[{"key": "a"}, {"key": "A"}], status="draft")
    )
    assert "Two variants are called “A”" in form_errors(response)
    response = post_form(admin_client, form_data(variants=[], status="active"))
    assert "An active campaign needs at least one variant with a weight above 0" in form_errors(
        response
    )
    response = post_form(
        admin_client, form_data(variants=[{"key": "a", "weight": "0"}], status="active")
    )
    assert "An active campaign needs at least one variant" in form_errors(response)
    # A draft may have none, and deleting the last variant of a draft is fine.
    response = post_form(admin_client, form_data(variants=[], status="draft"))
    assert response.status_code == 302
    campaign = make_campaign(("a", "b"), name="Other", slug="other", status="active")
    data = form_data(
        campaign,
        variants=[{"key": "a", "DELETE": "on"}, {"key": "b", "weight": "0"}],
        status="active",
    )
    response = post_form(admin_client, data, campaign)
    assert "An active campaign needs at least one variant" in form_errors(response)
    data["status"] = "paused"
    response = post_form(admin_client, data, campaign)
    assert response.status_code == 302, form_errors(response)
    assert list(campaign.variants.values_list("key", flat=True)) == ["b"]


def test_page_rule_rows_report_each_bad_row(admin_client: Client) -> None:
    data = form_data(
        page_rules_editor="rows",
        **{
            "pr-0-side": "include",
            "pr-0-match": "prefix",
            "pr-0-value": "p/",
            "pr-1-side": "sometimes",
            "pr-1-match": "prefix",
            "pr-1-value": "/a/",
            "pr-2-side": "include",
            "pr-2-match": "fuzzy",
            "pr-2-value": "/b/",
            "pr-3-side": "exclude",
            "pr-3-match": "regex",
            "pr-3-value": "[",
            "pr-4-side": "exclude",
            "pr-4-match": "contains",
            "pr-4-value": "ok",
        },
    )
    response = post_form(admin_client, data)
    errors = form_errors(response)
    assert "Fix the page rules marked below." in errors
    assert "Paths start with /, for example /p/" in errors
    assert "Choose whether to show or never show" in errors
    assert "Choose how to match the path" in errors
    assert "Not a valid regular expression" in errors
    assert errors.count("pz-pr-error") == 0
    body = text_of(response)
    assert body.count("pz-pr-row pz-pr-row-error") == 4
    assert 'value="ok"' in body  # the good row is kept as typed
    too_many = form_data(
        page_rules_editor="rows",
        **{f"pr-{n}-side": "include" for n in range(51)},
        **{f"pr-{n}-match": "contains" for n in range(51)},
        **{f"pr-{n}-value": f"v{n}" for n in range(51)},
    )
    assert "At most 50 page rules" in form_errors(post_form(admin_client, too_many))


ODD_VALUES: list[Any] = [
    "",
    " ",
    "0",
    "-1",
    "99999999999999999999999999",
    "1e309",
    "NaN",
    "null",
    "[]",
    "{}",
    '{"include": [{"match": "regex", "value": "("}]}',
    "\x00",
    "{{",
    "{% load x %}",
    XSS,
    "javascript:alert(1)",
    "😀" * 50,
    "x" * 100_000,
    ["a", "b"],
]


class _Rollback(Exception):
    pass


class AdminForms:
    """The admin's own campaign form and variant formset, built once, validated many times."""

    def __init__(self, campaign: Campaign, user: Any) -> None:
        from django.contrib import admin

        model_admin = admin.site._registry[Campaign]
        request = RequestFactory().post("/")
        request.user = user
        self.campaign = campaign
        self.form_class = model_admin.get_form(request, campaign, change=True)
        self.inline = model_admin.get_inline_instances(request, campaign)[0]
        self.formset_class = self.inline.get_formset(request, campaign)
        self.queryset = self.inline.get_queryset(request)

    def validate(self, posted: dict[str, Any]) -> bool:
        """Validate ``posted``; save it (and roll back) if valid, else insist on an error."""
        from django.db import transaction
        from django.utils.datastructures import MultiValueDict

        data = MultiValueDict(
            {key: value if isinstance(value, list) else [value] for key, value in posted.items()}
        )
        form = self.form_class(data, instance=Campaign.objects.get(pk=self.campaign.pk))
        valid = form.is_valid()
        instance = form.save(commit=False) if valid else form.instance
        formset = self.formset_class(
            data,
            instance=instance,
            prefix=self.formset_class.get_default_prefix(),
            queryset=self.queryset.all(),
        )
        valid = formset.is_valid() and valid
        assert "pz-page-rules" in str(form["page_rules"])  # the custom widget renders any input
        if valid:
            with pytest.raises(_Rollback), transaction.atomic():
                form.save()
                form.save_m2m()
                formset.save()
                raise _Rollback
        else:
            assert form.errors or formset.total_error_count(), posted
        return valid


def fuzz_cases(base: dict[str, Any]) -> Iterator[tuple[str, Any, dict[str, Any]]]:
    fields = [
        name
        for name in base
        if not name.startswith("variants-") or name.split("-")[-1] not in ("id", "campaign")
    ]
    fields += ["pr-0-side", "pr-0-match", "pr-0-value", "devices", "include_segments"]
    for index, name in enumerate(fields):
        for number, value in enumerate(ODD_VALUES):
            data = {**base, name: value}
            if name.startswith("pr-"):
                data.update({"page_rules_editor": "rows", "pr-0-value": "/x/", name: value})
            yield name, value, data


def test_fuzz_every_field_gives_a_form_error_never_a_crash() -> None:
    """Every odd value in every field, through the admin's form and formset (fast)."""
    user = get_user_model().objects.create_superuser("boss", "b@example.com", "pw")
    campaign = make_campaign(("a",), slug="fuzz")
    base = form_data(campaign, variants=[{"key": "a", "title": "Hi"}])
    forms = AdminForms(campaign, user)
    outcomes = {forms.validate(data) for _, _, data in fuzz_cases(base)}
    assert outcomes == {True, False}


def test_fuzz_through_the_admin_never_a_500(admin_client: Client) -> None:
    """Each field once through the real view (values rotate), so rendering is covered too."""
    admin_client.raise_request_exception = True
    campaign = make_campaign(("a",), slug="fuzz")
    base = form_data(campaign, variants=[{"key": "a", "title": "Hi"}])
    cases = list(fuzz_cases(base))
    count = len(ODD_VALUES)
    chosen = [case for index, case in enumerate(cases) if index % count == (index // count) % count]
    outcomes: set[int] = set()
    for name, value, data in chosen:
        response = post_form(admin_client, data, campaign)
        outcomes.add(response.status_code)
        assert response.status_code in (200, 302), (name, value)
        if response.status_code == 200:
            assert "errornote" in response.content.decode(), (name, value)
        else:
            campaign.refresh_from_db()
            variant = campaign.variants.get()
            assert "<script>" not in variant.body
            assert variant.cta_url == "" or variant.cta_url.startswith(("/", "https:", "http:"))
    assert outcomes == {200, 302}


def test_removed_markup_names_what_went() -> None:
    assert removed_markup("<p>Hi</p>", "<p>Hi</p>") == []
    assert removed_markup(
        '<p onclick="x">Hi<script>s()</script></p><!-- note --><a href="javascript:x">a</a>',
        "<p>Hi</p><a>a</a>",
    ) == ["<script>", "onclick on <p>", "href on <a>", "comments"]


# --- results ----------------------------------------------------------------------------


def percent(rate: float) -> str:
    return f"{rate * 100:.1f}%"


def test_results_page_numbers_from_the_event_log(admin_client: Client) -> None:
    campaign = make_campaign(
        ("b",), name="Promo", slug="promo", control_percent=50, attribution_days=7, status="active"
    )
    events = [
        *arm("promo", "control", 0, 400, 20),
        *arm("promo", "b", 1000, 400, 48),
        *[campaign_event("promo", 1000 + i, "b", "click") for i in range(40)],
        *[campaign_event("promo", 1000 + i, "b", "close") for i in range(30)],
        *[campaign_event("promo", 1000 + i, "b", "convert") for i in range(12)],
        exposure("promo", 1000, "b", T0 + timedelta(hours=2)),  # a second impression
        purchase(1001, 100.0, T0 + timedelta(days=3)),  # a second order, same buyer
        purchase(1100, 500.0, T0 + timedelta(days=9)),  # outside the 7-day window
        purchase(1101, 500.0, T0 - timedelta(days=1)),  # before the exposure
    ]
    import_history(events)
    response = admin_client.get(url(campaign, "results/"))
    assert response.status_code == 200
    body = plain(response)
    comparison = compare_proportions(20, 400, 48, 400, sequential=True)  # the default
    assert comparison.significant and comparison.interval is not None
    low, high = comparison.interval.low * 100, comparison.interval.high * 100
    assert (
        f"B beats control: +7.0 points (95% interval +{low:.1f} to +{high:.1f}), p = 0.04" in body
    )
    wilson_b = wilson_interval(48, 400)
    wilson_c = wilson_interval(20, 400)
    assert wilson_b is not None and wilson_c is not None
    report = response.context["report"]
    control, b = report.rows
    assert (control.label, b.label) == ("Control", "B")
    assert (b.result.exposures, b.result.impressions, b.result.clicks) == (400, 401, 40)
    assert (b.result.closes, b.result.captures, b.result.buyers, b.result.purchases) == (
        30,
        12,
        48,
        49,
    )
    assert b.rate_text == "12.0%" and control.rate_text == "5.0%"
    assert b.interval_text == f"{percent(wilson_b.low)} to {percent(wilson_b.high)}"
    assert control.interval_text == f"{percent(wilson_c.low)} to {percent(wilson_c.high)}"
    assert b.ctr_text == "10.0%"
    assert b.revenue == "2,020.00 EUR"  # 48 * 40 + 100
    assert b.revenue_per_visitor == "5.05 EUR"
    assert control.revenue == "800.00 EUR"
    assert b.difference_text == "+7.0 pts"
    assert b.uplift_text == "+140%"
    assert b.p_value_text == "p = 0.04"  # sequential: more careful than the fixed p < 0.001
    assert f"{percent(wilson_b.low)} to {percent(wilson_b.high)}" in body
    assert "Attribution window: 7 days." in body
    assert "bought within 7 days after first seeing the campaign" in body
    assert "50% of eligible visitors held out as the control group" in body
    svg = response.content.decode()
    assert svg.count('<svg class="pz-chart-svg"') == 2
    assert svg.count('<svg class="pz-chart-svg pz-daily-chart"') == 1  # the day-by-day trend
    assert svg.count('<polyline class="pz-daily-line"') == 2  # control and B
    assert "<script" not in svg.split('<div id="content-main"')[1]
    # The bar for B is longer than control's, and each has a whisker.
    chart = report.conversion_chart
    assert chart is not None
    bars = {row.label: float(row.bar_width) for row in chart.rows}
    assert bars["B"] > bars["Control"] > 0
    assert all(float(row.low) < float(row.high) for row in chart.rows)  # type: ignore[arg-type]


def test_results_verdicts_for_small_and_even_tests(admin_client: Client) -> None:
    tiny = make_campaign(("a", "b"), name="Tiny", slug="tiny")
    even = make_campaign(("a", "b"), name="Even", slug="even")
    rare = make_campaign(("a", "b"), name="Rare", slug="rare")
    import_history(
        [
            *arm("tiny", "a", 0, 24, 2),
            *arm("tiny", "b", 100, 40, 5),
            *arm("even", "a", 1000, 200, 20),
            *arm("even", "b", 2000, 200, 22),
            *arm("rare", "a", 3000, 100, 1),
            *arm("rare", "b", 4000, 100, 2),
        ]
    )
    body = plain(admin_client.get(url(tiny, "results/")))
    assert "B: Not enough data yet: A has 24 exposed visitors; each needs at least 30" in body
    assert "no control group: variants are compared with A" in body
    body = plain(admin_client.get(url(even, "results/")))
    comparison = compare_proportions(20, 200, 22, 200, sequential=True)
    assert comparison.interval is not None and comparison.p_value is not None
    assert (
        f"No significant difference yet: +1.0 points (95% interval "
        f"\u2212{abs(comparison.interval.low) * 100:.1f} to "
        f"+{comparison.interval.high * 100:.1f}), p = {comparison.p_value:.2f}" in body
    )
    body = plain(admin_client.get(url(rare, "results/")))
    assert "B: Not enough data yet: 3 conversions so far (B 2, A 1), too few to compare" in body


def test_results_page_without_data(admin_client: Client) -> None:
    campaign = make_campaign(("a",), status="paused")
    response = admin_client.get(url(campaign, "results/"))
    body = plain(response)
    assert "No one has seen this campaign yet: it is paused." in body
    assert "pz-chart-svg" not in response.content.decode()
    empty = make_campaign((), name="Nothing", slug="nothing")
    assert admin_client.get(url(empty, "results/")).status_code == 200


def test_results_verdict_names_the_arm_it_quotes(admin_client: Client) -> None:
    campaign = make_campaign(("b",), name="New", slug="new", control_percent=50)
    import_history(arm("new", "b", 0, 1, 0))  # B shown to one visitor, control to none
    body = plain(admin_client.get(url(campaign, "results/")))
    assert (
        "B: Not enough data yet: B has 1 exposed visitor and control has 0 exposed visitors; "
        "each needs at least 30" in body
    )
    assert "0 exposures" not in body


def test_results_fixed_horizon_toggle(admin_client: Client) -> None:
    campaign = make_campaign(("b",), name="Promo", slug="promo", control_percent=50)
    import_history([*arm("promo", "control", 0, 400, 20), *arm("promo", "b", 1000, 400, 48)])
    sequential = compare_proportions(20, 400, 48, 400, sequential=True)
    fixed = compare_proportions(20, 400, 48, 400)
    assert sequential.interval is not None and fixed.interval is not None
    response = admin_client.get(url(campaign, "results/"))
    assert response.context["report"].results.sequential
    assert f"+{sequential.interval.low * 100:.1f} to +{sequential.interval.high * 100:.1f}" in (
        plain(response)
    )
    response = admin_client.get(url(campaign, "results/") + "?analysis=fixed")
    body = plain(response)
    assert not response.context["report"].results.sequential
    assert (
        f"(95% interval +{fixed.interval.low * 100:.1f} to +{fixed.interval.high * 100:.1f})"
        in (body)
    )
    assert "Statistics: fixed horizon." in body
    # Revenue per visitor is tested beside conversion, in the same analysis.
    assert "B brings more revenue per visitor: +2.80 EUR per visitor" in body


def test_results_sample_ratio_mismatch_warns_and_withholds_the_verdict(
    admin_client: Client,
) -> None:
    campaign = make_campaign(("b",), name="Skewed", slug="skewed", control_percent=50)
    import_history([*arm("skewed", "control", 0, 300, 15), *arm("skewed", "b", 1000, 420, 60)])
    response = admin_client.get(url(campaign, "results/"))
    body = plain(response)
    assert "Sample ratio mismatch: the visitors were not split as configured" in body
    assert "Control 300 (expected 360), B 420 (expected 360)" in body
    assert "B: No verdict: visitors were not split as configured" in body
    assert "beats" not in body and "brings more" not in body
    assert 'role="alert"' in response.content.decode()
    # The same counts on a split configured 40/60 are what was asked for: no warning.
    campaign.control_percent = 40
    campaign.save()
    body = plain(admin_client.get(url(campaign, "results/")))
    assert "Sample ratio mismatch" not in body


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("period=custom", "Enter the first day of the custom period."),
        ("period=custom&start=2026-03-05&end=2026-03-01", "The start must be on or before"),
        ("period=custom&start=2026-03-01&end=2999-01-01", "The end cannot be in the future"),
        ("period=custom&start=2020-01-01&end=2026-03-01", "at most 366 days long"),
        ("period=custom&start=2026-13-01&end=2026-03-01", "Enter a valid date."),
        ("period=week", "Select a valid choice."),
        ("analysis=bayesian", "Select a valid choice."),
    ],
)
def test_results_period_errors_name_the_field(
    admin_client: Client, query: str, message: str
) -> None:
    campaign = make_campaign(("a",), slug="promo")
    response = admin_client.get(url(campaign, "results/") + "?" + query)
    assert response.status_code == 200
    assert message in plain(response)
    assert response.context["report"] is None
    assert "Fix the period above to see the numbers" in plain(response)


def test_results_for_a_period(admin_client: Client) -> None:
    campaign = make_campaign(("a", "b"), slug="promo")
    later = T0 + timedelta(days=10)
    import_history(
        [
            *arm("promo", "a", 0, 40, 4),
            *arm("promo", "b", 100, 40, 8),
            *[exposure("promo", 200 + i, "b", later) for i in range(5)],
        ]
    )
    query = "?period=custom&start=2026-03-10&end=2026-03-12"
    report = admin_client.get(url(campaign, "results/") + query).context["report"]
    assert {row.label: row.result.exposures for row in report.rows} == {"A": 0, "B": 5}
    assert report.results.since == datetime(2026, 3, 10, tzinfo=timezone.get_current_timezone())
    assert report.trend_chart is not None and len(report.trend_chart.bars) == 3
    # Dates with another period mean the dates: the select shows "Custom" again.
    response = admin_client.get(url(campaign, "results/") + query.replace("custom", "30"))
    assert response.context["report"].results.since == report.results.since
    assert '<option value="custom" selected>' in response.content.decode()
    everything = admin_client.get(url(campaign, "results/") + "?period=all").context["report"]
    assert {row.label: row.result.exposures for row in everything.rows} == {"A": 40, "B": 45}
    recent = admin_client.get(url(campaign, "results/") + "?period=7").context["report"]
    assert not recent.has_data  # everything happened in March


def test_results_queries_do_not_grow_with_visitors(admin_client: Client) -> None:
    small = make_campaign(("a", "b"), name="Small", slug="small")
    large = make_campaign(("a", "b"), name="Large", slug="large")
    import_history([*arm("small", "a", 0, 5, 1), *arm("small", "b", 100, 5, 2)])
    import_history([*arm("large", "a", 1000, 200, 20), *arm("large", "b", 2000, 200, 30)])
    counts = []
    for campaign in (small, large):
        with CaptureQueriesContext(connection) as queries:
            assert admin_client.get(url(campaign, "results/")).status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1]  # under 500 exposed visitors: one attribution query


def test_verdicts_and_formatting() -> None:
    control = VariantResult("control", exposures=1000, buyers=100)
    worse = VariantResult("b", exposures=1000, buyers=60)
    worse.comparison = compare_proportions(100, 1000, 60, 1000)
    verdict = results_page.verdict_for(worse, control)
    assert verdict.tone == "loss"
    assert verdict.text.startswith("B does worse than control: \u22124.0 points (95% interval")
    assert results_page.verdict_for(control, control).tone == "baseline"
    first = VariantResult("long-name", exposures=1000, buyers=100)
    better = VariantResult("b2", exposures=1000, buyers=160)
    better.comparison = compare_proportions(100, 1000, 160, 1000)
    verdict = results_page.verdict_for(better, first)
    assert verdict.tone == "win" and verdict.text.startswith("B2 beats long-name: +6.0 points")
    assert results_page._points(0.0004) == "±0.0"
    assert results_page._points(-0.0006) == "\u22120.1"
    assert results_page._points(0.0) == "±0.0"
    assert results_page._p_value(None) == "—"
    assert results_page._p_value(0.004) == "p = 0.004"
    assert results_page._p_value(0.0123) == "p = 0.01"
    assert results_page.percent_text(0.004) == "0.40%"
    assert results_page.percent_text(None) == "—"
    assert [nice_ceiling(v) for v in (0.013, 0.02, 0.021, 0.3, 0.7, 1.0)] == [
        0.02,
        0.02,
        0.025,
        0.5,
        1.0,
        1.0,
    ]
    assert results_page._tick_percent(0.0025) == "0.25%"
    assert results_page._tick_percent(0.025) == "2.5%"
    assert results_page._tick_percent(0.1) == "10%"
    assert results_page._tick_percent(0.0) == "0%"
    row = results_page.ResultRow(
        result=VariantResult("a"),
        label="A",
        is_baseline=False,
        interval=None,
        verdict=results_page.Verdict("", "wait"),
        revenue="—",
        revenue_per_visitor="—",
    )
    assert (row.interval_text, row.difference_text, row.difference_interval_text) == ("", "—", "")
    assert (row.uplift_text, row.p_value_text) == ("—", "—")
    assert results_page.conversion_chart([row]) is None
    assert results_page.difference_chart([row], "A") is None


# --- preview ----------------------------------------------------------------------------


def request_for(user: Any, **params: str) -> Any:
    request = RequestFactory().get("/", params)
    request.user = user
    return request


def test_preview_page_frames_the_shop_with_the_variant_forced(admin_client: Client) -> None:
    campaign = make_campaign(("a", "b"), coupon_mode="pool")
    Variant.objects.filter(campaign=campaign, key="b").update(weight=0)
    response = admin_client.get(url(campaign, "preview/"))
    assert response.status_code == 200
    body = response.content.decode()
    assert 'src="/?pz_preview_campaign=spring-sale&amp;pz_preview_variant=a"' in body
    assert "pz-frame pz-frame-1280" in body
    assert "(weight 0)" in body
    assert "shows a sample code instead of using one from the pool" in plain(response)
    assert "shoppers see it as soon as the page loads, if they match the targeting" in plain(
        response
    )
    response = admin_client.get(
        url(campaign, "preview/"), {"variant": "b", "width": "390", "path": "/c/cats/?sort=price"}
    )
    body = response.content.decode()
    assert (
        'src="/c/cats/?sort=price&amp;pz_preview_campaign=spring-sale&amp;pz_preview_variant=b"'
        in body
    )
    assert "pz-frame pz-frame-390" in body
    assert 'aria-current="page">B' in body
    response = admin_client.get(
        url(campaign, "preview/"), {"variant": "zz", "width": "999", "path": "//evil.example/"}
    )
    body = response.content.decode()
    assert 'src="/?pz_preview_campaign=spring-sale&amp;pz_preview_variant=a"' in body
    assert "pz-frame pz-frame-1280" in body
    empty = make_campaign((), name="Empty", slug="empty")
    assert "This campaign has no variants yet." in plain(admin_client.get(url(empty, "preview/")))


@pytest.mark.parametrize(
    ("trigger", "value", "text"),
    [
        ("immediate", 0, "as soon as the page loads"),
        ("delay", 1, "after 1 second on the page"),
        ("scroll", 50, "after scrolling 50% of the page"),
        ("exit", 0, "when the pointer leaves the window (exit intent, desktop)"),
        ("inactivity", 30, "after 30 seconds without activity"),
        ("pageview", 3, "on page view 3 of a visit"),
    ],
)
def test_trigger_text(trigger: str, value: int, text: str) -> None:
    campaign = Campaign(trigger=trigger, trigger_value=value)
    assert results_page.trigger_text(campaign) == text


def test_safe_preview_paths_and_urls() -> None:
    assert safe_preview_path("/p/x/") == "/p/x/"
    for bad in ("", "p/x", "//evil", "/\\evil", "https://evil.example/", "/a\nb", "/" * 501):
        assert safe_preview_path(bad) == "/"
    assert preview_url("/c/?a=1", "s", "b") == "/c/?a=1&pz_preview_campaign=s&pz_preview_variant=b"
    assert preview_url("javascript:alert(1)", "s", "b") == (
        "/?pz_preview_campaign=s&pz_preview_variant=b"
    )


def test_forced_placement_only_for_staff_who_may_view_campaigns() -> None:
    campaign = make_campaign(
        ("a", "b"),
        status="draft",
        trigger="exit",
        control_percent=50,
        coupon_mode="pool",
        page_rules={"include": [{"match": "prefix", "value": "/p/"}]},
        devices=["mobile"],
    )
    Variant.objects.filter(campaign=campaign, key="a").update(body="<p>Hi<script>x</script></p>")
    admin = get_user_model().objects.create_superuser("boss", "b@example.com", "pw")
    params = {"pz_preview_campaign": "spring-sale", "pz_preview_variant": "b"}
    placement = forced_placement(request_for(admin, **params))
    assert placement is not None
    assert placement.variant_key == "b"
    forced = placement.campaign
    assert forced.trigger == "immediate" and forced.trigger_value == 0
    assert (forced.control_percent, forced.page_include, forced.devices) == (0, (), frozenset())
    assert (forced.coupon_mode, forced.coupon_code) == ("fixed", SAMPLE_COUPON)
    first = forced_placement(request_for(admin, pz_preview_campaign="spring-sale"))
    assert first is not None and first.variant_key == "a"
    assert first.variant is not None and "<script>" not in first.variant.body
    assert forced_placement(request_for(admin)) is None
    assert forced_placement(request_for(admin, pz_preview_campaign=" ")) is None
    assert forced_placement(request_for(admin, pz_preview_campaign="nope")) is None
    assert forced_placement(request_for(admin, **{**params, "pz_preview_variant": "zz"})) is None
    assert forced_placement(request_for(AnonymousUser(), **params)) is None
    shopper = get_user_model().objects.create_user("shopper", password="pw")
    assert forced_placement(request_for(shopper, **params)) is None
    no_perms = staff_user(username="helper")
    assert forced_placement(request_for(no_perms, **params)) is None
    viewer = staff_user("view_campaign", username="viewer")
    assert forced_placement(request_for(viewer, **params)) is not None
    empty = make_campaign((), name="Empty", slug="empty")
    assert forced_placement(request_for(admin, pz_preview_campaign=empty.slug)) is None


def test_forced_placement_uses_the_registry_for_active_campaigns(
    django_capture_on_commit_callbacks: Any,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        campaign = make_campaign(("a", "b"), status="active", trigger="delay", trigger_value=5)
        Variant.objects.filter(campaign=campaign, key="b").update(weight=0)
    admin = get_user_model().objects.create_superuser("boss", "b@example.com", "pw")
    get_campaign_registry()  # compiled once, as on any shop page
    with CaptureQueriesContext(connection) as queries:
        placement = forced_placement(
            request_for(admin, pz_preview_campaign="spring-sale", pz_preview_variant="a")
        )
    assert placement is not None and placement.campaign.trigger == "immediate"
    assert not [q for q in queries if "personalize_campaign" in q["sql"]]  # compiled already
    # A variant with weight 0 is not in the registry: compiled from its row instead.
    placement = forced_placement(
        request_for(admin, pz_preview_campaign="spring-sale", pz_preview_variant="b")
    )
    assert placement is not None and placement.variant_key == "b"


def test_compile_campaign_mirrors_the_registry() -> None:
    cats = Segment.objects.create(name="Cats", slug="cats", condition={})
    campaign = make_campaign(
        ("a",),
        status="active",
        include_mode="all",
        page_rules={
            "include": [{"match": "prefix", "value": "/p/"}],
            "exclude": [{"match": "regex", "value": "^/p/x"}],
        },
        starts_at=T0,
        ends_at=T0 + timedelta(days=1),
        countdown_mode="fixed",
        countdown_ends_at=T0,
    )
    campaign.include_segments.set([cats])
    from personalize.campaigns.registry import build_campaign_registry

    expected = build_campaign_registry().by_slug["spring-sale"]
    compiled = compile_campaign(Campaign.objects.get(pk=campaign.pk))
    for name in (
        "include",
        "include_all",
        "starts_at",
        "ends_at",
        "countdown_ends_at",
        "variants",
        "trigger",
        "coupon_mode",
    ):
        assert getattr(compiled, name) == getattr(expected, name), name
    assert [test("/p/a/") for test in compiled.page_include] == [True]
    assert [test("/p/x/") for test in compiled.page_exclude] == [True]
    Campaign.objects.filter(pk=campaign.pk).update(page_rules={"include": "bad"})
    assert compile_campaign(Campaign.objects.get(pk=campaign.pk)).page_include == ()


SHOPPER_UA = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)


def test_a_forced_overlay_renders_open_at_once(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_campaign(("a",), trigger="exit")
    Variant.objects.filter(key="a").update(title="Preview me")
    params = {"pz_preview_campaign": "spring-sale", "pz_preview_variant": "a"}
    body = client.get("/", params, HTTP_USER_AGENT=SHOPPER_UA).content.decode()
    assert "Preview me" not in body  # a shopper's request ignores the parameters
    client.force_login(get_user_model().objects.create_superuser("boss", "b@example.com", "pw"))
    body = client.get("/", params, HTTP_USER_AGENT=SHOPPER_UA).content.decode()
    assert 'data-pz-campaign="spring-sale"' in body
    assert 'data-pz-trigger="immediate"' in body
    assert "Preview me" in body
    assert 'data-pz-endpoint=""' in body  # previews are never counted in the results


# --- coupon pool ------------------------------------------------------------------------


def upload(client: Client, campaign: Campaign, content: bytes, name: str = "codes.csv") -> Any:
    return client.post(
        url(campaign, "coupons/upload/"),
        {"file": SimpleUploadedFile(name, content, content_type="text/csv")},
    )


def test_coupon_upload_imports_reports_and_bumps(
    admin_client: Client, django_capture_on_commit_callbacks: Any
) -> None:
    campaign = make_campaign(coupon_mode="pool", status="active")
    CouponCode.objects.create(campaign=campaign, code="OLD-123")
    page = admin_client.get(url(campaign, "coupons/upload/"))
    assert "1 code, 0 handed out, 1 left." in plain(page)
    before = version()
    content = (
        b"\xef\xbb\xbfCode\r\nSPRING-1\r\nSPRING-2\r\nSPRING-1\r\nAB\r\nTEN OFF\r\n\r\nOLD-123\r\n"
    )
    content += b"x" * 41 + b"\r\n"
    response = upload(admin_client, campaign, content)
    assert response.status_code == 200
    body = plain(response)
    assert "Added 2 code(s); 2 duplicate(s) skipped; 3 row error(s)." in body
    text = text_of(response)
    assert "row 5: 'AB' is too short (codes have 3 to 40 characters)" in text
    assert "row 6: 'TEN OFF' may only contain letters A-Z, digits, _ and -" in text
    assert f"row 9: '{'x' * 41}' is too long" in text
    assert "3 codes, 0 handed out, 3 left." in body
    assert set(CouponCode.objects.values_list("code", flat=True)) == {
        "OLD-123",
        "SPRING-1",
        "SPRING-2",
    }
    assert version() > before


@pytest.mark.parametrize(
    ("content", "imported"),
    [
        (b"SPRING1\nSPRING2\n", 2),  # a single unnamed column
        (b"id;coupon_code;note\n1;ABC123;x\n2;DEF456\n", 2),
        (b"code\tuses\nZZZ999\t1\n", 1),
    ],
)
def test_coupon_upload_formats(admin_client: Client, content: bytes, imported: int) -> None:
    campaign = make_campaign(coupon_mode="pool")
    response = upload(admin_client, campaign, content)
    assert f"Added {imported} code(s)" in plain(response)
    assert CouponCode.objects.filter(campaign=campaign).count() == imported


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "The file is empty: put one code per row, under a header “code”."),
        (b"   \n\n", "The file is empty: put one code per row"),
        (b"code\n", "The file has a header row but no codes below it."),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "This does not look like a CSV file"),
        ("code\nÉTÉ-2026\n".encode("latin-1"), "The file is not UTF-8 text."),
        (b"id,name\n1,x\n", "none is headed “code”; found 'id', 'name'"),
        (b"code\n" + b"A" * 140_000 + b"\n", "could not be read as CSV near row"),
        (b"code\n" + b"CODE-1234\n" * 50_001, "more than 50,000 codes"),
        (b"code\n" + b"C" * (1024 * 1024), "the limit is 1 MB"),
        (b"id;code\n1;\n", "row 2: no code in the code column"),
    ],
)
def test_coupon_upload_errors(admin_client: Client, content: bytes, message: str) -> None:
    campaign = make_campaign(coupon_mode="pool")
    if not content:
        response = admin_client.post(
            url(campaign, "coupons/upload/"), {"file": SimpleUploadedFile("c.csv", b"")}
        )
    else:
        response = upload(admin_client, campaign, content)
    assert response.status_code == 200
    assert message in text_of(response)
    assert not CouponCode.objects.exists()


def test_coupon_upload_without_a_file_and_notes(admin_client: Client) -> None:
    campaign = make_campaign(coupon_mode="none")
    response = admin_client.post(url(campaign, "coupons/upload/"), {})
    assert "Choose a CSV file to upload." in text_of(response)
    assert "does not hand out codes from a pool" in plain(response)
    pool = make_campaign(name="Pool", slug="pool", coupon_mode="pool")
    body = plain(admin_client.get(url(pool, "coupons/upload/")))
    assert "This campaign has stopped showing: its coupon pool is empty. Upload more codes." in body


def test_read_codes_checks_the_size_before_reading() -> None:
    big = SimpleUploadedFile("c.csv", b"x")
    big.size = coupons.MAX_BYTES + 1
    with pytest.raises(coupons.CSVFileError, match="the limit is 1 MB"):
        coupons.read_codes(big)
    status = coupons.PoolStatus(total=3, handed_out=3)
    assert status.left == 0 and status.exhausted


# --- access -----------------------------------------------------------------------------


def test_pages_need_staff_and_permissions(client: Client) -> None:
    campaign = make_campaign(coupon_mode="pool")
    pages = [
        LIST_URL,
        url(campaign, "change/"),
        url(campaign, "results/"),
        url(campaign, "preview/"),
        url(campaign, "coupons/upload/"),
        LEADS_URL,
    ]
    for page in pages:
        response = client.get(page)
        assert response.status_code == 302 and "/admin/login/" in response["Location"], page
    response = client.post(url(campaign, "coupons/upload/"), {})
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    client.force_login(get_user_model().objects.create_user("shopper", password="pw"))
    for page in pages:
        response = client.get(page)
        assert response.status_code == 302 and "/admin/login/" in response["Location"], page
    client.force_login(staff_user(username="helper"))
    for page in pages[1:]:
        assert client.get(page).status_code == 403, page
    client.force_login(staff_user("view_campaign", username="viewer"))
    for page in pages[1:5]:
        assert client.get(page).status_code == 200, page
    assert "Upload a CSV file of codes" not in plain(client.get(url(campaign, "coupons/upload/")))
    response = upload(client, campaign, b"code\nABC123\n")
    assert response.status_code == 403
    assert not CouponCode.objects.exists()


def test_coupon_upload_needs_the_csrf_token() -> None:
    campaign = make_campaign(coupon_mode="pool")
    client = Client(enforce_csrf_checks=True)
    client.force_login(get_user_model().objects.create_superuser("boss", "b@example.com", "pw"))
    response = upload(client, campaign, b"code\nABC123\n")
    assert response.status_code == 403
    assert not CouponCode.objects.exists()


def test_unknown_campaigns_are_404(admin_client: Client) -> None:
    for suffix in ("results/", "preview/", "coupons/upload/"):
        assert admin_client.get(f"{LIST_URL}999999/{suffix}").status_code == 404
        assert admin_client.get(f"{LIST_URL}abc/{suffix}").status_code == 404


# --- escaping ---------------------------------------------------------------------------


def test_merchandiser_text_is_escaped_everywhere(admin_client: Client) -> None:
    evil_segment = Segment.objects.create(name=XSS[:100], slug="evil", condition={})
    data = form_data(
        variants=[
            {
                "key": "a",
                "title": XSS,
                "cta_label": XSS[:80],
                "cta_url": "/x/",
                "dismiss_label": XSS[:80],
                "body": XSS,
            },
            {"key": "b", "title": "Plain"},
        ],
        name=XSS,
        status="active",
        coupon_mode="pool",
        include_segments=[str(evil_segment.pk)],
        capture_email="on",
        capture_consent_text=XSS,
        page_rules_editor="rows",
        **{"pr-0-side": "exclude", "pr-0-match": "contains", "pr-0-value": XSS},
    )
    response = admin_client.post(ADD_URL, data, follow=True)
    assert form_errors(response).strip() == ""
    campaign = Campaign.objects.get()
    assert campaign.name == XSS
    variant = campaign.variants.get(key="a")
    assert variant.title == XSS and "<script>" not in variant.body and "onerror" not in variant.body
    assert campaign.page_rules == {"exclude": [{"match": "contains", "value": XSS}]}
    import_history([*arm(campaign.slug, "a", 0, 40, 4), *arm(campaign.slug, "b", 100, 40, 9)])
    for page in (
        LIST_URL,
        url(campaign, "change/"),
        url(campaign, "results/"),
        url(campaign, "preview/"),
        url(campaign, "coupons/upload/"),
    ):
        body = admin_client.get(page).content.decode()
        assert "<script>alert" not in body, page
        assert "<img src=x onerror" not in body, page
        assert "&lt;script&gt;alert(" in body, page


# --- leads ------------------------------------------------------------------------------


def test_leads_are_read_only_searchable_and_exportable(admin_client: Client) -> None:
    campaign = make_campaign()
    Lead.objects.create(
        email="ann@example.com", consent=True, campaign=campaign, variant="a", visitor_id=vid(1)
    )
    Lead.objects.create(email="=HYPERLINK(1)@example.com", consent=False, campaign=None)
    Lead.objects.create(email="bob@example.com", consent=False, campaign=campaign, variant="b")
    response = admin_client.get(LEADS_URL)
    assert response.status_code == 200
    body = plain(response)
    assert "ann@example.com" in body and "bob@example.com" in body
    assert "Add lead" not in body
    assert "bob@example.com" not in plain(admin_client.get(LEADS_URL, {"q": "ann"}))
    lead = Lead.objects.get(email="ann@example.com")
    change = admin_client.get(f"{LEADS_URL}{lead.pk}/change/")
    assert change.status_code == 200 and 'name="_save"' not in change.content.decode()
    response = admin_client.post(
        LEADS_URL,
        {
            "action": "export_csv",
            "_selected_action": [str(pk) for pk in Lead.objects.values_list("pk", flat=True)],
        },
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="leads-')
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == ["email", "consent", "campaign", "variant", "visitor_id", "created_at"]
    assert rows[1][:5] == ["ann@example.com", "yes", "spring-sale", "a", vid(1)]
    assert rows[2][:3] == ["'=HYPERLINK(1)@example.com", "no", ""]
    assert rows[3][0] == "bob@example.com"
    assert datetime.fromisoformat(rows[1][5]) <= timezone.now()
