"""``GET /personalize/recommendations/<slot>/``: a widget's HTML for ``lazy=True`` placements."""

from __future__ import annotations

import re

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET

from personalize.identity.visitor import get_visitor
from personalize.recommendations.rendering import render_recommendations
from personalize.recommendations.serving import get_widgets, recommend

_ID = re.compile(r"^[\w.:@-]{1,64}$")


@require_GET
def widget(request: HttpRequest, slot: str) -> HttpResponse:
    """The widget's markup, or 204 when there is nothing to show (the placeholder goes).

    With ``refresh=1`` the markup re-fetches itself on ``pz:refresh``, and an empty widget
    answers a hidden placeholder that does the same, so it can come back.
    """
    errors = {}
    product = request.GET.get("product") or None
    category = request.GET.get("category") or None
    if product is not None and not _ID.match(product):
        errors["product"] = "Must be a product id of 1 to 64 letters, digits or . : @ - _"
    if category is not None and not _ID.match(category):
        errors["category"] = "Must be a category of 1 to 64 letters, digits or . : @ - _"
    if errors:
        return JsonResponse({"errors": errors}, status=400)
    if slot not in get_widgets():
        return HttpResponse(status=204)
    get_visitor(request)
    recs = recommend(request, slot, product=product, category=category)
    refresh = request.GET.get("refresh") == "1"
    html = render_recommendations(
        request, recs, refresh_url=request.get_full_path() if refresh else ""
    )
    if not html:
        return HttpResponse(status=204)
    response = HttpResponse(html)
    response["Cache-Control"] = "private, no-store"
    return response
