"""A real browser against the demo shop: the visitor cookie and visits as a shopper sees them."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import Clock

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def visitor(page: Any, base: str) -> dict[str, Any]:
    page.goto(f"{base}/personalize/api/visitor/")
    data: dict[str, Any] = json.loads(page.inner_text("body"))
    return data


def test_first_visit_then_returning_after_timeout(
    page: Any, live_server: Any, clock: Clock
) -> None:
    base = live_server.url
    response = page.goto(f"{base}/personalize/api/visitor/")
    assert response.status == 200
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert "pz_vid" in cookies
    assert cookies["pz_vid"]["httpOnly"] is True
    assert cookies["pz_vid"]["sameSite"] == "Lax"
    data = visitor(page, base)
    assert data["is_new"] is True
    assert data["visit_count"] == 1

    clock.advance(1801)
    data = visitor(page, base)
    assert data["is_returning"] is True
    assert data["is_new"] is False
    assert data["visit_count"] == 2
