"""The admin's daily chart: one value per day as bars (left axis) and another as a line
(right axis), as inline SVG geometry with preformatted numbers.

Widget results and the analytics dashboard draw it with the one template,
``personalize/admin/daily_chart.html``: no script, no style attribute (the admin runs
under a strict CSP), a ``<title>`` on every bar and point for the day's numbers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Final

from django.utils.formats import date_format

from personalize.stats import nice_ceiling

__all__ = ["ChartBar", "ChartTick", "DailyChart", "bar_and_line_chart"]

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
