"""The segments every installation starts with (created by a data migration, editable)."""

from __future__ import annotations

from typing import Any

from personalize.rfm import SEGMENTS as RFM_SEGMENTS

BUILTIN_SEGMENTS: list[dict[str, Any]] = [
    {
        "slug": "new-visitors",
        "name": "New visitors",
        "description": "In their first visit.",
        "condition": {"is_new": True},
    },
    {
        "slug": "returning-visitors",
        "name": "Returning visitors",
        "description": "Second visit or later.",
        "condition": {"is_returning": True},
    },
    {
        "slug": "identified-visitors",
        "name": "Identified visitors",
        "description": "We know their email (signup, checkout or a capture form).",
        "condition": {"is_identified": True},
    },
    {
        "slug": "cart-abandoners",
        "name": "Cart abandoners",
        "description": "Items left in the cart in an earlier visit.",
        "condition": {"has_abandoned_cart": True},
    },
    {
        "slug": "browse-abandoners",
        "name": "Browse abandoners",
        "description": "Viewed 3 or more products in an earlier visit, never added to cart.",
        "condition": {"products_viewed_before_visit": {"$gte": 3}, "ever_added_to_cart": False},
    },
    {
        "slug": "first-time-buyers",
        "name": "First-time buyers",
        "description": "Exactly one order.",
        "condition": {"orders_count": 1},
    },
    {
        "slug": "repeat-customers",
        "name": "Repeat customers",
        "description": "Two orders or more.",
        "condition": {"orders_count": {"$gte": 2}},
    },
    {
        "slug": "vip",
        "name": "VIP",
        "description": "Top 10% of customers by total spent (from personalize_rfm).",
        "condition": {"rfm.spend_percentile": {"$gte": 90}},
    },
    {
        "slug": "lapsed-customers",
        "name": "Lapsed customers",
        "description": "Customers with no order for 90 days.",
        "condition": {"orders_count": {"$gte": 1}, "days_since_last_order": {"$gte": 90}},
    },
]

BUILTIN_SEGMENTS += [
    {
        "slug": f"rfm-{slug.replace('_', '-')}",
        "name": f"RFM: {label}",
        "description": f"RFM segment '{label}' (scores from personalize_rfm).",
        "condition": {"rfm.segment": slug},
    }
    for slug, label in RFM_SEGMENTS.items()
]

LIFECYCLE_LABELS = {
    "prospect": "Prospects (no order yet)",
    "first_time_buyer": "First-time buyers (one recent order)",
    "repeat": "Repeat buyers",
    "loyal": "Loyal customers",
    "at_risk": "At risk (no order for 60-120 days)",
    "lapsed": "Lapsed (no order for 120+ days)",
}
BUILTIN_SEGMENTS += [
    {
        "slug": f"lifecycle-{stage.replace('_', '-')}",
        "name": f"Lifecycle: {label}",
        "description": "Lifecycle stage from orders and days since the last order.",
        "condition": {"lifecycle_stage": stage},
    }
    for stage, label in LIFECYCLE_LABELS.items()
]


def install_builtin_segments(segment_model: Any = None, using: str = "default") -> int:
    """Create the built-in segments that are missing; return how many were created.

    The data migration calls it with its historical model; tests and tools that
    flush the database call it with none.
    """
    if segment_model is None:
        from personalize.segments.models import Segment as segment_model
    created = 0
    for position, spec in enumerate(BUILTIN_SEGMENTS, start=1):
        _, was_created = segment_model.objects.using(using).get_or_create(
            slug=spec["slug"], defaults={**spec, "builtin": True, "position": position * 10}
        )
        created += was_created
    return created
