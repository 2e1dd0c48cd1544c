"""A minimal URLconf for middleware tests: views that do no SQL of their own."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template import RequestContext, Template
from django.urls import include, path
from django.utils.html import escape

import personalize


def page(request: HttpRequest) -> HttpResponse:
    attributes = request.visitor.attributes  # type: ignore[attr-defined]
    return HttpResponse(f"<html><body>visit {attributes['visit_count']}</body></html>")


def product(request: HttpRequest, pk: int) -> HttpResponse:
    personalize.track(request, "product_view", product_id=pk, category="cats", price=9.5)
    return HttpResponse("<html><body>product</body></html>")


def product_page(request: HttpRequest, slug: str) -> HttpResponse:
    icon = '<link rel="icon" href="data:,">'  # no /favicon.ico request
    return HttpResponse(f"<html><head>{icon}</head><body>product {escape(slug)}</body></html>")


def product_image(request: HttpRequest, slug: str) -> HttpResponse:
    svg = '<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"/>'
    return HttpResponse(svg, content_type="image/svg+xml")


def crash(request: HttpRequest) -> HttpResponse:
    personalize.track(request, "product_view", product_id=1)
    raise RuntimeError("boom")


def login_as(request: HttpRequest, pk: int) -> JsonResponse:
    from django.contrib.auth import get_user_model, login

    login(request, get_user_model().objects.get(pk=pk))
    return JsonResponse({"visitor": request.visitor.id})  # type: ignore[attr-defined]


def logout_now(request: HttpRequest) -> JsonResponse:
    from django.contrib.auth import logout

    logout(request)
    return JsonResponse({"visitor": request.visitor.id})  # type: ignore[attr-defined]


CAMPAIGN_PAGE = Template(
    "{% load personalize %}<html><head>{% personalize_head %}</head><body>"
    '{% content_slot "hero" %}<p>default hero</p>{% endcontent_slot %}'
    '{% content_slot "hero" lazy=True %}<p>lazy default</p>{% endcontent_slot %}'
    "{% personalize_overlays %}</body></html>"
)


def campaign_page(request: HttpRequest, rest: str = "") -> HttpResponse:
    return HttpResponse(CAMPAIGN_PAGE.render(RequestContext(request)))


# A shop page without htmx: the runtime itself must load the lazy widget and slot.
LAZY_PAGE = Template(
    '{% load personalize %}<!doctype html><html lang="en"><head><meta charset="utf-8">'
    '<title>Lazy content</title><link rel="icon" href="data:,">{% personalize_head %}</head>'
    "<body><main>"
    '{% content_slot "hero" lazy=True %}<p id="hero-default">default hero</p>{% endcontent_slot %}'
    '{% recommendations "category" category="cat-toys" lazy=True %}'
    "</main>{% personalize_overlays %}</body></html>"
)


def lazy_page(request: HttpRequest) -> HttpResponse:
    return HttpResponse(LAZY_PAGE.render(RequestContext(request)))


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
    path("lazy/", lazy_page),
    path("shop/", campaign_page),
    path("shop/<path:rest>", campaign_page),
    path("page/", page),
    path("p/<int:pk>/", product),
    # Where the demo's Product.get_absolute_url points (recommendation links).
    path("products/<slug:slug>/", product_page, name="product"),
    path("img/<slug:slug>.svg", product_image, name="product_image"),
    path("crash/", crash),
    path("login-as/<int:pk>/", login_as),
    path("logout/", logout_now),
    path("personalize/", include("personalize.urls")),
]
