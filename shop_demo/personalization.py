"""The demo shop's own personalization set-up, as a merchandiser would configure it.

Segments, campaigns and recommendation widgets are created once by ``seed_demo``
(matched by slug or slot, so a merchandiser's later edits in the admin are kept).
"""

from __future__ import annotations

import random
from typing import Any

from personalize import configuration
from personalize.campaigns.models import Campaign, CouponCode, Variant
from personalize.models import Segment
from personalize.recommendations.models import Strategy, Widget, WidgetRule

CAT_CATEGORIES = ["cat-food", "cat-toys", "cat-litter"]
DOG_CATEGORIES = ["dog-food", "dog-toys", "dog-walking"]
CONSUMABLE_CATEGORIES = ["cat-food", "cat-litter", "dog-food", "pet-health"]

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
    {
        "slug": "signed-in",
        "name": "Signed in",
        "description": "Logged in to their account right now.",
        "condition": {"is_authenticated": True},
        "position": 520,
    },
    {
        "slug": "cart-below-free-shipping",
        "name": "Cart below free shipping",
        "description": "Something in the cart, but less than the €60 free-shipping threshold.",
        "condition": {"cart.value": {"$gt": 0, "$lt": 60}},
        "position": 530,
    },
    {
        "slug": "replenish-due",
        "name": "Due to restock",
        "description": "Last bought food, litter or health care 30 to 120 days ago.",
        "condition": {
            "$or": [
                {f"days_since_purchase_by_category.{slug}": {"$gte": 30, "$lte": 120}}
                for slug in CONSUMABLE_CATEGORIES
            ]
        },
        "position": 540,
    },
]


def _variant(key: str, **content: Any) -> dict[str, Any]:
    return {"key": key, **content}


