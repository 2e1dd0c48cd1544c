"""The recommendation admin: widgets with live numbers, per-segment rules, preview, results,
and the history of trained models."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from django import forms
from django.contrib import admin, messages
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db.models import Count, QuerySet
from django.db.models.fields.json import KeyTextTransform
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import slugify
from django.utils.timesince import timesince

from personalize import configuration
from personalize.admin_pages import page_context, page_object
from personalize.attributes import attributes_for_profile
from personalize.conf import settings
from personalize.models import Event, Segment
from personalize.profiles.base import StoreUnavailable
from personalize.profiles.profile import Profile
from personalize.recommendations.catalogue import (
    BaseCatalogue,
    CatalogueItem,
    ModelCatalogue,
    get_catalogue,
)
from personalize.recommendations.measurement import holdout_results, widget_results
from personalize.recommendations.models import Strategy, TrainedModel, Widget, WidgetRule
from personalize.recommendations.rendering import money, render_recommendations
from personalize.recommendations.serving import (
    Recommendations,
    WidgetRuleSpec,
    WidgetSpec,
    preview,
    spec_of,
)
from personalize.recommendations.storage import read_rows
from personalize.segments.admin import find_profile
from personalize.segments.registry import get_registry

if TYPE_CHECKING:
    from django.contrib.admin.options import _FieldsetSpec
    from django.contrib.admin.sites import AdminSite
    from django.contrib.admin.views.main import ChangeList
    from django.forms import ModelForm

    _WidgetAdminBase = admin.ModelAdmin[Widget]
    _TrainedModelAdminBase = admin.ModelAdmin[TrainedModel]
    _RuleInlineBase = admin.TabularInline[WidgetRule, Widget]
    _RuleFormSetBase = forms.BaseInlineFormSet[WidgetRule, Widget, forms.ModelForm[WidgetRule]]
    _WidgetFormBase = forms.ModelForm[Widget]
    _WidgetRuleFormBase = forms.ModelForm[WidgetRule]
else:
    _WidgetAdminBase = admin.ModelAdmin
    _TrainedModelAdminBase = admin.ModelAdmin
    _RuleInlineBase = admin.TabularInline
    _RuleFormSetBase = forms.BaseInlineFormSet
    _WidgetFormBase = forms.ModelForm
    _WidgetRuleFormBase = forms.ModelForm

__all__ = [
    "STRATEGY_GUIDE",
    "PreviewForm",
    "TrainedModelAdmin",
    "TrainingStatus",
    "WidgetAdmin",
    "WidgetStats",
    "list_stats",
    "register",
    "training_status",
]

#: How long the change list keeps a widget's numbers (seconds).
STATS_CACHE_SECONDS: Final = 60
#: The period of the change list's views, clicks and CTR.
STATS_DAYS: Final = 30
RESULTS_DAYS: Final = (7, 30, 90)
#: Products offered as suggestions in the preview's product field.
PREVIEW_SUGGESTIONS: Final = 200
#: A model older than this is called stale (train nightly, or hourly on a busy shop).
STALE_AFTER: Final = timedelta(days=2)
#: What shop ids and category keys look like (as the lazy widget view accepts them).
_ID: Final = re.compile(r"^[\w.:@-]{1,64}$")
_SLUG: Final = re.compile(r"^[-a-zA-Z0-9_]+$")


def register(site: AdminSite) -> None:
    """Register the widget and trained-model admins on ``site``."""
    site.register(Widget, WidgetAdmin)
    site.register(TrainedModel, TrainedModelAdmin)


# --- what each strategy is for ------------------------------------------------------------


@dataclass(frozen=True)
class StrategyGuide:
    shows: str
    fits: str


STRATEGY_GUIDE: Final[dict[str, StrategyGuide]] = {
    Strategy.PERSONALISED: StrategyGuide(
        "Products similar to what this shopper viewed lately, nudged towards their favourite "
        "categories. Shoppers without history see trending products.",
        "Home page, category pages (“Inspired by your browsing”).",
    ),
    Strategy.RECENTLY_VIEWED: StrategyGuide(
        "The shopper's own recently viewed products, latest first.",
        "Home page, product pages, an empty cart.",
    ),
    Strategy.BESTSELLERS: StrategyGuide(
        "Most units sold over the bestseller window, overall or in the page's category.",
        "Home page for new visitors, category pages; the usual fallback.",
    ),
    Strategy.TRENDING: StrategyGuide(
        "Views and sales weighted towards the last few days: what is picking up now.",
        "Home page, search without results.",
    ),
    Strategy.VIEWED_TOGETHER: StrategyGuide(
        "Products viewed in the same visits as the product on screen (elsewhere: as the "
        "shopper's latest viewed products).",
        "Product pages (“Customers who viewed this also viewed”).",
    ),
    Strategy.BOUGHT_TOGETHER: StrategyGuide(
        "Products bought in the same orders as the product on screen.",
        "Product pages, the added-to-cart confirmation.",
    ),
    Strategy.SIMILAR: StrategyGuide(
        "Products the same shoppers were interested in (item-to-item similarity).",
        "Product pages, especially for sold-out products.",
    ),
    Strategy.CART_CROSS_SELL: StrategyGuide(
        "Products bought together with the items in the cart.",
        "Cart page, mini cart, checkout.",
    ),
    Strategy.NEW_ARRIVALS: StrategyGuide(
        "The newest products; with “Same category only”, from this category or the "
        "shopper's favourite ones.",
        "Home page, category pages.",
    ),
    Strategy.BUY_AGAIN: StrategyGuide(
        "What this shopper bought before, latest first (needs no training).",
        "Inside a replenishment popup or slide-in, account pages, the home page for "
        "returning customers.",
    ),
}


def strategy_guide_html(*, open_guide: bool = True) -> SafeString:
    """The "which strategy where?" table shown above the strategy fields."""
    rows = [
        (Strategy(name).label, guide.shows, guide.fits) for name, guide in STRATEGY_GUIDE.items()
    ]
    context = {"rows": rows, "open": open_guide}
    return SafeString(
        render_to_string("personalize/admin/recommendations/strategy_guide.html", context)
    )


#: Strategy names short enough for the change list's column.
SHORT_LABELS: Final[dict[str, str]] = {
    Strategy.PERSONALISED: "For you",
    Strategy.RECENTLY_VIEWED: "Recently viewed",
    Strategy.BESTSELLERS: "Bestsellers",
    Strategy.TRENDING: "Trending",
    Strategy.VIEWED_TOGETHER: "Viewed together",
    Strategy.BOUGHT_TOGETHER: "Bought together",
    Strategy.SIMILAR: "Similar items",
    Strategy.CART_CROSS_SELL: "Cart cross-sell",
    Strategy.NEW_ARRIVALS: "New arrivals",
    Strategy.BUY_AGAIN: "Buy again",
}


# --- the trained model ------------------------------------------------------------------


def _plural(count: int, word: str) -> str:
    return f"{count:,} {word}{'s' if count != 1 else ''}"


def _age(moment: datetime, now: datetime | None = None) -> str:
    """ "just now", "3 hours ago", "2 days ago"."""
    now = now or timezone.now()
    if now - moment < timedelta(minutes=1):
        return "just now"
    return f"{timesince(moment, now, depth=1)} ago".replace("\xa0", " ")


@dataclass(frozen=True)
class TrainingStatus:
    """The active trained model, said the way the banner says it."""

    model: TrainedModel | None
    now: datetime

    @property
    def trained(self) -> bool:
        return self.model is not None

    @property
    def stale(self) -> bool:
        return self.model is not None and self.now - self.model.created_at > STALE_AFTER

    @property
    def tone(self) -> str:
        """``"info"`` or ``"warning"`` (the admin's message classes)."""
        if self.model is None or self.stale or not self.model.events:
            return "warning"
        return "info"

    @property
    def text(self) -> str:
        model = self.model
        if model is None:
            return (
                "No trained model yet: run manage.py personalize_train. Until then, only "
                "“Recently viewed” widgets can show products."
            )
        age = _age(model.created_at, self.now)
        text = (
            f"Trained {age} from {_plural(model.events, 'event')}; "
            f"{_plural(model.items, 'product')}, {_plural(model.visitors, 'shopper')}."
        )
        if not model.events:
            text += (
                " No product views, cart adds or purchases were logged before it: widgets "
                "show only new arrivals and recently viewed products until it is retrained "
                "after shoppers browse."
            )
        elif self.stale:
            text += (
                " Bestsellers and trending products are getting out of date: run "
                "manage.py personalize_train again, ideally every night."
            )
        return text


def training_status(now: datetime | None = None) -> TrainingStatus:
    model = TrainedModel.objects.using(settings.DATABASE_ALIAS).filter(is_active=True).first()
    return TrainingStatus(model, now or timezone.now())


# --- numbers for the change list -------------------------------------------------------


@dataclass(frozen=True)
class WidgetStats:
    """Views and clicks of one widget over the last :data:`STATS_DAYS` days."""

    views: int
    clicks: int

    @property
    def ctr(self) -> float | None:
        return self.clicks / self.views if self.views else None


def _stats_key(slot: str, days: int) -> str:
    return f"personalize:widget-list:{slot}:{days}"


def list_stats(
    slots: Sequence[str], *, days: int = STATS_DAYS, now: datetime | None = None
) -> dict[str, WidgetStats]:
    """Views and clicks per slot, from the cache or from one grouped query over the log."""
    keys = {slot: _stats_key(slot, days) for slot in slots}
    cached = cache.get_many(list(keys.values()))
    stats: dict[str, WidgetStats] = {}
    missing = []
    for slot in slots:
        values = cached.get(keys[slot])
        if isinstance(values, tuple) and len(values) == 2:
            stats[slot] = WidgetStats(*values)
        else:
            missing.append(slot)
    if missing:
        since = (now or timezone.now()) - timedelta(days=days)
        counts: dict[tuple[str, str], int] = {}
        rows = (
            Event.objects.using(settings.DATABASE_ALIAS)
            .filter(
                name__in=("rec_view", "rec_click"),
                occurred_at__gte=since,
                props__widget__in=missing,
            )
            .exclude(props__has_key="holdout")  # held-out visitors saw no widget
            .annotate(widget=KeyTextTransform("widget", "props"))
            .values_list("name", "widget")
            .annotate(total=Count("id"))
            .order_by()
        )
        for name, widget, total in rows:
            counts[(name, str(widget))] = total
        fresh = {}
        for slot in missing:
            values = (counts.get(("rec_view", slot), 0), counts.get(("rec_click", slot), 0))
            stats[slot] = WidgetStats(*values)
            fresh[keys[slot]] = values
        cache.set_many(fresh, STATS_CACHE_SECONDS)
    return stats


def _percent(rate: float | None) -> str:
    if rate is None:
        return "—"
    value = rate * 100
    return f"{value:.2f}%" if 0 < abs(value) < 1 else f"{value:.1f}%"


# --- the change form --------------------------------------------------------------------


class WidgetForm(_WidgetFormBase):
    class Meta:
        model = Widget
        fields = [
            "name",
            "slot",
            "title",
            "is_active",
            "strategy",
            "fallback",
            "count",
            "minimum",
            "in_category",
            "exclude_cart",
            "exclude_purchased",
            "exclude_out_of_stock",
            "exclude_recently_viewed",
            "attribution_days",
            "holdout_percent",
        ]
        labels = {
            "is_active": "Active (shown in its slot)",
            "count": "Products to show",
            "minimum": "Minimum to show",
            "in_category": "Same category only",
            "exclude_cart": "In the cart",
            "exclude_purchased": "Already bought",
            "exclude_out_of_stock": "Out of stock",
            "exclude_recently_viewed": "Viewed recently",
            "attribution_days": "Attribution window (days)",
            "holdout_percent": "Holdout (% of visitors)",
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # clean_slot checks it, with a message that suggests a slot.
        field = self.fields["slot"]
        field.validators = [v for v in field.validators if getattr(v, "code", "") != "invalid"]

    def clean_slot(self) -> str:
        slot = str(self.cleaned_data.get("slot", "")).strip()
        if not _SLUG.match(slot):
            suggestion = slugify(slot)
            raise ValidationError(
                "The slot is the name your templates use, so it can only contain letters, "
                "digits, hyphens and underscores"
                + (f": try “{suggestion}”." if suggestion else ", e.g. “product-detail”.")
            )
        return slot


class RuleFormSet(_RuleFormSetBase):
    def clean(self) -> None:
        super().clean()
        seen: dict[int, str] = {}
        for form in sorted(
            (f for f in self.forms if f.has_changed() or f.instance.pk),
            key=lambda f: (f.cleaned_data.get("order") or 0) if f.is_valid() else 0,
        ):
            if not form.is_valid() or form.cleaned_data.get("DELETE"):
                continue
            segment = form.cleaned_data.get("segment")
            if segment is None:
                continue
            if segment.pk in seen:
                form.add_error(
                    "segment",
                    f"“{segment}” already has a rule above ({seen[segment.pk]}); only the "
                    "first rule that matches a visitor counts, so this one would never "
                    "apply. Remove it or pick another segment.",
                )
            else:
                label = Strategy(form.cleaned_data["strategy"]).label
                seen[segment.pk] = label


class WidgetRuleForm(_WidgetRuleFormBase):
    class Meta:
        model = WidgetRule
        fields = ["order", "segment", "strategy", "title"]
        widgets = {
            "order": forms.NumberInput(attrs={"min": 0, "max": 999, "size": 4}),
            "title": forms.TextInput(attrs={"size": 24}),
        }


class WidgetRuleInline(_RuleInlineBase):
    model = WidgetRule
    form = WidgetRuleForm
    formset = RuleFormSet
    fields = ["order", "segment", "strategy", "title"]
    autocomplete_fields = ["segment"]
    extra = 0
    verbose_name_plural = "per-segment rules (the first rule whose segment a visitor is in wins)"


class WidgetAdmin(_WidgetAdminBase):
    form = WidgetForm
    inlines = [WidgetRuleInline]
    list_display = [
        "name",
        "slot_code",
        "strategy_label",
        "rules_count",
        "active",
        "views",
        "clicks",
        "ctr",
        "report_links",
    ]
    list_display_links = ["name"]
    list_filter = ["is_active", "strategy"]
    search_fields = ["name", "slot", "title"]
    list_per_page = 50
    actions = ["activate_widgets", "deactivate_widgets", "delete_selected"]
    change_list_template = "personalize/admin/recommendations/widget_change_list.html"
    change_form_template = "personalize/admin/recommendations/widget_change_form.html"

    def get_fieldsets(self, request: HttpRequest, obj: Widget | None = None) -> _FieldsetSpec:
        return [
            (
                "What",
                {
                    "fields": ["name", "slot", "title", "is_active"],
                    "description": "Where the widget goes and what shoppers read above it. "
                    "Put it on a page with "
                    '<code>{% recommendations "&lt;slot&gt;" product=product %}</code>.',
                },
            ),
            (
                "Which products",
                {
                    "fields": ["strategy", "fallback", ("count", "minimum"), "in_category"],
                    # Open while creating a widget; one click away afterwards.
                    "description": strategy_guide_html(open_guide=obj is None),
                },
            ),
            (
                "Leave out",
                {
                    "fields": [
                        "exclude_cart",
                        "exclude_purchased",
                        "exclude_out_of_stock",
                        "exclude_recently_viewed",
                    ],
                    "description": "The product on screen is always left out.",
                },
            ),
            (
                "Measurement",
                {
                    "fields": ["attribution_days", "holdout_percent"],
                    "description": "Widget views and clicks are counted as shoppers see "
                    "and use the widget; see the Results page. A holdout keeps the widget "
                    "from a share of visitors (they see nothing in its place) so the "
                    "Results page can show its uplift on orders and revenue.",
                },
            ),
        ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Widget]:
        return super().get_queryset(request).annotate(_rules=Count("rules"))

    def get_changelist_instance(self, request: HttpRequest) -> ChangeList:
        changelist = super().get_changelist_instance(request)
        # Numbers for this page's widgets only: one grouped query (or the cache), however
        # many widgets are listed. Evaluating the page here fills the queryset's cache.
        widgets = list(changelist.result_list)
        stats = list_stats([widget.slot for widget in widgets])
        for widget in widgets:
            widget._pz_stats = stats[widget.slot]
        return changelist

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        context = {
            **(extra_context or {}),
            "training": training_status(),
            "stats_days": STATS_DAYS,
            "trained_models_url": reverse(
                f"{self.admin_site.name}:personalize_trainedmodel_changelist"
            ),
        }
        return super().changelist_view(request, context)

    # --- change list columns ------------------------------------------------------

    @admin.display(description="slot", ordering="slot")
    def slot_code(self, obj: Widget) -> SafeString:
        return format_html("<code>{}</code>", obj.slot)

    @admin.display(description="strategy", ordering="strategy")
    def strategy_label(self, obj: Widget) -> SafeString:
        strategy = SHORT_LABELS.get(obj.strategy, obj.strategy)
        if obj.fallback:
            fallback = SHORT_LABELS.get(obj.fallback, obj.fallback)
            return format_html("{}<br><small>else {}</small>", strategy, fallback)
        return format_html("{}", strategy)

    @admin.display(description="active", boolean=True, ordering="is_active")
    def active(self, obj: Widget) -> bool:
        return obj.is_active

    @admin.display(description="rules", ordering="_rules")
    def rules_count(self, obj: Widget) -> int:
        return int(getattr(obj, "_rules", 0))

    def _stats(self, obj: Widget) -> WidgetStats | None:
        stats = getattr(obj, "_pz_stats", None)
        return stats if isinstance(stats, WidgetStats) else None

    @admin.display(description=f"views ({STATS_DAYS} d)")
    def views(self, obj: Widget) -> str:
        stats = self._stats(obj)
        return f"{stats.views:,}" if stats and stats.views else "—"

    @admin.display(description=f"clicks ({STATS_DAYS} d)")
    def clicks(self, obj: Widget) -> str:
        stats = self._stats(obj)
        return f"{stats.clicks:,}" if stats and stats.clicks else "—"

    @admin.display(description="CTR")
    def ctr(self, obj: Widget) -> str:
        stats = self._stats(obj)
        return _percent(stats.ctr) if stats else "—"

    @admin.display(description="reports")
    def report_links(self, obj: Widget) -> SafeString:
        return format_html(
            '<a href="{}">Preview</a> · <a href="{}">Results</a>',
            self._url("preview", obj),
            self._url("results", obj),
        )

    # --- change form --------------------------------------------------------------

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: Widget | None = None,
    ) -> HttpResponse:
        context["training"] = training_status()
        return super().render_change_form(request, context, add, change, form_url, obj)

    def save_model(
        self, request: HttpRequest, obj: Widget, form: ModelForm[Widget], change: bool
    ) -> None:
        super().save_model(request, obj, form, change)
        old_slot = form.initial.get("slot")
        if change and "slot" in form.changed_data and old_slot:
            self.message_user(
                request,
                f"The slot changed from “{old_slot}” to “{obj.slot}”: update "
                f'{{% recommendations "{old_slot}" %}} in your templates, or the widget '
                "will not show there.",
                messages.WARNING,
            )
        if not training_status().trained:
            self.message_user(
                request,
                "No trained model yet: run manage.py personalize_train, or the widget "
                "stays empty (except “Recently viewed”).",
                messages.WARNING,
            )

    # --- actions ------------------------------------------------------------------

    @admin.action(description="Activate selected widgets", permissions=["change"])
    def activate_widgets(self, request: HttpRequest, queryset: QuerySet[Widget]) -> None:
        count = (
            Widget.objects.using(queryset.db)
            .filter(pk__in=list(queryset.values_list("pk", flat=True)), is_active=False)
            .update(is_active=True)
        )
        configuration.bump_on_commit()
        self.message_user(request, f"Activated {count} widget(s).", messages.SUCCESS)

    @admin.action(description="Deactivate selected widgets", permissions=["change"])
    def deactivate_widgets(self, request: HttpRequest, queryset: QuerySet[Widget]) -> None:
        count = (
            Widget.objects.using(queryset.db)
            .filter(pk__in=list(queryset.values_list("pk", flat=True)), is_active=True)
            .update(is_active=False)
        )
        configuration.bump_on_commit()
        self.message_user(
            request,
            f"Deactivated {count} widget(s): their slots now render nothing.",
            messages.SUCCESS,
        )

    # --- extra views --------------------------------------------------------------

    def get_urls(self) -> list[URLPattern]:
        prefix = f"{self.opts.app_label}_{self.opts.model_name}"

        def view(function: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
            return self.admin_site.admin_view(function)

        return [
            path("<path:object_id>/preview/", view(self.preview_view), name=f"{prefix}_preview"),
            path("<path:object_id>/results/", view(self.results_view), name=f"{prefix}_results"),
            *super().get_urls(),
        ]

    def _url(self, name: str, widget: Widget) -> str:
        route = f"{self.admin_site.name}:{self.opts.app_label}_{self.opts.model_name}_{name}"
        return reverse(route, args=[widget.pk])

    def _widget(self, request: HttpRequest, object_id: str) -> Widget:
        return page_object(self, request, object_id)

    def _context(self, request: HttpRequest, widget: Widget, title: str) -> dict[str, Any]:
        return {
            **page_context(self, request, widget, title),
            "widget": widget,
            "preview_url": self._url("preview", widget),
            "results_url": self._url("results", widget),
        }

    def results_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Views, clicks and attributed sales of the widget over the chosen period."""
        widget = self._widget(request, object_id)
        days = _days(request.GET.get("days", ""))
        context = self._context(request, widget, "Results")
        context.update(
            {
                "results": widget_results(widget.slot, widget.attribution_days, days=days),
                "holdout": holdout_results(
                    widget.slot,
                    widget.attribution_days,
                    holdout_percent=widget.holdout_percent,
                    days=days,
                ),
                "days": days,
                "day_choices": [
                    (choice, f"{request.path}?days={choice}") for choice in RESULTS_DAYS
                ],
            }
        )
        return TemplateResponse(
            request, "personalize/admin/recommendations/widget_results_page.html", context
        )

    def preview_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """What the widget shows for a product, category, segment or visitor; never tracked."""
        widget = self._widget(request, object_id)
        try:
            catalogue = get_catalogue()
        except LookupError as exc:  # PERSONALIZE_PRODUCT_MODEL unset: a job for a developer
            context = self._context(request, widget, "Preview")
            context["problem"] = str(exc)
            return TemplateResponse(
                request, "personalize/admin/recommendations/widget_preview.html", context
            )
        rules = list(
            WidgetRule.objects.filter(widget=widget)
            .select_related("segment")
            .order_by("order", "pk")
        )
        wanted = any(name in request.GET for name in PreviewForm.base_fields)
        form = PreviewForm(
            request.GET if wanted else None, catalogue=catalogue, segments=_segment_choices(rules)
        )
        context = self._context(request, widget, "Preview")
        context.update({"form": form, "suggestions": _suggestions(catalogue)})
        if not wanted or form.is_valid():
            spec = spec_of(
                widget, [WidgetRuleSpec(r.segment.slug, r.strategy, r.title) for r in rules]
            )
            segment = form.cleaned_data.get("segment", "") if wanted else ""
            context["outcome"] = preview_outcome(
                request,
                spec,
                rules=rules,
                product=form.product_item,
                category=(form.cleaned_data.get("category") or None) if wanted else None,
                segment=segment or None,
                profile=form.profile,
            )
        context["training"] = training_status()
        return TemplateResponse(
            request, "personalize/admin/recommendations/widget_preview.html", context
        )


def _days(value: str) -> int:
    return int(value) if value.isdigit() and int(value) in RESULTS_DAYS else STATS_DAYS


# --- preview -----------------------------------------------------------------------------


def _segment_choices(rules: Sequence[WidgetRule]) -> list[Any]:
    with_rule = {rule.segment.slug: rule for rule in rules}
    ruled = [
        (slug, f"{rule.segment.name} (rule: {rule.get_strategy_display()})")
        for slug, rule in with_rule.items()
    ]
    others = [
        (slug, name)
        for slug, name in Segment.objects.order_by("position", "name").values_list("slug", "name")
        if slug not in with_rule
    ]
    choices: list[Any] = [("", "Automatic: the visitor's own segments, else none")]
    if ruled:
        choices.append(("Segments with a rule on this widget", ruled))
    if others:
        choices.append(("Other segments (the widget's own strategy)", others))
    return choices


@dataclass(frozen=True)
class Suggestion:
    id: str
    label: str


@dataclass(frozen=True)
class Suggestions:
    products: list[Suggestion]
    categories: list[str]


def _suggestions(catalogue: BaseCatalogue) -> Suggestions:
    """Products for the product field's list: bestsellers first (they have the most data),
    then the catalogue in its own order; plus their categories."""
    ids = read_rows([("bestsellers", "")]).get(("bestsellers", ""), ([], []))[0]
    items = catalogue.items(ids[:PREVIEW_SUGGESTIONS])
    if len(items) < PREVIEW_SUGGESTIONS and isinstance(catalogue, ModelCatalogue):
        known = {item.id for item in items}
        more = catalogue.queryset().exclude(pk__in=list(known))[: PREVIEW_SUGGESTIONS - len(items)]
        items += catalogue.to_items(more)
    products = [
        Suggestion(item.id, f"{item.title} · {item.category}" if item.category else item.title)
        for item in items
    ]
    categories = sorted({item.category for item in items if item.category})
    return Suggestions(products, categories)


class PreviewForm(forms.Form):
    """The page and shopper to preview the widget for; every field is optional."""

    product = forms.CharField(
        label="Product id",
        required=False,
        max_length=64,
        help_text="The product on screen, as on a product page. Start typing a name or id.",
        widget=forms.TextInput(
            attrs={"list": "pz-rec-products", "autocomplete": "off", "size": 32}
        ),
    )
    category = forms.CharField(
        label="Category",
        required=False,
        max_length=64,
        help_text="The category page being shown (defaults to the product's category).",
        widget=forms.TextInput(
            attrs={"list": "pz-rec-categories", "autocomplete": "off", "size": 32}
        ),
    )
    segment = forms.ChoiceField(
        label="As a visitor in segment",
        required=False,
        help_text="Picks the per-segment rule; leave on automatic to use the visitor's own.",
        error_messages={"invalid_choice": "Pick a segment from the list."},
    )
    visitor = forms.CharField(
        label="Visitor",
        required=False,
        max_length=320,
        help_text="A visitor id, user id or customer email: shows their personal "
        "recommendations (history, cart, purchases). Leave empty for a first-time visitor.",
        widget=forms.TextInput(attrs={"size": 40}),
    )

    def __init__(
        self, *args: Any, catalogue: BaseCatalogue, segments: list[Any], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.catalogue = catalogue
        field = self.fields["segment"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = segments
        self.product_item: CatalogueItem | None = None
        self.profile: Profile | None = None

    def clean_product(self) -> str:
        value = str(self.cleaned_data.get("product", "")).strip()
        if not value:
            return ""
        if _ID.match(value):
            try:
                found = self.catalogue.items([value])
            except (ValueError, OverflowError):  # an id the database column cannot hold
                found = []
            if found:
                self.product_item = found[0]
                return value
        raise ValidationError(
            f"No product with id “{value[:64]}”. Enter the id of a product in the "
            "catalogue: start typing and pick one from the suggestions."
        )

    def clean_category(self) -> str:
        value = str(self.cleaned_data.get("category", "")).strip()
        if value and not _ID.match(value):
            raise ValidationError(
                "A category is written as in the shop's URLs, e.g. “cat-food”: letters, "
                "digits and . : @ - _ only."
            )
        return value

    def clean_visitor(self) -> str:
        value = str(self.cleaned_data.get("visitor", "")).strip()
        if not value:
            return ""
        try:
            profile = find_profile(value)
        except StoreUnavailable:
            raise ValidationError(
                "The profile store is not reachable right now; try again in a moment."
            ) from None
        if profile is None:
            raise ValidationError(
                f"No visitor profile found for “{value}”. Enter a visitor id (32 hex "
                "characters, from the visitor cookie or the event log), a user id, or the "
                "email of a customer; or leave it empty to preview for a first-time visitor."
            )
        self.profile = profile
        return value


@dataclass(frozen=True)
class PreviewRow:
    position: int
    item: CatalogueItem
    price: str
    from_fallback: bool


@dataclass
class PreviewOutcome:
    """What the preview page says about one preview."""

    recs: Recommendations
    html: SafeString
    spec: WidgetSpec
    rule: WidgetRule | None
    segment: str | None
    segment_name: str
    segment_source: str  # "chosen", "visitor" or ""
    visitor_segments: list[str]  # names
    visitor_summary: str
    rows: list[PreviewRow]
    found: int  # products left after filtering, before the minimum applies
    fallback_count: int
    left_out: list[str]
    hints: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def hidden(self) -> bool:
        return not self.recs

    @property
    def strategy_label(self) -> str:
        return Strategy(self.recs.strategy).label if self.recs.strategy else ""

    @property
    def fallback_label(self) -> str:
        return Strategy(self.spec.fallback).label if self.spec.fallback else ""


def preview_outcome(
    request: HttpRequest,
    spec: WidgetSpec,
    *,
    rules: Sequence[WidgetRule],
    product: CatalogueItem | None,
    category: str | None,
    segment: str | None,
    profile: Profile | None,
) -> PreviewOutcome:
    """Run the widget as serving would for this page and shopper, and explain the result."""
    now = time.time()
    registry = get_registry()
    names = {compiled.slug: compiled.name for compiled in registry.segments}
    visitor_segments: list[str] = []
    source = "chosen" if segment else ""
    if profile is not None:
        visitor_segments = registry.evaluate(attributes_for_profile(profile, now))
        if segment is None:
            matched = spec.rule_for(visitor_segments)
            segment = matched.segment if matched else None
            source = "visitor" if segment else ""
    options: dict[str, Any] = {
        "profile": profile,
        "segment": segment,
        "product": product,
        "category": category,
        "now": now,
    }
    recs = preview(spec, **options)
    rule = next((r for r in rules if segment and r.segment.slug == segment), None)
    # What the strategy finds on its own, and before the minimum: tells the fallback's
    # share and why an empty widget is hidden. At most two more lookups, for the admin only.
    found = len(recs) if recs else len(preview(replace(spec, minimum=1), **options))
    if spec.fallback:
        own_items = preview(replace(spec, fallback="", minimum=1), **options)
        own, own_count = {item.id for item in own_items}, len(own_items)
    else:
        own, own_count = {item.id for item in recs}, found
    rows = [
        PreviewRow(
            position,
            item,
            money(item.price),
            bool(spec.fallback) and item.id not in own,
        )
        for position, item in enumerate(recs, 1)
    ]
    left_out = []
    if product is not None:
        left_out.append("the product on screen")
    if spec.exclude_cart:
        left_out.append("products in the cart")
    if spec.exclude_purchased:
        left_out.append("products the visitor bought")
    if spec.exclude_out_of_stock:
        left_out.append("out-of-stock products")
    if spec.exclude_recently_viewed:
        left_out.append("products the visitor viewed recently")
    strategy = recs.strategy or (rule.strategy if rule else spec.strategy)
    outcome = PreviewOutcome(
        recs=recs,
        html=render_recommendations(request, recs, report=False),
        spec=spec,
        rule=rule,
        segment=segment,
        segment_name=names.get(segment or "", segment or ""),
        segment_source=source,
        visitor_segments=[names.get(slug, slug) for slug in visitor_segments],
        visitor_summary=_visitor_summary(profile) if profile is not None else "",
        rows=rows,
        found=found,
        fallback_count=sum(row.from_fallback for row in rows),
        left_out=left_out,
    )
    if own_count < spec.count:
        outcome.hints = _hints(strategy, product=product, profile=profile)
    if strategy == Strategy.PERSONALISED and not (profile and profile.viewed_products):
        outcome.notes.append(
            "Without browsing history, “Recommended for you” shows trending products "
            "(cold start); enter a visitor id to see one shopper's recommendations."
        )
    return outcome


def _visitor_summary(profile: Profile) -> str:
    """ "12 products viewed, 1 in the cart, 2 orders" for the preview's explanation."""
    return (
        f"{_plural(len(profile.viewed_products), 'product')} viewed, "
        f"{len(profile.cart):,} in the cart, {_plural(profile.orders_count, 'order')}"
    )


def _hints(strategy: str, *, product: CatalogueItem | None, profile: Profile | None) -> list[str]:
    """Why a strategy found few products for this preview, and what to try."""
    hints = []
    if not training_status().trained and strategy != Strategy.RECENTLY_VIEWED:
        hints.append("No trained model yet: run manage.py personalize_train.")
    history = bool(profile and profile.viewed_products)
    needs_anchor = strategy in (
        Strategy.VIEWED_TOGETHER,
        Strategy.BOUGHT_TOGETHER,
        Strategy.SIMILAR,
    )
    if needs_anchor and product is None and not history:
        hints.append(
            f"“{Strategy(strategy).label}” starts from the product on screen (or the "
            "visitor's latest viewed products): enter a product id."
        )
    elif needs_anchor and product is not None:
        together = "orders" if strategy == Strategy.BOUGHT_TOGETHER else "visits"
        if strategy == Strategy.SIMILAR:
            hints.append("Few shoppers who were interested in this product looked at others yet.")
        else:
            hints.append(f"Few {together} contain this product together with others yet.")
    if strategy == Strategy.CART_CROSS_SELL and not (profile and profile.cart):
        hints.append(
            "Cart cross-sell starts from the cart: enter a visitor who has items in theirs."
        )
    if strategy == Strategy.RECENTLY_VIEWED and not history:
        hints.append("“Recently viewed” needs a visitor with browsing history: enter a visitor id.")
    return hints


# --- trained models -----------------------------------------------------------------------

TABLE_LABELS: Final = {
    "similar": "Similar items",
    "viewed": "Viewed together",
    "bought": "Bought together",
    "bestsellers": "Bestsellers",
    "trending": "Trending",
    "new": "New arrivals",
}


class TrainedModelAdmin(_TrainedModelAdminBase):
    """Each run of ``manage.py personalize_train``: read-only, for the training history."""

    list_display = [
        "created",
        "active",
        "event_count",
        "shoppers",
        "products",
        "k",
        "duration",
        "storage",
    ]
    list_filter = ["is_active", "storage"]
    change_list_template = "personalize/admin/recommendations/trainedmodel_change_list.html"
    list_per_page = 50
    date_hierarchy = "created_at"
    fieldsets = [
        (None, {"fields": ["created", "active", "storage"]}),
        (
            "What it learnt from",
            {"fields": ["event_count", "interaction_count", "shoppers", "products"]},
        ),
        ("What it stored", {"fields": ["tables", "row_count"]}),
        ("How", {"fields": ["k", "duration", "timings"]}),
    ]
    readonly_fields = [
        "created",
        "active",
        "storage",
        "event_count",
        "interaction_count",
        "shoppers",
        "products",
        "tables",
        "row_count",
        "k",
        "duration",
        "timings",
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: TrainedModel | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: TrainedModel | None = None) -> bool:
        return False

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        context = {**(extra_context or {}), "training": training_status()}
        return super().changelist_view(request, context)

    @staticmethod
    def _summary(obj: TrainedModel) -> dict[str, Any]:
        return obj.summary if isinstance(obj.summary, dict) else {}

    @admin.display(description="trained", ordering="created_at")
    def created(self, obj: TrainedModel) -> str:
        when = date_format(timezone.localtime(obj.created_at), "j M Y H:i")
        return f"{when} ({_age(obj.created_at)})"

    @admin.display(description="active", boolean=True, ordering="is_active")
    def active(self, obj: TrainedModel) -> bool:
        return obj.is_active

    @admin.display(description="events", ordering="events")
    def event_count(self, obj: TrainedModel) -> str:
        return f"{obj.events:,}"

    @admin.display(description="interactions")
    def interaction_count(self, obj: TrainedModel) -> str:
        return f"{int(self._summary(obj).get('interactions', 0)):,}"

    @admin.display(description="shoppers", ordering="visitors")
    def shoppers(self, obj: TrainedModel) -> str:
        return f"{obj.visitors:,}"

    @admin.display(description="products", ordering="items")
    def products(self, obj: TrainedModel) -> str:
        catalogue = self._summary(obj).get("catalogue_items")
        if isinstance(catalogue, int):
            return f"{obj.items:,} of {catalogue:,}"
        return f"{obj.items:,}"

    @admin.display(description="rows stored")
    def row_count(self, obj: TrainedModel) -> str:
        return f"{int(self._summary(obj).get('rows', 0)):,}"

    @admin.display(description="time", ordering="seconds")
    def duration(self, obj: TrainedModel) -> str:
        if not obj.seconds:
            return "unfinished" if not obj.is_active else "—"
        return f"{obj.seconds:,.1f} s" if obj.seconds >= 10 else f"{obj.seconds:.2f} s"

    @admin.display(description="tables")
    def tables(self, obj: TrainedModel) -> SafeString:
        summary = self._summary(obj)
        covered = summary.get("covered") or {}
        pairs = summary.get("pairs") or {}
        if not isinstance(covered, dict) or not covered:
            return format_html("{}", "—")
        rows = format_html_join(
            "",
            '<tr><th scope="row">{}</th><td class="pz-num">{}</td><td class="pz-num">{}</td></tr>',
            (
                (
                    label,
                    f"{int(covered.get(name, 0)):,}",
                    f"{int(pairs[name]):,}" if isinstance(pairs, dict) and name in pairs else "—",
                )
                for name, label in TABLE_LABELS.items()
            ),
        )
        return format_html(
            '<table class="pz-table"><thead><tr><th scope="col">Table</th>'
            '<th scope="col" class="pz-num">Products</th><th scope="col" class="pz-num">Pairs</th>'
            "</tr></thead><tbody>{}</tbody></table>",
            rows,
        )

    @admin.display(description="steps")
    def timings(self, obj: TrainedModel) -> SafeString | str:
        timings = self._summary(obj).get("timings") or {}
        if not isinstance(timings, dict) or not timings:
            return "—"
        return format_html_join(
            mark_safe("<br>"),
            "{}: {} s",
            ((name, f"{float(seconds):.2f}") for name, seconds in timings.items()),
        )
