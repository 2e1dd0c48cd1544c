"""The campaign admin: list with live numbers, change form, results, preview, coupons, leads."""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlencode

from django.contrib import admin, messages
from django.core.cache import cache
from django.db import transaction
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from personalize import charts, configuration
from personalize.admin_pages import page_context, page_object
from personalize.campaigns import coupons
from personalize.campaigns.forms import (
    CampaignForm,
    CouponUploadForm,
    SegmentChoiceField,
    VariantForm,
    VariantFormSet,
)
from personalize.campaigns.measurement import CampaignResults, VariantResult, campaign_results
from personalize.campaigns.models import Campaign, Lead, Variant
from personalize.campaigns.preview import preview_url, safe_preview_path
from personalize.charts import IntervalChart, IntervalItem, rate_chart
from personalize.conf import settings
from personalize.stats import (
    MIN_EXPECTED_COUNT,
    MIN_EXPOSURES,
    Interval,
    wilson_interval,
)

if TYPE_CHECKING:
    from django.contrib.admin.sites import AdminSite
    from django.contrib.admin.views.main import ChangeList
    from django.db.models import ManyToManyField
    from django.forms import BaseInlineFormSet, ModelForm, ModelMultipleChoiceField

    _CampaignAdminBase = admin.ModelAdmin[Campaign]
    _LeadAdminBase = admin.ModelAdmin[Lead]
    _VariantInlineBase = admin.StackedInline[Variant, Campaign]
else:
    _CampaignAdminBase = admin.ModelAdmin
    _LeadAdminBase = admin.ModelAdmin
    _VariantInlineBase = admin.StackedInline

__all__ = [
    "CampaignAdmin",
    "LeadAdmin",
    "ResultsReport",
    "build_results_report",
    "duplicate_campaign",
    "register",
]

#: How long the change list keeps a campaign's numbers (seconds).
STATS_CACHE_SECONDS: Final = 60
PREVIEW_WIDTHS: Final = {390: "Phone", 768: "Tablet", 1280: "Desktop"}
DEFAULT_PREVIEW_WIDTH: Final = 1280
#: Shown before negative numbers: a typographic minus reads better than a hyphen.
MINUS: Final = "\u2212"


def register(site: AdminSite) -> None:
    """Register the campaign and lead admins on ``site``."""
    site.register(Campaign, CampaignAdmin)
    site.register(Lead, LeadAdmin)


def _plain(queryset: QuerySet[Campaign]) -> QuerySet[Campaign]:
    """The selected rows without the change list's annotations (for updates)."""
    return Campaign.objects.using(queryset.db).filter(
        pk__in=list(queryset.values_list("pk", flat=True))
    )


def duplicate_campaign(campaign: Campaign) -> Campaign:
    """A draft copy of ``campaign`` with its variants and segments, without coupons."""
    using = settings.DATABASE_ALIAS
    base = f"{campaign.slug}-copy"[:74]
    taken = set(
        Campaign.objects.using(using).filter(slug__startswith=base).values_list("slug", flat=True)
    )
    slug = base
    number = 2
    while slug in taken:
        slug = f"{base}-{number}"
        number += 1
    include = list(campaign.include_segments.all())
    exclude = list(campaign.exclude_segments.all())
    variants = list(Variant.objects.using(using).filter(campaign=campaign).order_by("key"))
    with transaction.atomic(using=using):
        copy = Campaign.objects.using(using).get(pk=campaign.pk)
        copy.pk = None
        copy.id = None
        copy._state.adding = True
        copy.slug = slug
        copy.name = f"Copy of {campaign.name}"[:120]
        copy.status = Campaign.Status.DRAFT
        copy.save(using=using)
        copy.include_segments.set(include)
        copy.exclude_segments.set(exclude)
        for variant in variants:
            variant.pk = None
            variant.id = None
            variant._state.adding = True
            variant.campaign = copy
        Variant.objects.using(using).bulk_create(variants)
    return copy


