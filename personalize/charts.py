"""The admin's charts, as inline SVG geometry with preformatted numbers.

* :func:`bar_and_line_chart`: one value per day as bars (left axis) and another as a
  line (right axis). Widget results and the analytics dashboard draw it with
  ``personalize/admin/daily_chart.html``, a ``<title>`` on every bar and point.
* :func:`rate_chart` and :func:`difference_chart`: one row per variant, a rate as a
  bar or a difference as a point, each with its interval as a whisker. Campaign
  results draw them with ``personalize/admin/campaign_chart.html``.

The templates use no script and no style attribute: the admin runs under a strict CSP.
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
    "ChartBar",
    "ChartRow",
    "ChartTick",
    "DailyChart",
    "IntervalChart",
    "IntervalItem",
    "bar_and_line_chart",
    "difference_chart",
    "rate_chart",
]

#: Axis tops: 1, 2 or 5 x 10^k (no 2.5, which halves to 12.5 clicks).
COUNT_STEPS: Final = (1.0, 2.0, 5.0)
# The geometry, in SVG user units.
_WIDTH: Final = 760
_LEFT: Final = 56
_RIGHT: Final = 680
_TOP: Final = 14
_AXIS_Y: Final = 196


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
class DailyChart:
    """Geometry of a daily bar-and-line chart; preformatted numbers."""

    bars: list[ChartBar]
    line: str  # polyline points of the line series; "" when it is all zero
    dots: list[tuple[str, str, str]]  # (cx, cy, title) of each day's line value
    bar_ticks: list[ChartTick]
    line_ticks: list[ChartTick]
    day_labels: list[ChartTick]
    width: int = field(default=_WIDTH, init=False)
    height: int = field(default=_AXIS_Y + 40, init=False)
    plot_left: int = field(default=_LEFT, init=False)
    plot_right: int = field(default=_RIGHT, init=False)
    axis_y: int = field(default=_AXIS_Y, init=False)


def _tick_label(value: float, suffix: str = "") -> str:
    return f"{value:,.2f}".rstrip("0").rstrip(".") + suffix


def bar_and_line_chart(
    days: Sequence[date],
    bars: Sequence[float],
    line: Sequence[float],
    titles: Sequence[str],
    *,
    whole_bars: bool = True,
    line_suffix: str = "",
) -> DailyChart | None:
    """``bars`` and ``line`` (one value per day of ``days``) with ``titles`` as tooltips.

    ``whole_bars``: the bar axis counts things, so it has no half ticks. ``line_suffix``
    follows each line tick (e.g. "%"). ``None`` when there are no days.
    """
    if not days:
        return None
    step = (_RIGHT - _LEFT) / len(days)
    bars_top = nice_ceiling(max(bars), COUNT_STEPS)
    max_line = max(line)
    line_top = nice_ceiling(max_line, COUNT_STEPS)

    def y(value: float, scale: float) -> float:
        return _AXIS_Y - (_AXIS_Y - _TOP) * min(value / scale, 1.0)

    drawn, dots, points = [], [], []
    for index, title in enumerate(titles):
        top_y = y(bars[index], bars_top)
        drawn.append(
            ChartBar(
                x=f"{_LEFT + step * (index + 0.15):.1f}",
                y=f"{top_y:.1f}",
                width=f"{step * 0.7:.1f}",
                height=f"{_AXIS_Y - top_y:.1f}",
                title=title,
            )
        )
        center = f"{_LEFT + step * (index + 0.5):.1f}"
        point = f"{y(line[index], line_top):.1f}"
        points.append(f"{center},{point}")
        dots.append((center, point, title))
    fractions = (0.0, 0.5, 1.0)
    bar_ticks = [
        ChartTick(f"{y(bars_top * f, bars_top):.1f}", str(_LEFT - 8), _tick_label(bars_top * f))
        for f in fractions
        if not whole_bars or (bars_top * f).is_integer()
    ]
    line_ticks = [
        ChartTick(
            f"{y(line_top * f, line_top):.1f}",
            str(_RIGHT + 8),
            _tick_label(line_top * f, line_suffix),
        )
        for f in fractions
    ]
    every = math.ceil(len(days) / 8)
    day_labels = [
        ChartTick(f"{_LEFT + step * (index + 0.5):.1f}", str(_AXIS_Y + 16), date_format(day, "j M"))
        for index, day in enumerate(days)
        if (len(days) - 1 - index) % every == 0  # the last day always has its label
    ]
    has_line = max_line > 0
    return DailyChart(
        bars=drawn,
        line=" ".join(points) if has_line else "",
        dots=dots if has_line else [],
        bar_ticks=bar_ticks,
        line_ticks=line_ticks if has_line else [],
        day_labels=day_labels,
    )


# --- interval charts (campaign results) ---------------------------------------------


@dataclass(frozen=True)
class IntervalItem:
    """One row to draw: ``value`` within ``[low, high]`` (rates or differences)."""

    label: str
    sublabel: str
    tone: str  # a CSS class suffix: win, loss, neutral, wait, baseline...
    value: float
    low: float
    high: float
    shown: str  # the value as printed at the end of the row


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
class IntervalChart:
    """An interval chart's geometry; numbers are preformatted attribute values."""

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