DEMO_CAMPAIGNS: list[dict[str, Any]] = [
    {
        "slug": "welcome-popup",
        "name": "Welcome popup: 10% for your email",
        "kind": "popup",
        "include": ["new-visitors"],
        "trigger": "delay",
        "trigger_value": 5,
        "frequency": "once_ever",
        "stop_after_conversion": True,
        "stop_after_close": True,
        "capture_email": True,
        "coupon_mode": "fixed",
        "coupon_code": "WELCOME10",
        "priority": 20,
        "variants": [
            _variant(
                "a",
                title="Welcome to Pawsome! Here is 10% off",
                body="<p>Tell us where to send your code and get <strong>10% off</strong> your "
                "first order, plus tips from our pet experts.</p>",
                dismiss_label="No thanks",
            )
        ],
    },
    {
        "slug": "welcome-back-bar",
        "name": "Welcome back bar",
        "kind": "bar",
        "position": "top",
        "include": ["returning-visitors"],
        "trigger": "immediate",
        "frequency": "every_page",
        "stop_after_close": True,
        "priority": 10,
        "variants": [
            _variant(
                "a",
                title="Welcome back! New arrivals are in since your last visit.",
                cta_label="See what's new",
                cta_url="/#new-title",
            ),
            # An A/B test, 50/50 (the seeded history shows a sample-ratio mismatch).
            _variant(
                "b",
                title="Good to see you again! This week's new arrivals are in.",
                cta_label="Show me",
                cta_url="/#new-title",
            ),
        ],
    },
    {
        "slug": "sign-in-bar",
        "name": "Sign in to see your offers",
        "kind": "bar",
        "position": "bottom",
        "include": ["returning-visitors"],
        "exclude": ["signed-in"],
        "trigger": "immediate",
        "frequency": "every_page",
        "stop_after_close": True,
        "priority": 5,
        "variants": [
            _variant(
                "a",
                title="Sign in to see the offers saved for you.",
                cta_label="Sign in",
                cta_url="/account/login/",
            )
        ],
    },
    {
        "slug": "exit-intent-offer",
        "name": "Exit intent: browse abandoners",
        "kind": "popup",
        "include": ["browse-abandoners"],
        "trigger": "exit",
        "frequency": "once_per_visit",
        "page_rules": {"include": [{"match": "prefix", "value": "/p/"}]},
        "priority": 30,
        "coupon_mode": "fixed",
        "coupon_code": "STAY5",
        "variants": [
            _variant(
                "a",
                title="Still deciding?",
                body="<p>Take <strong>€5 off</strong> anything you have been looking at today.</p>",
                cta_label="Keep browsing",
                cta_url="/",
                dismiss_label="Maybe later",
            ),
            # An A/B test: urgency and a direct call to action (the seeded winner).
            _variant(
                "b",
                title="€5 off, today only",
                body="<p>Your <strong>€5</strong> code works on anything you looked at, "
                "until midnight.</p>",
                cta_label="Use my €5 now",
                cta_url="/cart/",
                dismiss_label="Maybe later",
            ),
        ],
    },
    {
        "slug": "cart-reminder-bar",
        "name": "Cart reminder on return",
        "kind": "bar",
        "position": "top",
        "include": ["cart-abandoners"],
        "trigger": "immediate",
        "frequency": "every_page",
        "stop_after_close": True,
        "priority": 40,
        "variants": [
            _variant(
                "a",
                title="You left {{ cart_items }} item(s) worth €{{ cart_value }} in your cart.",
                cta_label="Go to cart",
                cta_url="/cart/",
            )
        ],
    },
    {
        "slug": "free-shipping-bar",
        "name": "Free shipping progress",
        "kind": "bar",
        "position": "bottom",
        "include": ["cart-below-free-shipping"],
        "trigger": "immediate",
        "frequency": "every_page",
        "priority": 30,
        "variants": [
            _variant(
                "a",
                title="Add €{{ free_shipping_remaining }} more for free shipping.",
                cta_label="View cart",
                cta_url="/cart/",
            )
        ],
    },
    {
        "slug": "replenish-reminder",
        "name": "Time to restock",
        "kind": "slidein",
        "position": "bottom-right",
        "include": ["replenish-due"],
        "trigger": "delay",
        "trigger_value": 3,
        "frequency": "every_n_days",
        "frequency_days": 7,
        "priority": 15,
        "variants": [
            _variant(
                "a",
                title="Running low?",
                body="<p>It has been {{ days_since_last_order }} days since your last order: "
                "time to restock?</p>",
                products="replenish",
                cta_label="See your orders",
                cta_url="/account/orders/",
            )
        ],
    },
    {
        "slug": "vip-early-access",
        "name": "VIP early access",
        "kind": "slidein",
        "position": "bottom-left",
        "include": ["rfm-champions"],
        "trigger": "delay",
        "trigger_value": 2,
        "frequency": "once_per_visit",
        "priority": 25,
        "variants": [
            _variant(
                "a",
                title="Early access for our best customers",
                body="<p>The winter collection opens to you 48 hours before everyone else.</p>",
                cta_label="Shop early",
                cta_url="/c/beds/",
            )
        ],
    },
    {
        "slug": "win-back-offer",
        "name": "Win-back: €15 off €75",
        "kind": "popup",
        "include": ["rfm-at-risk", "rfm-cant-lose"],
        "trigger": "delay",
        "trigger_value": 3,
        "frequency": "every_n_days",
        "frequency_days": 7,
        "stop_after_conversion": True,
        "coupon_mode": "pool",
        "priority": 35,
        "variants": [
            _variant(
                "a",
                title="We miss you, {{ first_name|default:'friend' }}!",
                body="<p>Don't forget your <strong>€15 off €75</strong>. Your personal code is "
                "below.</p>",
                cta_label="Use my code",
                cta_url="/",
                dismiss_label="Not now",
            )
        ],
    },
    {
        "slug": "home-hero",
        "name": "Home hero by interest (A/B with control)",
        "kind": "slot",
        "slot_name": "home-hero",
        "include": ["cat-owners", "dog-owners"],
        "trigger": "immediate",
        "frequency": "every_page",
        "control_percent": 20,
        "priority": 10,
        "variants": [
            _variant(
                "picks",
                title="Top picks in {{ top_category }}",
                body="<p>Hand-picked favourites from the category you love most.</p>",
                cta_label="Shop {{ top_category }}",
                cta_url="/search/?q=new",
            ),
            _variant(
                "bundle",
                title="Bundle and save on {{ top_category }}",
                body="<p>Buy any three and the cheapest is on us.</p>",
                cta_label="Build a bundle",
                cta_url="/search/?q=bundle",
            ),
        ],
    },
]


