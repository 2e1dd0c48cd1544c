"""Browsing: the home page, categories, products and search."""

from __future__ import annotations

from datetime import timedelta

from django.core.paginator import Paginator
from django.db.models import Case, Count, IntegerField, Q, Sum, Value, When
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.views.decorators.http import require_safe

import personalize
from shop_demo.forms import CartLineForm
from shop_demo.models import Category, Product, ProductQuerySet

PAGE_SIZE = 24
MAX_QUERY = 100
SORTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "": ("Featured", ("sold_out", "name")),
    "price": ("Price: low to high", ("sold_out", "price", "name")),
    "-price": ("Price: high to low", ("sold_out", "-price", "name")),
    "newest": ("Newest", ("-created_at",)),
}


def _with_sold_out(products: ProductQuerySet) -> ProductQuerySet:
    return products.annotate(
        sold_out=Case(When(stock=0, then=Value(1)), default=Value(0), output_field=IntegerField())
    )


def bestsellers(limit: int, days: int = 90) -> list[Product]:
    """The most ordered in-stock products of the last ``days`` days."""
    since = timezone.now() - timedelta(days=days)
    popular = list(
        Product.objects.active()
        .in_stock()
        .select_related("category")
        .filter(order_items__order__created_at__gte=since)
        .annotate(sold=Sum("order_items__quantity"))
        .order_by("-sold", "name")[:limit]
    )
    if len(popular) < limit:  # a fresh shop without orders: its best-stocked products
        seen = {p.pk for p in popular}
        popular += [
            p
            for p in Product.objects.active()
            .in_stock()
            .select_related("category")
            .order_by("-stock", "name")[: limit * 2]
            if p.pk not in seen
        ]
    return popular[:limit]


@require_safe
def home(request: HttpRequest) -> HttpResponse:
    categories = Category.objects.annotate(
        product_count=Count("products", filter=Q(products__is_active=True))
    ).order_by("position", "name")
    new_arrivals = (
        Product.objects.active().in_stock().select_related("category").order_by("-created_at")[:8]
    )
    return render(
        request,
        "shop/home.html",
        {
            "categories": categories,
            "popular": bestsellers(limit=8),
            "new_arrivals": new_arrivals,
        },
    )


@require_safe
def category_detail(request: HttpRequest, slug: str) -> HttpResponse:
    category = get_object_or_404(Category, slug=slug)
    sort = request.GET.get("sort", "")
    if sort not in SORTS:
        sort = ""
    products = _with_sold_out(category.products.active()).order_by(*SORTS[sort][1])
    page = Paginator(products, PAGE_SIZE).get_page(request.GET.get("page"))
    personalize.track(request, "category_view", category=category.slug)
    return render(
        request,
        "shop/category.html",
        {
            "category": category,
            "page": page,
            "sort": sort,
            "sorts": [(key, label) for key, (label, _) in SORTS.items()],
        },
    )


@require_safe
def product_detail(request: HttpRequest, slug: str) -> HttpResponse:
    product = get_object_or_404(Product.objects.active().select_related("category"), slug=slug)
    personalize.track(
        request,
        "product_view",
        product_id=product.pk,
        category=product.category.slug,
        price=float(product.price),
    )
    return render(request, "shop/product.html", product_context(product))


def product_context(product: Product, form: CartLineForm | None = None) -> dict[str, object]:
    """What the product page shows (also re-rendered with errors by the cart views)."""
    if form is None:
        form = CartLineForm(initial={"product_id": product.pk, "quantity": 1})
    return {"product": product, "form": form}


@require_safe
def search(request: HttpRequest) -> HttpResponse:
    # Printable characters only: a NUL byte would make PostgreSQL reject the query.
    raw = "".join(ch for ch in request.GET.get("q", "")[: MAX_QUERY * 4] if ch.isprintable())
    query = " ".join(raw.split())[:MAX_QUERY]
    page = None
    count = 0
    if query:
        results = Product.objects.active().search(query).select_related("category").order_by("name")
        page = Paginator(results, PAGE_SIZE).get_page(request.GET.get("page"))
        count = page.paginator.count
        personalize.track(request, "search", query=query, results=count)
    return render(
        request,
        "shop/search.html",
        {
            "query": query,
            "page": page,
            "count": count,
            "categories": Category.objects.all() if query and not count else (),
        },
    )
