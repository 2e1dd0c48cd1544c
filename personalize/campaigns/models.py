"""Campaign configuration: what to show, to whom, when, how often, and in which variants."""

from __future__ import annotations

import re
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

PAGE_RULE_MATCHES = ("equals", "prefix", "contains", "regex")
DEVICES = ("mobile", "tablet", "desktop")


class Campaign(models.Model):
    """A popup, message bar, slide-in or inline content slot shown to a target audience."""

    class Kind(models.TextChoices):
        POPUP = "popup", "Popup (modal)"
        BAR = "bar", "Message bar"
        SLIDEIN = "slidein", "Slide-in"
        SLOT = "slot", "Inline content slot"

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        ACTIVE = "active", "Active"
        PAUSED = "paused", "Paused"
        ARCHIVED = "archived", "Archived"

    class Position(models.TextChoices):
        CENTER = "center", "Centre (popups)"
        TOP = "top", "Top (bars)"
        BOTTOM = "bottom", "Bottom (bars)"
        BOTTOM_RIGHT = "bottom-right", "Bottom right (slide-ins)"
        BOTTOM_LEFT = "bottom-left", "Bottom left (slide-ins)"

    class Trigger(models.TextChoices):
        IMMEDIATE = "immediate", "Immediately"
        DELAY = "delay", "After N seconds"
        SCROLL = "scroll", "After scrolling N %"
        EXIT = "exit", "Exit intent (desktop)"
        INACTIVITY = "inactivity", "After N seconds of inactivity"
        PAGEVIEW = "pageview", "On the Nth page view of the visit"

    class Frequency(models.TextChoices):
        EVERY_PAGE = "every_page", "Every page"
        ONCE_PER_VISIT = "once_per_visit", "Once per visit"
        EVERY_N_DAYS = "every_n_days", "Once every N days"
        ONCE_EVER = "once_ever", "Once ever"

    class SegmentMode(models.TextChoices):
        ANY = "any", "in any of the segments"
        ALL = "all", "in all of the segments"

    class CouponMode(models.TextChoices):
        NONE = "none", "No coupon"
        FIXED = "fixed", "One fixed code"
        POOL = "pool", "Unique codes from a pool"

    class CountdownMode(models.TextChoices):
        NONE = "none", "No countdown"
        FIXED = "fixed", "Until a fixed time"
        EVERGREEN = "evergreen", "N minutes per visitor"

    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=80, unique=True)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.POPUP)
    slot_name = models.SlugField(
        max_length=80,
        blank=True,
        help_text='For inline slots: the name used in {% content_slot "name" %}.',
    )
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.DRAFT, db_index=True
    )
    starts_at = models.DateTimeField(null=True, blank=True)
    ends_at = models.DateTimeField(null=True, blank=True)
    priority = models.IntegerField(default=0, help_text="Higher wins when several popups qualify.")
    position = models.CharField(max_length=12, choices=Position.choices, default=Position.CENTER)

    include_segments = models.ManyToManyField(
        "personalize.Segment",
        blank=True,
        related_name="included_in_campaigns",
        help_text="Shown only to visitors in these segments (empty: everyone).",
    )
    include_mode = models.CharField(
        max_length=3, choices=SegmentMode.choices, default=SegmentMode.ANY
    )
    exclude_segments = models.ManyToManyField(
        "personalize.Segment",
        blank=True,
        related_name="excluded_from_campaigns",
        help_text="Never shown to visitors in any of these segments.",
    )
    page_rules = models.JSONField(
        default=dict,
        blank=True,
        help_text='{"include": [{"match": "prefix", "value": "/p/"}], "exclude": [...]}; '
        "match is equals, prefix, contains or regex. Empty include: every page.",
    )
    devices = models.JSONField(
        default=list, blank=True, help_text='Any of "mobile", "tablet", "desktop" (empty: all).'
    )

    trigger = models.CharField(max_length=10, choices=Trigger.choices, default=Trigger.IMMEDIATE)
    trigger_value = models.PositiveIntegerField(
        default=0, help_text="Seconds (delay, inactivity), percent (scroll) or page view number."
    )
    frequency = models.CharField(
        max_length=16, choices=Frequency.choices, default=Frequency.ONCE_PER_VISIT
    )
    frequency_days = models.PositiveIntegerField(default=7, validators=[MinValueValidator(1)])
    stop_after_close = models.BooleanField(default=False)
    stop_after_conversion = models.BooleanField(default=True)
    max_impressions = models.PositiveIntegerField(
        null=True, blank=True, help_text="Per visitor (empty: no limit)."
    )

    control_percent = models.PositiveIntegerField(
        default=0,
        validators=[MaxValueValidator(90)],
        help_text="Share of eligible visitors held out (shown nothing) to measure uplift.",
    )
    attribution_days = models.PositiveIntegerField(
        default=7,
        validators=[MinValueValidator(1), MaxValueValidator(90)],
        help_text="Purchases this many days after first exposure count as conversions.",
    )

    coupon_mode = models.CharField(
        max_length=5, choices=CouponMode.choices, default=CouponMode.NONE
    )
    coupon_code = models.CharField(max_length=40, blank=True)
    countdown_mode = models.CharField(
        max_length=10, choices=CountdownMode.choices, default=CountdownMode.NONE
    )
    countdown_ends_at = models.DateTimeField(null=True, blank=True)
    countdown_minutes = models.PositiveIntegerField(default=30)
    capture_email = models.BooleanField(
        default=False, help_text="Show an email form; submitting it converts."
    )
    capture_consent_text = models.CharField(
        max_length=300,
        blank=True,
        default="Send me offers by email. Unsubscribe any time.",
    )

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-priority", "name"]

    def __str__(self) -> str:
        return self.name

    def is_live(self, now: Any = None) -> bool:
        now = now or timezone.now()
        return (
            self.status == self.Status.ACTIVE
            and (self.starts_at is None or self.starts_at <= now)
            and (self.ends_at is None or now < self.ends_at)
        )

    def clean(self) -> None:
        errors: dict[str, Any] = {}
        if self.kind == self.Kind.SLOT and not self.slot_name:
            errors["slot_name"] = "Inline slots need the slot name used in the template."
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            errors["ends_at"] = "The end must be after the start."
        if self.trigger == self.Trigger.SCROLL and not 0 < self.trigger_value <= 100:
            errors["trigger_value"] = "Scroll depth is a percentage from 1 to 100."
        if self.trigger == self.Trigger.PAGEVIEW and self.trigger_value < 1:
            errors["trigger_value"] = "Page view number starts at 1."
        if self.coupon_mode == self.CouponMode.FIXED and not self.coupon_code.strip():
            errors["coupon_code"] = "Enter the code to show, or choose another coupon mode."
        if self.countdown_mode == self.CountdownMode.FIXED and not self.countdown_ends_at:
            errors["countdown_ends_at"] = "Enter when the countdown ends."
        page_errors = validate_page_rules(self.page_rules)
        if page_errors:
            errors["page_rules"] = page_errors
        if not isinstance(self.devices, list) or any(d not in DEVICES for d in self.devices):
            errors["devices"] = f"Use a list of {', '.join(DEVICES)} (empty for all devices)."
        if errors:
            raise ValidationError(errors)


