"""What every page of the shop shows: the category menu, the cart badge, the currency."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from shop_demo.cart import Cart
from shop_demo.models import Category
from shop_demo.orders import CURRENCY_SYMBOLS, currency, free_shipping_threshold


def shop(request: HttpRequest) -> dict[str, Any]:
    session = getattr(request, "session", None)
    return {
        # A lazy queryset: only pages that show the menu query it, and only once.
        "nav_categories": Category.objects.only("name", "slug"),
        "cart_count": Cart(session).count if session is not None else 0,
        "currency_symbol": CURRENCY_SYMBOLS.get(currency(), currency()),
        "free_shipping_threshold": free_shipping_threshold(),
    }
