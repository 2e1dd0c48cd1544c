"""A shopper in Chromium on Oscar's own pages: popup, product widget, basket, guest checkout."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.urls import reverse
from oscar.core.loading import get_model

from personalize.models import Event
from tests.oscar.conftest import Country, build_shop, install_personalization, train_from_history

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

POPUP = '[data-pz-campaign="welcome"]'


def logged(name: str) -> list[dict[str, Any]]:
    found = Event.objects.filter(name=name).exclude(visitor_id__startswith="past-")
    return [event.props for event in found.order_by("occurred_at", "pk")]


def test_shopper_journey_on_oscar(page: Any, live_server: Any, artifacts_dir: Any) -> None:
    shop = build_shop()
    train_from_history(shop)
    install_personalization()
    Country.objects.create(
        iso_3166_1_a2="GB", name="United Kingdom", printable_name="UK", is_shipping_country=True
    )
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    # A new visitor on a product page: the welcome popup after its 1 s delay, and the
    # widget filled with Oscar's products.
    page.goto(live_server.url + shop.books[0].get_absolute_url())
    popup = page.locator(POPUP)
    popup.wait_for(state="visible", timeout=5000)
    assert "Welcome to the shop" in popup.inner_text()
    widget = page.locator('[data-pz-widget="product-detail"]')
    items = widget.locator("[data-pz-item]")
    assert items.count() == 3
    assert "Novel 1" in widget.inner_text() and "£11.00" in widget.inner_text()
    assert widget.locator("img").first.get_attribute("src").startswith("/media/")
    page.screenshot(path=str(artifacts_dir / "oscar-product-page-popup.png"), full_page=True)
    popup.locator(".pz-dismiss").click()
    widget.scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts_dir / "oscar-product-page-widget.png"))

    # A click in the widget leads to that product, and is reported.
    items.first.locator("a").click()
    page.wait_for_url(re.compile(re.escape(shop.books[1].get_absolute_url())))

    # Into the basket with Oscar's own form (Oscar's product page posts a quantity of 1;
    # larger quantities are covered in test_tracking.py).
    page.locator("#add_to_basket_form button[type=submit]").click()
    page.wait_for_load_state()

    # Oscar's guest checkout, page by page.
    page.goto(live_server.url + reverse("checkout:index"))
    page.fill("input[name=username]", "guest@example.com")
    page.check("input[name=options][value=anonymous]")
    page.locator("form#login_form button[type=submit], form button[type=submit]").first.click()
    page.wait_for_url(re.compile("shipping-address"))
    page.fill("input[name=first_name]", "Ada")
    page.fill("input[name=last_name]", "Lovelace")
    page.fill("input[name=line1]", "1 Analytical Row")
    page.fill("input[name=line4]", "London")
    page.fill("input[name=postcode]", "N1 9GU")
    # One shipping country: Oscar fills it in itself (a hidden field).
    page.locator("form#new_shipping_address button[type=submit]").click()
    page.wait_for_url(re.compile("payment-details|preview"))
    if "preview" not in page.url:
        page.goto(live_server.url + reverse("checkout:preview"))
    page.locator("#place-order").click()
    page.wait_for_url(re.compile("thank-you"))
    page.screenshot(path=str(artifacts_dir / "oscar-thank-you.png"), full_page=True)

    order = get_model("order", "Order").objects.get()
    views = logged("product_view")
    # Oscar sends the shopper back to the product page after adding it: a second view.
    first, second = str(shop.books[0].pk), str(shop.books[1].pk)
    assert [v["product_id"] for v in views] == [first, second, second]
    assert logged("add_to_cart") == [
        {"product_id": str(shop.books[1].pk), "price": 11.0, "quantity": 1, "category": "fiction"}
    ]
    assert logged("purchase") == [
        {
            "order_id": order.number,
            "value": 11.0,
            "currency": "GBP",
            "items": [
                {
                    "product_id": str(shop.books[1].pk),
                    "category": "fiction",
                    "price": 11.0,
                    "quantity": 1,
                }
            ],
        }
    ]
    clicks = logged("rec_click")
    assert clicks and clicks[0]["product_id"] == str(shop.books[1].pk)
    assert logged("campaign_impression")
    assert errors == []
