"""Lazy widgets and slots in the runtime: loaded by the runtime where htmx is not on the page.

Runs in Debian's Chromium against tests/runtime_harness like tests/test_runtime_js.py
(same CSP, same console and CSP-violation checks). The harness's lazy endpoints
record every request, so a double load (runtime and htmx) would show.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.runtime_harness import urls as harness
from tests.test_rec_runtime_js import rec_events, wait_for_rec
from tests.test_runtime_js import Harness

pytestmark = [pytest.mark.browser, pytest.mark.urls("tests.runtime_harness.urls")]

SLOT_URL = "/personalize/slots/hero/?path=/harness/page/{page}/"
WIDGET_URL = "/personalize/recommendations/lazy-recs/?category=cats"
CART_URL = "/personalize/recommendations/cart-recs/?refresh=1"


@pytest.fixture(autouse=True)
def _fresh_harness() -> Iterator[None]:
    harness.reset()
    yield
    harness.reset()


@pytest.fixture
def pz(page: Any, live_server: Any) -> Iterator[Harness]:
    h = Harness(page, live_server.url)
    yield h
    h.assert_clean()


def requested() -> list[str]:
    return [r["url"] for r in harness.LAZY]


def test_slot_and_widget_are_loaded_and_reported_without_htmx(pz: Harness) -> None:
    pz.goto("lazy")
    pz.wait_until(
        "!!document.querySelector('#lazy-hero') && !!document.querySelector("
        "'[data-pz-widget=\"lazy-recs\"]')"
    )
    assert pz.page.locator("#hero-placeholder, #recs-placeholder, #hero-default").count() == 0
    assert sorted(requested()) == [WIDGET_URL, SLOT_URL.format(page="lazy")]
    assert {r["requested_with"] for r in harness.LAZY} == {"personalize"}
    # Another origin is never fetched (the CSP would report it), and it is not taken either.
    foreign = pz.page.locator("#foreign-placeholder")
    assert foreign.get_attribute("hx-disable") is None
    assert foreign.get_attribute("aria-busy") is None

    # What was swapped in is reported like server-rendered content.
    assert pz.wait_for_event("impression", "hero-campaign")["variant"] == "b"
    [view] = wait_for_rec(pz, "rec_view", "lazy-recs")
    assert (view["strategy"], view["count"]) == ("trending", 2)
    pz.page.click("#lazy-hero-cta")
    pz.wait_for_event("click", "hero-campaign")
    pz.page.click("#item-51")
    [click] = wait_for_rec(pz, "rec_click", "lazy-recs")
    assert (click["product_id"], click["position"]) == ("51", 2)

    events = pz.settled_events()
    assert [e["type"] for e in events if e.get("campaign") == "hero-campaign"] == [
        "impression",
        "click",
    ]
    assert len(rec_events(pz, "rec_view")) == 1
    # The refreshable placeholder waits for pz:refresh; nothing was loaded twice.
    assert sorted(requested()) == [WIDGET_URL, SLOT_URL.format(page="lazy")]


def test_refresh_loads_refreshable_widgets_without_htmx(pz: Harness) -> None:
    pz.goto("lazy")
    pz.wait_until("!!document.querySelector('[data-pz-widget=\"lazy-recs\"]')")
    pz.page.evaluate("document.body.dispatchEvent(new CustomEvent('pz:refresh', {bubbles: true}))")
    widget = pz.page.locator('[data-pz-widget="cart-recs"]')
    widget.wait_for()
    assert pz.page.locator("#cart-placeholder").count() == 0
    first = widget.get_attribute("data-load")
    wait_for_rec(pz, "rec_view", "cart-recs")

    # The widget it became re-fetches itself on the next refresh, the API's included.
    pz.page.evaluate("personalize.refresh()")
    pz.wait_until(
        f"document.querySelector('[data-pz-widget=\"cart-recs\"]').dataset.load !== '{first}'"
    )
    assert requested().count(CART_URL) == 2
    assert requested().count(WIDGET_URL) == 1  # lazy placeholders load once, not on refresh
    assert pz.page.locator('[data-pz-widget="cart-recs"]').count() == 1


@pytest.mark.parametrize("status", [204, 500])
def test_nothing_to_show_or_an_error_leaves_the_placeholder(pz: Harness, status: int) -> None:
    if status == 500:
        pz.expected.append("500 (Internal Server Error)")  # Chromium logs failed fetches
    harness.STATE["lazy_status"] = status
    pz.goto("lazy")
    pz.wait_until(
        "[...document.querySelectorAll('[data-pz-lazy][hx-disable]')].length === 2 && "
        "!document.querySelector('[aria-busy]')"
    )
    # The slot keeps the shop's default content, the widget placeholder stays empty.
    assert pz.page.locator("#hero-placeholder #hero-default").is_visible()
    assert pz.page.locator("#recs-placeholder").inner_html() == ""
    assert "Server error" not in pz.page.content()
    assert sorted(requested()) == [WIDGET_URL, SLOT_URL.format(page="lazy")]
    assert pz.settled_events() == []


@pytest.mark.parametrize("page_name", ["lazy-htmx", "lazy-htmx-late"])
def test_lazy_content_is_left_to_htmx_when_htmx_is_on_the_page(pz: Harness, page_name: str) -> None:
    """Also when htmx is deferred after the runtime: the runtime decides after both ran."""
    pz.goto(page_name)
    pz.wait_until("window.htmx !== undefined")
    pz.page.evaluate("document.body.dispatchEvent(new CustomEvent('pz:refresh', {bubbles: true}))")
    pz.settled_events()
    assert requested() == []
    placeholders = pz.page.locator("[data-pz-lazy], [data-pz-refresh]")
    assert placeholders.count() == 4
    for i in range(4):
        assert placeholders.nth(i).get_attribute("hx-disable") is None


def test_scripts_in_lazy_html_never_run(pz: Harness) -> None:
    pz.goto("lazy-script")
    pz.page.locator("#lazy-with-script").wait_for()
    assert pz.page.locator("#lazy-with-script script").count() == 1  # inserted, inert
    pz.page.wait_for_timeout(200)
    assert pz.page.evaluate("window.__pzLazyScriptRan") is None
