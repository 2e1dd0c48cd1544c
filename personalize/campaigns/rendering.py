"""Turning placements into HTML: personalization tokens, coupons, countdowns, themes."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from django.core import signing
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.safestring import mark_safe

from personalize.campaigns.sanitize import sanitize_css_color, sanitize_url
from personalize.campaigns.selection import Placement, state_key
from personalize.campaigns.tokens import render_tokens
from personalize.conf import settings

if TYPE_CHECKING:
    from django.http import HttpRequest

    from personalize.identity.visitor import Visitor

logger = logging.getLogger("personalize.campaigns")

BEACON_SALT = "personalize.beacon"


def beacon_token(visitor: Visitor) -> str:
    """Proof, for the events API, that a beacon comes from a page we served to this visitor."""
    return signing.dumps(visitor.id, salt=BEACON_SALT, compress=False)


def token_values(request: HttpRequest, visitor: Visitor, coupon: str = "") -> dict[str, Any]:
    """What ``{{ tokens }}`` in merchandiser text can say."""
    attributes = visitor.attributes
    cart = attributes.get("cart") or {}
    cart_value = float(cart.get("value") or 0.0)
    threshold = settings.FREE_SHIPPING_THRESHOLD
    remaining = None if threshold is None else max(0.0, round(threshold - cart_value, 2))
    user = getattr(request, "user", None)
    first_name = ""
    if user is not None and user.is_authenticated:
        first_name = getattr(user, "first_name", "") or ""
    return {
        "first_name": first_name,
        "cart_value": cart_value,
        "cart_items": cart.get("quantity") or 0,
        "free_shipping_remaining": remaining,
        "free_shipping_threshold": threshold,
        "top_category": (attributes.get("top_category") or "").replace("-", " "),
        "visit_count": attributes.get("visit_count") or 0,
        "orders_count": attributes.get("orders_count") or 0,
        "days_since_last_order": attributes.get("days_since_last_order"),
        "coupon_code": coupon,
    }


TOKEN_NAMES = frozenset(
    {
        "first_name",
        "cart_value",
        "cart_items",
        "free_shipping_remaining",
        "free_shipping_threshold",
        "top_category",
        "visit_count",
        "orders_count",
        "days_since_last_order",
        "coupon_code",
    }
)


def coupon_for(placement: Placement, visitor: Visitor) -> str:
    """The coupon to show: the fixed code, or this visitor's code from the pool."""
    campaign = placement.campaign
    if campaign.coupon_mode == "fixed":
        return campaign.coupon_code
    if campaign.coupon_mode != "pool" or visitor.profile is None:
        return ""
    state = visitor.profile.ext.get(state_key(campaign.slug)) or {}
    if state.get("code"):
        return str(state["code"])
    code = claim_pool_code(campaign.slug, visitor.id)
    if code:
        visitor.remember(state_key(campaign.slug), {**state, "code": code})
    return code


def claim_pool_code(slug: str, visitor_id: str) -> str:
    """Hand out one unused code to this visitor (once; concurrent claims never share a code)."""
    from personalize.campaigns.models import CouponCode

    using = settings.DATABASE_ALIAS
    codes = CouponCode.objects.using(using).filter(campaign__slug=slug)
    existing = codes.filter(visitor_id=visitor_id).values_list("code", flat=True).first()
    if existing:
        return existing
    with transaction.atomic(using=using):
        free = codes.filter(visitor_id="").select_for_update(skip_locked=True).order_by("pk")
        row = free.first()
        if row is None:
            from personalize import configuration

            # Exhausted: recompile so the campaign stops showing everywhere.
            configuration.bump_on_commit(using)
            return ""
        row.visitor_id = visitor_id
        row.assigned_at = timezone.now()
        row.save(update_fields=["visitor_id", "assigned_at"])
        return row.code


def countdown_end(placement: Placement, visitor: Visitor) -> str:
    """ISO end time of the countdown, or "" (evergreen: N minutes from first exposure)."""
    campaign = placement.campaign
    if campaign.countdown_mode == "fixed" and campaign.countdown_ends_at:
        end = campaign.countdown_ends_at
    elif campaign.countdown_mode == "evergreen" and visitor.profile is not None:
        state = visitor.profile.ext.get(state_key(campaign.slug)) or {}
        start = float(state.get("first") or visitor.now)
        end = start + campaign.countdown_minutes * 60
    else:
        return ""
    return datetime.fromtimestamp(end, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def placement_context(
    request: HttpRequest, visitor: Visitor, placement: Placement
) -> dict[str, Any]:
    campaign = placement.campaign
    context: dict[str, Any] = {
        "campaign": campaign,
        "variant_key": placement.variant_key,
        "is_control": placement.is_control,
        "trigger": "immediate" if campaign.trigger == "pageview" else campaign.trigger,
        "dom_id": f"pz-{campaign.slug}",
    }
    variant = placement.variant
    if variant is None:
        return context
    coupon = coupon_for(placement, visitor)
    values = token_values(request, visitor, coupon)
    theme = {
        "accent": sanitize_css_color(variant.accent_color) or "",
        "bg": sanitize_css_color(variant.background_color) or "",
        "fg": sanitize_css_color(variant.text_color) or "",
    }
    context.update(
        {
            "variant": variant,
            # Plain-text fields: fill tokens, then the template escapes the whole text.
            "title": render_tokens(variant.title, values, html=False),
            # Rich text was sanitised when compiled; render_tokens escapes what it inserts.
            "body": mark_safe(render_tokens(variant.body, values)),
            "cta_label": render_tokens(variant.cta_label, values, html=False),
            "cta_url": sanitize_url(variant.cta_url) or "",
            "image_url": sanitize_url(variant.image_url) or "",
            "coupon": coupon,
            "countdown": countdown_end(placement, visitor),
            "theme": theme,
            "theme_class": f"pz-theme-{campaign.slug}-{variant.key}",
            "products": _products(request, variant.products),
        }
    )
    return context


def _products(request: HttpRequest, slot: str) -> str:
    """The recommendation widget a variant shows inside, or ``""`` (nothing to show)."""
    if not slot:
        return ""
    from personalize.recommendations.rendering import render_recommendations
    from personalize.recommendations.serving import recommend

    return render_recommendations(request, recommend(request, slot))


def render_placement(
    request: HttpRequest,
    visitor: Visitor,
    placement: Placement,
    *,
    template: str = "personalize/overlay.html",
) -> str:
    return render_to_string(
        template, placement_context(request, visitor, placement), request=request
    )