# --- numbers for the change list --------------------------------------------------------


@dataclass(frozen=True)
class ListStats:
    """What the change list shows for a campaign: its variants together, without control."""

    impressions: int
    clicks: int
    exposures: int
    buyers: int

    @property
    def ctr(self) -> float | None:
        return self.clicks / self.impressions if self.impressions else None

    @property
    def conversion_rate(self) -> float | None:
        return self.buyers / self.exposures if self.exposures else None


def _stats_key(campaign: Campaign) -> str:
    return f"personalize:campaign-list:{campaign.pk}:{campaign.slug}:{campaign.attribution_days}"


def list_stats(campaigns: Sequence[Campaign]) -> dict[int, ListStats]:
    """Numbers for these campaigns, from the cache or computed (and cached for a minute)."""
    keys = {campaign.pk: _stats_key(campaign) for campaign in campaigns}
    cached = cache.get_many(list(keys.values()))
    stats: dict[int, ListStats] = {}
    fresh: dict[str, tuple[int, int, int, int]] = {}
    for campaign in campaigns:
        key = keys[campaign.pk]
        values = cached.get(key)
        if not (isinstance(values, tuple) and len(values) == 4):
            results = campaign_results(campaign.slug, campaign.attribution_days)
            shown = [v for v in results.variants if not v.is_control]
            values = (
                sum(v.impressions for v in shown),
                sum(v.clicks for v in shown),
                sum(v.exposures for v in shown),
                sum(v.buyers for v in shown),
            )
            fresh[key] = values
        stats[campaign.pk] = ListStats(*values)
    if fresh:
        cache.set_many(fresh, STATS_CACHE_SECONDS)
    return stats


def _percent(rate: float | None) -> str:
    if rate is None:
        return "—"
    value = rate * 100
    return f"{value:.2f}%" if 0 < abs(value) < 1 else f"{value:.1f}%"


def _when(moment: datetime) -> str:
    return date_format(timezone.localtime(moment), "j M Y H:i")


def schedule_text(campaign: Campaign, now: datetime | None = None) -> str:
    """ "always", "from 1 Mar 2026 10:00 until 31 Mar 2026 00:00", with "(ended)" etc."""
    now = now or timezone.now()
    start, end = campaign.starts_at, campaign.ends_at
    if start is None and end is None:
        return "always"
    parts = []
    if start is not None:
        parts.append(f"from {_when(start)}")
    if end is not None:
        parts.append(f"until {_when(end)}")
    text = " ".join(parts)
    if end is not None and end <= now:
        text += " (ended)"
    elif start is not None and now < start:
        text += " (not started)"
    return text


# --- results ----------------------------------------------------------------------------


def trigger_text(campaign: Campaign) -> str:
    """When shoppers see the campaign, as the end of a sentence: "after 4 seconds"."""
    value = campaign.trigger_value
    seconds = f"{value} second{'s' if value != 1 else ''}"
    texts: dict[str, str] = {
        Campaign.Trigger.DELAY: f"after {seconds} on the page",
        Campaign.Trigger.SCROLL: f"after scrolling {value}% of the page",
        Campaign.Trigger.EXIT: "when the pointer leaves the window (exit intent, desktop)",
        Campaign.Trigger.INACTIVITY: f"after {seconds} without activity",
        Campaign.Trigger.PAGEVIEW: f"on page view {value} of a visit",
    }
    return texts.get(campaign.trigger, "as soon as the page loads")


def variant_label(key: str) -> str:
    """ "Control", or the variant key as people say it ("A", "B", or the key itself)."""
    if key == "control":
        return "Control"
    return key.upper() if len(key) <= 2 else key


def _points(difference: float) -> str:
    """A difference of rates in percentage points, signed: "+2.1", "-0.4" (a true minus)."""
    value = round(difference * 100, 1)
    sign = "+" if value > 0 else MINUS if value < 0 else "±"
    return f"{sign}{abs(value):.1f}"


