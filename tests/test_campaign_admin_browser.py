"""A merchandiser in a real browser: build an A/B popup, read its results, preview it."""

from __future__ import annotations

import json
import random
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.utils import timezone

from personalize.campaigns.models import Campaign
from personalize.tracking.history import HistoricalEvent, import_history
from shop_demo.seeding import seed_catalogue

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Screenshots for docs/img/ land in test-artifacts/: copying them into the docs is a
# deliberate step, so that running the tests never changes tracked files.
DOCS_IMG = Path(__file__).resolve().parent.parent / "test-artifacts"
# What the admin promises to work under: no inline scripts, styles or handlers.
CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:"


def strict_csp_on_admin(page: Any) -> list[str]:
    """Serve admin pages with a strict CSP and collect the violations the browser reports.

    Shop pages keep their own nonce-based policy (the iframe in the preview is one).
    """
    violations: list[str] = []

    def add_header(route: Any) -> None:
        response = route.fetch(max_redirects=0)
        headers = {**response.headers, "content-security-policy": CSP}
        route.fulfill(response=response, headers=headers)

    page.route("**/admin/**", add_header)
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


def seed_event_log(slug: str) -> None:
    """Two weeks of a running test split 20/40/40 (as the campaign is configured):
    control 2.5%, A about 3.5%, B about 7% conversion."""
    rng = random.Random(7)
    start = timezone.now() - timedelta(days=14)
    arms = [("control", 600, 0.025, 0.0), ("a", 1190, 0.035, 0.061), ("b", 1210, 0.070, 0.083)]
    events: list[HistoricalEvent] = []
    number = 0
    for variant, visitors, conversion, ctr in arms:
        for _ in range(visitors):
            number += 1
            visitor = f"{number:032x}"
            seen = start + timedelta(minutes=rng.randrange(14 * 24 * 60))
            props = {"campaign": slug, "variant": variant}
            name = "campaign_exposure" if variant == "control" else "campaign_impression"
            events.append(HistoricalEvent(visitor, name, seen, props))
            if variant != "control":
                if rng.random() < 0.35:  # some come back and see it again
                    again = seen + timedelta(hours=rng.randrange(1, 72))
                    events.append(HistoricalEvent(visitor, name, again, props))
                if rng.random() < ctr:
                    events.append(HistoricalEvent(visitor, "campaign_click", seen, props))
                elif rng.random() < 0.3:
                    events.append(HistoricalEvent(visitor, "campaign_close", seen, props))
            if rng.random() < conversion:
                at = seen + timedelta(hours=rng.randrange(1, 6 * 24))
                value = round(rng.uniform(18, 95), 2)
                events.append(
                    HistoricalEvent(
                        visitor,
                        "purchase",
                        at,
                        {
                            "order_id": f"demo-{number}",
                            "value": value,
                            "items": [{"product_id": 1, "price": value, "quantity": 1}],
                        },
                    )
                )
    import_history(events)


