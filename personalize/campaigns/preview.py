"""Staff preview of one campaign variant on a real shop page.

``?pz_preview_campaign=<slug>&pz_preview_variant=<key>`` on any shop page shows that
variant to a staff member who may view campaigns, opened at once, whatever the
targeting, schedule, caps or trigger say: the admin's preview page puts such a page
in an ``<iframe>``. Drafts and paused campaigns can be previewed too; they are
compiled from their row on the fly, exactly as the registry compiles active ones.

For everyone else the parameters mean nothing, and a request without them costs one
dictionary lookup: the user is only looked at when the parameter is present.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Final
from urllib.parse import urlencode, urlsplit, urlunsplit

from personalize.campaigns.registry import (
    CompiledCampaign,
    compile_campaign,
    get_campaign_registry,
)
from personalize.conf import settings
from personalize.permissions import staff_with_any_perm

if TYPE_CHECKING:
    from django.http import HttpRequest

    from personalize.campaigns.selection import Placement

__all__ = [
    "CAMPAIGN_PARAM",
    "SAMPLE_COUPON",
    "VARIANT_PARAM",
    "compile_campaign",
    "forced_placement",
    "preview_url",
]

CAMPAIGN_PARAM: Final = "pz_preview_campaign"
VARIANT_PARAM: Final = "pz_preview_variant"
#: Shown instead of a real code from a pool, which a preview must not use up.
SAMPLE_COUPON: Final = "PREVIEW-CODE"


def _may_preview(request: HttpRequest) -> bool:
    return staff_with_any_perm(request, "personalize.view_campaign", "personalize.change_campaign")


def forced_placement(request: HttpRequest) -> Placement | None:
    """The campaign variant a staff member asked to preview on this page, or ``None``.

    ``None`` for requests without the parameter, for users who may not view campaigns,
    for an unknown campaign or variant, and for the control group (which shows nothing).
    Without ``pz_preview_variant`` the first variant is shown. The placement opens
    immediately (``trigger="immediate"``), and a coupon pool shows :data:`SAMPLE_COUPON`.
    """
    slug = request.GET.get(CAMPAIGN_PARAM)
    if slug is None:
        return None
    slug = slug.strip()[:80]
    key = request.GET.get(VARIANT_PARAM, "").strip()[:20]
    if not slug or not _may_preview(request):
        return None
    campaign = get_campaign_registry().by_slug.get(slug)
    if campaign is None or (key and campaign.variant(key) is None):
        # Drafts, paused campaigns and variants with weight 0 are not in the registry.
        campaign = _compile_from_database(slug)
    if campaign is None or not campaign.variants:
        return None
    variant = campaign.variant(key) if key else campaign.variants[0]
    if variant is None:
        return None
    from personalize.campaigns.selection import Placement

    return Placement(_for_preview(campaign), variant)


def _for_preview(campaign: CompiledCampaign) -> CompiledCampaign:
    """Open at once, on this page, for this visitor, without using up a pool code."""
    pooled = campaign.coupon_mode == "pool"
    return replace(
        campaign,
        trigger="immediate",
        trigger_value=0,
        starts_at=None,
        ends_at=None,
        include=(),
        exclude=(),
        page_include=(),
        page_exclude=(),
        devices=frozenset(),
        frequency="every_page",
        stop_after_close=False,
        stop_after_conversion=False,
        max_impressions=None,
        control_percent=0,
        pool_exhausted=False,
        coupon_mode="fixed" if pooled else campaign.coupon_mode,
        coupon_code=SAMPLE_COUPON if pooled else campaign.coupon_code,
    )


def _compile_from_database(slug: str) -> CompiledCampaign | None:
    from personalize.campaigns.models import Campaign

    row = (
        Campaign.objects.using(settings.DATABASE_ALIAS)
        .filter(slug=slug)
        .prefetch_related("include_segments", "exclude_segments", "variants")
        .first()
    )
    return None if row is None else compile_campaign(row)


def safe_preview_path(path: str) -> str:
    """``path`` if it is a site path (``/...``, not ``//host``), else ``/``."""
    path = path.strip()
    if (
        not path.startswith("/")
        or path.startswith("//")
        or "\\" in path
        or len(path) > 500
        or any(ord(char) < 0x20 or ord(char) == 0x7F for char in path)
    ):
        return "/"
    return path


def preview_url(path: str, slug: str, variant: str) -> str:
    """The shop page at ``path`` with the preview parameters added (other parameters kept)."""
    parts = urlsplit(safe_preview_path(path))
    extra = urlencode({CAMPAIGN_PARAM: slug, VARIANT_PARAM: variant})
    query = f"{parts.query}&{extra}" if parts.query else extra
    return urlunsplit(("", "", parts.path, query, ""))