def _p_value(p_value: float | None) -> str:
    if p_value is None:
        return "—"
    if p_value < 0.001:
        return "p < 0.001"
    return f"p = {p_value:.3f}" if p_value < 0.01 else f"p = {p_value:.2f}"


@dataclass(frozen=True)
class Verdict:
    text: str
    tone: str  # "baseline", "win", "loss", "neutral" or "wait"

    @property
    def names_variant(self) -> bool:
        """Whether the text starts with the variant's name ("B beats control: ...")."""
        return self.tone in ("win", "loss")


def verdict_for(row: VariantResult, baseline: VariantResult) -> Verdict:
    """The plain-language conclusion for one variant against the baseline."""
    comparison = row.comparison
    if comparison is None:
        return Verdict("Baseline: the others are compared with it.", "baseline")
    name = variant_label(row.key)
    other = variant_label(baseline.key)
    other = other.lower() if baseline.is_control else other
    if comparison.insufficient_data:
        smallest = min(row.exposures, baseline.exposures)
        if smallest < MIN_EXPOSURES:
            return Verdict(
                f"Not enough data yet: {smallest:,} exposure{'s' if smallest != 1 else ''}, "
                f"need at least {MIN_EXPOSURES} per variant",
                "wait",
            )
        buyers = row.buyers + baseline.buyers
        return Verdict(
            f"Not enough data yet: {buyers:,} conversion{'s' if buyers != 1 else ''} so far, "
            f"too few to compare (each group should expect at least {MIN_EXPECTED_COUNT}); "
            "keep the test running",
            "wait",
        )
    interval = comparison.interval
    assert comparison.difference is not None and interval is not None
    detail = (
        f"{_points(comparison.difference)} points "
        f"({round(comparison.confidence * 100)}% interval {_points(interval.low)} to "
        f"{_points(interval.high)}), {_p_value(comparison.p_value)}"
    )
    if not comparison.significant:
        return Verdict(f"No significant difference yet: {detail}", "neutral")
    if comparison.difference > 0:
        return Verdict(f"{name} beats {other}: {detail}", "win")
    return Verdict(f"{name} does worse than {other}: {detail}", "loss")


def _tick_percent(value: float) -> str:
    """An axis label: "0%", "2.5%", "0.25%" (no trailing zeros)."""
    return f"{value * 100:.2f}".rstrip("0").rstrip(".") + "%"


def _tick_points(value: float) -> str:
    return f"{_points(value)} pts" if value else "0"


def conversion_chart(rows: list[ResultRow]) -> IntervalChart | None:
    """Conversion rate per variant as bars, with the 95% Wilson interval as a whisker."""
    items = [
        IntervalItem(
            label=row.label,
            sublabel=f"{row.result.exposures:,} visitors",
            tone=row.verdict.tone,
            value=row.rate or 0.0,
            low=interval.low,
            high=interval.high,
            shown=_percent(row.rate),
        )
        for row in rows
        if (interval := row.interval) is not None
    ]
    return rate_chart(
        items,
        title="Conversion rate per variant",
        description="Bars show each variant's conversion rate; the line across each bar is its "
        "95% interval, the range the true rate is likely in.",
        tick=_tick_percent,
    )


def difference_chart(rows: list[ResultRow], baseline: str) -> IntervalChart | None:
    """Each variant's difference from the baseline with its 95% interval, around zero."""
    items = [
        IntervalItem(
            label=row.label,
            sublabel=f"vs {baseline}",
            tone=row.verdict.tone,
            value=c.difference,
            low=c.interval.low,
            high=c.interval.high,
            shown=f"{_points(c.difference)} pts",
        )
        for row in rows
        if (c := row.result.comparison) is not None
        and c.interval is not None
        and c.difference is not None
    ]
    return charts.difference_chart(
        items,
        title=f"Difference from {baseline}",
        description="Each dot is the difference in conversion rate from the baseline, in "
        "percentage points; the line is its 95% interval. A line that crosses 0 means no "
        "difference is still plausible.",
        tick=_tick_points,
    )


