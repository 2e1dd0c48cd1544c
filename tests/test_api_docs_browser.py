"""The API docs page in Debian's Chromium, under the test project's strict CSP.

Swagger UI must render every documented operation from the app's static files with
not one Content-Security-Policy violation (the policy has nonces, no
'unsafe-inline', no 'unsafe-eval') and not one request off the shop's origin.
"""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from pytest_django.live_server_helper import LiveServer

from tests.test_csp_browser import RECORD_VIOLATIONS

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCHEMA = "/personalize/api/schema/?format=json"


def test_swagger_ui_renders_every_operation_without_csp_violations(
    page: Any, live_server: LiveServer, artifacts_dir: Path
) -> None:
    console: list[str] = []
    requests: list[str] = []
    page.on("console", lambda msg: console.append(f"{msg.type}: {msg.text}"))
    page.on("pageerror", lambda exc: console.append(f"page error: {exc}"))
    page.on("request", lambda request: requests.append(request.url))
    page.add_init_script(RECORD_VIOLATIONS)

    response = page.goto(live_server.url + "/personalize/api/docs/")
    policy = response.headers["content-security-policy"]
    assert "'nonce-" in policy and "unsafe-inline" not in policy and "unsafe-eval" not in policy

    page.wait_for_selector(".opblock-summary-path")
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    schema = json.loads(urllib.request.urlopen(live_server.url + SCHEMA).read())
    operations = sorted(path for path, methods in schema["paths"].items() for _ in methods)
    assert sorted(path.strip().replace("\u200b", "") for path in paths) == operations
    assert "/personalize/api/v1/events/" in operations
    events = page.locator(".opblock-post").filter(has_text="/personalize/api/v1/events/")
    events.locator(".opblock-summary").first.click()
    page.wait_for_selector(".opblock-body .responses-table")
    assert page.locator(".authorize").count() == 1  # the API key scheme
    page.screenshot(path=str(artifacts_dir / "api-docs.png"), full_page=True)

    assert page.evaluate("window.__cspViolations") == []
    problems = [m for m in console if "Content Security Policy" in m or m.startswith("error")]
    assert problems == []
    assert all(url.startswith(live_server.url) or url.startswith("data:") for url in requests)
