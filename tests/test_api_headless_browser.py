"""The headless page of docs/headless.md, run as printed in Debian's Chromium."""

from __future__ import annotations

from typing import Any

import pytest

from personalize.models import Event
from tests.test_campaigns import make

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.urls("tests.headless_urls"),
]


def logged(name: str) -> set[str]:
    rows = Event.objects.filter(name=name).values_list("props", flat=True)
    return {str(props["campaign"]) for props in rows}


def test_the_documented_page_shows_and_reports_the_decision(page: Any, live_server: Any) -> None:
    make("welcome", trigger="delay", trigger_value=1)
    make("hero-cats", kind="slot", slot_name="home-hero")
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.goto(live_server.url + "/headless/")
    hero = page.locator("#home-hero .pz-slot")
    hero.wait_for()
    assert "hero-cats a" in hero.inner_text()
    popup = page.locator('[data-pz-campaign="welcome"].pz-open')
    popup.wait_for(state="visible", timeout=5000)
    assert popup.get_attribute("role") == "dialog"
    page.wait_for_function("() => document.activeElement.matches('.pz-close')")
    popup.locator(".pz-close").click()
    assert page.locator('[data-pz-campaign="welcome"]').count() == 0
    for _ in range(50):  # the close report is in flight
        if "welcome" in logged("campaign_close"):
            break
        page.wait_for_timeout(100)
    assert logged("campaign_impression") == {"welcome", "hero-cats"}
    assert logged("campaign_close") == {"welcome"}
    assert problems == []
    # Reported as seen once this visit: the next decision has no popup.
    again = page.evaluate(
        "async () => (await (await fetch('/personalize/api/v1/decisions/?path=/headless/',"
        " {credentials: 'include'})).json()).campaigns"
    )
    assert again == []