def validate_page_rules(rules: Any) -> list[str]:
    """Errors in a page-rules document, each naming the rule and the fix."""
    if rules in (None, {}):
        return []
    if not isinstance(rules, dict) or set(rules) - {"include", "exclude"}:
        return ['Page rules are {"include": [...], "exclude": [...]}.']
    errors = []
    for side in ("include", "exclude"):
        items = rules.get(side, [])
        if not isinstance(items, list):
            errors.append(f"{side} must be a list of rules.")
            continue
        for index, rule in enumerate(items):
            where = f"{side}[{index}]"
            if (
                not isinstance(rule, dict)
                or rule.get("match") not in PAGE_RULE_MATCHES
                or not isinstance(rule.get("value"), str)
                or not rule["value"]
            ):
                errors.append(
                    f'{where}: use {{"match": one of {", ".join(PAGE_RULE_MATCHES)}, '
                    '"value": "/path"}.'
                )
                continue
            if rule["match"] == "regex":
                try:
                    re.compile(rule["value"])
                except re.error as exc:
                    errors.append(f"{where}: invalid regular expression: {exc}.")
    return errors


class Variant(models.Model):
    """One version of a campaign's content; visitors are split between variants by weight."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="variants")
    key = models.SlugField(max_length=20, help_text='Short id reported in events, e.g. "a".')
    weight = models.PositiveIntegerField(default=1, help_text="Relative share of traffic.")
    title = models.CharField(max_length=200, blank=True)
    body = models.TextField(blank=True, help_text="Rich text; unsafe HTML is removed on save.")
    image_url = models.CharField(max_length=500, blank=True)
    cta_label = models.CharField(max_length=80, blank=True)
    cta_url = models.CharField(max_length=500, blank=True)
    dismiss_label = models.CharField(max_length=80, blank=True, default="No thanks")
    accent_color = models.CharField(max_length=9, blank=True, default="#e8613c")
    background_color = models.CharField(max_length=9, blank=True, default="#ffffff")
    text_color = models.CharField(max_length=9, blank=True, default="#1f2937")
    products = models.SlugField(
        max_length=64,
        blank=True,
        help_text="Optional: the slot of a recommendation widget to show inside, e.g. "
        "“replenish” for the visitor's usual products.",
    )

    class Meta:
        ordering = ["campaign", "key"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "key"], name="personalize_variant_key"),
        ]

    def __str__(self) -> str:
        return f"{self.campaign.slug}:{self.key}"


class CouponCode(models.Model):
    """A unique code from a campaign's pool, handed out once to one visitor."""

    #: The holder of a code whose visitor was erased (personalize.privacy): not a
    #: visitor id (those are hexadecimal), and not empty, so the code stays handed out.
    ERASED_HOLDER = "erased"

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="coupons")
    code = models.CharField(max_length=40)
    visitor_id = models.CharField(max_length=32, blank=True, default="", db_index=True)
    assigned_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["campaign", "code"], name="personalize_coupon_code"),
        ]

    def __str__(self) -> str:
        return self.code


class Lead(models.Model):
    """An email captured by a campaign's form."""

    email = models.EmailField(max_length=320)
    consent = models.BooleanField(default=False)
    campaign = models.ForeignKey(
        Campaign, null=True, on_delete=models.SET_NULL, related_name="leads"
    )
    variant = models.CharField(max_length=20, blank=True)
    visitor_id = models.CharField(max_length=32, blank=True, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.email
