"""A merchandiser in a real browser: the rule builder under a strict CSP, and the RFM report."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model

from personalize.models import RFMReport, Segment

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Screenshots for docs/img/ land in test-artifacts/: copying them into the docs is a
# deliberate step, so that running the tests never changes tracked files.
DOCS_IMG = Path(__file__).resolve().parent.parent / "test-artifacts"
# What the app promises to work under: no inline scripts, styles or handlers.
CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:"


def strict_csp(page: Any) -> list[str]:
    """Serve every page with a strict CSP and collect the violations the browser reports."""
    violations: list[str] = []

    def add_header(route: Any) -> None:
        response = route.fetch(max_redirects=0)
        headers = {**response.headers, "content-security-policy": CSP}
        route.fulfill(response=response, headers=headers)

    page.route("**/*", add_header)
    page.on(
        "console",
        lambda message: violations.append(message.text)
        if "Content Security Policy" in message.text
        else None,
    )
    return violations


def log_in(page: Any, base: str) -> None:
    get_user_model().objects.create_superuser("merch", "merch@example.com", "a-long-pass-123")
    page.goto(f"{base}/admin/login/?next=/admin/")
    page.fill("#id_username", "merch")
    page.fill("#id_password", "a-long-pass-123")
    page.click("input[type=submit]")
    page.wait_for_url(f"{base}/admin/")


def choose(row: Any, kind: str, value: str | None = None) -> None:
    row.locator("select[data-field=kind]").select_option(kind)
    if value is not None:
        field = row.locator("[data-field=value]")
        if field.evaluate("node => node.tagName") == "SELECT":
            field.select_option(value)
        else:
            field.fill(value)


def test_build_a_segment_in_the_rule_builder(page: Any, live_server: Any) -> None:
    violations = strict_csp(page)
    base = live_server.url
    log_in(page, base)
    page.goto(f"{base}/admin/personalize/segment/add/")
    page.fill("#id_name", "Cat people with big carts")
    page.fill("#id_description", "Returning cat people with €30 or more in the cart.")

    top = page.locator(".pz-rb-top")
    choose(top.locator(":scope > .pz-rb-row").first, "cart_value_at_least", "30")
    page.click(".pz-rb-top-actions [data-rb-action=add-rule]")
    choose(top.locator(":scope > .pz-rb-row").nth(1), "viewed_category", "cats")

    # A third rule, removed again: names stay contiguous for the server.
    page.click(".pz-rb-top-actions [data-rb-action=add-rule]")
    top.locator(":scope > .pz-rb-row").nth(2).locator("[data-rb-action=remove]").click()
    assert top.locator(":scope > .pz-rb-row").count() == 2

    page.click(".pz-rb-top-actions [data-rb-action=add-group]")
    group = top.locator(".pz-rb-group")
    group.locator("select[data-field=match]").select_option("any")
    choose(group.locator(".pz-rb-row").first, "device", "mobile")
    group.locator("[data-rb-action=add-rule]").click()
    second = group.locator(".pz-rb-row").nth(1)
    choose(second, "utm_source", "newsletter")
    second.locator("input[data-field=negate]").check()

    expected = {
        "cart.value": {"$gte": 30},
        "viewed_categories": {"$elemMatch": {"$eq": "cats"}},
        "$or": [{"device": "mobile"}, {"utm.source": {"$not": "newsletter"}}],
    }
    page.click("details.pz-rb-json summary")
    # The script mirrors the rules into the JSON box, exactly as the server builds them.
    assert json.loads(page.input_value("#id_condition")) == expected
    assert page.input_value("#id_slug") == "cat-people-with-big-carts"

    DOCS_IMG.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.locator("fieldset:has(.pz-rule-builder)").screenshot(
        path=str(DOCS_IMG / "segment-rule-builder.png")
    )

    page.click("input[name=_save]")
    page.wait_for_url(f"{base}/admin/personalize/segment/")
    segment = Segment.objects.get(slug="cat-people-with-big-carts")
    assert segment.condition == expected
    assert violations == []

    # Back in the form, typing JSON switches the editor: the JSON is what gets saved.
    page.goto(f"{base}/admin/personalize/segment/{segment.pk}/change/")
    assert page.locator(".pz-rb-top > .pz-rb-row").count() == 2  # no spare blank row with JS
    page.click("details.pz-rb-json summary")
    page.fill("#id_condition", '{"tags": {"$size": 2}}')
    assert page.is_checked("input[name=condition_editor][value=json]")
    assert page.is_hidden("[data-rb-builder]")
    with page.expect_navigation():
        page.click("input[name=_continue]")
    segment.refresh_from_db()
    assert segment.condition == {"tags": {"$size": 2}}
    assert "features the rule builder cannot show" in page.inner_text(".pz-rb-unavailable")
    assert violations == []


def test_rfm_report_heat_map(page: Any, live_server: Any) -> None:
    violations = strict_csp(page)
    RFMReport.objects.create(
        as_of=datetime(2026, 6, 1, 3, 0, tzinfo=UTC),
        customers=4812,
        duration_seconds=3.4,
        grid={
            "5,1": 402,
            "5,2": 231,
            "5,3": 198,
            "5,4": 121,
            "5,5": 260,
            "4,1": 288,
            "4,2": 240,
            "4,3": 201,
            "4,4": 150,
            "4,5": 132,
            "3,1": 251,
            "3,2": 190,
            "3,3": 176,
            "3,4": 140,
            "3,5": 84,
            "2,1": 301,
            "2,2": 170,
            "2,3": 122,
            "2,4": 98,
            "2,5": 61,
            "1,1": 398,
            "1,2": 166,
            "1,3": 78,
            "1,4": 65,
            "1,5": 29,
        },
        segments={
            "champions": 381,
            "loyal": 506,
            "potential_loyalists": 870,
            "new_customers": 402,
            "promising": 288,
            "need_attention": 176,
            "about_to_sleep": 441,
            "at_risk": 363,
            "cant_lose": 90,
            "hibernating": 1035,
        },
    )
    base = live_server.url
    log_in(page, base)
    page.goto(f"{base}/admin/personalize/rfmreport/")
    assert page.is_visible("text=4,812 customers scored")
    cell = page.locator(".pz-heat tbody tr").first.locator("td").first
    assert "402" in cell.inner_text() and "New customers" in cell.inner_text()
    # Intensity is drawn: the fullest cell is darker than an emptier one.
    darkest = page.locator("td.pz-heat-10").first.evaluate(
        "node => getComputedStyle(node).backgroundColor"
    )
    lightest = page.locator("td.pz-heat-1").first.evaluate(
        "node => getComputedStyle(node).backgroundColor"
    )
    assert darkest != lightest
    bar = page.locator(".pz-bar.pz-w-100").evaluate("node => node.getBoundingClientRect().width")
    assert bar > 100
    page.set_viewport_size({"width": 1400, "height": 900})
    page.locator("#content").screenshot(path=str(DOCS_IMG / "rfm-report.png"))
    assert violations == []