# One widget per slot the demo's templates place with {% recommendations "<slot>" %};
# "rules" give a segment another strategy and/or title.
DEMO_WIDGETS: list[dict[str, Any]] = [
    {
        # Shown inside the "Time to restock" slide-in (its variant's Products field).
        "slot": "replenish",
        "name": "Restock slide-in: your usual",
        "title": "Your usual",
        "strategy": Strategy.BUY_AGAIN,
        "fallback": "",
        "count": 3,
        "minimum": 1,
    },
    {
        "slot": "home",
        "name": "Home: recommended for you",
        "title": "Recommended for you",
        "strategy": Strategy.PERSONALISED,
        "fallback": Strategy.BESTSELLERS,
        "count": 4,
        "holdout_percent": 10,  # measures the widget's uplift (see its Results page)
        "rules": [
            {
                "segment": "new-visitors",
                "strategy": Strategy.BESTSELLERS,
                "title": "Bestsellers this month",
            }
        ],
    },
    {
        "slot": "product-viewed",
        "name": "Product page: viewed together",
        "title": "Customers who viewed this also viewed",
        "strategy": Strategy.VIEWED_TOGETHER,
        "fallback": Strategy.SIMILAR,
        "holdout_percent": 20,
    },
    {
        "slot": "product-bought",
        "name": "Product page: bought together",
        "title": "Frequently bought together",
        "strategy": Strategy.BOUGHT_TOGETHER,
        "fallback": "",
        "count": 3,
        "minimum": 2,
    },
    {
        "slot": "product-similar",
        "name": "Product page: similar products",
        "title": "Similar products",
        "strategy": Strategy.SIMILAR,
        "fallback": Strategy.BESTSELLERS,
        "in_category": True,
    },
    {
        "slot": "category",
        "name": "Category page: inspired by your browsing",
        "title": "Inspired by your browsing",
        "strategy": Strategy.PERSONALISED,
        "fallback": Strategy.BESTSELLERS,
        "in_category": True,
    },
    {
        "slot": "cart",
        "name": "Cart: cross-sell",
        "title": "Goes well with your cart",
        "strategy": Strategy.CART_CROSS_SELL,
        # No fallback: an empty cart shows nothing here rather than unrelated bestsellers.
        "fallback": "",
        "exclude_cart": True,
        "exclude_purchased": False,
    },
    {
        "slot": "empty-search",
        "name": "Search without results: trending",
        "title": "Trending now",
        "strategy": Strategy.TRENDING,
        "fallback": Strategy.BESTSELLERS,
    },
]


def install_demo_segments() -> int:
    """Create the demo's segments if missing (merchandisers' edits are kept). Returns created."""
    created = 0
    for spec in DEMO_SEGMENTS:
        _, was_created = Segment.objects.get_or_create(slug=spec["slug"], defaults=spec)
        created += was_created
    return created


def install_demo_campaigns(*, pool_size: int = 500, seed: int = 42) -> int:
    """Create the demo campaigns, active, if missing. Returns how many were created."""
    created = 0
    rng = random.Random(seed)
    for spec in DEMO_CAMPAIGNS:
        spec = dict(spec)
        include = spec.pop("include", [])
        exclude = spec.pop("exclude", [])
        variants = spec.pop("variants")
        campaign, was_created = Campaign.objects.get_or_create(
            slug=spec["slug"], defaults={**spec, "status": Campaign.Status.ACTIVE}
        )
        if not was_created:
            continue
        created += 1
        campaign.include_segments.set(Segment.objects.filter(slug__in=include))
        campaign.exclude_segments.set(Segment.objects.filter(slug__in=exclude))
        for variant in variants:
            Variant.objects.create(campaign=campaign, **variant)
        if campaign.coupon_mode == Campaign.CouponMode.POOL:
            alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
            codes = {"BACK-" + "".join(rng.choices(alphabet, k=6)) for _ in range(pool_size)}
            CouponCode.objects.bulk_create(
                [CouponCode(campaign=campaign, code=code) for code in sorted(codes)]
            )
    configuration.bump()
    return created


def install_demo_widgets() -> int:
    """Create the demo's recommendation widgets if missing. Returns how many were created."""
    created = 0
    for spec in DEMO_WIDGETS:
        spec = dict(spec)
        rules = spec.pop("rules", [])
        widget, was_created = Widget.objects.get_or_create(slot=spec["slot"], defaults=spec)
        if not was_created:
            continue
        created += 1
        segments = Segment.objects.in_bulk([rule["segment"] for rule in rules], field_name="slug")
        for order, rule in enumerate(rules):
            segment = segments.get(rule["segment"])
            if segment is not None:  # a built-in segment someone deleted: no rule, same widget
                WidgetRule.objects.create(
                    widget=widget,
                    segment=segment,
                    strategy=rule["strategy"],
                    title=rule["title"],
                    order=order,
                )
    return created
