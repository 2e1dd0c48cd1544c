"""The shop's pages: each one tells personalize what happened, as the README shows."""

from __future__ import annotations

import uuid

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

import personalize

from .models import Item


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "catalog/home.html", {"items": Item.objects.order_by("sku")})


def item(request: HttpRequest, sku: str) -> HttpResponse:
    product = get_object_or_404(Item.objects.select_related("aisle"), sku=sku)
    personalize.track(
        request,
        "product_view",
        product_id=product.sku,
        category=product.aisle.code,
        price=float(product.unit_price),
    )
    return render(request, "catalog/item.html", {"item": product})


def _cart(request: HttpRequest) -> dict[str, int]:
    cart: dict[str, int] = request.session.setdefault("cart", {})
    return cart


@require_POST
def add_to_cart(request: HttpRequest, sku: str) -> HttpResponse:
    product = get_object_or_404(Item.objects.select_related("aisle"), sku=sku)
    cart = _cart(request)
    cart[product.sku] = cart.get(product.sku, 0) + 1
    request.session.modified = True
    personalize.track(
        request,
        "add_to_cart",
        product_id=product.sku,
        price=float(product.unit_price),
        quantity=1,
        category=product.aisle.code,
    )
    return redirect("item", sku=product.sku)


@require_POST
def checkout(request: HttpRequest) -> HttpResponse:
    cart = _cart(request)
    items = Item.objects.select_related("aisle").in_bulk(list(cart))
    lines = [
        {
            "product_id": sku,
            "price": float(items[sku].unit_price),
            "quantity": quantity,
            "category": items[sku].aisle.code,
        }
        for sku, quantity in cart.items()
        if sku in items
    ]
    total = sum(line["price"] * line["quantity"] for line in lines)
    personalize.track(
        request,
        "purchase",
        order_id=uuid.uuid4().hex[:12],
        value=round(total, 2),
        currency="EUR",
        items=lines,
    )
    request.session["cart"] = {}
    return HttpResponse(f"Thank you: {len(lines)} lines, {total:.2f} EUR")
