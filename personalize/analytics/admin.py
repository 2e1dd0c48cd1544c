"""The analytics dashboard in the admin: ``/admin/personalize/dashboard/``.

A date range (the last 7, 30 or 90 days, or custom) against the period before it, read
from the daily rollups; every table downloads as CSV (``?format=csv&table=<name>``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.template.response import TemplateResponse
from django.utils.formats import date_format

from personalize.admin_pages import ReadOnlyAdmin, model_page_context
from personalize.analytics.export import TABLES, csv_response
from personalize.analytics.models import Dashboard
from personalize.analytics.rollup import UNKNOWN
from personalize.analytics.summary import (
    DIMENSIONS,
    PRESETS,
    BreakdownRow,
    DateRange,
    RangeError,
    Summary,
    Totals,
    last_days,
    parse_range,
    summarize,
)
from personalize.charts import ChartSeries, DailyChart, daily_chart, tick_label
from personalize.lifecycle import STAGES
from personalize.rfm.scoring import SEGMENTS

if TYPE_CHECKING:
    _DashboardAdminBase = admin.ModelAdmin[Dashboard]
else:
    _DashboardAdminBase = admin.ModelAdmin

__all__ = ["DashboardAdmin", "RangeForm"]

DEFAULT_DAYS = 30
CUSTOM = "custom"


class RangeForm(forms.Form):
    """The dashboard's date range: a preset, or two dates."""

    range = forms.ChoiceField(
        choices=[(str(days), f"Last {days} days") for days in PRESETS] + [(CUSTOM, "Custom")],
        initial=str(DEFAULT_DAYS),
        required=False,
    )
    start = forms.CharField(
        required=False, widget=forms.DateInput(attrs={"type": "date"}), label="From"
    )
    end = forms.CharField(
        required=False, widget=forms.DateInput(attrs={"type": "date"}), label="To"
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        choice = data.get("range") or str(DEFAULT_DAYS)
        if choice != CUSTOM and not (data.get("start") or data.get("end")):
            data["period"] = last_days(int(choice))
            return data
        try:
            data["period"] = parse_range(data.get("start"), data.get("end"))
        except RangeError as exc:
            self.add_error(exc.field, exc.message)
        return data


@dataclass(frozen=True)
class Kpi:
    label: str
    value: str
    previous: str
    change: str  # "+12.0%", "-0.4 pts" or "—"
    direction: str  # "up", "down" or "flat": a CSS class, never the only signal
    note: str  # how it is counted


def _money(value: float | None, currency: str) -> str:
    return "—" if value is None else f"{value:,.2f} {currency}"


def _count(value: int) -> str:
    return f"{value:,}"


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.2f}%"


def _change(now: float | None, before: float | None, *, rate: bool = False) -> tuple[str, str]:
    if now is None or before is None:
        return "—", "flat"
    if rate:
        points = (now - before) * 100
        direction = "up" if points > 0.005 else "down" if points < -0.005 else "flat"
        return f"{points:+.2f} pts", direction
    if not before:
        return ("new", "up") if now else ("—", "flat")
    relative = (now - before) / before * 100
    direction = "up" if relative > 0.05 else "down" if relative < -0.05 else "flat"
    return f"{relative:+.1f}%", direction


def kpis(summary: Summary) -> list[Kpi]:
    """The KPI cards: this period, the one before, the change, and how each is counted."""
    now, before, currency = summary.totals, summary.previous, summary.currency

    def card(label: str, attr: str, kind: str, note: str) -> Kpi:
        value, old = getattr(now, attr), getattr(before, attr)
        fmt = {"count": _count, "rate": _percent}.get(kind)
        show = fmt if fmt is not None else (lambda v: _money(v, currency))
        change, direction = _change(value, old, rate=kind == "rate")
        return Kpi(label, show(value), show(old), change, direction, note)

    cards = [
        card("Visitors", "visitors", "count", "Distinct visitors with at least one event."),
        card(
            "Visits",
            "visits",
            "count",
            "Distinct visits with an event; a visit ends after 30 minutes without activity.",
        ),
        card("Orders", "orders", "count", "purchase events in the range."),
        card("Revenue", "revenue", "money", "Sum of the purchase events' order value."),
        card("Conversion rate", "conversion_rate", "rate", "Visits with an order ÷ visits."),
        card("Average order value", "aov", "money", "Revenue ÷ orders."),
        card("Revenue per visitor", "revenue_per_visitor", "money", "Revenue ÷ visitors."),
        card(
            "Email captures",
            "capturing_visitors",
            "count",
            "Visitors who gave their email: an identify event (a capture form, or the shop's own).",
        ),
        card("Capture rate", "capture_rate", "rate", "Email captures ÷ visitors."),
    ]
    notes = {
        "campaign": "Whole value of orders placed within a campaign's attribution window "
        "(its own setting, 7 days by default) after the visitor's first impression; the "
        "control group does not count. An order influenced by two campaigns counts once.",
        "widget": "Value of the order lines of products clicked in a recommendation widget, "
        "bought within the widget's attribution window (7 days by default) after the first "
        "click.",
    }
    for kind, label in (
        ("campaign", "Influenced by campaigns"),
        ("widget", "Influenced by widgets"),
    ):
        item, old = summary.influenced[kind], summary.influenced_previous[kind]
        change, direction = _change(item.revenue, old.revenue)
        cards.append(
            Kpi(
                label,
                _money(item.revenue, currency),
                _money(old.revenue, currency),
                change,
                direction,
                f"{notes[kind]} {item.orders:,} order{'s' * (item.orders != 1)}.",
            )
        )
    return cards


