"""Self-hosted on-site personalization for Django shops."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from django.http import HttpRequest

    from personalize.recommendations.serving import Recommendations, WidgetSpec

__version__ = "0.2.0"
__all__ = ["recommend", "track"]


def track(request: HttpRequest, event: str, **props: Any) -> None:
    """Record an event for the current visitor.

    The profile changes at once (targeting later in the same request sees it)
    and the event is written to the store and the durable log when the response
    leaves. Raises ``ValueError`` for an unknown event or invalid props.

    >>> personalize.track(request, "product_view", product_id=42, category="cats")
    """
    from personalize.identity.visitor import get_visitor

    get_visitor(request).track(event, props)


def recommend(
    request: HttpRequest | None,
    strategy_or_widget: str | WidgetSpec,
    product: Any = None,
    limit: int = 8,
    **options: Any,
) -> Recommendations:
    """Products to recommend to this request's visitor, as catalogue items.

    ``strategy_or_widget`` is a strategy name (``"bestsellers"``, ``"similar"``,
    ``"personalised"``...) or the slot of a widget configured in the admin
    (``"product-detail"``), whose rules, filters and item count then apply.
    Each item has ``id``, ``title``, ``url``, ``image_url``, ``price``,
    ``category``, ``in_stock`` and ``obj`` (your product instance).

    >>> for item in personalize.recommend(request, "similar", product=product, limit=4):
    ...     print(item.title, item.obj.sku)
    """
    from personalize.recommendations.serving import recommend as serve

    return serve(request, strategy_or_widget, product, limit, **options)
