"""Whatever a shopper sends the events API, the answer is a 4xx naming the problem, never a 500."""

from __future__ import annotations

import json

import pytest
from django.test import Client

UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36"

pytestmark = [pytest.mark.urls("tests.urls"), pytest.mark.django_db]


def shopper() -> Client:
    client = Client(headers={"User-Agent": UA, "Accept": "text/html"})
    client.get("/shop/")  # a tracked visitor with a cookie
    return client


def post(client: Client, body: str, **extra: str) -> object:
    return client.post(
        "/personalize/api/events/",
        body,
        content_type="text/plain",
        headers={"Origin": "http://testserver"},
        **extra,
    )


@pytest.mark.parametrize("opening", ["[", '{"a":'])
def test_deeply_nested_json_is_a_400(opening: str) -> None:
    response = post(shopper(), opening * (15_000 // len(opening)))  # under the 16 kB cap
    assert response.status_code == 400  # type: ignore[attr-defined]
    # Nested too deeply for json.loads where it recurses (RecursionError), or simply
    # incomplete where it does not: a parse error either way.
    assert "JSON parse error" in json.dumps(response.json())  # type: ignore[attr-defined]


@pytest.mark.parametrize("length", ["abc", "-1", "1e3", " 12"])
def test_a_content_length_that_is_not_a_size_is_a_400(length: str) -> None:
    response = post(shopper(), '{"token": "x", "events": []}', CONTENT_LENGTH=length)
    assert response.status_code == 400  # type: ignore[attr-defined]
    assert "Content-Length" in response.json()["detail"]  # type: ignore[attr-defined]


def test_a_declared_body_over_the_limit_is_a_413() -> None:
    response = post(shopper(), '{"token": "x", "events": []}', CONTENT_LENGTH="99999")
    assert response.status_code == 413  # type: ignore[attr-defined]
