"""Checkout: the form, placing the order, and the thank-you page."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_safe

import personalize
from shop_demo.cart import Cart
from shop_demo.forms import CheckoutForm
from shop_demo.models import Order
from shop_demo.orders import OutOfStock, ShippingDetails, place_order, purchase_props

LAST_ORDER_KEY = "last_order"


def _visitor_id(request: HttpRequest) -> str:
    visitor = getattr(request, "visitor", None)
    return str(visitor.id) if visitor is not None and visitor.tracked else ""


@require_http_methods(["GET", "HEAD", "POST"])
def checkout(request: HttpRequest) -> HttpResponseBase:
    cart = Cart(request.session)
    if not cart.lines:
        messages.info(request, "Your cart is empty: add something first.")
        return redirect("cart")
    if request.method == "POST":
        form = CheckoutForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            details = ShippingDetails(
                email=data["email"],
                name=data["name"],
                address=data["address"],
                postcode=data["postcode"],
                city=data["city"],
                country=data["country"],
            )
            try:
                user = request.user if request.user.is_authenticated else None
                order, items = place_order(
                    cart.lines, details, user=user, visitor_id=_visitor_id(request)
                )
            except OutOfStock as exc:
                form.add_error(None, f"{exc} Please update your cart.")
            else:
                personalize.track(request, "identify", email=order.email)
                personalize.track(request, "purchase", **purchase_props(order, items))
                cart.clear()
                request.session[LAST_ORDER_KEY] = order.number
                return redirect("checkout_done", number=order.number)
    else:
        initial = {}
        if request.user.is_authenticated:
            initial["email"] = request.user.email
        form = CheckoutForm(initial=initial)
        personalize.track(request, "checkout_started", value=float(cart.total))
    return render(request, "shop/checkout.html", {"cart": cart, "form": form})


@require_safe
def checkout_done(request: HttpRequest, number: str) -> HttpResponse:
    order = get_object_or_404(Order.objects.prefetch_related("items__product"), number=number)
    # Only the browser that placed the order, or its owner, may see it.
    owner = request.user.is_authenticated and order.user_id == request.user.pk
    if request.session.get(LAST_ORDER_KEY) != order.number and not owner:
        raise Http404("No such order.")
    return render(request, "shop/checkout_done.html", {"order": order})
