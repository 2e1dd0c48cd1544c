"""Recommendation widgets in Chromium: a product page's widgets, a click, the admin stats."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from personalize.models import Event, Widget
from personalize.recommendations.training import train
from shop_demo.models import Product
from shop_demo.personalization import install_demo_segments, install_demo_widgets
from shop_demo.seeding import seed_catalogue

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def shop(transactional_db: None) -> dict[str, Product]:
    """The demo catalogue and widgets; a history where the first cat toys go together."""
    from personalize import configuration
    from personalize.segments.builtin import install_builtin_segments

    install_builtin_segments()  # transactional tests flush what the migration created
    seed_catalogue(42, timezone.now(), lambda n: None)
    install_demo_segments()
    install_demo_widgets()
    # This test is about what the widgets show: no visitor held out (the holdout has
    # tests of its own, tests/test_rec_holdout.py), else a random 10-20% would see none.
    Widget.objects.update(holdout_percent=0)
    toys = list(Product.objects.filter(category__slug="cat-toys", stock__gt=0).order_by("pk")[:6])
    at = timezone.now() - timedelta(days=3)
    events = []
    for shopper in range(8):
        for visit, group in enumerate((toys[:3], toys[3:]), 1):
            for product in group:
                events.append(
                    Event(
                        event_id=f"{shopper}-{visit}-{product.pk}",
                        visitor_id=f"history{shopper}",
                        name="product_view",
                        props={"product_id": str(product.pk), "category": "cat-toys"},
                        visit=visit,
                        occurred_at=at,
                    )
                )
        events.append(
            Event(
                event_id=f"{shopper}-order",
                visitor_id=f"history{shopper}",
                name="purchase",
                props={
                    "order_id": f"h{shopper}",
                    "value": 35.0,
                    "items": [
                        {"product_id": str(toys[0].pk), "price": 10.0, "quantity": 1},
                        {"product_id": str(toys[4].pk), "price": 20.0, "quantity": 1},
                        {"product_id": str(toys[5].pk), "price": 5.0, "quantity": 1},
                    ],
                },
                occurred_at=at,
            )
        )
    Event.objects.bulk_create(events)
    train()
    configuration.bump()
    return {"first": toys[0], "viewed": toys[1], "bought": toys[4], "bought_too": toys[5]}


def wait_for_event(name: str, timeout: float = 5.0, **props: Any) -> Event:
    deadline = time.monotonic() + timeout
    lookups = {f"props__{key}": value for key, value in props.items()}
    while time.monotonic() < deadline:
        found = (
            Event.objects.filter(name=name, **lookups)
            .exclude(visitor_id__startswith="history")
            .first()
        )
        if found is not None:
            return found
        time.sleep(0.1)
    raise AssertionError(f"no {name} event was logged within {timeout} s")


def test_product_page_widgets_click_and_admin_stats(
    page: Any, live_server: Any, shop: dict[str, Product], chromium: Any
) -> None:
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.goto(live_server.url + shop["first"].get_absolute_url())
    bought = page.locator('[data-pz-widget="product-bought"]')
    viewed = page.locator('[data-pz-widget="product-viewed"]')
    bought.wait_for()
    assert bought.get_attribute("data-pz-strategy") == "bought_together"
    assert bought.locator("h2").inner_text() == "Frequently bought together"
    together = bought.locator("[data-pz-item]")
    assert {together.nth(i).get_attribute("data-pz-item") for i in range(2)} == {
        str(shop["bought"].pk),
        str(shop["bought_too"].pk),
    }
    assert together.first.get_attribute("data-pz-position") == "1"
    items = viewed.locator("[data-pz-item]")
    assert items.count() >= 2
    shown = [items.nth(i).get_attribute("data-pz-item") for i in range(items.count())]
    assert str(shop["viewed"].pk) in shown
    assert str(shop["bought"].pk) not in shown  # already in the widget above
    assert str(shop["first"].pk) not in shown  # never the product on screen
    page.screenshot(path="test-artifacts/recs-product-page.png", full_page=True)

    # A widget half on screen is reported as seen, once.
    viewed.scroll_into_view_if_needed()
    view = wait_for_event("rec_view", widget="product-viewed")
    assert view.props["strategy"] == "viewed_together" and view.props["count"] == len(shown)

    position = shown.index(str(shop["viewed"].pk)) + 1
    with page.expect_navigation():
        viewed.locator(f'[data-pz-item="{shop["viewed"].pk}"] a').click()
    assert page.url.endswith(shop["viewed"].get_absolute_url())
    click = wait_for_event("rec_click")
    assert click.props == {
        "widget": "product-viewed",
        "strategy": "viewed_together",
        "product_id": str(shop["viewed"].pk),
        "position": position,
        "path": shop["first"].get_absolute_url(),
    }
    # Buying the clicked product is attributed to the widget.
    page.locator("form.add-form button[type=submit]").click()
    wait_for_event("add_to_cart", product_id=str(shop["viewed"].pk))
    assert problems == [], problems

    # The merchandiser sees the click in the admin.
    widget = Widget.objects.get(slot="product-viewed")
    admin = chromium.new_context(viewport={"width": 1280, "height": 900})
    staff = admin.new_page()
    staff.goto(live_server.url + "/admin/login/?next=/admin/personalize/widget/")
    staff.fill("#id_username", "root")
    staff.fill("#id_password", "pass-for-tests")
    staff.click("input[type=submit]")
    row = staff.locator("#result_list tr", has_text="product-viewed")
    row.wait_for()
    staff.screenshot(path="test-artifacts/recs-admin-list.png", full_page=True)
    staff.goto(f"{live_server.url}/admin/personalize/widget/{widget.pk}/results/")
    staff.screenshot(path="test-artifacts/recs-admin-results.png", full_page=True)

    def total(label: str) -> str:
        cell = staff.locator(".pz-results-table tr", has=staff.locator(f'th:text-is("{label}")'))
        return str(cell.locator("td").inner_text()).strip()

    assert total("Views") == "1"
    assert total("Clicks") == "1"
    assert total("Attributed add-to-carts") == "1"
    admin.close()


@pytest.fixture(autouse=True)
def _staff(transactional_db: None) -> None:
    from django.contrib.auth.models import User

    User.objects.create_superuser("root", "root@example.com", "pass-for-tests")


def test_lazy_category_widget_loads_with_htmx_under_the_csp(
    page: Any, live_server: Any, shop: dict[str, Product]
) -> None:
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.goto(live_server.url + "/c/cat-toys/")
    widget = page.locator('[data-pz-widget="category"]')
    widget.wait_for()  # swapped in by htmx after the page loaded
    assert page.locator(".pz-recs-lazy").count() == 0
    assert widget.locator("h2").inner_text() == "Inspired by your browsing"
    assert widget.locator("[data-pz-item]").count() >= 2
    widget.scroll_into_view_if_needed()
    view = wait_for_event("rec_view", widget="category")
    assert view.props["path"] == "/c/cat-toys/"
    page.screenshot(path="test-artifacts/recs-category-lazy.png", full_page=True)
    assert problems == [], problems


def test_cart_cross_sell_follows_the_cart(
    page: Any, live_server: Any, shop: dict[str, Product]
) -> None:
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    page.goto(live_server.url + shop["first"].get_absolute_url())
    page.locator("form.add-form button[type=submit]").click()
    page.locator('.cart-count[data-count="1"]').wait_for()  # the response (and cookie) is in
    page.goto(live_server.url + "/cart/")
    widget = page.locator('[data-pz-widget="cart"]')
    widget.wait_for()
    items = widget.locator("[data-pz-item]")
    assert {items.nth(i).get_attribute("data-pz-item") for i in range(items.count())} == {
        str(shop["bought"].pk),
        str(shop["bought_too"].pk),
    }
    page.screenshot(path="test-artifacts/recs-cart.png", full_page=True)
    # Emptying the cart (htmx) refreshes the widget: nothing goes with an empty cart.
    page.locator(".cart-line-remove button").first.click()
    widget.wait_for(state="detached")
    assert page.locator(".pz-recs-lazy[hidden]").count() == 1
    assert problems == [], problems


@pytest.mark.urls("tests.urls")
def test_lazy_widget_and_slot_load_on_a_page_without_htmx(
    page: Any, live_server: Any, shop: dict[str, Product], artifacts_dir: Path
) -> None:
    """The runtime, not htmx, fills them; the strict nonce CSP of the tests applies."""
    from tests.test_campaigns import make

    make("hero-cats", kind="slot", slot_name="hero")
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    response = page.goto(live_server.url + "/lazy/")
    assert "data-pz-lazy" in response.text()
    assert page.evaluate("window.htmx === undefined")
    assert "script-src 'self' 'nonce-" in response.headers["content-security-policy"]

    widget = page.locator('[data-pz-widget="category"]')
    widget.wait_for()
    slot = page.locator('[data-pz-kind="slot"][data-pz-campaign="hero-cats"]')
    slot.wait_for()
    assert page.locator("#hero-default, [data-pz-lazy]").count() == 0
    assert slot.inner_text().startswith("hero-cats a")
    assert widget.locator("[data-pz-item]").count() >= 2
    page.screenshot(path=str(artifacts_dir / "lazy-without-htmx.png"), full_page=True)

    view = wait_for_event("rec_view", widget="category")
    assert view.props["path"] == "/lazy/"
    wait_for_event("campaign_impression", campaign="hero-cats")
    item = widget.locator("[data-pz-item]").nth(1)
    product_id = item.get_attribute("data-pz-item")
    with page.expect_navigation():
        item.locator("a").click()
    click = wait_for_event("rec_click", widget="category")
    assert (click.props["product_id"], click.props["position"]) == (product_id, 2)
    assert problems == [], problems
