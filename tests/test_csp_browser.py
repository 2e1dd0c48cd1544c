"""The demo shop under django-csp 4's middleware, in Debian's Chromium.

A shop that uses django-csp gets a lazy ``request.csp_nonce``. Its pages here go
through ``csp.middleware.CSPMiddleware`` (instead of the demo's own middleware)
with a nonce-only policy; a themed popup and a themed bar must show styled, with
not one CSP violation.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from csp.constants import NONCE, SELF
from django.test import override_settings
from django.utils import timezone
from pytest_django.live_server_helper import LiveServer

from personalize.campaigns.models import Variant
from shop_demo.personalization import install_demo_campaigns, install_demo_segments
from shop_demo.seeding import seed_catalogue
from tests.test_campaigns import make
from tests.test_csp_nonce import DJANGO_CSP_4, middleware

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

POLICY: dict[str, Any] = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, NONCE],
        "img-src": [SELF, "data:"],
        "connect-src": [SELF],
        "form-action": [SELF],
        "base-uri": [SELF],
        "object-src": ["'none'"],
    }
}

#: Records every violation the page sees. Playwright injects it outside the page's
#: policy, so recording never causes a violation itself.
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(e.violatedDirective + " blocked " + (e.blockedURI || "inline"));
});
"""


@pytest.fixture
def shop(transactional_db: None) -> None:
    """The demo's catalogue and campaigns; its welcome popup and a new top bar get colours."""
    from personalize import configuration
    from personalize.segments.builtin import install_builtin_segments

    install_builtin_segments()  # transactional tests flush what the migration created
    seed_catalogue(42, timezone.now(), lambda n: None)
    install_demo_segments()
    install_demo_campaigns(pool_size=10)
    Variant.objects.filter(campaign__slug="welcome-popup").update(
        accent_color="#8a2be2", background_color="#fff8e7", text_color="#3a2a12"
    )
    make("csp-bar", kind="bar", position="top", trigger="immediate", frequency="every_page")
    Variant.objects.filter(campaign__slug="csp-bar").update(accent_color="#0b6e4f")
    configuration.bump()


@pytest.fixture
def django_csp_server(shop: None) -> Iterator[str]:
    """A live server of its own, started under the settings: a running one keeps its middleware."""
    with override_settings(MIDDLEWARE=middleware(DJANGO_CSP_4), CONTENT_SECURITY_POLICY=POLICY):
        server = LiveServer("localhost")
        try:
            yield server.url
        finally:
            server.stop()


def colour(page: Any, selector: str, prop: str) -> str:
    return str(page.eval_on_selector(selector, f"el => getComputedStyle(el).{prop}"))


def test_demo_pages_under_django_csp_show_styled_overlays_without_violations(
    page: Any, django_csp_server: str, artifacts_dir: Path
) -> None:
    console: list[str] = []
    page.on("console", lambda msg: console.append(f"{msg.type}: {msg.text}"))
    page.on("pageerror", lambda exc: console.append(f"page error: {exc}"))
    page.add_init_script(RECORD_VIOLATIONS)
    page.clock.install()
    page.emulate_media(reduced_motion="reduce")  # settled positions, not mid-transition

    response = page.goto(django_csp_server + "/")
    policy = response.headers["content-security-policy"]
    nonce = re.search(r"script-src 'self' 'nonce-([^']+)'", policy)
    assert nonce is not None, policy
    assert f"style-src 'self' 'nonce-{nonce.group(1)}'" in policy
    assert "unsafe-inline" not in policy
    # Both of personalize's tags carry the nonce of this response (in the source: browsers
    # hide a nonce from the DOM once they have checked it).
    html = response.text()
    assert f'runtime.js" defer nonce="{nonce.group(1)}">' in html
    assert f'<style nonce="{nonce.group(1)}">' in html

    bar = '[data-pz-campaign="csp-bar"]'
    page.wait_for_selector(bar + ".pz-open")
    assert colour(page, bar, "backgroundColor") == "rgb(11, 110, 79)"  # #0b6e4f
    assert page.locator(bar).bounding_box()["y"] == 0

    page.clock.run_for(6_000)  # the welcome popup's 5 s delay
    popup = '[data-pz-campaign="welcome-popup"]'
    page.wait_for_selector(popup + ".pz-open")
    panel = popup + " .pz-panel"
    assert colour(page, panel, "backgroundColor") == "rgb(255, 248, 231)"  # #fff8e7
    assert colour(page, panel, "color") == "rgb(58, 42, 18)"  # #3a2a12
    assert colour(page, popup + ' button[type="submit"]', "backgroundColor") == (
        "rgb(138, 43, 226)"  # #8a2be2
    )
    # Positioned by runtime.css: a fixed dialog with its card centred in the viewport.
    assert colour(page, popup, "position") == "fixed"
    box = page.locator(panel).bounding_box()
    assert abs(box["x"] + box["width"] / 2 - 640) <= 1
    page.screenshot(path=str(artifacts_dir / "csp-django-csp-overlays.png"))

    # More of the demo, htmx-driven parts included.
    for path in ("/c/cat-food/", "/cart/", "/search/?q=zzz"):
        page.goto(django_csp_server + path)

    assert page.evaluate("window.__cspViolations") == []
    problems = [m for m in console if "Content Security Policy" in m or m.startswith("error")]
    assert problems == []
