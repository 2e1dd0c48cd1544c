"""The analytics dashboard in Chromium, under a strict CSP: charts drawn, tables laid
out, a screenshot for docs/img/ in test-artifacts/."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.analytics_seed import seed
from tests.test_segment_admin_browser import DOCS_IMG, log_in, strict_csp

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_dashboard_renders_in_a_browser(page: Any, live_server: Any) -> None:
    violations = strict_csp(page)
    seed()
    base = live_server.url
    log_in(page, base)
    page.goto(f"{base}/admin/")
    page.click(".pz-dashboard-link a.section")
    page.wait_for_url("**/admin/personalize/dashboard/")
    page.select_option("#id_range", "custom")
    page.fill("#id_start", "2026-03-10")
    page.fill("#id_end", "2026-03-12")
    page.click(".pz-range button[type=submit]")
    page.wait_for_url(re.compile(r"start=2026-03-10"))
    assert page.locator(".pz-kpi").count() == 11
    assert page.locator(".pz-kpi-value").first.inner_text() == "8"
    assert page.locator(".pz-charts svg.pz-daily-chart rect.pz-daily-bar").count() == 6
    assert page.locator("table.pz-breakdown").count() == 5
    # Each breakdown table is as tall as its rows, not stretched to its neighbour's.
    heights = page.locator("table.pz-breakdown").evaluate_all(
        "tables => tables.map(t => t.getBoundingClientRect().height)"
    )
    assert min(heights) < max(heights)
    page.screenshot(path=str(DOCS_IMG / "dashboard.png"), full_page=True)
    page.fill("#id_start", "2026-03-12")
    page.fill("#id_end", "2026-03-10")
    page.click(".pz-range button[type=submit]")
    assert "is before start" in page.locator(".errorlist").inner_text()
    assert violations == []
