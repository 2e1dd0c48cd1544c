"""The attribute document: one flat description of the visitor per request.

Everything targeting reads comes from here. It is built from the profile
(already in memory) and the request, so building it costs no I/O beyond the
profile load the request pays for anyway.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from django.utils.module_loading import import_string

from personalize.conf import settings
from personalize.lifecycle import lifecycle_stage

if TYPE_CHECKING:
    from django.http import HttpRequest

    from personalize.identity.visitor import Visitor
    from personalize.profiles.profile import Profile

logger = logging.getLogger("personalize")

DAY = 86400.0


def _days(now: float, then: float | None) -> int | None:
    return None if not then else int((now - then) // DAY)


def request_attributes(request: HttpRequest, visitor: Visitor) -> dict[str, Any]:
    """What the request alone tells: usable even with no profile (consent, store down)."""
    ctx = visitor.context
    moment = datetime.fromtimestamp(visitor.now, tz=UTC)
    user = getattr(request, "user", None)
    return {
        "visitor_id": visitor.id if visitor.tracked else None,
        "path": ctx.path,
        "device": ctx.device,
        "country": ctx.country,
        "utm": dict(ctx.utm),
        "referrer_domain": _referrer_domain(ctx.referrer),
        "is_authenticated": bool(user is not None and user.is_authenticated),
        "hour": moment.hour,
        "weekday": moment.isoweekday(),
    }


def _referrer_domain(referrer: str) -> str:
    from personalize.tracking.context import referrer_domain

    return referrer_domain(referrer) if referrer else ""


def profile_attributes(profile: Profile, now: float) -> dict[str, Any]:
    """What the stored profile tells."""
    affinity = profile.affinity(now, settings.AFFINITY_HALF_LIFE_DAYS)
    orders = profile.orders_count
    days_since_last_order = _days(now, profile.last_order_at)
    cart_minutes = (
        None if not profile.cart_changed_at else int((now - profile.cart_changed_at) // 60)
    )
    return {
        "is_new": profile.visit_count == 1,
        "is_returning": profile.visit_count >= 2,
        "visit_count": profile.visit_count,
        "pageviews_total": profile.pageviews_total,
        "pageviews_visit": profile.pageviews_visit,
        "days_since_first_visit": _days(now, profile.first_seen) or 0,
        "landing_path": profile.landing_path,
        "first_utm": dict(profile.first_utm),
        "is_identified": bool(profile.email),
        "cart": {
            "items": len(profile.cart),
            "quantity": profile.cart_quantity,
            "value": profile.cart_value,
            "minutes_since_change": cart_minutes,
        },
        "has_abandoned_cart": bool(profile.cart) and profile.cart_visit < profile.visit_count,
        "viewed_products": profile.recent("viewed_products"),
        "products_viewed_before_visit": sum(
            1 for at in profile.viewed_products.values() if at < profile.visit_started_at
        ),
        "ever_added_to_cart": profile.cart_changed_at > 0,
        "viewed_categories": profile.recent("viewed_categories"),
        "category_affinity": affinity,
        "top_category": next(iter(affinity), None),
        "searches": profile.recent("searches"),
        "orders_count": orders,
        "total_spent": round(profile.total_spent, 2),
        "avg_order_value": round(profile.total_spent / orders, 2) if orders else 0.0,
        "days_since_last_order": days_since_last_order,
        "purchased_products": profile.recent("purchased_products"),
        "purchased_categories": profile.recent("purchased_categories"),
        "days_since_purchase_by_category": {
            cat: _days(now, at) for cat, at in profile.purchased_categories.items()
        },
        "rfm": profile.ext.get("rfm"),
        "lifecycle_stage": lifecycle_stage(orders, days_since_last_order),
    }


#: Attributes only the profile's owner may read back (``GET /personalize/api/visitor/``):
#: who they are (``ids`` holds the user id and email), what they bought and spent, and
#: their searches (free text, which can name anyone). Targeting reads them all.
PERSONAL_ATTRIBUTES = frozenset(
    {
        "ids",
        "searches",
        "orders_count",
        "total_spent",
        "avg_order_value",
        "days_since_last_order",
        "purchased_products",
        "purchased_categories",
        "days_since_purchase_by_category",
        "rfm",
        "lifecycle_stage",
    }
)


def without_personal(attributes: dict[str, Any]) -> dict[str, Any]:
    """The attribute document less :data:`PERSONAL_ATTRIBUTES`."""
    return {k: v for k, v in attributes.items() if k not in PERSONAL_ATTRIBUTES}


def build_attributes(request: HttpRequest, visitor: Visitor) -> dict[str, Any]:
    """The full document for this request, ``segments`` included."""
    from personalize.segments.overrides import apply_overrides
    from personalize.segments.registry import get_registry

    attributes = request_attributes(request, visitor)
    profile = visitor.profile
    if profile is None:
        attributes.update(EMPTY_PROFILE_ATTRIBUTES)
    else:
        attributes.update(profile_attributes(profile, visitor.now))
        attributes["profile_available"] = True
        # The visit's UTM stands for the whole visit, not just its landing request.
        if not attributes["utm"]:
            attributes["utm"] = dict(profile.utm)
    attributes["ids"] = _identity_keys(visitor, profile)
    for hook in _hooks(settings.ATTRIBUTE_HOOKS):
        try:
            extra = hook(request, profile)
        except Exception:
            logger.exception("Attribute hook %r failed; its attributes are left out", hook)
            continue
        if isinstance(extra, dict):
            attributes.update(extra)
    if visitor.preview_segment is not None:
        attributes["segments"] = [visitor.preview_segment]
    else:
        attributes["segments"] = apply_overrides(get_registry().evaluate(attributes))
    return attributes


def _identity_keys(visitor: Visitor, profile: Profile | None) -> list[str]:
    """The visitor's ids as static segment lists store them (``$inGroup``)."""
    keys = [f"v:{visitor.id}"] if visitor.tracked else []
    if profile is not None and profile.user_id:
        keys.append(f"u:{profile.user_id}")
    if profile is not None and profile.email:
        keys.append(f"e:{profile.email}")
    return keys