def segment_label(dimension: str, segment: str) -> str:
    if segment == UNKNOWN:
        return "Unknown (no stored profile)"
    if dimension == "rfm":
        return SEGMENTS.get(segment, "Not scored" if segment == "(none)" else segment)
    if dimension == "lifecycle" and segment in STAGES:
        return segment.replace("_", " ").capitalize()
    if dimension == "utm_source" and segment == "(none)":
        return "(no UTM source)"
    return segment.capitalize() if dimension in ("visitor_type", "device") else segment


@dataclass(frozen=True)
class BreakdownView:
    dimension: str
    title: str
    rows: list[tuple[str, BreakdownRow]]


def breakdowns(summary: Summary) -> list[BreakdownView]:
    return [
        BreakdownView(
            dimension,
            title,
            [(segment_label(dimension, row.segment), row) for row in summary.breakdown[dimension]],
        )
        for dimension, title in DIMENSIONS.items()
    ]


def _title(day: date) -> str:
    return date_format(day, "D j M Y")


def charts(summary: Summary) -> list[tuple[str, str, str, DailyChart]]:
    """(id, title, help, chart) of the daily trend charts."""
    days = summary.trend
    if not days:
        return []
    currency = summary.currency
    titles = [
        f"{_title(d.day)}: {d.visitors:,} visitors, {d.visits:,} visits, {d.orders:,} orders, "
        f"{d.revenue:,.2f} {currency}, conversion {_percent(d.conversion_rate)}"
        for d in days
    ]
    found = []
    visits = daily_chart(
        [d.day for d in days],
        [d.visits for d in days],
        titles,
        [ChartSeries(f"Revenue ({currency})", [d.revenue for d in days], titles)],
    )
    if visits is not None:
        found.append(
            (
                "pz-trend-visits",
                "Visits and revenue per day",
                f"Bars: visits (left axis). Line: revenue in {currency} (right axis). "
                "Point at a day for its numbers; the daily table below has them all.",
                visits,
            )
        )
    orders = daily_chart(
        [d.day for d in days],
        [d.orders for d in days],
        titles,
        [ChartSeries("Conversion rate", [(d.conversion_rate or 0.0) * 100 for d in days], titles)],
        line_label=lambda value: f"{tick_label(value)}%",
        line_steps=(1.0, 2.0, 2.5, 5.0),
    )
    if orders is not None:
        found.append(
            (
                "pz-trend-orders",
                "Orders and conversion rate per day",
                "Bars: orders (left axis). Line: visits with an order ÷ visits (right axis).",
                orders,
            )
        )
    return found


class DashboardAdmin(ReadOnlyAdmin, _DashboardAdminBase):
    """Read-only: the change list *is* the dashboard."""

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        form = RangeForm(request.GET or None)
        period: DateRange | None = (
            form.cleaned_data["period"] if form.is_bound and form.is_valid() else None
        )
        if not form.is_bound:
            period = last_days(DEFAULT_DAYS)
        if request.GET.get("format") == "csv":
            table = request.GET.get("table", "")
            if table not in TABLES:
                return HttpResponseBadRequest(
                    f"table must be one of {', '.join(TABLES)}.", content_type="text/plain"
                )
            if period is None:
                errors = "; ".join(
                    f"{k}: {' '.join(str(m) for m in v)}" for k, v in form.errors.items()
                )
                return HttpResponseBadRequest(errors, content_type="text/plain")
            return csv_response(summarize(period), table)
        summary = summarize(period) if period is not None else None
        context = {
            **model_page_context(self, request, "Dashboard"),
            "form": form,
            "summary": summary,
            "kpis": kpis(summary) if summary else [],
            "charts": charts(summary) if summary else [],
            "breakdowns": breakdowns(summary) if summary else [],
            "query": _query(period) if period else "",
            "previous": summary.period.previous if summary else None,
            "totals": summary.totals if summary else Totals(),
            **(extra_context or {}),
        }
        return TemplateResponse(request, "personalize/admin/dashboard.html", context)


def _query(period: DateRange) -> str:
    return f"range=custom&start={period.start.isoformat()}&end={period.end.isoformat()}"
