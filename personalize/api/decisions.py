"""``GET /personalize/api/v1/decisions/?path=/…&slots=a,b``: a page's campaigns, as JSON.

For a headless storefront: what ``{% personalize_overlays %}`` and ``{% content_slot %}``
would put on the page at ``path`` for this visitor — the same selection
(:func:`select_campaigns`), the same sanitised rendering (the same templates), and the
token and endpoint the runtime reports impressions, clicks and closes with. See
docs/headless.md.
"""

from __future__ import annotations

from typing import Any

from django.template.loader import render_to_string
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from personalize.api.headless import (
    SLUG,
    HeadlessView,
    absolute,
    query_value,
    subject,
)
from personalize.api.openapi import headless_schema
from personalize.campaigns.rendering import beacon_token, placement_context
from personalize.campaigns.selection import Placement, select_campaigns
from personalize.identity.visitor import StoredVisitor, Visitor
from personalize.tracking.context import MAX_PATH

SCOPE = "decisions:read"
MAX_SLOTS = 20
MAX_SLOT_NAME = 80  # Campaign.slot_name


def page_path(request: Request) -> str:
    """``path``: the storefront page the decision is for (page rules match it)."""
    path = query_value(request, "path", limit=MAX_PATH)
    if path is None:
        raise ValidationError({"path": ["Required: the page's path, e.g. path=/products/42/."]})
    if not path.startswith("/"):
        raise ValidationError({"path": ["Must start with '/': the path of the page, not a URL."]})
    if "?" in path or "#" in path or " " in path:
        raise ValidationError(
            {"path": ["Must be the path alone: no query string, fragment or spaces."]}
        )
    return path


def slot_names(request: Request) -> list[str]:
    """``slots``: the content slots on the page, comma-separated (each once, in order)."""
    raw = query_value(request, "slots", limit=MAX_SLOTS * (MAX_SLOT_NAME + 1))
    if raw is None:
        return []
    names = list(dict.fromkeys(name.strip() for name in raw.split(",") if name.strip()))
    if len(names) > MAX_SLOTS:
        raise ValidationError({"slots": [f"At most {MAX_SLOTS} slots per request."]})
    bad = [name for name in names if len(name) > MAX_SLOT_NAME or not SLUG.match(name)]
    if bad:
        raise ValidationError(
            {
                "slots": [
                    f"Not a slot name: {bad[0][:40]!r}. Slot names are letters, digits, "
                    f"hyphens or underscores (at most {MAX_SLOT_NAME})."
                ]
            }
        )
    return names


def describe(request: Request, visitor: Visitor, placement: Placement) -> dict[str, Any]:
    """One placement: what it is, when it shows, what it says (as the page renders it)."""
    campaign = placement.campaign
    django_request = request._request
    context = placement_context(django_request, visitor, placement)
    slot = campaign.kind == "slot"
    if campaign.kind == "bar":
        context["refresh_url"] = reverse("personalize:render_campaign", args=[campaign.slug])
    item: dict[str, Any] = {
        "campaign": campaign.slug,
        "name": campaign.name,
        "kind": campaign.kind,
        "position": campaign.position,
        "slot": campaign.slot_name if slot else None,
        "variant": placement.variant_key,
        "is_control": placement.is_control,
        "trigger": {"type": context["trigger"], "value": campaign.trigger_value},
        "frequency": {
            "frequency": campaign.frequency,
            "every_days": campaign.frequency_days if campaign.frequency == "every_n_days" else None,
            "max_impressions": campaign.max_impressions,
            "stop_after_close": campaign.stop_after_close,
            "stop_after_conversion": campaign.stop_after_conversion,
        },
        "refresh_url": absolute(django_request, context.get("refresh_url", "")) or None,
    }
    if placement.is_control and slot:
        # The control group sees the page's default content: render nothing, report exposure.
        item.update({"html": None, "content": None, "theme": None})
        return item
    template = "personalize/slot.html" if slot else "personalize/overlay.html"
    item["html"] = render_to_string(template, context, request=django_request)
    if placement.is_control:
        item.update({"content": None, "theme": None})
        return item
    item["content"] = {
        "title": context["title"],
        "body": str(context["body"]),  # sanitised HTML
        "image_url": context["image_url"],
        "cta_label": context["cta_label"],
        "cta_url": context["cta_url"],
        "coupon": context["coupon"],
        "countdown_ends_at": context["countdown"] or None,
        "capture_email": campaign.capture_email,
        "products_html": str(context["products"]),
    }
    theme = {key: value for key, value in context["theme"].items() if value}
    item["theme"] = {"class": context["theme_class"], **theme} if theme else None
    return item


@headless_schema(
    summary="What to show on a storefront page (headless)",
    description=(
        "The campaigns (popups, slide-ins, bars) to show on `path` for the visitor, "
        "with their sanitised HTML, trigger and frequency-cap settings, the contents "
        "of the requested content slots (`null`: show your default) and the beacon "
        "token to report impressions and clicks to `/personalize/api/events/`: what "
        "the JS runtime gets from a server-rendered page. docs/headless.md has a "
        "complete page using it. Scope for another person: `decisions:read`."
    ),
    parameters=[
        OpenApiParameter(
            "path", OpenApiTypes.STR, required=True, description="The page's path, e.g. /cart/."
        ),
        OpenApiParameter("slots", OpenApiTypes.STR, description="Content slots, comma-separated."),
    ],
    example={
        "path": "/cart/",
        "visitor": {"id": "5f0c…", "tracked": True, "is_new": False, "is_returning": True,
                    "visit_count": 3, "degraded": False},
        "segments": ["returning-visitors", "cart-abandoners"],
        "campaigns": [{"slug": "free-shipping", "kind": "bar", "variant": "a", "html": "…"}],
        "slots": {"hero": None},
        "beacon": {"endpoint": "/personalize/api/events/", "token": "…"},
    },
)  # fmt: skip
class DecisionsView(HeadlessView):
    """The campaigns and content slots to show on a storefront page, for one visitor."""

    def get(self, request: Request) -> Response:
        path = page_path(request)
        slots = slot_names(request)
        visitor = subject(request, SCOPE)
        visitor.address_page(path)
        selection = select_campaigns(visitor)
        # Reports need the visitor's own cookie: a stored person has no page to report from.
        reports = (
            visitor.tracked and not selection.preview and not isinstance(visitor, StoredVisitor)
        )
        return Response(
            {
                "path": path,
                "visitor": {
                    "id": visitor.id if visitor.tracked else None,
                    "tracked": visitor.tracked,
                    "is_new": visitor.is_new,
                    "is_returning": visitor.is_returning,
                    "visit_count": visitor.visit_count,
                    "degraded": visitor.degraded,
                },
                "segments": visitor.segments,
                "campaigns": [describe(request, visitor, p) for p in selection.overlays],
                "slots": {
                    name: describe(request, visitor, placement)
                    if (placement := selection.slots.get(name)) is not None
                    else None
                    for name in slots
                },
                "preview": selection.preview,
                "beacon": {
                    "endpoint": absolute(request._request, reverse("personalize:events"))
                    if reports
                    else None,
                    "token": beacon_token(visitor) if reports else None,
                },
            }
        )
