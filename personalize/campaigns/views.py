"""Campaign endpoints for htmx and the runtime: email capture, bar refresh, lazy slots.

The beacon endpoint lives with the rest of the JSON API in ``personalize.api``.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.views.decorators.http import require_GET, require_POST

from personalize.campaigns.registry import get_campaign_registry
from personalize.campaigns.rendering import coupon_for, placement_context
from personalize.campaigns.selection import Placement, select_campaigns
from personalize.conf import settings
from personalize.identity.visitor import get_visitor
from personalize.models import Lead


class CaptureForm(forms.Form):
    email = forms.EmailField(
        max_length=320,
        error_messages={
            "required": "Enter your email address.",
            "invalid": "Enter a valid email address, like name@example.com.",
        },
    )
    consent = forms.BooleanField(required=False)
    variant = forms.SlugField(max_length=20, required=False)


@require_POST
def capture(request: HttpRequest, slug: str) -> HttpResponse:
    """Email capture (htmx or the runtime's fetch): identify, store a Lead, thank in place."""
    visitor = get_visitor(request)
    campaign = get_campaign_registry().by_slug.get(slug)
    if campaign is None or not campaign.capture_email:
        return HttpResponse("This offer has ended.", status=404, content_type="text/plain")
    form = CaptureForm(request.POST)
    variant_key = request.POST.get("variant", "")
    variant = campaign.variant(variant_key) or campaign.variants[0]
    placement = Placement(campaign, variant)
    if not form.is_valid():
        context = placement_context(request, visitor, placement)
        context["form"] = form
        # htmx swaps only 2xx responses: it gets the form with its errors as a 200.
        status = 200 if request.headers.get("HX-Request") == "true" else 422
        return render(request, "personalize/capture_form.html", context, status=status)
    email = form.cleaned_data["email"].lower()
    Lead.objects.using(settings.DATABASE_ALIAS).create(
        email=email,
        consent=form.cleaned_data["consent"],
        campaign_id=_campaign_pk(slug),
        variant=variant.key,
        visitor_id=visitor.id if visitor.tracked else "",
    )
    visitor.track("identify", {"email": email})
    visitor.track(
        "campaign_convert", {"campaign": slug, "variant": variant.key, "kind": campaign.kind}
    )
    coupon = coupon_for(placement, visitor)
    html = render_to_string(
        "personalize/capture_thanks.html", {"email": email, "coupon": coupon}, request=request
    )
    return HttpResponse(html)


def _campaign_pk(slug: str) -> int | None:
    from personalize.campaigns.models import Campaign

    return (
        Campaign.objects.using(settings.DATABASE_ALIAS)
        .filter(slug=slug)
        .values_list("pk", flat=True)
        .first()
    )


@require_GET
def render_campaign(request: HttpRequest, slug: str) -> HttpResponse:
    """The current content of an overlay (bars refresh after the cart changes); 204 if none."""
    visitor = get_visitor(request)
    selection = select_campaigns(visitor)
    placement = next((p for p in selection.overlays if p.campaign.slug == slug), None)
    if placement is None or placement.is_control:
        return HttpResponse(status=204)
    context = placement_context(request, visitor, placement)
    context["fragment"] = True
    response = render(request, "personalize/overlay_panel.html", context)
    response["Cache-Control"] = "private, no-store"
    return response


@require_GET
def slot(request: HttpRequest, name: str) -> HttpResponse:
    """A content slot's winning variant, for ``{% content_slot ... lazy=True %}``; 204 if none."""
    visitor = get_visitor(request)
    page_path = request.GET.get("path", "/")[:300]
    # Page rules and segments target the page the slot sits on, not this endpoint.
    visitor.address_page(page_path if page_path.startswith("/") else "/")
    placement = select_campaigns(visitor).slots.get(name)
    if placement is None or placement.is_control:
        return HttpResponse(status=204)
    context: dict[str, Any] = placement_context(request, visitor, placement)
    return render(request, "personalize/slot.html", context)
