"""The cart page and the POST endpoints that change the cart.

Each endpoint answers three kinds of request:

* htmx from the cart page (``HX-Target: cart``): the refreshed cart section;
* htmx from a product page or card: a toast, plus the header badge out of band;
* a plain form post: a redirect (or the product page with the form's errors).
"""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST, require_safe
from django_htmx.http import trigger_client_event

import personalize
from shop_demo.cart import MAX_QUANTITY, Cart, CartFull
from shop_demo.forms import CartLineForm, CartRemoveForm
from shop_demo.models import Product
from shop_demo.views.catalogue import product_context


@require_safe
def cart_detail(request: HttpRequest) -> HttpResponse:
    return render(request, "shop/cart.html", {"cart": Cart(request.session)})


def _posted_product_id(request: HttpRequest) -> int:
    form = CartRemoveForm(request.POST)
    if not form.is_valid():
        raise Http404("Unknown product.")
    return int(form.cleaned_data["product_id"])


def _posted_product(request: HttpRequest) -> Product:
    return get_object_or_404(
        Product.objects.active().select_related("category"), pk=_posted_product_id(request)
    )


def _next_url(request: HttpRequest) -> str:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return "/cart/"


def _check_quantity(product: Product, quantity: int) -> str:
    """Why ``quantity`` of ``product`` cannot be in the cart, or ``""``."""
    if not product.in_stock:
        return f"Sorry, {product.name} is out of stock."
    if quantity > MAX_QUANTITY:
        return f"You can have at most {MAX_QUANTITY} of a product in your cart."
    if quantity > product.stock:
        return f"Only {product.stock} of {product.name} left in stock."
    return ""


def _respond(
    request: HttpRequest,
    cart: Cart,
    *,
    product: Product | None,
    error: str = "",
    notice: str = "",
    form: CartLineForm | None = None,
) -> HttpResponseBase:
    if request.htmx:  # type: ignore[attr-defined]
        if request.htmx.target == "cart":  # type: ignore[attr-defined]
            response = render(
                request, "shop/_cart_update.html", {"cart": cart, "error": error, "notice": notice}
            )
        else:
            response = render(
                request,
                "shop/_cart_toast.html",
                {"product": product, "error": error, "notice": notice},
            )
        if not error:
            # personalize's runtime refreshes cart-dependent bars (free shipping) on this event.
            trigger_client_event(response, "pz:refresh")
        return response
    if error and product is not None and form is not None:
        return render(request, "shop/product.html", product_context(product, form), status=400)
    if error:
        messages.error(request, error)
    elif notice:
        messages.success(request, notice)
    return redirect(_next_url(request) if not error else "/cart/")


def _form_error(form: CartLineForm) -> str:
    return " ".join(str(e) for errors in form.errors.values() for e in errors)


@require_POST
def cart_add(request: HttpRequest) -> HttpResponseBase:
    product = _posted_product(request)
    cart = Cart(request.session)
    form = CartLineForm(request.POST)
    if not form.is_valid():
        return _respond(request, cart, product=product, error=_form_error(form), form=form)
    quantity = int(form.cleaned_data["quantity"])
    error = _check_quantity(product, cart.quantity_of(product.pk) + quantity)
    if not error:
        try:
            cart.set(product.pk, cart.quantity_of(product.pk) + quantity)
        except CartFull as exc:
            error = str(exc)
    if error:
        form.add_error("quantity", error)
        return _respond(request, cart, product=product, error=error, form=form)
    personalize.track(
        request,
        "add_to_cart",
        product_id=product.pk,
        quantity=quantity,
        price=float(product.price),
        category=product.category.slug,
    )
    return _respond(request, cart, product=product, notice=f"Added {product.name} to your cart.")


@require_POST
def cart_update(request: HttpRequest) -> HttpResponseBase:
    product = _posted_product(request)
    cart = Cart(request.session)
    form = CartLineForm(request.POST)
    if not form.is_valid():
        return _respond(request, cart, product=product, error=_form_error(form))
    old = cart.quantity_of(product.pk)
    new = int(form.cleaned_data["quantity"])
    error = _check_quantity(product, new) if new > old else ""
    if not error:
        try:
            cart.set(product.pk, new)
        except CartFull as exc:
            error = str(exc)
    if error:
        return _respond(request, cart, product=product, error=error)
    if new > old:
        personalize.track(
            request,
            "add_to_cart",
            product_id=product.pk,
            quantity=new - old,
            price=float(product.price),
            category=product.category.slug,
        )
    elif new < old:
        personalize.track(request, "remove_from_cart", product_id=product.pk, quantity=old - new)
    return _respond(request, cart, product=product, notice="Cart updated.")


@require_POST
def cart_remove(request: HttpRequest) -> HttpResponseBase:
    # The product may have been taken off sale since: removing it must still work.
    product_id = _posted_product_id(request)
    cart = Cart(request.session)
    if cart.remove(product_id):
        personalize.track(request, "remove_from_cart", product_id=product_id)
    product = Product.objects.filter(pk=product_id).first()
    notice = f"Removed {product.name} from your cart." if product else "Removed from your cart."
    return _respond(request, cart, product=product, notice=notice)