def test_build_an_ab_popup_read_results_and_preview(
    page: Any, live_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed_catalogue(seed=7, now=timezone.now())
    violations = strict_csp_on_admin(page)
    base = live_server.url
    log_in(page, base)

    page.goto(f"{base}/admin/personalize/campaign/add/")
    page.fill("#id_name", "Spring treats popup")
    page.select_option("#id_kind", "popup")
    page.select_option("#id_status", "active")
    page.click(".pz-page-rules [data-pr-action=add]")
    row = page.locator(".pz-pr-rows > .pz-pr-row").last
    row.locator("[data-field=match]").select_option("prefix")
    row.locator("[data-field=value]").fill("/c/")
    page.click(".pz-page-rules [data-pr-action=add]")
    row = page.locator(".pz-pr-rows > .pz-pr-row").last
    row.locator("[data-field=side]").select_option("exclude")
    row.locator("[data-field=match]").select_option("equals")
    row.locator("[data-field=value]").fill("/checkout/")
    page.click("details.pz-pr-json summary")
    assert json.loads(page.input_value("#id_page_rules")) == {
        "include": [{"match": "prefix", "value": "/c/"}],
        "exclude": [{"match": "equals", "value": "/checkout/"}],
    }
    page.check("input[name=devices][value=desktop]")
    page.check("input[name=devices][value=tablet]")
    page.select_option("#id_trigger", "delay")
    page.fill("#id_trigger_value", "4")
    page.fill("#id_control_percent", "20")
    page.select_option("#id_coupon_mode", "fixed")
    page.fill("#id_coupon_code", "SPRING15")
    variants = [
        (
            "a",
            "Spring treats for your pet",
            "<p>Take <strong>15% off</strong> treats and chews this week.</p>",
            "Shop treats",
        ),
        (
            "b",
            "{{ first_name|default:'Hello' }}, 15% off spring treats",
            "<p>Your code is below. <em>Ends Sunday.</em></p><script>alert(1)</script>",
            "Use my 15% off",
        ),
    ]
    for index, (key, title, body, label) in enumerate(variants):
        page.fill(f"#id_variants-{index}-key", key)
        page.fill(f"#id_variants-{index}-title", title)
        page.fill(f"#id_variants-{index}-body", body)
        page.fill(f"#id_variants-{index}-cta_label", label)
        page.fill(f"#id_variants-{index}-cta_url", "/c/cat-food/")
    page.fill("#id_variants-1-accent_color", "#2f7d5b")
    page.click("input[name=_save]")
    page.wait_for_url(f"{base}/admin/personalize/campaign/")
    assert "removed from the body" in page.inner_text(".messagelist")
    campaign = Campaign.objects.get(slug="spring-treats-popup")
    assert campaign.status == "active"
    assert campaign.devices == ["tablet", "desktop"]
    assert list(campaign.variants.values_list("key", flat=True)) == ["a", "b"]
    assert "<script>" not in campaign.variants.get(key="b").body

    seed_event_log(campaign.slug)
    cache.clear()  # the list keeps its numbers for a minute; the seeded log is new
    DOCS_IMG.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size({"width": 1400, "height": 900})
    page.goto(f"{base}/admin/personalize/campaign/")
    row = page.locator("#result_list tr", has_text="Spring treats popup")
    assert row.locator("td.field-impressions").inner_text() != "—"

    page.goto(f"{base}/admin/personalize/campaign/{campaign.pk}/results/")
    verdicts = page.inner_text(".pz-verdicts")
    assert "B beats control" in verdicts
    assert "No significant difference yet" in verdicts
    bars = page.locator(".pz-charts .pz-chart").first.locator("rect.pz-bar")
    assert bars.count() == 3
    widths = [bars.nth(n).evaluate("node => node.getBBox().width") for n in range(3)]
    assert widths[0] < widths[2]  # control's rate is lower than B's
    assert page.locator(".pz-daily-chart polyline.pz-daily-line").count() == 3
    assert page.locator(".pz-srm-warning").count() == 0
    page.locator("#content").screenshot(path=str(DOCS_IMG / "campaign-results.png"))

    # Someone changes the split mid-test: the visitors no longer match it, and the page
    # says so instead of crowning a winner.
    Campaign.objects.filter(pk=campaign.pk).update(control_percent=50)
    page.goto(f"{base}/admin/personalize/campaign/{campaign.pk}/results/?period=30")
    warning = page.locator(".pz-srm-warning")
    assert "Sample ratio mismatch" in warning.inner_text()
    assert "beats" not in page.inner_text(".pz-verdicts")
    page.locator("#content").screenshot(path=str(DOCS_IMG / "campaign-results-srm.png"))

    page.set_viewport_size({"width": 1400, "height": 1000})
    page.goto(
        f"{base}/admin/personalize/campaign/{campaign.pk}/preview/?variant=b&width=1280&path=/c/cat-food/"
    )
    frame = page.frame_locator("iframe.pz-frame")
    popup = frame.locator(".pz-overlay[data-pz-campaign=spring-treats-popup]")
    popup.wait_for(state="visible", timeout=10_000)
    assert popup.get_attribute("data-pz-trigger") == "immediate"
    assert "15% off spring treats" in popup.inner_text()
    assert "SPRING15" in popup.inner_text()
    page.wait_for_timeout(400)  # let the popup's entrance transition finish
    page.locator("#content").screenshot(path=str(DOCS_IMG / "campaign-preview.png"))

    page.goto(
        f"{base}/admin/personalize/campaign/{campaign.pk}/preview/?variant=a&width=390&path=/"
    )
    frame = page.frame_locator("iframe.pz-frame")
    frame.locator(".pz-overlay[data-pz-campaign=spring-treats-popup]").wait_for(
        state="visible", timeout=10_000
    )
    assert violations == []
