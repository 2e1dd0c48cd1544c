"""The brief's journeys, driven as a shopper would in Debian's Chromium against the demo shop.

Each test starts from the demo's catalogue, segments and campaigns (no history),
uses the server-side clock to make visits time out, and Playwright's clock to
skip trigger delays. Screenshots land in test-artifacts/.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.utils import timezone

from shop_demo.models import Product
from shop_demo.personalization import install_demo_campaigns, install_demo_segments
from shop_demo.seeding import seed_catalogue
from tests.conftest import Clock

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

POPUP = '[data-pz-campaign="welcome-popup"]'


@pytest.fixture
def demo(transactional_db: None) -> None:
    from personalize.segments.builtin import install_builtin_segments

    install_builtin_segments()  # transactional tests flush what the migration created
    seed_catalogue(42, timezone.now(), lambda n: None)
    install_demo_segments()
    install_demo_campaigns(pool_size=10)
    from personalize import configuration

    configuration.bump()


@pytest.fixture
def watched(page: Any) -> Any:
    """The page, with every console error and CSP violation collected for the test to check."""
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.problems = problems
    return page


def visitor(page: Any, base: str) -> dict[str, Any]:
    data: dict[str, Any] = page.evaluate(
        "async (u) => (await fetch(u, {credentials: 'same-origin'})).json()",
        f"{base}/personalize/api/visitor/",
    )
    return data


def product_paths(count: int, category: str = "cat-toys") -> list[str]:
    products = Product.objects.filter(category__slug=category, stock__gt=0).order_by("pk")
    return [p.get_absolute_url() for p in products[:count]]


def open_page(page: Any, url: str) -> None:
    """Navigate and wait until the runtime has wired its triggers."""
    page.goto(url)
    page.wait_for_function("() => window.personalize !== undefined")


def no_csp_problems(page: Any) -> None:
    problems = [p for p in page.problems if "favicon" not in p]
    assert problems == [], problems


def test_welcome_popup_after_delay_then_dismissed_for_good(
    watched: Any, live_server: Any, demo: None
) -> None:
    page = watched
    page.clock.install()
    open_page(page, live_server.url + "/")
    popup = page.locator(POPUP)
    assert popup.is_hidden()
    page.clock.fast_forward(3000)
    assert popup.is_hidden()  # not before the 5 s delay
    page.clock.fast_forward(2500)
    popup.wait_for(state="visible")
    assert popup.get_attribute("role") == "dialog"
    assert popup.get_attribute("aria-modal") == "true"
    page.screenshot(path="test-artifacts/journey-welcome-popup.png")
    popup.locator(".pz-dismiss").click()
    assert popup.is_hidden()
    page.wait_for_timeout(300)  # let the close beacon land
    page.goto(live_server.url + "/c/cat-food/")
    assert page.locator(POPUP).count() == 0
    no_csp_problems(page)


def test_welcome_popup_email_thanks_in_place_and_identifies(
    watched: Any, live_server: Any, demo: None
) -> None:
    page = watched
    page.clock.install()
    open_page(page, live_server.url + "/")
    page.clock.fast_forward(6000)
    popup = page.locator(POPUP)
    popup.wait_for(state="visible")
    popup.locator("input[type=email]").fill("not-an-email")
    popup.locator("button[type=submit]").click()
    expect_text(popup, "valid email")
    popup.locator("input[type=email]").fill("ann@example.com")
    popup.locator("input[name=consent]").check()
    popup.locator("button[type=submit]").click()
    expect_text(popup, "Thank you")
    expect_text(popup, "WELCOME10")
    data = visitor(page, live_server.url)
    assert data["attributes"]["is_identified"] is True
    from personalize.models import Lead

    assert Lead.objects.get().email == "ann@example.com"
    no_csp_problems(page)


def expect_text(locator: Any, text: str) -> None:
    locator.page.wait_for_function(
        "([el, t]) => el.textContent.includes(t)",
        arg=[locator.element_handle(), text],
        timeout=5000,
    )


def test_keyboard_only_focus_trap_escape_and_focus_return(
    watched: Any, live_server: Any, demo: None
) -> None:
    page = watched
    page.clock.install()
    open_page(page, live_server.url + "/")
    page.focus("input[type=search]")
    page.clock.fast_forward(6000)
    popup = page.locator(POPUP)
    popup.wait_for(state="visible")
    inside = "(el) => el.contains(document.activeElement)"
    assert popup.evaluate(inside)
    for _ in range(12):
        page.keyboard.press("Tab")
        assert popup.evaluate(inside)
    for _ in range(5):
        page.keyboard.press("Shift+Tab")
        assert popup.evaluate(inside)
    page.keyboard.press("Escape")
    assert popup.is_hidden()
    assert page.evaluate("document.activeElement.type") == "search"


def test_returning_visit_shows_welcome_back_bar_not_the_popup(
    watched: Any, live_server: Any, demo: None, clock: Clock
) -> None:
    page = watched
    page.goto(live_server.url + "/")
    clock.advance(2 * 3600)
    page.clock.install()
    open_page(page, live_server.url + "/")
    bar = page.locator('[data-pz-campaign="welcome-back-bar"]')
    bar.wait_for(state="visible")
    assert bar.get_attribute("role") == "region"
    page.clock.fast_forward(10_000)
    assert page.locator(POPUP).count() == 0
    assert page.locator('[data-pz-campaign="sign-in-bar"]').is_visible()
    page.screenshot(path="test-artifacts/journey-welcome-back.png")
    no_csp_problems(page)


def test_exit_intent_offer_once_per_visit(
    watched: Any, live_server: Any, demo: None, clock: Clock
) -> None:
    page = watched
    paths = product_paths(4)
    for path in paths[:3]:
        page.goto(live_server.url + path)
    clock.advance(2 * 3600)  # a later visit: now a browse abandoner
    page.goto(live_server.url + paths[3])
    offer = page.locator('[data-pz-campaign="exit-intent-offer"]')
    assert offer.is_hidden()
    page.mouse.move(600, 300)
    page.mouse.move(600, 0)
    page.dispatch_event("html", "mouseout", {"clientY": -5, "relatedTarget": None})
    offer.wait_for(state="visible")
    page.screenshot(path="test-artifacts/journey-exit-intent.png")
    offer.locator(".pz-close").click()
    page.dispatch_event("html", "mouseout", {"clientY": -5, "relatedTarget": None})
    assert offer.is_hidden()
    page.wait_for_timeout(300)
    page.goto(live_server.url + paths[0])
    assert page.locator('[data-pz-campaign="exit-intent-offer"]').count() == 0
    no_csp_problems(page)


def add_to_cart(page: Any, base: str, path: str) -> None:
    page.goto(base + path)
    with page.expect_response(re.compile(r"/cart/add/")):
        page.locator("form.add-form button[type=submit]").click()


def test_abandoned_cart_reminder_with_value_on_next_visit(
    watched: Any, live_server: Any, demo: None, clock: Clock
) -> None:
    page = watched
    path = product_paths(1, "cat-food")[0]
    product = Product.objects.get(slug=path.strip("/").split("/")[-1])
    add_to_cart(page, live_server.url, path)
    clock.advance(2 * 3600)
    page.goto(live_server.url + "/")
    bar = page.locator('[data-pz-campaign="cart-reminder-bar"]')
    bar.wait_for(state="visible")
    text = bar.inner_text()
    assert "1 item(s)" in text
    assert f"€{product.price:.2f}" in text
    assert bar.locator("a[data-pz-cta]").get_attribute("href") == "/cart/"
    page.screenshot(path="test-artifacts/journey-cart-reminder.png")
    no_csp_problems(page)


def test_free_shipping_bar_updates_after_add_to_cart(
    watched: Any, live_server: Any, demo: None
) -> None:
    page = watched
    cheap = Product.objects.filter(stock__gt=5, price__lt=15).order_by("price").first()
    assert cheap is not None
    add_to_cart(page, live_server.url, cheap.get_absolute_url())
    page.goto(live_server.url + cheap.get_absolute_url())
    bar = page.locator('[data-pz-campaign="free-shipping-bar"]')
    bar.wait_for(state="visible")
    before = 60 - float(cheap.price)
    assert f"€{before:.2f}" in bar.inner_text()
    with page.expect_response(re.compile(r"/render/")):
        page.locator("form.add-form button[type=submit]").click()
    after = 60 - 2 * float(cheap.price)
    page.wait_for_function(
        "([el, t]) => el.textContent.includes(t)",
        arg=[bar.element_handle(), f"€{after:.2f}"],
        timeout=5000,
    )
    page.screenshot(path="test-artifacts/journey-free-shipping.png")
    no_csp_problems(page)


def test_strict_csp_is_served_and_nothing_is_blocked(
    watched: Any, live_server: Any, demo: None
) -> None:
    page = watched
    violations: list[str] = []
    page.on(
        "console",
        lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None,
    )
    response = page.goto(live_server.url + "/")
    policy = response.headers["content-security-policy"]
    assert "script-src 'self' 'nonce-" in policy
    assert "unsafe-inline" not in policy
    for path in ("/c/cat-food/", product_paths(1)[0], "/cart/", "/search/?q=zzz"):
        page.goto(live_server.url + path)
    assert violations == []
    assert json.dumps(page.problems) == "[]"
