"""``personalize.context_processors.personalize``: ``visitor`` and ``segments`` in templates."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from personalize.identity.visitor import Visitor


def personalize(request: HttpRequest) -> dict[str, Any]:
    visitor = getattr(request, "visitor", None)
    if not isinstance(visitor, Visitor):
        return {}
    # Lazy: pages that never look at segments never evaluate them.
    return {"visitor": visitor, "segments": SimpleLazyObject(lambda: visitor.segments)}
