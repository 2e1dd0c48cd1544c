"""Campaigns compiled for the hot path, rebuilt only when the configuration version changes."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from personalize.conf import settings
from personalize.configuration import Compiled


@dataclass(frozen=True)
class CompiledVariant:
    key: str
    weight: float
    title: str
    body: str  # sanitised HTML
    image_url: str
    cta_label: str
    cta_url: str
    dismiss_label: str
    accent_color: str
    background_color: str
    text_color: str
    products: str = ""  # slot of a recommendation widget shown inside


PathTest = Callable[[str], bool]


@dataclass(frozen=True)
class CompiledCampaign:
    slug: str
    name: str
    kind: str
    slot_name: str
    position: str
    priority: int
    starts_at: float | None
    ends_at: float | None
    include: tuple[str, ...]
    include_all: bool
    exclude: tuple[str, ...]
    page_include: tuple[PathTest, ...]
    page_exclude: tuple[PathTest, ...]
    devices: frozenset[str]
    trigger: str
    trigger_value: int
    frequency: str
    frequency_days: int
    stop_after_close: bool
    stop_after_conversion: bool
    max_impressions: int | None
    control_percent: int
    attribution_days: int
    coupon_mode: str
    coupon_code: str
    pool_exhausted: bool
    countdown_mode: str
    countdown_ends_at: float | None
    countdown_minutes: int
    capture_email: bool
    capture_consent_text: str
    variants: tuple[CompiledVariant, ...]

    @property
    def weights(self) -> list[float]:
        """Traffic split with the control (index 0) first, summing to 1."""
        control = self.control_percent / 100.0
        total = sum(v.weight for v in self.variants) or 1.0
        return [control] + [(1.0 - control) * v.weight / total for v in self.variants]

    def variant(self, key: str) -> CompiledVariant | None:
        return next((v for v in self.variants if v.key == key), None)


@dataclass(frozen=True)
class CampaignRegistry:
    campaigns: tuple[CompiledCampaign, ...] = ()
    by_slug: dict[str, CompiledCampaign] = field(default_factory=dict)


def compile_path_rule(rule: dict[str, str]) -> PathTest:
    value = rule["value"]
    match = rule["match"]
    if match == "equals":
        return lambda path: path == value
    if match == "prefix":
        return lambda path: path.startswith(value)
    if match == "contains":
        return lambda path: value in path
    pattern = re.compile(value)
    return lambda path: pattern.search(path) is not None


def compile_campaign(row: Any) -> CompiledCampaign:
    """One campaign row compiled, whatever its status, with every variant.

    The registry then drops weight-0 variants and marks exhausted pools; the admin
    preview uses it as is (a merchandiser previews a variant before giving it traffic).
    """
    from personalize.campaigns.models import Campaign, validate_page_rules
    from personalize.campaigns.sanitize import sanitize_html

    rules = row.page_rules if not validate_page_rules(row.page_rules) else {}
    rules = rules or {}
    return CompiledCampaign(
        slug=row.slug,
        name=row.name,
        kind=row.kind,
        slot_name=row.slot_name,
        position=row.position,
        priority=row.priority,
        starts_at=row.starts_at.timestamp() if row.starts_at else None,
        ends_at=row.ends_at.timestamp() if row.ends_at else None,
        include=tuple(s.slug for s in row.include_segments.all()),
        include_all=row.include_mode == Campaign.SegmentMode.ALL,
        exclude=tuple(s.slug for s in row.exclude_segments.all()),
        page_include=tuple(compile_path_rule(r) for r in rules.get("include", [])),
        page_exclude=tuple(compile_path_rule(r) for r in rules.get("exclude", [])),
        devices=frozenset(row.devices or ()),
        trigger=row.trigger,
        trigger_value=row.trigger_value,
        frequency=row.frequency,
        frequency_days=row.frequency_days,
        stop_after_close=row.stop_after_close,
        stop_after_conversion=row.stop_after_conversion,
        max_impressions=row.max_impressions,
        control_percent=row.control_percent,
        attribution_days=row.attribution_days,
        coupon_mode=row.coupon_mode,
        coupon_code=row.coupon_code,
        pool_exhausted=False,
        countdown_mode=row.countdown_mode,
        countdown_ends_at=row.countdown_ends_at.timestamp() if row.countdown_ends_at else None,
        countdown_minutes=row.countdown_minutes,
        capture_email=row.capture_email,
        capture_consent_text=row.capture_consent_text,
        variants=tuple(
            CompiledVariant(
                key=v.key,
                weight=float(v.weight),
                title=v.title,
                body=sanitize_html(v.body),
                image_url=v.image_url,
                cta_label=v.cta_label,
                cta_url=v.cta_url,
                dismiss_label=v.dismiss_label,
                accent_color=v.accent_color,
                background_color=v.background_color,
                text_color=v.text_color,
                products=v.products,
            )
            for v in row.variants.all()
        ),
    )


def build_campaign_registry() -> CampaignRegistry:
    from personalize.campaigns.models import Campaign, CouponCode

    using = settings.DATABASE_ALIAS
    rows = (
        Campaign.objects.using(using)
        .filter(status=Campaign.Status.ACTIVE)
        .prefetch_related("include_segments", "exclude_segments", "variants")
        .order_by("-priority", "pk")
    )
    pools_with_codes = set(
        CouponCode.objects.using(using)
        .filter(visitor_id="", campaign__coupon_mode=Campaign.CouponMode.POOL)
        .values_list("campaign_id", flat=True)
        .distinct()
    )
    compiled = []
    for row in rows:
        campaign = compile_campaign(row)
        variants = tuple(v for v in campaign.variants if v.weight > 0)
        if not variants:
            continue  # nothing to show
        compiled.append(
            replace(
                campaign,
                variants=variants,
                pool_exhausted=(
                    row.coupon_mode == Campaign.CouponMode.POOL and row.pk not in pools_with_codes
                ),
            )
        )
    return CampaignRegistry(tuple(compiled), {c.slug: c for c in compiled})


registry = Compiled(build_campaign_registry)


def get_campaign_registry() -> CampaignRegistry:
    return registry.get()
