"""Prices, shipping and placing orders: the one place the shop's money rules live."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from shop_demo.models import Order, OrderItem, Product

if TYPE_CHECKING:
    from django.contrib.auth.models import User

CURRENCY_SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£"}
FLAT_SHIPPING = Decimal("4.90")


def currency() -> str:
    return str(getattr(settings, "SHOP_CURRENCY", "EUR"))


def free_shipping_threshold() -> Decimal:
    return Decimal(str(getattr(settings, "SHOP_FREE_SHIPPING_THRESHOLD", 60)))


def shipping_for(subtotal: Decimal) -> Decimal:
    """Flat-rate shipping, free from the threshold up (and for an empty cart)."""
    if subtotal <= 0 or subtotal >= free_shipping_threshold():
        return Decimal("0.00")
    return FLAT_SHIPPING


def new_order_number() -> str:
    return f"PW-{secrets.token_hex(5).upper()}"


@dataclass(frozen=True)
class Line:
    """A product and a quantity, priced at the product's current price."""

    product: Product
    quantity: int

    @property
    def total(self) -> Decimal:
        return self.product.price * self.quantity


class OutOfStock(Exception):
    def __init__(self, product: Product, available: int) -> None:
        self.product = product
        self.available = available
        super().__init__(f"Only {available} of {product.name} left in stock.")


@dataclass(frozen=True)
class ShippingDetails:
    email: str
    name: str = ""
    address: str = ""
    postcode: str = ""
    city: str = ""
    country: str = ""


def place_order(
    lines: Iterable[Line],
    details: ShippingDetails,
    *,
    user: User | None = None,
    visitor_id: str = "",
) -> tuple[Order, list[OrderItem]]:
    """Create the order and its items and take the stock, all or nothing.

    Raises :class:`OutOfStock` when a line asks for more than is left; the
    products are row-locked so two shoppers cannot buy the last item twice.
    """
    wanted = {line.product.pk: line for line in lines if line.quantity > 0}
    if not wanted:
        raise ValueError("Cannot place an empty order.")
    with transaction.atomic():
        products = Product.objects.select_for_update().select_related("category").in_bulk(wanted)
        for pk, line in wanted.items():
            product = products.get(pk)
            if product is None or not product.is_active:
                raise OutOfStock(line.product, 0)
            if product.stock < line.quantity:
                raise OutOfStock(product, product.stock)
        subtotal = sum(
            (products[pk].price * line.quantity for pk, line in wanted.items()), Decimal("0.00")
        )
        shipping = shipping_for(subtotal)
        order = Order.objects.create(
            user=user,
            email=details.email,
            visitor_id=visitor_id,
            number=new_order_number(),
            name=details.name,
            address=details.address,
            postcode=details.postcode,
            city=details.city,
            country=details.country,
            subtotal=subtotal,
            shipping=shipping,
            total=subtotal + shipping,
            currency=currency(),
            created_at=timezone.now(),
        )
        items = [
            OrderItem(
                order=order,
                product=products[pk],
                product_name=products[pk].name,
                unit_price=products[pk].price,
                quantity=line.quantity,
            )
            for pk, line in wanted.items()
        ]
        OrderItem.objects.bulk_create(items)
        for pk, line in wanted.items():
            Product.objects.filter(pk=pk).update(stock=F("stock") - line.quantity)
    return order, items


def purchase_props(order: Order, items: Iterable[OrderItem]) -> dict[str, Any]:
    """The props of the ``purchase`` event for an order (live checkout and seeding)."""
    return {
        "order_id": order.number,
        "value": float(order.total),
        "currency": order.currency,
        "items": [
            {
                "product_id": item.product.pk,
                "category": item.product.category.slug,
                "price": float(item.unit_price),
                "quantity": item.quantity,
            }
            for item in items
        ],
    }