@dataclass(frozen=True)
class ResultRow:
    """One variant (or control) on the results page."""

    result: VariantResult
    label: str
    is_baseline: bool
    interval: Interval | None
    verdict: Verdict
    revenue: str
    revenue_per_visitor: str

    @property
    def rate(self) -> float | None:
        return self.result.conversion_rate

    @property
    def rate_text(self) -> str:
        return _percent(self.rate)

    @property
    def ctr_text(self) -> str:
        return _percent(self.result.ctr)

    @property
    def interval_text(self) -> str:
        if self.interval is None:
            return ""
        return f"{_percent(self.interval.low)} to {_percent(self.interval.high)}"

    @property
    def difference_text(self) -> str:
        comparison = self.result.comparison
        if comparison is None or comparison.difference is None:
            return "—"
        return f"{_points(comparison.difference)} pts"

    @property
    def difference_interval_text(self) -> str:
        comparison = self.result.comparison
        if comparison is None or comparison.interval is None:
            return ""
        return f"{_points(comparison.interval.low)} to {_points(comparison.interval.high)}"

    @property
    def uplift_text(self) -> str:
        comparison = self.result.comparison
        if comparison is None or comparison.relative_uplift is None:
            return "—"
        uplift = comparison.relative_uplift * 100
        sign = "+" if uplift > 0 else MINUS if uplift < 0 else "±"
        return f"{sign}{abs(uplift):.0f}%"

    @property
    def p_value_text(self) -> str:
        comparison = self.result.comparison
        return "—" if comparison is None else _p_value(comparison.p_value)


@dataclass(frozen=True)
class ResultsReport:
    results: CampaignResults
    rows: list[ResultRow]
    baseline_label: str
    conversion_chart: IntervalChart | None
    difference_chart: IntervalChart | None
    verdicts: list[tuple[str, Verdict]] = field(default_factory=list)

    @property
    def has_data(self) -> bool:
        return any(row.result.exposures or row.result.impressions for row in self.rows)


def _money(value: float | None) -> str:
    return "—" if value is None else f"{value:,.2f} {settings.CURRENCY}"


def build_results_report(campaign: Campaign) -> ResultsReport:
    """Every number and sentence the results page shows for ``campaign``."""
    keys = sorted(Variant.objects.filter(campaign=campaign).values_list("key", flat=True))
    if campaign.control_percent:
        keys.insert(0, "control")
    results = campaign_results(campaign.slug, campaign.attribution_days, keys)
    baseline = results.variants[0] if results.variants else None
    rows = []
    for item in results.variants:
        assert baseline is not None
        rows.append(
            ResultRow(
                result=item,
                label=variant_label(item.key),
                is_baseline=item is baseline,
                interval=wilson_interval(item.buyers, item.exposures),
                verdict=verdict_for(item, baseline),
                revenue=_money(item.revenue),
                revenue_per_visitor=_money(item.revenue_per_visitor),
            )
        )
    baseline_label = variant_label(baseline.key) if baseline else ""
    return ResultsReport(
        results=results,
        rows=rows,
        baseline_label=baseline_label,
        conversion_chart=conversion_chart(rows),
        difference_chart=difference_chart(rows, baseline_label),
        verdicts=[(row.label, row.verdict) for row in rows if not row.is_baseline],
    )


# --- admin classes ----------------------------------------------------------------------


class VariantInline(_VariantInlineBase):
    model = Variant
    form = VariantForm
    formset = VariantFormSet
    extra = 0
    min_num = 0
    fieldsets = [
        (
            None,
            {
                "fields": [
                    ("key", "weight"),
                    "title",
                    "body",
                    "image_url",
                    ("cta_label", "cta_url"),
                    "products",
                    "dismiss_label",
                    ("accent_color", "background_color", "text_color"),
                ]
            },
        )
    ]

    def get_extra(self, request: HttpRequest, obj: Campaign | None = None, **kwargs: Any) -> int:
        # A new campaign starts with two blank variants: an A/B test is one click away.
        return 0 if obj is not None and obj.pk else 2


