"""``GET /personalize/api/v1/recommendations/``: a widget's products, as JSON.

``?slot=<widget>`` serves an active widget (its strategy, per-segment rules, fallback,
filters and count), ``?strategy=<name>&limit=<n>`` one strategy; ``product`` and
``category`` name the page's product and category. For the current visitor, or, with an
API key granted ``recommendations:read``, a stored customer (``user_id``, ``email``,
``visitor_id``): "picked for you" products for an email. See docs/headless.md.

It costs the queries the server-rendered widget costs: ``recommend()`` checks that
``product`` exists in the query that loads the products to show.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from personalize.api.headless import HeadlessView, absolute, query_value, slug_value, subject
from personalize.api.openapi import headless_schema
from personalize.campaigns.rendering import beacon_token
from personalize.conf import settings
from personalize.identity.visitor import StoredVisitor, Visitor
from personalize.recommendations.catalogue import CatalogueItem
from personalize.recommendations.rendering import money
from personalize.recommendations.serving import (
    Recommendations,
    UnknownProduct,
    get_widgets,
    recommend,
)
from personalize.recommendations.strategies import STRATEGIES

SCOPE = "recommendations:read"
MAX_LIMIT = 50
DEFAULT_LIMIT = 8
#: As the lazy widget endpoint accepts them (personalize.recommendations.views).
_ID = re.compile(r"^[\w.:@-]{1,64}$")


def _id_value(request: Request, name: str, what: str) -> str | None:
    value = query_value(request, name, limit=64)
    if value is not None and not _ID.match(value):
        raise ValidationError({name: [f"Must be {what} of 1 to 64 letters, digits or . : @ - _"]})
    return value


def _limit(request: Request) -> int:
    raw = query_value(request, "limit", limit=10)
    if raw is None:
        return DEFAULT_LIMIT
    message = f"Must be a whole number from 1 to {MAX_LIMIT}."
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise ValidationError({"limit": [message]})
    return int(raw)


def _price(value: Any) -> str | None:
    """The price as a decimal string (exact in JSON), ``None`` when there is none."""
    if value is None:
        return None
    amount = Decimal(str(value))
    return str(amount) if amount.is_finite() else None


def describe(request: Request, item: CatalogueItem, position: int, strategy: str) -> dict[str, Any]:
    django_request = request._request
    return {
        "id": item.id,
        "title": item.title,
        "url": absolute(django_request, item.url),
        "image_url": absolute(django_request, item.image_url),
        "price": _price(item.price),
        "currency": settings.CURRENCY,
        "price_display": money(item.price),
        "category": item.category,
        "in_stock": item.in_stock,
        "strategy": strategy,
        "position": position,
    }


@headless_schema(
    summary="Recommended products as JSON (headless, email)",
    description=(
        "The products a widget (`slot`) or a strategy (`strategy`, with `product` or "
        "`category` when it needs one, and `limit`) recommends to the visitor, or to a "
        "stored customer by `user_id` or `email` (an email's \"picked for you\"). Each "
        "item: id, title, absolute URL and image, price, currency, strategy, position. "
        "`holdout` is true, with no items, for a visitor in the widget's holdout: show "
        "nothing and report a `rec_view` with `holdout: true` where the widget would have "
        "been seen. Scope for another person: `recommendations:read`."
    ),
    parameters=[
        OpenApiParameter("slot", OpenApiTypes.STR, description="An active widget's slot."),
        OpenApiParameter("strategy", OpenApiTypes.STR, description="A strategy, instead of slot."),
        OpenApiParameter("product", OpenApiTypes.STR, description="The product on the page."),
        OpenApiParameter("category", OpenApiTypes.STR, description="The category on the page."),
        OpenApiParameter("limit", OpenApiTypes.INT, description="1 to 50 (strategy only)."),
    ],
    example={
        "widget": "for-you", "title": "Picked for you", "strategy": "personalized",
        "items": [{"id": "42", "title": "Cat tree", "url": "https://shop.example/p/42/",
                   "image": "https://shop.example/media/42.jpg", "price": "49.90",
                   "currency": "EUR", "price_display": "€49.90", "strategy": "personalized",
                   "position": 1}],
        "beacon": {"endpoint": "/personalize/api/events/", "token": "…"},
    },
)  # fmt: skip
class RecommendationsView(HeadlessView):
    """Products a widget (or a strategy) recommends to one visitor or stored customer."""

    def get(self, request: Request) -> Response:
        slot = slug_value(request, "slot", "the slot of an active widget")
        strategy = slug_value(request, "strategy", "a strategy name")
        if (slot is None) == (strategy is None):
            raise ValidationError(
                {
                    "slot": [
                        "Give either slot (an active widget) or strategy (one of "
                        f"{', '.join(sorted(STRATEGIES))}), not both and not neither."
                    ]
                }
            )
        if slot is not None and "limit" in request.query_params:
            raise ValidationError(
                {
                    "limit": [
                        f"A widget shows the number of products set in the admin: "
                        f"leave limit out with slot={slot}."
                    ]
                }
            )
        limit = _limit(request)
        if strategy is not None and strategy not in STRATEGIES:
            raise ValidationError(
                {
                    "strategy": [
                        f"Unknown strategy {strategy!r}: use one of "
                        f"{', '.join(sorted(STRATEGIES))}."
                    ]
                }
            )
        if slot is not None and slot not in get_widgets():
            raise NotFound(f"No active recommendation widget with slot {slot!r}.")
        product = _id_value(request, "product", "a product id")
        category = _id_value(request, "category", "a category")
        visitor = subject(request, SCOPE)
        try:
            recs = recommend(
                request._request,
                get_widgets()[slot] if slot is not None else str(strategy),
                product=product,
                limit=limit,
                category=category,
                visitor=visitor,
                require_product=True,
            )
        except UnknownProduct as exc:
            raise NotFound(f"No product {exc.product_id!r} in the catalogue.") from None
        return Response(self.body(request, visitor, recs))

    def body(self, request: Request, visitor: Visitor, recs: Recommendations) -> dict[str, Any]:
        # As the rendered widget: reported by its slot, by the visitor's own page only.
        reports = (
            bool(recs.slot)
            and visitor.tracked
            and not visitor.preview_segment
            and not isinstance(visitor, StoredVisitor)
        )
        return {
            "widget": recs.slot or None,
            "title": recs.title,
            "strategy": recs.strategy,
            "used_fallback": recs.used_fallback,
            "holdout": recs.holdout,
            "items": [
                describe(request, item, position, recs.strategy_of(item))
                for position, item in enumerate(recs, 1)
            ],
            "beacon": {
                "endpoint": absolute(request._request, reverse("personalize:events"))
                if reports
                else None,
                "token": beacon_token(visitor) if reports else None,
            },
        }
