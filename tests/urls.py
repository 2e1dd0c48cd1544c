"""A minimal URLconf for middleware tests: views that do no SQL of their own."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template import RequestContext, Template
from django.urls import include, path

import personalize


def page(request: HttpRequest) -> HttpResponse:
    attributes = request.visitor.attributes  # type: ignore[attr-defined]
    return HttpResponse(f"<html><body>visit {attributes['visit_count']}</body></html>")


def product(request: HttpRequest, pk: int) -> HttpResponse:
    personalize.track(request, "product_view", product_id=pk, category="cats", price=9.5)
    return HttpResponse("<html><body>product</body></html>")


def crash(request: HttpRequest) -> HttpResponse:
    personalize.track(request, "product_view", product_id=1)
    raise RuntimeError("boom")


def login_as(request: HttpRequest, pk: int) -> JsonResponse:
    from django.contrib.auth import get_user_model, login

    login(request, get_user_model().objects.get(pk=pk))
    return JsonResponse({"visitor": request.visitor.id})  # type: ignore[attr-defined]


CAMPAIGN_PAGE = Template(
    "{% load personalize %}<html><head>{% personalize_head %}</head><body>"
    '{% content_slot "hero" %}<p>default hero</p>{% endcontent_slot %}'
    '{% content_slot "hero" lazy=True %}<p>lazy default</p>{% endcontent_slot %}'
    "{% personalize_overlays %}</body></html>"
)


def campaign_page(request: HttpRequest, rest: str = "") -> HttpResponse:
    return HttpResponse(CAMPAIGN_PAGE.render(RequestContext(request)))


RECS_PAGE = Template(
    "{% load personalize %}<html><body>"
    "{% recommendations slot product=product category=category %}</body></html>"
)


def recs_page(request: HttpRequest, slot: str) -> HttpResponse:
    """A widget on a page: the product on screen is passed as an id (no query of its own)."""
    context = {
        "slot": slot,
        "product": request.GET.get("product"),
        "category": request.GET.get("category"),
    }
    return HttpResponse(RECS_PAGE.render(RequestContext(request, context)))


urlpatterns = [
    path("recs/<slug:slot>/", recs_page),
    path("shop/", campaign_page),
    path("shop/<path:rest>", campaign_page),
    path("page/", page),
    path("p/<int:pk>/", product),
    # Where the demo's Product.get_absolute_url points (recommendation links).
    path("products/<slug:slug>/", page, name="product"),
    path("img/<slug:slug>.svg", page, name="product_image"),
    path("crash/", crash),
    path("login-as/<int:pk>/", login_as),
    path("personalize/", include("personalize.urls")),
]
