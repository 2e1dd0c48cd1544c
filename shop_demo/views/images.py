"""Generated SVG pictures for products, categories and the home page."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_safe

from shop_demo import images
from shop_demo.catalogue import CATEGORY_BY_SLUG
from shop_demo.models import Category, Product

SVG = "image/svg+xml"


def _svg(markup: str) -> HttpResponse:
    response = HttpResponse(markup, content_type=SVG)
    response["X-Content-Type-Options"] = "nosniff"
    return response


@require_safe
@cache_control(public=True, max_age=86400)
def product_image(request: HttpRequest, slug: str) -> HttpResponse:
    found = Product.objects.filter(slug=slug).values_list("hue", "shape").first()
    if found is None:
        raise Http404("No such product.")
    hue, shape = found
    return _svg(images.product_svg(key=slug, hue=hue, shape=shape))


@require_safe
@cache_control(public=True, max_age=86400)
def category_image(request: HttpRequest, slug: str) -> HttpResponse:
    hue = Category.objects.filter(slug=slug).values_list("hue", flat=True).first()
    if hue is None:
        raise Http404("No such category.")
    spec = CATEGORY_BY_SLUG.get(slug)
    shapes = spec.shapes if spec else ("paw", "bone")
    return _svg(images.category_svg(key=slug, hue=hue, shapes=shapes))


@require_safe
@cache_control(public=True, max_age=86400)
def hero_image(request: HttpRequest) -> HttpResponse:
    return _svg(images.hero_svg())
