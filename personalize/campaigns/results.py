"""The campaign results page: every number and sentence it shows, and its charts.

:func:`build_results_report` turns :func:`~personalize.campaigns.measurement.campaign_results`
into rows, plain-language verdicts (each naming the arm whose counts it quotes), a
sample ratio warning and chart geometry (:mod:`personalize.charts`); the admin view
only reads the period form and renders ``personalize/admin/campaign_results.html``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

from django.utils.formats import date_format

from personalize.campaigns.measurement import CampaignResults, VariantResult, campaign_results
from personalize.campaigns.models import Campaign, Variant
from personalize.charts import Chart, ChartRow, ChartSeries, DailyChart, daily_chart
from personalize.conf import settings
from personalize.stats import (
    MIN_EXPECTED_COUNT,
    MIN_EXPOSURES,
    Interval,
    MeanComparison,
    SampleRatioCheck,
    nice_ceiling,
    wilson_interval,
)

__all__ = [
    "ResultRow",
    "ResultsReport",
    "Verdict",
    "build_results_report",
    "percent_text",
    "trigger_text",
    "variant_label",
    "verdict_for",
]

#: Shown before negative numbers: a typographic minus reads better than a hyphen.
MINUS: Final = "\u2212"


def percent_text(rate: float | None) -> str:
    """A rate as a percentage: "12.5%", "0.25%" below 1%, "—" for none."""
    if rate is None:
        return "—"
    value = rate * 100
    return f"{value:.2f}%" if 0 < abs(value) < 1 else f"{value:.1f}%"


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


def _visitors(count: int) -> str:
    return f"{count:,} exposed visitor{'s' if count != 1 else ''}"


def verdict_for(
    row: VariantResult, baseline: VariantResult, srm: SampleRatioCheck | None = None
) -> Verdict:
    """The plain-language conclusion for one variant against the baseline.

    Every count it quotes names the arm it belongs to; with a sample ratio mismatch
    there is no conclusion at all.
    """
    comparison = row.comparison
    if comparison is None:
        return Verdict("Baseline: the others are compared with it.", "baseline")
    name = variant_label(row.key)
    other = variant_label(baseline.key)
    other = other.lower() if baseline.is_control else other
    if srm is not None and srm.mismatch:
        return Verdict(
            "No verdict: visitors were not split as configured (sample ratio mismatch, "
            f"{_p_value(srm.p_value)}); find the cause before reading these numbers",
            "wait",
        )
    if comparison.insufficient_data:
        short = [
            (label, item.exposures)
            for label, item in ((name, row), (other, baseline))
            if item.exposures < MIN_EXPOSURES
        ]
        if short:
            counts = " and ".join(f"{label} has {_visitors(count)}" for label, count in short)
            return Verdict(
                f"Not enough data yet: {counts}; each needs at least {MIN_EXPOSURES}",
                "wait",
            )
        buyers = row.buyers + baseline.buyers
        return Verdict(
            f"Not enough data yet: {buyers:,} conversion{'s' if buyers != 1 else ''} so far "
            f"({name} {row.buyers:,}, {other} {baseline.buyers:,}), too few to compare (each "
            f"group should expect at least {MIN_EXPECTED_COUNT}); keep the test running",
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


def _signed_money(value: float) -> str:
    rounded = round(value, 2)
    sign = "+" if rounded > 0 else MINUS if rounded < 0 else "±"
    return f"{sign}{abs(rounded):,.2f}"


def revenue_verdict_for(row: VariantResult, srm: SampleRatioCheck | None = None) -> Verdict | None:
    """The conclusion on revenue per visitor (Welch), or ``None`` for the baseline."""
    comparison = row.revenue_comparison
    if comparison is None or (srm is not None and srm.mismatch):
        return None
    name = variant_label(row.key)
    if comparison.insufficient_data or comparison.interval is None:
        return Verdict(f"Revenue per visitor: not enough data yet for {name}", "wait")
    assert comparison.difference is not None
    detail = (
        f"{_signed_money(comparison.difference)} {settings.CURRENCY} per visitor "
        f"({round(comparison.confidence * 100)}% interval "
        f"{_signed_money(comparison.interval.low)} to "
        f"{_signed_money(comparison.interval.high)}), {_p_value(comparison.p_value)}"
    )
    if not comparison.significant:
        return Verdict(f"Revenue per visitor: no significant difference yet: {detail}", "neutral")
    better = "more" if comparison.difference > 0 else "less"
    tone = "win" if comparison.difference > 0 else "loss"
    return Verdict(f"{name} brings {better} revenue per visitor: {detail}", tone)


_ROW_HEIGHT: Final = 40
_TOP: Final = 12
PLOT_LEFT: Final = 130
PLOT_RIGHT: Final = 640


def _tick_percent(value: float) -> str:
    """An axis label: "0%", "2.5%", "0.25%" (no trailing zeros)."""
    return f"{value * 100:.2f}".rstrip("0").rstrip(".") + "%"


def conversion_chart(rows: list[ResultRow]) -> Chart | None:
    """Conversion rate per variant as bars, with the 95% Wilson interval as a whisker."""
    measured = [(row, row.interval) for row in rows if row.interval is not None]
    if not measured:
        return None
    top = max(max(interval.high, row.rate or 0.0) for row, interval in measured)
    scale = nice_ceiling(max(top, 0.001))
    span = PLOT_RIGHT - PLOT_LEFT

    def x(rate: float) -> float:
        return PLOT_LEFT + span * min(max(rate / scale, 0.0), 1.0)

    chart_rows = [
        ChartRow(
            label=row.label,
            sublabel=f"{row.result.exposures:,} visitors",
            tone=row.verdict.tone,
            y=_TOP + index * _ROW_HEIGHT,
            value=percent_text(row.rate),
            bar_x=str(PLOT_LEFT),
            bar_width=f"{x(row.rate or 0.0) - PLOT_LEFT:.1f}",
            low=f"{x(interval.low):.1f}",
            high=f"{x(interval.high):.1f}",
        )
        for index, (row, interval) in enumerate(measured)
    ]
    axis_y = _TOP + len(chart_rows) * _ROW_HEIGHT
    return Chart(
        title="Conversion rate per variant",
        description="Bars show each variant's conversion rate; the line across each bar is its "
        "95% interval, the range the true rate is likely in.",
        rows=chart_rows,
        ticks=[
            (f"{x(scale * step / 4):.1f}", _tick_percent(scale * step / 4)) for step in range(5)
        ],
        height=axis_y + 26,
        axis_y=axis_y,
    )


def difference_chart(rows: list[ResultRow], baseline: str) -> Chart | None:
    """Each variant's difference from the baseline with its 95% interval, around zero."""
    compared = [
        row
        for row in rows
        if row.result.comparison is not None
        and row.result.comparison.interval is not None
        and row.result.comparison.difference is not None
    ]
    if not compared:
        return None
    reach = max(
        max(abs(c.interval.low), abs(c.interval.high), abs(c.difference))
        for row in compared
        if (c := row.result.comparison) is not None
        and c.interval is not None
        and c.difference is not None
    )
    scale = nice_ceiling(max(reach, 0.001))
    middle = (PLOT_LEFT + PLOT_RIGHT) / 2
    half = (PLOT_RIGHT - PLOT_LEFT) / 2

    def x(difference: float) -> str:
        return f"{middle + half * min(max(difference / scale, -1.0), 1.0):.1f}"

    chart_rows = []
    for index, row in enumerate(compared):
        comparison = row.result.comparison
        assert comparison is not None and comparison.interval is not None
        assert comparison.difference is not None
        chart_rows.append(
            ChartRow(
                label=row.label,
                sublabel=f"vs {baseline}",
                tone=row.verdict.tone,
                y=_TOP + index * _ROW_HEIGHT,
                value=f"{_points(comparison.difference)} pts",
                point=x(comparison.difference),
                low=x(comparison.interval.low),
                high=x(comparison.interval.high),
            )
        )
    axis_y = _TOP + len(chart_rows) * _ROW_HEIGHT
    ticks = []
    for step in range(-2, 3):
        value = scale * step / 2
        ticks.append((x(value), f"{_points(value)} pts" if step else "0"))
    return Chart(
        title=f"Difference from {baseline}",
        description="Each dot is the difference in conversion rate from the baseline, in "
        "percentage points; the line is its 95% interval. A line that crosses 0 means no "
        "difference is still plausible.",
        rows=chart_rows,
        ticks=ticks,
        height=axis_y + 26,
        axis_y=axis_y,
        zero_x=f"{middle:.1f}",
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
        return percent_text(self.rate)

    @property
    def ctr_text(self) -> str:
        return percent_text(self.result.ctr)

    @property
    def interval_text(self) -> str:
        if self.interval is None:
            return ""
        return f"{percent_text(self.interval.low)} to {percent_text(self.interval.high)}"

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

    @property
    def revenue_difference_text(self) -> str:
        comparison: MeanComparison | None = self.result.revenue_comparison
        if comparison is None or comparison.difference is None:
            return "—"
        return _signed_money(comparison.difference)

    @property
    def revenue_interval_text(self) -> str:
        comparison = self.result.revenue_comparison
        if comparison is None or comparison.interval is None:
            return ""
        interval = comparison.interval
        return f"{_signed_money(interval.low)} to {_signed_money(interval.high)}"

    @property
    def revenue_p_value_text(self) -> str:
        comparison = self.result.revenue_comparison
        return "—" if comparison is None else _p_value(comparison.p_value)


@dataclass(frozen=True)
class ResultsReport:
    results: CampaignResults
    rows: list[ResultRow]
    baseline_label: str
    conversion_chart: Chart | None
    difference_chart: Chart | None
    verdicts: list[tuple[str, Verdict]] = field(default_factory=list)
    trend_chart: DailyChart | None = None

    @property
    def has_data(self) -> bool:
        return any(row.result.exposures or row.result.impressions for row in self.rows)

    @property
    def srm(self) -> SampleRatioCheck | None:
        return self.results.srm

    @property
    def srm_text(self) -> str:
        """The split seen against the split configured: "Control 1,000 (expected 1,100)"."""
        srm = self.results.srm
        if srm is None:
            return ""
        return ", ".join(
            f"{row.label} {observed:,} (expected {expected:,.0f})"
            for row, observed, expected in zip(self.rows, srm.observed, srm.expected, strict=True)
        )


def _money(value: float | None) -> str:
    return "—" if value is None else f"{value:,.2f} {settings.CURRENCY}"


def configured_split(campaign: Campaign, keys: Sequence[str]) -> dict[str, float]:
    """Each arm's configured share of visitors, as the bucketing assigns them."""
    variants = dict(Variant.objects.filter(campaign=campaign).values_list("key", "weight"))
    control = campaign.control_percent / 100
    total = sum(variants.values()) or 1
    split = {key: (1 - control) * weight / total for key, weight in variants.items()}
    if campaign.control_percent:
        split["control"] = control
    return {key: split.get(key, 0.0) for key in keys}


def trend_chart(results: CampaignResults) -> DailyChart | None:
    """Exposed visitors per day (bars) and each arm's cumulative conversion rate (lines)."""
    if not results.daily or not any(v.exposures for v in results.variants):
        return None
    arms = [v for v in results.variants if v.key in results.daily]
    days = [d.day for d in results.daily[arms[0].key]]
    exposed = [sum(results.daily[v.key][i].exposures for v in arms) for i in range(len(days))]
    titles = [
        f"{date_format(day, 'D j M')}: {count:,} newly exposed visitor{'s' * (count != 1)}"
        for day, count in zip(days, exposed, strict=True)
    ]
    lines = []
    for arm in arms:
        values: list[float | None] = []
        line_titles = []
        seen = bought = 0
        for day in results.daily[arm.key]:
            seen += day.exposures
            bought += day.buyers
            values.append(bought / seen if seen else None)
            line_titles.append(
                f"{variant_label(arm.key)}, {date_format(day.day, 'D j M')}: "
                f"{percent_text(bought / seen if seen else None)} ({bought:,} of {seen:,})"
            )
        lines.append(ChartSeries(variant_label(arm.key), values, line_titles))
    return daily_chart(
        days, exposed, titles, lines, line_label=_tick_percent, line_steps=(1.0, 2.0, 2.5, 5.0)
    )


def build_results_report(
    campaign: Campaign,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    sequential: bool = True,
) -> ResultsReport:
    """Every number and sentence the results page shows for ``campaign``.

    ``since``/``until`` bound the period (see :func:`campaign_results`); ``sequential``
    chooses always-valid statistics (the default) over fixed-horizon ones.
    """
    keys = sorted(Variant.objects.filter(campaign=campaign).values_list("key", flat=True))
    if campaign.control_percent:
        keys.insert(0, "control")
    results = campaign_results(
        campaign.slug,
        campaign.attribution_days,
        keys,
        weights=configured_split(campaign, keys),
        since=since,
        until=until,
        sequential=sequential,
    )
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
                verdict=verdict_for(item, baseline, results.srm),
                revenue=_money(item.revenue),
                revenue_per_visitor=_money(item.revenue_per_visitor),
            )
        )
    baseline_label = variant_label(baseline.key) if baseline else ""
    verdicts = []
    for row in rows:
        if row.is_baseline:
            continue
        verdicts.append((row.label, row.verdict))
        revenue = revenue_verdict_for(row.result, results.srm)
        if revenue is not None:
            verdicts.append((row.label, revenue))
    return ResultsReport(
        results=results,
        rows=rows,
        baseline_label=baseline_label,
        conversion_chart=conversion_chart(rows),
        difference_chart=difference_chart(rows, baseline_label),
        verdicts=verdicts,
        trend_chart=trend_chart(results),
    )
