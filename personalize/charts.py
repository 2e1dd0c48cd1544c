"""The admin's charts: geometry for inline SVG, drawn by the templates without script.

Two kinds, each with one template partial:

* :class:`Chart` — one row per group (a bar with an interval whisker, or a point with
  its interval around zero), drawn by ``personalize/admin/campaign_chart.html``;
* :class:`DailyChart` — a day-by-day series: bars on the left axis and lines on the
  right axis, drawn by ``personalize/admin/daily_chart.html``. Campaign results draw
  exposed visitors and each arm's cumulative conversion rate with it; widget results
  clicks and attributed revenue.

Every number is preformatted here (the templates cannot compute), and colours are
presentation attributes, so the SVG needs no ``style`` attribute under a strict CSP.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Final

from django.utils.formats import date_format

from personalize.stats import nice_ceiling

__all__ = [
    "COUNT_STEPS",
    "Chart",
    "ChartBar",
    "ChartLine",
    "ChartRow",
    "ChartSeries",
    "ChartTick",
    "DailyChart",
    "daily_chart",
    "tick_label",
]

#: Axis tops for counts and money: 1, 2 or 5 x 10^k (no 2.5, which halves to 12.5 clicks).
COUNT_STEPS: Final = (1.0, 2.0, 5.0)
#: Line colours, in order; readable on white and told apart by people with a colour
#: vision deficiency (Okabe-Ito).
LINE_COLOURS: Final = ("#555555", "#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00")
# The daily chart's geometry, in SVG user units.
_WIDTH: Final = 760
_LEFT: Final = 56
_RIGHT: Final = 680
_TOP: Final = 14
_AXIS_Y: Final = 196


@dataclass(frozen=True)
class ChartRow:
    label: str
    sublabel: str
    tone: str
    y: int
    value: str
    bar_x: str = "0"
    bar_width: str = "0"
    point: str | None = None
    low: str | None = None
    high: str | None = None


@dataclass(frozen=True)
class Chart:
    """A per-group chart's geometry; numbers are preformatted attribute values."""

    title: str
    description: str
    rows: list[ChartRow]
    ticks: list[tuple[str, str]]
    height: int
    axis_y: int
    zero_x: str | None = None
    width: int = field(default=760, init=False)
    plot_left: int = field(default=130, init=False)
    plot_right: int = field(default=640, init=False)
    value_x: int = field(default=650, init=False)


@dataclass(frozen=True)
class ChartBar:
    x: str
    y: str
    width: str
    height: str
    title: str


@dataclass(frozen=True)
class ChartTick:
    position: str  # y of a grid line, or x of a date label
    text_at: str  # where its label is drawn (x for value ticks, y for date labels)
    label: str


@dataclass(frozen=True)
class ChartSeries:
    """One line to draw: a value per day (``None``: no point that day)."""

    label: str
    values: Sequence[float | None]
    titles: Sequence[str] = ()  # a tooltip per day; "" or missing for none
    colour: str | None = None  # else the next of LINE_COLOURS


@dataclass(frozen=True)
class ChartLine:
    label: str
    colour: str
    points: str  # polyline points; "" when the series has no value
    dots: list[tuple[str, str, str]]  # (cx, cy, title) per day with a value


@dataclass(frozen=True)
class DailyChart:
    """Geometry of a daily chart (bars on the left axis, lines on the right)."""

    bars: list[ChartBar]
    lines: list[ChartLine]
    bar_ticks: list[ChartTick]
    line_ticks: list[ChartTick]
    day_labels: list[ChartTick]
    width: int = field(default=_WIDTH, init=False)
    height: int = field(default=_AXIS_Y + 40, init=False)
    plot_left: int = field(default=_LEFT, init=False)
    plot_right: int = field(default=_RIGHT, init=False)
    axis_y: int = field(default=_AXIS_Y, init=False)

    @property
    def line_tick_colour(self) -> str:
        """The right axis takes the colour of its line when there is only one."""
        return self.lines[0].colour if len(self.lines) == 1 else "#5b6478"

    @property
    def has_lines(self) -> bool:
        return any(line.points for line in self.lines)


def tick_label(value: float) -> str:
    """An axis label with no trailing zeros: "12.5", "1,000"."""
    return f"{value:,.2f}".rstrip("0").rstrip(".")


def daily_chart(
    days: Sequence[date],
    bars: Sequence[float],
    bar_titles: Sequence[str],
    lines: Sequence[ChartSeries] = (),
    *,
    line_label: Callable[[float], str] = tick_label,
    line_steps: tuple[float, ...] = COUNT_STEPS,
) -> DailyChart | None:
    """Bars per day on the left axis (counts) and lines on a shared right axis.

    ``None`` when there are no days. Bars are counts, so the left axis shows no
    fractions; ``line_label`` formats the right axis ("2.5%" for rates).
    """
    if not days:
        return None
    step = (_RIGHT - _LEFT) / len(days)
    bar_top = nice_ceiling(max(bars, default=0.0), COUNT_STEPS)
    line_values = [v for series in lines for v in series.values if v is not None]
    line_top = nice_ceiling(max(line_values, default=0.0), line_steps)

    def y(value: float, scale: float) -> float:
        return _AXIS_Y - (_AXIS_Y - _TOP) * min(value / scale, 1.0)

    def centre(index: int) -> str:
        return f"{_LEFT + step * (index + 0.5):.1f}"

    chart_bars = []
    for index, (count, title) in enumerate(zip(bars, bar_titles, strict=True)):
        top_y = y(count, bar_top)
        chart_bars.append(
            ChartBar(
                x=f"{_LEFT + step * (index + 0.15):.1f}",
                y=f"{top_y:.1f}",
                width=f"{step * 0.7:.1f}",
                height=f"{_AXIS_Y - top_y:.1f}",
                title=title,
            )
        )
    chart_lines = []
    for number, series in enumerate(lines):
        dots = [
            (
                centre(index),
                f"{y(value, line_top):.1f}",
                series.titles[index] if index < len(series.titles) else "",
            )
            for index, value in enumerate(series.values)
            if value is not None
        ]
        chart_lines.append(
            ChartLine(
                label=series.label,
                colour=series.colour or LINE_COLOURS[number % len(LINE_COLOURS)],
                points=" ".join(f"{cx},{cy}" for cx, cy, _ in dots) if line_values else "",
                dots=dots if line_values else [],
            )
        )
    fractions = (0.0, 0.5, 1.0)
    bar_ticks = [
        ChartTick(f"{y(bar_top * f, bar_top):.1f}", str(_LEFT - 8), tick_label(bar_top * f))
        for f in fractions
        if (bar_top * f).is_integer()  # no half visitors on the axis
    ]
    line_ticks = [
        ChartTick(f"{y(line_top * f, line_top):.1f}", str(_RIGHT + 8), line_label(line_top * f))
        for f in fractions
    ]
    every = math.ceil(len(days) / 8)
    day_labels = [
        ChartTick(centre(index), str(_AXIS_Y + 16), date_format(day, "j M"))
        for index, day in enumerate(days)
        if (len(days) - 1 - index) % every == 0  # the last day always has its label
    ]
    return DailyChart(
        bars=chart_bars,
        lines=chart_lines,
        bar_ticks=bar_ticks,
        line_ticks=line_ticks if line_values else [],
        day_labels=day_labels,
    )