_ROW_HEIGHT: Final = 40
_ROWS_TOP: Final = 12
PLOT_LEFT: Final = 130
PLOT_RIGHT: Final = 640


def rate_chart(
    items: Sequence[IntervalItem], *, title: str, description: str, tick: Callable[[float], str]
) -> IntervalChart | None:
    """Each item's value as a bar from zero, its interval as a whisker; ``None`` if empty."""
    if not items:
        return None
    top = max(max(item.high, item.value) for item in items)
    scale = nice_ceiling(max(top, 0.001))
    span = PLOT_RIGHT - PLOT_LEFT

    def x(rate: float) -> float:
        return PLOT_LEFT + span * min(max(rate / scale, 0.0), 1.0)

    rows = [
        ChartRow(
            label=item.label,
            sublabel=item.sublabel,
            tone=item.tone,
            y=_ROWS_TOP + index * _ROW_HEIGHT,
            value=item.shown,
            bar_x=str(PLOT_LEFT),
            bar_width=f"{x(item.value) - PLOT_LEFT:.1f}",
            low=f"{x(item.low):.1f}",
            high=f"{x(item.high):.1f}",
        )
        for index, item in enumerate(items)
    ]
    axis_y = _ROWS_TOP + len(rows) * _ROW_HEIGHT
    return IntervalChart(
        title=title,
        description=description,
        rows=rows,
        ticks=[(f"{x(scale * step / 4):.1f}", tick(scale * step / 4)) for step in range(5)],
        height=axis_y + 26,
        axis_y=axis_y,
    )


def difference_chart(
    items: Sequence[IntervalItem], *, title: str, description: str, tick: Callable[[float], str]
) -> IntervalChart | None:
    """Each item's value as a point on an axis centred on zero, its interval as a whisker."""
    if not items:
        return None
    reach = max(max(abs(item.low), abs(item.high), abs(item.value)) for item in items)
    scale = nice_ceiling(max(reach, 0.001))
    middle = (PLOT_LEFT + PLOT_RIGHT) / 2
    half = (PLOT_RIGHT - PLOT_LEFT) / 2

    def x(difference: float) -> str:
        return f"{middle + half * min(max(difference / scale, -1.0), 1.0):.1f}"

    rows = [
        ChartRow(
            label=item.label,
            sublabel=item.sublabel,
            tone=item.tone,
            y=_ROWS_TOP + index * _ROW_HEIGHT,
            value=item.shown,
            point=x(item.value),
            low=x(item.low),
            high=x(item.high),
        )
        for index, item in enumerate(items)
    ]
    axis_y = _ROWS_TOP + len(rows) * _ROW_HEIGHT
    ticks = [(x(scale * step / 2), tick(scale * step / 2)) for step in range(-2, 3)]
    return IntervalChart(
        title=title,
        description=description,
        rows=rows,
        ticks=ticks,
        height=axis_y + 26,
        axis_y=axis_y,
        zero_x=f"{middle:.1f}",
    )
