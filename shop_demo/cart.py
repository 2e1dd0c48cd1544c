"""The shopping cart, kept in the session as ``{"<product id>": quantity}``.

The session is a signed cookie, so the cart is bounded (50 lines, 1 to 99 of
each) and whatever comes back from the cookie is re-validated on read.
Counting items needs no query; pricing loads the products in one.
"""

from __future__ import annotations

from decimal import Decimal
from functools import cached_property
from typing import TYPE_CHECKING

from shop_demo.models import Product
from shop_demo.orders import Line, free_shipping_threshold, shipping_for

if TYPE_CHECKING:
    from django.contrib.sessions.backends.base import SessionBase

SESSION_KEY = "cart"
MAX_LINES = 50
MAX_QUANTITY = 99


class CartFull(Exception):
    pass


def _clean(raw: object) -> dict[str, int]:
    if not isinstance(raw, dict):
        return {}
    cleaned: dict[str, int] = {}
    for key, value in raw.items():
        if (
            isinstance(key, str)
            and key.isdigit()
            and isinstance(value, int)
            and not isinstance(value, bool)
            and 1 <= value <= MAX_QUANTITY
        ):
            cleaned[key] = value
        if len(cleaned) >= MAX_LINES:
            break
    return cleaned


class Cart:
    def __init__(self, session: SessionBase) -> None:
        self.session = session
        self._items = _clean(session.get(SESSION_KEY))

    # Reading (no query) --------------------------------------------------------

    @property
    def count(self) -> int:
        """How many items, all lines together."""
        return sum(self._items.values())

    def quantity_of(self, product_id: int) -> int:
        return self._items.get(str(product_id), 0)

    # Changing --------------------------------------------------------------------

    def set(self, product_id: int, quantity: int) -> None:
        """Set a line's quantity (1..99); raises :class:`CartFull` for a 51st line."""
        if not 1 <= quantity <= MAX_QUANTITY:
            raise ValueError(f"Quantity must be from 1 to {MAX_QUANTITY}.")
        key = str(product_id)
        if key not in self._items and len(self._items) >= MAX_LINES:
            raise CartFull(f"Your cart can hold {MAX_LINES} different products.")
        self._items[key] = quantity
        self._save()

    def remove(self, product_id: int) -> int:
        """Drop a line; return the quantity it had (0 if it was not there)."""
        quantity = self._items.pop(str(product_id), 0)
        if quantity:
            self._save()
        return quantity

    def clear(self) -> None:
        self._items = {}
        self._save()

    def _save(self) -> None:
        self.session[SESSION_KEY] = dict(self._items)
        self.__dict__.pop("lines", None)

    # Pricing (one query) -----------------------------------------------------

    @cached_property
    def lines(self) -> list[Line]:
        """The lines whose product still exists and is on sale, in the order added."""
        ids = [int(key) for key in self._items]
        products = Product.objects.active().select_related("category").in_bulk(ids)
        return [Line(products[pk], self._items[str(pk)]) for pk in ids if pk in products]

    @property
    def subtotal(self) -> Decimal:
        return sum((line.total for line in self.lines), Decimal("0.00"))

    @property
    def shipping(self) -> Decimal:
        return shipping_for(self.subtotal)

    @property
    def total(self) -> Decimal:
        return self.subtotal + self.shipping

    @property
    def free_shipping_remaining(self) -> Decimal:
        """How much more to spend for free shipping (0 once reached)."""
        return max(free_shipping_threshold() - self.subtotal, Decimal("0.00"))

    @property
    def free_shipping_threshold(self) -> Decimal:
        return free_shipping_threshold()
