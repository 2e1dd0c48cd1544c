"""Recommendation widgets in the runtime: rec_view once seen, rec_click on an item's link.

Runs in Debian's Chromium against tests/runtime_harness like tests/test_runtime_js.py
(same CSP, same console and CSP-violation checks).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.runtime_harness import urls as harness
from tests.test_runtime_js import Harness

pytestmark = [pytest.mark.browser, pytest.mark.urls("tests.runtime_harness.urls")]

PAGE = "/harness/page/recs/"


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


def rec_events(pz: Harness, type: str, widget: str | None = None) -> list[dict[str, Any]]:
    return [
        e
        for e in pz.events()
        if e["type"] == type and (widget is None or e.get("widget") == widget)
    ]


def wait_for_rec(pz: Harness, type: str, widget: str, n: int = 1) -> list[dict[str, Any]]:
    pz.wait_for(lambda events: len(rec_events(pz, type, widget)) >= n)
    return rec_events(pz, type, widget)


def scroll_into_view(pz: Harness, selector: str, share: float) -> None:
    """Scroll so that the top ``share`` of the element is at the bottom of the viewport."""
    pz.page.evaluate(
        """([selector, share]) => {
            const el = document.querySelector(selector);
            window.scrollTo(0, el.offsetTop + el.offsetHeight * share - innerHeight);
        }""",
        [selector, share],
    )
    # Intersection observers report on the next frames.
    pz.page.evaluate("() => new Promise(r => requestAnimationFrame(() => setTimeout(r, 100)))")


def swap_in(pz: Harness, slot: str, config: str = "", name: str = "rec-lazy") -> None:
    """What htmx does for a lazily loaded widget: insert it, then fire htmx:load on it."""
    pz.page.evaluate(
        """html => {
            const tpl = document.createElement("template");
            tpl.innerHTML = html;
            const el = tpl.content.firstElementChild;
            document.querySelector("main").prepend(el);
            el.dispatchEvent(new CustomEvent("htmx:load", {bubbles: true}));
        }""",
        harness.fragment(name, slot=slot, config=config),
    )


def test_view_is_reported_once_when_half_the_widget_is_seen(pz: Harness) -> None:
    pz.goto("recs")
    [view] = wait_for_rec(pz, "rec_view", "product-detail")
    assert view == {
        "type": "rec_view",
        "widget": "product-detail",
        "strategy": "viewed_together",
        "count": 3,
        "path": PAGE,
    }
    scroll_into_view(pz, "#low-widget", 0.3)
    assert rec_events(pz, "rec_view", "cart") == []  # only 30% of it in view
    scroll_into_view(pz, "#low-widget", 1.0)
    [view] = wait_for_rec(pz, "rec_view", "cart")
    assert (view["strategy"], view["count"]) == ("bestsellers", 2)
    scroll_into_view(pz, "#top-widget", 1.0)
    scroll_into_view(pz, "#low-widget", 1.0)
    events = pz.settled_events()
    assert [e["widget"] for e in events if e["type"] == "rec_view"] == ["product-detail", "cart"]
    # A page with widgets only: every beacon went to the widgets' endpoint with their token.
    assert all(b["origin"] and b["content_type"] == "text/plain" for b in pz.beacons())


def test_click_on_an_item_link_is_sent_before_the_link_navigates(pz: Harness) -> None:
    pz.goto("recs")
    wait_for_rec(pz, "rec_view", "product-detail")
    pz.page.click("#item-12 span")  # lands on an element inside the link
    pz.page.wait_for_url("**/harness/page/landing/")
    [click] = wait_for_rec(pz, "rec_click", "product-detail")
    assert click == {
        "type": "rec_click",
        "widget": "product-detail",
        "strategy": "viewed_together",
        "product_id": "12",
        "position": 1,
        "path": PAGE,
    }


def test_new_tab_clicks_count_and_clicks_beside_the_links_do_not(pz: Harness) -> None:
    pz.goto("recs")
    wait_for_rec(pz, "rec_view", "product-detail")
    pz.page.click("#item-13", modifiers=["Control"])  # opens a new tab
    pz.page.click("#item-14", button="middle")  # auxclick, no click event
    pz.page.click("#item-13", button="right")  # opens the context menu: not counted
    pz.page.click("#add-12")  # a button in the item, not its link
    pz.page.click("#outside")  # a link outside any widget
    pz.page.click("#item-31")  # no data-pz-position: its place in the widget
    events = pz.settled_events()
    clicks = [
        (e["widget"], e["product_id"], e["position"]) for e in events if e["type"] == "rec_click"
    ]
    assert clicks == [("product-detail", "13", 2), ("product-detail", "14", 3), ("cart", "31", 2)]
    assert pz.page.url.endswith(PAGE + "?token=" + pz.token + "#p31")


def test_widget_swapped_in_by_htmx_is_watched_once(pz: Harness) -> None:
    pz.goto("recs")
    wait_for_rec(pz, "rec_view", "product-detail")
    swap_in(pz, "lazy-recs")
    [view] = wait_for_rec(pz, "rec_view", "lazy-recs")
    assert (view["strategy"], view["count"]) == ("trending", 2)
    # htmx also fires htmx:load on <body> at start-up; nothing is reported twice.
    pz.page.evaluate(
        """() => {
            document.body.dispatchEvent(new CustomEvent("htmx:load", {bubbles: true}));
            document.querySelector('[data-pz-widget="lazy-recs"]')
                .dispatchEvent(new CustomEvent("htmx:load", {bubbles: true}));
        }"""
    )
    pz.page.click("#item-51")
    [click] = wait_for_rec(pz, "rec_click", "lazy-recs")
    assert (click["product_id"], click["position"], click["strategy"]) == ("51", 2, "trending")
    events = pz.settled_events()
    views = [e["widget"] for e in events if e["type"] == "rec_view"]
    assert views == ["product-detail", "lazy-recs"]


def test_a_swapped_in_widget_may_bring_the_pages_only_endpoint(pz: Harness) -> None:
    pz.goto("landing")  # no #pz-overlays, no widget: nothing to report to at start-up
    config = f'data-pz-endpoint="/personalize/api/events/" data-pz-token="{pz.token}"'
    swap_in(pz, "late", config)
    [view] = wait_for_rec(pz, "rec_view", "late")
    assert view["path"] == "/harness/page/landing/"


def test_a_holdout_marker_reports_a_holdout_view_without_products(pz: Harness) -> None:
    pz.goto("landing")
    config = f'data-pz-endpoint="/personalize/api/events/" data-pz-token="{pz.token}"'
    swap_in(pz, "held", config, name="rec-holdout")
    [view] = wait_for_rec(pz, "rec_view", "held")
    assert view == {
        "type": "rec_view",
        "widget": "held",
        "strategy": "",
        "holdout": True,
        "path": "/harness/page/landing/",
    }
    assert pz.page.locator(".pz-recs-holdout").bounding_box()["height"] == 0


def test_widget_in_a_refreshed_overlay_is_watched(pz: Harness) -> None:
    pz.goto("recs-refresh")
    pz.wait_for_event("impression", "cart-recs")
    pz.page.evaluate("document.dispatchEvent(new CustomEvent('pz:refresh'))")
    [view] = wait_for_rec(pz, "rec_view", "cart-cross-sell")
    assert (view["strategy"], view["count"]) == ("cart_cross_sell", 1)
    pz.page.click("#item-40")
    [click] = wait_for_rec(pz, "rec_click", "cart-cross-sell")
    assert (click["product_id"], click["position"]) == ("40", 1)
