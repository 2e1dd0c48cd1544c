"""tests.urls plus the headless page of docs/headless.md, served as the docs print it."""

from __future__ import annotations

import re
from pathlib import Path

from django.http import HttpRequest, HttpResponse
from django.urls import path

from tests.urls import urlpatterns as shop_urls

DOC = Path(__file__).resolve().parent.parent / "docs" / "headless.md"


def example(name: str) -> str:
    """The code block after ``<!-- example: <name> -->`` in docs/headless.md."""
    found = re.search(
        rf"<!-- example: {re.escape(name)} -->\n```\w+\n(.*?)\n```", DOC.read_text(), re.S
    )
    if found is None:
        raise LookupError(f"docs/headless.md has no example {name!r}")
    return found.group(1) + "\n"


def storefront_page(request: HttpRequest) -> HttpResponse:
    return HttpResponse(example("storefront.html"))


def storefront_script(request: HttpRequest) -> HttpResponse:
    return HttpResponse(example("storefront.js"), content_type="text/javascript")


urlpatterns = [
    path("favicon.ico", lambda request: HttpResponse(status=204)),
    path("headless/", storefront_page),
    path("headless/storefront.js", storefront_script),
    *shop_urls,
]
