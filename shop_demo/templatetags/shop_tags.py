"""Template helpers of the demo shop: ``{% load shop_tags %}``."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django import template

from shop_demo.orders import CURRENCY_SYMBOLS, currency

register = template.Library()


@register.filter
def money(value: object, code: str = "") -> str:
    """``12.5|money`` -> ``€12.50`` (the shop currency unless a code is given)."""
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return ""
    code = code or currency()
    symbol = CURRENCY_SYMBOLS.get(code, f"{code} ")
    return f"{symbol}{amount:,.2f}"


@register.filter
def money_short(value: object) -> str:
    """Like ``money`` but without ``.00`` for whole amounts: ``€60``."""
    text = money(value)
    return text.removesuffix(".00")
