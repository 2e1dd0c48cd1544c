"""Oscar's own pages and checkout, driven with the test client, land in the event log."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from personalize.models import Event, Widget
from personalize.profiles.base import get_store
from tests.oscar.conftest import SHOPPER_UA, Shop

pytestmark = pytest.mark.django_db


def shopper() -> Client:
    return Client(headers={"User-Agent": SHOPPER_UA, "Accept": "text/html"})


def events(name: str) -> list[dict[str, Any]]:
    """This test's events of one kind (not the past shoppers' the model was trained on)."""
    found = Event.objects.filter(name=name).exclude(visitor_id__startswith="past-")
    return [event.props for event in found.order_by("occurred_at", "pk")]


def checkout_as_guest(client: Client) -> Any:
    """Oscar's guest checkout, page by page: gateway, address, shipping, preview, place."""
    response = client.post(
        reverse("checkout:index"), {"username": "guest@example.com", "options": "anonymous"}
    )
    assert response.status_code == 302, response.content[:2000]
    response = client.post(
        reverse("checkout:shipping-address"),
        {
            "first_name": "Ada",
            "last_name": "Lovelace",
            "line1": "1 Analytical Row",
            "line4": "London",
            "postcode": "N1 9GU",
            "country": "GB",
        },
    )
    assert response.status_code == 302, response.content[:2000]
    response = client.get(reverse("checkout:shipping-method"), follow=True)
    assert response.status_code == 200
    response = client.post(reverse("checkout:preview"), {"action": "place_order"})
    assert response.status_code == 302, response.content[:3000]
    assert response["Location"] == reverse("checkout:thank-you")
    return response


def test_product_page_view_is_tracked_with_category_and_price(personalized_shop: Shop) -> None:
    client = shopper()
    response = client.get(personalized_shop.books[1].get_absolute_url())
    assert response.status_code == 200
    assert events("product_view") == [
        {"product_id": str(personalized_shop.books[1].pk), "category": "fiction", "price": 11.0}
    ]


def test_a_variant_page_counts_for_its_parent(personalized_shop: Shop) -> None:
    response = shopper().get(personalized_shop.small.get_absolute_url())
    assert response.status_code == 200
    assert events("product_view") == [
        {"product_id": str(personalized_shop.shirt.pk), "category": "clothing", "price": 15.0}
    ]


def test_category_page_view_is_tracked(personalized_shop: Shop) -> None:
    client = shopper()
    response = client.get(personalized_shop.fiction.get_absolute_url())
    assert response.status_code == 200
    assert events("category_view") == [{"category": "fiction"}]
    # The catalogue index is not a category page.
    client.get(reverse("catalogue:index"))
    assert len(events("category_view")) == 1


def test_basket_addition_carries_the_quantity(personalized_shop: Shop) -> None:
    client = shopper()
    book = personalized_shop.books[2]
    add = reverse("basket:add", kwargs={"pk": book.pk})
    assert client.post(add, {"quantity": 3}).status_code == 302
    assert client.post(add, {"quantity": 2}).status_code == 302  # the same line grows by 2
    assert events("add_to_cart") == [
        {"product_id": str(book.pk), "price": 12.0, "quantity": 3, "category": "fiction"},
        {"product_id": str(book.pk), "price": 12.0, "quantity": 2, "category": "fiction"},
    ]
    visitor = client.get("/personalize/api/visitor/").json()
    assert visitor["attributes"]["cart"]["quantity"] == 5
    # An invalid quantity is refused by Oscar's form: no signal, no event.
    client.post(add, {"quantity": 0})
    assert len(events("add_to_cart")) == 2


def test_variant_added_to_basket_counts_for_its_parent(personalized_shop: Shop) -> None:
    client = shopper()
    shop = personalized_shop
    add = reverse("basket:add", kwargs={"pk": shop.shirt.pk})
    assert client.post(add, {"quantity": 1, "child_id": shop.small.pk}).status_code == 302
    assert events("add_to_cart") == [
        {"product_id": str(shop.shirt.pk), "price": 15.0, "quantity": 1, "category": "clothing"}
    ]


