"""The CSP nonce on personalize's ``<script>`` and ``<style>``, with each CSP library.

Real requests through the real middleware of each library (no CSP at all, a plain
string attribute, django-csp 4, Django 6's own): the nonce on the tags must be the
one in the ``Content-Security-Policy`` header, or the browser blocks them.
"""

from __future__ import annotations

import re
from typing import Any

import django
import pytest
from csp.constants import NONCE, SELF
from csp.middleware import CSPMiddleware
from django.conf import settings
from django.test import Client, RequestFactory, override_settings

from personalize.campaigns.models import Variant
from personalize.csp import request_nonce
from tests.test_campaigns import make, shopper

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.urls")]

SHOP_CSP = "shop_demo.csp.ContentSecurityPolicyMiddleware"
DJANGO_CSP_4 = "csp.middleware.CSPMiddleware"
DJANGO_6_CSP = "django.middleware.csp.ContentSecurityPolicyMiddleware"


def middleware(csp: str | None) -> list[str]:
    """The test settings' middleware with the shop's CSP middleware swapped for ``csp``."""
    stack = [m for m in settings.MIDDLEWARE if m != SHOP_CSP]
    if csp is not None:
        stack.insert(stack.index("django.middleware.security.SecurityMiddleware") + 1, csp)
    return stack


@pytest.fixture
def themed() -> None:
    """An immediate popup with its own colours: the overlays then carry a ``<style>``."""
    campaign = make("themed", trigger="immediate")
    Variant.objects.filter(campaign=campaign).update(accent_color="#8a2be2")
    from personalize import configuration

    configuration.bump()


def page(client: Client) -> tuple[str, str]:
    """The shop page's HTML and its CSP header ("" without one)."""
    response = client.get("/shop/")
    assert response.status_code == 200
    return response.content.decode(), response.headers.get("Content-Security-Policy", "")


def tag_nonces(html: str) -> dict[str, str | None]:
    """The nonce on the runtime's ``<script>`` and on the theme ``<style>`` (None: no attribute)."""
    script = re.search(r'<script src="[^"]*runtime\.js" defer(?: nonce="([^"]*)")?>', html)
    style = re.search(r'<style(?: nonce="([^"]*)")?>\s*\.pz-theme-themed-a', html)
    assert script is not None and style is not None, html
    return {"script": script.group(1), "style": style.group(1)}


def header_nonces(policy: str) -> dict[str, str]:
    """The nonce each of script-src and style-src allows."""
    found = {}
    for directive in ("script-src", "style-src"):
        match = re.search(directive + r" [^;]*'nonce-([^']+)'", policy)
        assert match is not None, policy
        found[directive.removesuffix("-src")] = match.group(1)
    return found


def test_without_a_csp_library_the_tags_carry_no_nonce(themed: None) -> None:
    with override_settings(MIDDLEWARE=middleware(None)):
        html, policy = page(shopper())
    assert policy == ""
    assert tag_nonces(html) == {"script": None, "style": None}


def test_a_plain_string_attribute_is_used(themed: None) -> None:
    html, policy = page(shopper())  # the demo's own middleware: request.csp_nonce = "…"
    nonce = header_nonces(policy)["script"]
    assert tag_nonces(html) == {"script": nonce, "style": nonce}


@override_settings(PERSONALIZE_CSP_NONCE_ATTRIBUTE="shop_nonce")
def test_the_attribute_is_configurable() -> None:
    request = RequestFactory().get("/")
    assert request_nonce(request) == ""
    request.csp_nonce = "not-this-one"  # type: ignore[attr-defined]
    request.shop_nonce = "r4nd0m"  # type: ignore[attr-defined]
    assert request_nonce(request) == "r4nd0m"
    assert request_nonce(None) == ""


DJANGO_CSP_4_POLICY: dict[str, Any] = {
    "DIRECTIVES": {"default-src": [SELF], "script-src": [SELF, NONCE], "style-src": [SELF, NONCE]}
}


@override_settings(MIDDLEWARE=middleware(DJANGO_CSP_4), CONTENT_SECURITY_POLICY=DJANGO_CSP_4_POLICY)
def test_django_csp_4_lazy_nonce_reaches_the_tags_and_the_header(themed: None) -> None:
    html, policy = page(shopper())
    nonces = header_nonces(policy)
    assert nonces["script"] == nonces["style"]
    assert tag_nonces(html) == {"script": nonces["script"], "style": nonces["script"]}


def test_django_csp_4_nonce_is_falsy_until_read_so_it_is_read_with_str() -> None:
    request = RequestFactory().get("/")
    CSPMiddleware(lambda request: None).process_request(request)  # type: ignore[arg-type]
    assert not request.csp_nonce  # type: ignore[attr-defined]  # lazy: not generated yet
    nonce = request_nonce(request)
    assert len(nonce) >= 16
    assert request._csp_nonce == nonce  # type: ignore[attr-defined]  # what goes in the header
    assert request_nonce(request) == nonce


@pytest.mark.skipif(django.VERSION < (6, 0), reason="Django<6 has no django.middleware.csp")
def test_django_6_builtin_nonce_reaches_the_tags_and_the_header(themed: None) -> None:
    from django.utils.csp import CSP  # type: ignore[import-untyped,unused-ignore]

    with override_settings(
        MIDDLEWARE=middleware(DJANGO_6_CSP),
        SECURE_CSP={
            "default-src": [CSP.SELF],
            "script-src": [CSP.SELF, CSP.NONCE],
            "style-src": [CSP.SELF, CSP.NONCE],
        },
    ):
        html, policy = page(shopper())
    nonces = header_nonces(policy)
    assert tag_nonces(html) == {"script": nonces["script"], "style": nonces["script"]}