@lru_cache(maxsize=16)
def _hooks(paths: tuple[str, ...]) -> tuple[Callable[..., Any], ...]:
    return tuple(import_string(path) for path in paths)


# What targeting sees without a profile (untracked, or the store is down):
# "unknown" is neither new nor returning, so no campaign for either fires by mistake.
EMPTY_PROFILE_ATTRIBUTES: dict[str, Any] = {
    "is_new": False,
    "is_returning": False,
    "visit_count": 0,
    "profile_available": False,
    "cart": {"items": 0, "quantity": 0, "value": 0.0, "minutes_since_change": None},
    "has_abandoned_cart": False,
    "orders_count": 0,
    "lifecycle_stage": None,
    "rfm": None,
}


def attributes_for_profile(profile: Profile, now: float) -> dict[str, Any]:
    """The document for a stored profile outside any request (size estimates, admin tests).

    Request-only facts take the values of the visitor's latest visit.
    """
    moment = datetime.fromtimestamp(now, tz=UTC)
    attributes: dict[str, Any] = {
        "visitor_id": profile.visitor_id,
        "path": profile.visit_landing_path,
        "device": profile.device or "desktop",
        "country": profile.country,
        "utm": dict(profile.utm),
        "referrer_domain": _referrer_domain(profile.visit_referrer),
        "is_authenticated": bool(profile.user_id),
        "hour": moment.hour,
        "weekday": moment.isoweekday(),
        "profile_available": True,
    }
    attributes.update(profile_attributes(profile, now))
    keys = [f"v:{profile.visitor_id}"]
    if profile.user_id:
        keys.append(f"u:{profile.user_id}")
    if profile.email:
        keys.append(f"e:{profile.email}")
    attributes["ids"] = keys
    return attributes