def test_guest_checkout_is_a_purchase(personalized_shop: Shop, shipping_country: Any) -> None:
    from oscar.core.loading import get_model

    client = shopper()
    shop = personalized_shop
    client.post(reverse("basket:add", kwargs={"pk": shop.books[2].pk}), {"quantity": 3})
    client.post(
        reverse("basket:add", kwargs={"pk": shop.shirt.pk}),
        {"quantity": 1, "child_id": shop.small.pk},
    )
    checkout_as_guest(client)
    order = get_model("order", "Order").objects.get()
    assert order.guest_email == "guest@example.com"
    (purchase,) = events("purchase")
    assert purchase == {
        "order_id": order.number,
        "value": float(order.total_incl_tax),
        "currency": "GBP",
        "items": [
            {
                "product_id": str(shop.books[2].pk),
                "category": "fiction",
                "price": 12.0,
                "quantity": 3,
            },
            {
                "product_id": str(shop.shirt.pk),
                "category": "clothing",
                "price": 15.0,
                "quantity": 1,
            },
        ],
    }
    assert purchase["value"] == 51.0
    visitor = client.get("/personalize/api/visitor/").json()
    # The guest is not signed in: order history is personal and stays off the API
    # (docs/privacy.md); the profile itself counts the order.
    assert visitor["personal"] is False and "orders_count" not in visitor["attributes"]
    assert visitor["attributes"]["cart"]["items"] == 0
    profile = get_store().load(visitor["id"])
    assert profile is not None and profile.orders_count == 1


def test_a_tracking_problem_never_breaks_oscar(personalized_shop: Shop, caplog: Any) -> None:
    # A product priced beyond what an event accepts (negative): the page still renders.
    book = personalized_shop.books[1]
    book.stockrecords.update(price=-1)
    response = shopper().get(book.get_absolute_url())
    assert response.status_code == 200
    assert events("product_view") == []
    assert "Oscar event not tracked by product_viewed" in caplog.text


def test_product_page_widget_adds_at_most_two_queries(
    personalized_shop: Shop, django_assert_max_num_queries: Any
) -> None:
    client = shopper()
    url = personalized_shop.books[0].get_absolute_url()
    client.get(url)  # first visit: cookie, compiled configuration, thumbnails made
    client.get(url)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    # Oscar's migrations filled the query log to its limit: start from an empty one.
    connection.queries_log.clear()
    with CaptureQueriesContext(connection) as captured:
        html = client.get(url).content.decode()
    with_widget = [query["sql"] for query in captured.captured_queries]
    shown = re.findall(r'data-pz-item="(\d+)"', html)
    # Viewed together with book 0: book 1; then the bestsellers: book 2, the shirt
    # (book 5 sold too, but is out of stock).
    assert shown == [
        str(personalized_shop.books[1].pk),
        str(personalized_shop.books[2].pk),
        str(personalized_shop.shirt.pk),
    ]
    assert "£12.00" in html and 'data-pz-widget="product-detail"' in html
    Widget.objects.update(is_active=False)
    from personalize import configuration

    configuration.bump()
    client.get(url)  # the configuration is compiled again once
    connection.queries_log.clear()
    with CaptureQueriesContext(connection) as captured:
        html = client.get(url).content.decode()
    without_widget = [query["sql"] for query in captured.captured_queries]
    assert "data-pz-widget" not in html
    # The products and their stock records; the database store's trained rows were
    # read once by this process (first visits above) and are cached until a new model.
    extra = [statement(sql) for sql in with_widget]
    for sql in without_widget:
        extra.remove(statement(sql))
    assert sorted(extra) == [
        ("SELECT", '"catalogue_product"'),
        ("SELECT", '"partner_stockrecord"'),
    ]


def statement(sql: str) -> tuple[str, str]:
    """(verb, table) of a query: what stays the same between two requests."""
    words = sql.split()
    if words[0] == "SELECT":
        depth = 0
        for index, char in enumerate(sql):  # the FROM of the query, not of a subquery
            depth += {"(": 1, ")": -1}.get(char, 0)
            if depth == 0 and sql.startswith(" FROM ", index):
                return "SELECT", sql[index + 6 :].split()[0]
        return "SELECT", ""
    if words[0] == "INSERT":
        return "INSERT", words[words.index("INTO") + 1]
    return words[0], words[1] if words[0] == "UPDATE" else ""


def test_widget_render_is_two_queries_on_redis(
    use_redis_store: Any, personalized_shop: Shop, django_assert_num_queries: Any
) -> None:
    from django.contrib.auth.models import AnonymousUser
    from django.template import RequestContext, Template
    from django.test import RequestFactory

    from personalize.recommendations.training import train

    train()  # into Redis: serving reads the rows there, so only the products are SQL
    shop = personalized_shop
    page_product = type(shop.books[0]).objects.get(pk=shop.books[0].pk)
    template = Template('{% load personalize %}{% recommendations "product-detail" product=p %}')

    def render() -> str:
        request = RequestFactory().get(page_product.get_absolute_url())
        request.user = AnonymousUser()
        return template.render(RequestContext(request, {"p": page_product}))

    render()  # the page product's category (the product_view receiver's lookup), thumbnails
    with django_assert_num_queries(2) as captured:
        html = render()
    assert [statement(q["sql"]) for q in captured.captured_queries] == [
        ("SELECT", '"catalogue_product"'),
        ("SELECT", '"partner_stockrecord"'),
    ]
    assert len(re.findall(r'data-pz-item="', html)) == 3
