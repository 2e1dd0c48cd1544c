"""The catalogue adapter reads the shop's own product model through settings."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.test import override_settings
from django.utils import timezone

from personalize.recommendations.catalogue import (
    CatalogueItem,
    ModelCatalogue,
    get_catalogue,
    items_by_id,
)
from shop_demo.models import Category, Order, OrderItem, Product

pytestmark = pytest.mark.django_db


@pytest.fixture
def products() -> list[Product]:
    cats = Category.objects.create(name="Cat food", slug="cat-food", hue=1, position=0)
    return [
        Product.objects.create(
            category=cats,
            name=f"Kibble {i}",
            slug=f"kibble-{i}",
            price=Decimal("9.50") + i,
            stock=i,
            created_at=timezone.now(),
        )
        for i in range(3)
    ]


def test_items_in_requested_order_with_one_query(
    products: list[Product], django_assert_num_queries: Any
) -> None:
    catalogue = get_catalogue()
    ids = [str(products[2].pk), "999999", str(products[0].pk), "not-a-number"]
    with django_assert_num_queries(1):
        items = catalogue.items(ids)
    assert [item.id for item in items] == [str(products[2].pk), str(products[0].pk)]
    first = items[0]
    assert isinstance(first, CatalogueItem)
    assert first.title == "Kibble 2"
    assert first.url == "/p/kibble-2/"
    assert first.category == "cat-food"
    assert first.price == Decimal("11.50")
    assert first.in_stock is True
    assert items[1].in_stock is False  # stock 0
    assert first.image_url.endswith(".svg")
    assert first.obj == products[2]
    assert catalogue.items([]) == []


def test_all_items_and_mapping(products: list[Product]) -> None:
    catalogue = get_catalogue()
    assert len(list(catalogue.all_items())) == 3
    assert set(items_by_id(catalogue, [str(p.pk) for p in products])) == {
        str(p.pk) for p in products
    }


def test_field_names_are_settings(products: list[Product]) -> None:
    catalogue = ModelCatalogue(fields={"title": "slug", "category": "category.name"})
    item = catalogue.items([str(products[0].pk)])[0]
    assert (item.title, item.category) == ("kibble-0", "Cat food")
    item = ModelCatalogue(fields={"price": "name", "category": "missing.path"}).items(
        [str(products[0].pk)]
    )[0]
    assert item.price is None and item.category == ""


def test_missing_model_setting_is_a_clear_error() -> None:
    with (
        override_settings(PERSONALIZE_PRODUCT_MODEL=""),
        pytest.raises(LookupError, match="PRODUCT_MODEL"),
    ):
        ModelCatalogue()
    with (
        override_settings(PERSONALIZE_CATALOGUE="personalize.conf.Settings"),
        pytest.raises(TypeError, match="BaseCatalogue"),
    ):
        get_catalogue()


class SalesCatalogue(ModelCatalogue):
    """A shop's subclass: declares its relations and prepares the whole batch at once."""

    select_related = ("category",)
    prefetch_related = ("order_items",)

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[int] = []

    def prepare(self, objs: list[Any]) -> None:
        self.batches.append(len(objs))
        for obj in objs:
            obj.units_sold = sum(line.quantity for line in obj.order_items.all())


def test_subclass_hooks_keep_the_query_count_flat(
    products: list[Product], django_assert_num_queries: Any
) -> None:
    order = Order.objects.create(email="a@example.com", number="1", subtotal=9, total=9)
    for product, quantity in ((products[0], 2), (products[2], 1), (products[0], 3)):
        OrderItem.objects.create(
            order=order, product=product, product_name="x", unit_price=1, quantity=quantity
        )
    catalogue = SalesCatalogue()
    catalogue.fields["title"] = "units_sold"
    ids = [str(p.pk) for p in products]
    with django_assert_num_queries(2):  # the products, then every order line at once
        items = catalogue.items(ids)
    assert [item.title for item in items] == ["5", "", "1"]
    assert catalogue.batches == [3]
    assert [item.id for item in catalogue.all_items()] == sorted(ids, key=lambda i: i)
    assert catalogue.batches == [3, 3]
    assert catalogue.for_request(None) is catalogue
    with django_assert_num_queries(0):
        assert catalogue.ref(items[0].obj) == (ids[0], "cat-food")