class CampaignAdmin(_CampaignAdminBase):
    form = CampaignForm
    inlines = [VariantInline]
    list_display = [
        "name",
        "kind_label",
        "status_badge",
        "schedule",
        "targeting",
        "impressions",
        "ctr",
        "conversion",
        "coupon_pool",
        "report_links",
    ]
    list_display_links = ["name"]
    list_filter = ["kind", "status"]
    search_fields = ["name", "slug", "slot_name"]
    prepopulated_fields = {"slug": ["name"]}
    filter_horizontal = ["include_segments", "exclude_segments"]
    readonly_fields = ["coupon_pool_status"]
    list_per_page = 50
    actions = ["activate_campaigns", "pause_campaigns", "duplicate_campaigns", "delete_selected"]
    fieldsets = [
        (
            "Basics",
            {
                "fields": [
                    "name",
                    "slug",
                    ("kind", "slot_name"),
                    "position",
                    "status",
                    "priority",
                    ("starts_at", "ends_at"),
                ]
            },
        ),
        (
            "Targeting",
            {
                "fields": [
                    "include_segments",
                    "include_mode",
                    "exclude_segments",
                    "page_rules",
                    "devices",
                ],
                "description": "Who sees the campaign: visitors in the segments, on these "
                "pages, on these devices. Nothing chosen: everyone, everywhere.",
            },
        ),
        ("Trigger", {"fields": [("trigger", "trigger_value")]}),
        (
            "Frequency",
            {
                "fields": [
                    ("frequency", "frequency_days"),
                    ("stop_after_close", "stop_after_conversion"),
                    "max_impressions",
                ]
            },
        ),
        (
            "Experiment",
            {
                "fields": ["control_percent", "attribution_days"],
                "description": "Visitors in the control group see nothing; comparing them "
                "with the others shows what the campaign really changes.",
            },
        ),
        ("Coupon", {"fields": ["coupon_mode", "coupon_code", "coupon_pool_status"]}),
        (
            "Countdown",
            {"fields": ["countdown_mode", "countdown_ends_at", "countdown_minutes"]},
        ),
        ("Email capture", {"fields": ["capture_email", "capture_consent_text"]}),
    ]

    class Media:
        css = {"all": ["personalize/admin/campaign-admin.css"]}

    def formfield_for_manytomany(
        self, db_field: ManyToManyField[Any, Any], request: HttpRequest, **kwargs: Any
    ) -> ModelMultipleChoiceField[Any] | None:
        kwargs.setdefault("form_class", SegmentChoiceField)
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Campaign]:
        return (
            super()
            .get_queryset(request)
            .prefetch_related("include_segments", "exclude_segments")
            .annotate(
                _codes=Count("coupons"),
                _codes_left=Count("coupons", filter=Q(coupons__visitor_id="")),
            )
        )

    def get_changelist_instance(self, request: HttpRequest) -> ChangeList:
        changelist = super().get_changelist_instance(request)
        # Numbers for this page's campaigns only; evaluating the page here fills the
        # queryset's cache, which the template then reuses.
        campaigns = list(changelist.result_list)
        stats = list_stats(campaigns)
        for campaign in campaigns:
            campaign._pz_stats = stats[campaign.pk]
        return changelist

    # --- change list columns ------------------------------------------------------

    @admin.display(description="kind", ordering="kind")
    def kind_label(self, obj: Campaign) -> str:
        label = obj.get_kind_display()
        if obj.kind == Campaign.Kind.SLOT and obj.slot_name:
            return f"{label} “{obj.slot_name}”"
        return label

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj: Campaign) -> SafeString:
        return format_html(
            '<span class="pz-badge pz-badge-{}">{}</span>', obj.status, obj.get_status_display()
        )

    @admin.display(description="schedule", ordering="starts_at")
    def schedule(self, obj: Campaign) -> str:
        return schedule_text(obj)

    @admin.display(description="target segments")
    def targeting(self, obj: Campaign) -> SafeString:
        include = [segment.name for segment in obj.include_segments.all()]
        exclude = [segment.name for segment in obj.exclude_segments.all()]
        if not include and not exclude:
            return format_html("{}", "everyone")
        parts = []
        if include:
            mode = "all of" if obj.include_mode == Campaign.SegmentMode.ALL else "any of"
            parts.append(
                format_html(
                    '<span class="pz-include">{} {}</span>', mode, ", ".join(sorted(include))
                )
            )
        if exclude:
            parts.append(
                format_html('<span class="pz-exclude">not {}</span>', ", ".join(sorted(exclude)))
            )
        return format_html_join(mark_safe("<br>"), "{}", ((part,) for part in parts))

    def _stats(self, obj: Campaign) -> ListStats | None:
        stats = getattr(obj, "_pz_stats", None)
        return stats if isinstance(stats, ListStats) else None

    @admin.display(description="impressions")
    def impressions(self, obj: Campaign) -> str:
        stats = self._stats(obj)
        return f"{stats.impressions:,}" if stats and stats.impressions else "—"

    @admin.display(description="CTR")
    def ctr(self, obj: Campaign) -> str:
        stats = self._stats(obj)
        return _percent(stats.ctr) if stats else "—"

    @admin.display(description="conversion")
    def conversion(self, obj: Campaign) -> str:
        stats = self._stats(obj)
        return _percent(stats.conversion_rate) if stats else "—"

    @admin.display(description="coupon")
    def coupon_pool(self, obj: Campaign) -> SafeString | str:
        if obj.coupon_mode == Campaign.CouponMode.FIXED:
            return format_html("code <code>{}</code>", obj.coupon_code)
        if obj.coupon_mode != Campaign.CouponMode.POOL:
            return "—"
        left = int(getattr(obj, "_codes_left", 0))
        if left <= 0:
            return format_html(
                '<span class="pz-badge pz-badge-exhausted">{}</span>', "pool exhausted"
            )
        return f"{left:,} code{'s' if left != 1 else ''} left"

    @admin.display(description="reports")
    def report_links(self, obj: Campaign) -> SafeString:
        return format_html(
            '<a href="{}">Results</a> · <a href="{}">Preview</a>',
            self._url("results", obj),
            self._url("preview", obj),
        )

    # --- change form --------------------------------------------------------------

    @admin.display(description="Code pool")
    def coupon_pool_status(self, obj: Campaign | None) -> SafeString | str:
        if obj is None or not obj.pk:
            return "Save the campaign first, then upload a CSV file of codes."
        status = coupons.pool_status(obj)
        return format_html(
            '{} code{}, {} handed out, <strong>{}</strong> left · <a href="{}">Upload codes</a>',
            f"{status.total:,}",
            "s" if status.total != 1 else "",
            f"{status.handed_out:,}",
            f"{status.left:,}",
            self._url("coupons", obj),
        )

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: Campaign | None = None,
    ) -> HttpResponse:
        if obj is not None and obj.pk and obj.coupon_mode == Campaign.CouponMode.POOL:
            context["pool"] = coupons.pool_status(obj)
        return super().render_change_form(request, context, add, change, form_url, obj)

    def save_formset(
        self,
        request: HttpRequest,
        form: ModelForm[Any],
        formset: BaseInlineFormSet[Any, Any, Any],
        change: bool,
    ) -> None:
        super().save_formset(request, form, formset, change)
        for variant_form in formset.forms:
            removed = getattr(variant_form, "removed", None)
            if removed and not variant_form.cleaned_data.get("DELETE"):
                key = variant_form.cleaned_data.get("key", "")
                shown = ", ".join(removed[:8]) + (" …" if len(removed) > 8 else "")
                self.message_user(
                    request,
                    f"Variant “{key}”: removed from the body because campaign content may not "
                    f"contain it: {shown}. The rest of the text was saved.",
                    messages.WARNING,
                )

    # --- actions ------------------------------------------------------------------

    @admin.action(description="Activate selected campaigns", permissions=["change"])
    def activate_campaigns(self, request: HttpRequest, queryset: QuerySet[Campaign]) -> None:
        selected = _plain(queryset)
        ready = selected.filter(variants__weight__gt=0).values_list("pk", flat=True).distinct()
        skipped = list(selected.exclude(pk__in=ready).values_list("name", flat=True))
        count = selected.filter(pk__in=list(ready)).update(status=Campaign.Status.ACTIVE)
        configuration.bump_on_commit()
        self.message_user(request, f"Activated {count} campaign(s).", messages.SUCCESS)
        if skipped:
            self.message_user(
                request,
                "Not activated, as they have no variant with a weight above 0 (add one "
                f"first): {', '.join(sorted(skipped))}.",
                messages.WARNING,
            )

    @admin.action(description="Pause selected campaigns", permissions=["change"])
    def pause_campaigns(self, request: HttpRequest, queryset: QuerySet[Campaign]) -> None:
        count = (
            _plain(queryset)
            .filter(status=Campaign.Status.ACTIVE)
            .update(status=Campaign.Status.PAUSED)
        )
        configuration.bump_on_commit()
        self.message_user(request, f"Paused {count} active campaign(s).", messages.SUCCESS)

    # Duplicating creates rows, so it needs the add permission, not just change.
    @admin.action(
        description="Duplicate selected campaigns (as drafts, without coupons)",
        permissions=["add"],
    )
    def duplicate_campaigns(self, request: HttpRequest, queryset: QuerySet[Campaign]) -> None:
        copies = [
            duplicate_campaign(campaign)
            for campaign in _plain(queryset)
            .prefetch_related("include_segments", "exclude_segments")
            .order_by("name", "pk")
        ]
        names = ", ".join(copy.name for copy in copies)
        self.message_user(
            request,
            f"Created {len(copies)} draft cop{'ies' if len(copies) != 1 else 'y'}: {names}. "
            "Edit and activate them when ready.",
            messages.SUCCESS,
        )

    # --- extra views --------------------------------------------------------------

    def get_urls(self) -> list[URLPattern]:
        prefix = f"{self.opts.app_label}_{self.opts.model_name}"

        def view(function: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
            return self.admin_site.admin_view(function)

        return [
            path("<path:object_id>/results/", view(self.results_view), name=f"{prefix}_results"),
            path("<path:object_id>/preview/", view(self.preview_view), name=f"{prefix}_preview"),
            path(
                "<path:object_id>/coupons/upload/",
                view(self.coupons_view),
                name=f"{prefix}_coupons",
            ),
            *super().get_urls(),
        ]

    def _url(self, name: str, campaign: Campaign) -> str:
        route = f"{self.admin_site.name}:{self.opts.app_label}_{self.opts.model_name}_{name}"
        return reverse(route, args=[campaign.pk])

    def _campaign(self, request: HttpRequest, object_id: str, *, change: bool = False) -> Campaign:
        return page_object(self, request, object_id, change=change)

    def _context(self, request: HttpRequest, campaign: Campaign, title: str) -> dict[str, Any]:
        return {
            **page_context(self, request, campaign, title),
            "campaign": campaign,
            "results_url": self._url("results", campaign),
            "preview_url": self._url("preview", campaign),
            "coupons_url": self._url("coupons", campaign),
        }

    def results_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Per variant and control: reach, clicks, conversions with intervals, and a verdict."""
        campaign = self._campaign(request, object_id)
        context = self._context(request, campaign, "Results")
        context["report"] = build_results_report(campaign)
        context["min_exposures"] = MIN_EXPOSURES
        return TemplateResponse(request, "personalize/admin/campaign_results.html", context)

    def preview_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """A real shop page in an iframe, with one variant of this campaign forced open."""
        campaign = self._campaign(request, object_id)
        variants = list(Variant.objects.filter(campaign=campaign).order_by("key"))
        keys = [variant.key for variant in variants]
        wanted = request.GET.get("variant", "")
        key = wanted if wanted in keys else (keys[0] if keys else "")
        width = _int_or_none(request.GET.get("width", "")) or DEFAULT_PREVIEW_WIDTH
        if width not in PREVIEW_WIDTHS:
            width = DEFAULT_PREVIEW_WIDTH
        page_path = safe_preview_path(request.GET.get("path", "/"))
        context = self._context(request, campaign, "Preview")

        def link(**changes: Any) -> str:
            query = {"variant": key, "width": width, "path": page_path, **changes}
            return f"{request.path}?{urlencode(query)}"

        context.update(
            {
                "variants": [
                    (
                        variant.key,
                        variant_label(variant.key),
                        variant.weight,
                        link(variant=variant.key),
                    )
                    for variant in variants
                ],
                "variant_key": key,
                "widths": [
                    (size, label, link(width=size)) for size, label in PREVIEW_WIDTHS.items()
                ],
                "width": width,
                "page_path": page_path,
                "frame_url": preview_url(page_path, campaign.slug, key) if key else "",
                "trigger_text": trigger_text(campaign),
            }
        )
        return TemplateResponse(request, "personalize/admin/campaign_preview.html", context)

    def coupons_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Upload a CSV file of unique codes into the campaign's pool."""
        posting = request.method == "POST"
        campaign = self._campaign(request, object_id, change=posting)
        form = CouponUploadForm(request.POST, request.FILES) if posting else CouponUploadForm()
        report = None
        if posting and form.is_valid():
            report = coupons.import_codes(campaign, form.cleaned_data["file"])
            self.message_user(
                request,
                f"Added {report.imported:,} code(s); {report.duplicates:,} duplicate(s) "
                f"skipped; {report.error_count:,} row error(s).",
                messages.SUCCESS if not report.error_count else messages.WARNING,
            )
            form = CouponUploadForm()
        context = self._context(request, campaign, "Coupon codes")
        context.update({"form": form, "report": report, "pool": coupons.pool_status(campaign)})
        return TemplateResponse(request, "personalize/admin/campaign_coupons.html", context)


def _int_or_none(value: str) -> int | None:
    value = value.strip()
    return int(value) if value.isdigit() and len(value) <= 18 else None


# --- leads ------------------------------------------------------------------------------


def _csv_cell(value: str) -> str:
    """Keep spreadsheets from running a cell as a formula (CSV injection)."""
    return f"'{value}" if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


class LeadAdmin(_LeadAdminBase):
    """Emails captured by campaigns: read-only, searchable, exportable."""

    list_display = ["email", "consent", "campaign", "variant", "created_at"]
    list_filter = ["consent", "campaign"]
    search_fields = ["email"]
    list_select_related = ["campaign"]
    date_hierarchy = "created_at"
    actions = ["export_csv"]
    list_per_page = 100

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Lead | None = None) -> bool:
        return False

    @admin.action(description="Export selected leads as CSV", permissions=["view"])
    def export_csv(self, request: HttpRequest, queryset: QuerySet[Lead]) -> HttpResponse:
        stamp = timezone.now().strftime("%Y%m%d-%H%M")
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="leads-{stamp}.csv"'
        writer = csv.writer(response)
        writer.writerow(["email", "consent", "campaign", "variant", "visitor_id", "created_at"])
        rows = queryset.select_related("campaign").order_by("created_at", "pk")
        for lead in rows.iterator(chunk_size=2000):
            writer.writerow(
                [
                    _csv_cell(lead.email),
                    "yes" if lead.consent else "no",
                    _csv_cell(lead.campaign.slug if lead.campaign else ""),
                    _csv_cell(lead.variant),
                    lead.visitor_id,
                    lead.created_at.isoformat(),
                ]
            )
        return response
