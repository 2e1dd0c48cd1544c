"""Self-hosted on-site personalization for Django shops."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from django.http import HttpRequest

__version__ = "0.1.0"
__all__ = ["track"]


def track(request: HttpRequest, event: str, **props: Any) -> None:
    """Record an event for the current visitor.

    The profile changes at once (targeting later in the same request sees it)
    and the event is written to the store and the durable log when the response
    leaves. Raises ``ValueError`` for an unknown event or invalid props.

    >>> personalize.track(request, "product_view", product_id=42, category="cats")
    """
    from personalize.identity.visitor import get_visitor

    get_visitor(request).track(event, props)
