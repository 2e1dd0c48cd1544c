"""Which campaigns this request shows: targeting, frequency caps, variant assignment.

Everything here reads the compiled registry, the visitor's attributes and the
per-campaign state kept on the profile (``profile.ext["c:<slug>"]``), so
choosing campaigns costs no SQL and no extra Redis round trip.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from personalize.bucketing import assign_variant
from personalize.campaigns.preview import forced_placement
from personalize.campaigns.registry import (
    CompiledCampaign,
    CompiledVariant,
    get_campaign_registry,
)

if TYPE_CHECKING:
    from personalize.identity.visitor import Visitor

CONTROL = "control"


def state_key(slug: str) -> str:
    return f"c:{slug}"


@dataclass(frozen=True)
class Placement:
    """A campaign chosen for this page, in one variant (``variant is None``: control)."""

    campaign: CompiledCampaign
    variant: CompiledVariant | None

    @property
    def variant_key(self) -> str:
        return self.variant.key if self.variant else CONTROL

    @property
    def is_control(self) -> bool:
        return self.variant is None


@dataclass
class Selection:
    popup: Placement | None = None
    slidein: Placement | None = None
    bars: list[Placement] = field(default_factory=list)
    slots: dict[str, Placement] = field(default_factory=dict)
    preview: bool = False  # a staff preview: nothing on the page is reported

    @property
    def overlays(self) -> list[Placement]:
        return [p for p in (self.popup, self.slidein) if p is not None] + self.bars


def is_capped(campaign: CompiledCampaign, state: dict[str, Any], visit: int, now: float) -> bool:
    """Whether frequency caps keep the campaign away from this visitor now."""
    shown = int(state.get("n", 0))
    if campaign.stop_after_conversion and state.get("converted"):
        return True
    if campaign.stop_after_close and state.get("closed"):
        return True
    if campaign.max_impressions is not None and shown >= campaign.max_impressions:
        return True
    if not shown:
        return False
    if campaign.frequency == "once_ever":
        return True
    if campaign.frequency == "once_per_visit":
        return int(state.get("lv", 0)) == visit
    if campaign.frequency == "every_n_days":
        return now - float(state.get("last", 0)) < campaign.frequency_days * 86400
    return False


def is_targeted(campaign: CompiledCampaign, attributes: dict[str, Any], now: float) -> bool:
    """Schedule, device, page and segment rules (not caps, not assignment)."""
    if campaign.starts_at is not None and now < campaign.starts_at:
        return False
    if campaign.ends_at is not None and now >= campaign.ends_at:
        return False
    if campaign.pool_exhausted:
        return False
    if campaign.devices and attributes.get("device") not in campaign.devices:
        return False
    path = str(attributes.get("path", ""))
    if campaign.page_include and not any(test(path) for test in campaign.page_include):
        return False
    if any(test(path) for test in campaign.page_exclude):
        return False
    segments = set(attributes.get("segments") or ())
    if campaign.include:
        wanted = [slug in segments for slug in campaign.include]
        if not (all(wanted) if campaign.include_all else any(wanted)):
            return False
    if any(slug in segments for slug in campaign.exclude):
        return False
    return not (
        campaign.trigger == "pageview"
        and attributes.get("pageviews_visit") != campaign.trigger_value
    )


def assign(campaign: CompiledCampaign, visitor: Visitor, state: dict[str, Any]) -> Placement:
    """The visitor's variant: sticky once assigned, else GrowthBook bucketing by weights."""
    sticky = state.get("v")
    if sticky == CONTROL and campaign.control_percent > 0:
        return Placement(campaign, None)
    if isinstance(sticky, str) and (variant := campaign.variant(sticky)) is not None:
        return Placement(campaign, variant)
    index = assign_variant(campaign.slug, visitor.id, campaign.weights)
    placement = Placement(campaign, None if index <= 0 else campaign.variants[index - 1])
    visitor.remember(state_key(campaign.slug), {**state, "v": placement.variant_key})
    return placement


def _place(selection: Selection, placement: Placement) -> None:
    kind = placement.campaign.kind
    if kind == "popup":
        selection.popup = placement
    elif kind == "slidein":
        selection.slidein = placement
    elif kind == "bar":
        selection.bars.append(placement)
    else:
        selection.slots[placement.campaign.slot_name] = placement


def select_campaigns(visitor: Visitor) -> Selection:
    """The campaigns to render for this request (computed once per request)."""
    cached: Selection | None = getattr(visitor, "_campaigns", None)
    if cached is not None:
        return cached
    selection = Selection()
    # Staff preview (?pz_preview_campaign=<slug>): that variant first, whatever the rules say.
    forced = forced_placement(visitor.request)
    if forced is not None:
        _place(selection, forced)
        selection.preview = True
    profile = visitor.profile
    if profile is None:  # untracked or store down: no caps can be honoured, show nothing
        visitor._campaigns = selection  # type: ignore[attr-defined]
        return selection
    attributes = visitor.attributes
    now = visitor.now
    for campaign in get_campaign_registry().campaigns:
        if forced is not None and campaign.slug == forced.campaign.slug:
            continue
        kind = campaign.kind
        if kind == "popup" and selection.popup is not None:
            continue
        if kind == "slidein" and selection.slidein is not None:
            continue
        if kind == "bar" and any(p.campaign.position == campaign.position for p in selection.bars):
            continue
        if kind == "slot" and campaign.slot_name in selection.slots:
            continue
        if not is_targeted(campaign, attributes, now):
            continue
        state = profile.ext.get(state_key(campaign.slug)) or {}
        if is_capped(campaign, state, profile.visit_count, now):
            continue
        _place(selection, assign(campaign, visitor, state))
    visitor._campaigns = selection  # type: ignore[attr-defined]
    return selection
