"""Oscar's signals as personalize events.

=================================  =================================================
Oscar                              event
=================================  =================================================
``product_viewed``                 ``product_view`` (id, primary category, price)
``basket_addition``                ``add_to_cart`` (id, price, quantity, category)
``post_checkout``                  ``purchase`` (number, total incl. tax, currency, lines)
category pages                     ``category_view``: ``CategoryViewMiddleware``
=================================  =================================================

Products are recorded by their browsable id (a variant as its parent), the id the
catalogue recommends. ``basket_addition`` carries no quantity: the receiver reads
the quantity the add-to-basket form accepted (Oscar's forms post it as
``quantity``, and the signal is only sent once that form is valid), and the price
from the basket line Oscar has just written, as its strategy priced it.

A receiver never breaks Oscar's request: the order is placed and the basket
written before the signal is sent, so a tracking problem is logged, not raised.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps
from typing import Any

from django import forms
from oscar.core.loading import get_class

import personalize
from personalize.contrib.oscar.catalogue import (
    browsable_id,
    price_of,
    primary_categories,
    primary_category,
)

logger = logging.getLogger(__name__)

#: The add-to-basket form's own field: the same parsing and bounds as Oscar's.
QUANTITY = forms.IntegerField(min_value=1)


def never_raises(receiver: Callable[..., None]) -> Callable[..., None]:
    """Log instead of failing the shop's request (checkout has already taken the order)."""

    @wraps(receiver)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        try:
            receiver(*args, **kwargs)
        except ValueError as exc:  # personalize.track's validation: a data problem
            logger.warning("Oscar event not tracked by %s: %s", receiver.__name__, exc)
        except Exception:
            logger.exception("Oscar event not tracked by %s", receiver.__name__)

    return wrapper


def _strategy(request: Any) -> Any:
    strategy = getattr(request, "strategy", None)
    if strategy is None:
        selector = get_class("partner.strategy", "Selector")()
        strategy = selector.strategy(request=request, user=getattr(request, "user", None))
    return strategy


def _props(**props: Any) -> dict[str, Any]:
    """Leave out what is unknown rather than sending empty values."""
    return {name: value for name, value in props.items() if value not in (None, "")}


@never_raises
def product_viewed(sender: Any, product: Any, request: Any = None, **kwargs: Any) -> None:
    """``product_view`` for the product page (a variant's page counts for its parent)."""
    if request is None:
        return
    strategy = _strategy(request)
    fetch = strategy.fetch_for_parent if product.is_parent else strategy.fetch_for_product
    price = price_of(fetch(product))
    personalize.track(
        request,
        "product_view",
        **_props(
            product_id=browsable_id(product),
            category=primary_category(product),
            price=float(price) if price is not None else None,
        ),
    )


def added_quantity(request: Any, line: Any, created: bool) -> int:
    """How many the shopper just added: the quantity Oscar's valid form accepted.

    A new line holds exactly that; an existing line grew by it (never by more than it
    now holds). Without a readable quantity (a shop's own form without the field) one
    is assumed, Oscar's default.
    """
    if line is not None and created:
        return int(line.quantity)
    try:
        quantity = int(QUANTITY.clean(request.POST.get("quantity")))
    except forms.ValidationError:
        return 1
    if line is not None and line.quantity:
        quantity = min(quantity, int(line.quantity))
    return quantity


@never_raises
def basket_addition(sender: Any, product: Any, request: Any = None, **kwargs: Any) -> None:
    """``add_to_cart`` with the quantity added and the line's price."""
    if request is None:
        return
    # BasketAddView keeps the line it wrote, priced by the basket's strategy.
    line = getattr(sender, "line", None)
    if line is not None:
        unit = line.price_incl_tax if line.price_incl_tax is not None else line.price_excl_tax
    else:
        unit = price_of(_strategy(request).fetch_for_product(product))
    if unit is None:
        logger.info("add_to_cart of product %s not tracked: it has no price", product.pk)
        return
    created = bool(getattr(sender, "line_created", False))
    personalize.track(
        request,
        "add_to_cart",
        **_props(
            product_id=browsable_id(product),
            price=float(unit),
            quantity=added_quantity(request, line, created),
            category=primary_category(product),
        ),
    )


@never_raises
def post_checkout(sender: Any, order: Any, request: Any = None, **kwargs: Any) -> None:
    """``purchase`` with the order's number, total incl. tax, currency and lines."""
    if request is None:
        return
    lines = [line for line in order.lines.select_related("product") if line.product is not None]
    categories = primary_categories(browsable_id(line.product) for line in lines)
    items = [
        _props(
            product_id=browsable_id(line.product),
            category=categories.get(browsable_id(line.product)),
            price=float(line.unit_price_incl_tax),
            quantity=int(line.quantity),
        )
        for line in lines
    ]
    personalize.track(
        request,
        "purchase",
        **_props(
            order_id=str(order.number),
            value=float(order.total_incl_tax),
            currency=order.currency,
            items=items,
        ),
    )


def connect() -> None:
    """Connect the receivers to Oscar's signals (``AppConfig.ready``)."""
    from oscar.apps.basket.signals import basket_addition as basket_signal
    from oscar.apps.catalogue.signals import product_viewed as product_signal
    from oscar.apps.checkout.signals import post_checkout as checkout_signal

    product_signal.connect(product_viewed, dispatch_uid="personalize.oscar.product_viewed")
    basket_signal.connect(basket_addition, dispatch_uid="personalize.oscar.basket_addition")
    checkout_signal.connect(post_checkout, dispatch_uid="personalize.oscar.post_checkout")
