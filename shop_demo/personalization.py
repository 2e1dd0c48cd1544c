"""The demo shop's own personalization set-up: interest segments a merchandiser would add."""

from __future__ import annotations

from typing import Any

from personalize.models import Segment

CAT_CATEGORIES = ["cat-food", "cat-toys", "cat-litter"]
DOG_CATEGORIES = ["dog-food", "dog-toys", "dog-walking"]

DEMO_SEGMENTS: list[dict[str, Any]] = [
    {
        "slug": "cat-owners",
        "name": "Cat owners",
        "description": "Most of their interest (views, carts, orders) is in cat categories.",
        "condition": {"top_category": {"$in": CAT_CATEGORIES}},
        "position": 500,
    },
    {
        "slug": "dog-owners",
        "name": "Dog owners",
        "description": "Most of their interest (views, carts, orders) is in dog categories.",
        "condition": {"top_category": {"$in": DOG_CATEGORIES}},
        "position": 510,
    },
]


def install_demo_segments() -> int:
    """Create the demo's segments if missing (merchandisers' edits are kept). Returns created."""
    created = 0
    for spec in DEMO_SEGMENTS:
        _, was_created = Segment.objects.get_or_create(slug=spec["slug"], defaults=spec)
        created += was_created
    return created
