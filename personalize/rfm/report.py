"""The RFM report as a merchandiser reads it: an R x F heat map and the segment table.

Pure presentation of a stored :class:`~personalize.rfm.models.RFMReport`; the admin
view renders it. Intensities and bar widths are whole-number steps so the template
draws them with CSS classes (no inline styles: the admin runs under a strict CSP).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from django.contrib.humanize.templatetags.humanize import naturaltime

from personalize.rfm.models import RFMReport
from personalize.rfm.scoring import SEGMENTS, segment_for

__all__ = ["HEAT_LEVELS", "HeatCell", "RFMView", "SegmentRow", "build_report"]

#: Heat map shades: 0 (empty cell) .. HEAT_LEVELS (the fullest cell).
HEAT_LEVELS: Final = 10
SCORES: Final = (1, 2, 3, 4, 5)


@dataclass(frozen=True)
class HeatCell:
    r: int
    f: int
    count: int
    share: float
    level: int
    segment: str
    label: str


@dataclass(frozen=True)
class SegmentRow:
    slug: str
    label: str
    count: int
    share: float
    bar: int  # 0-100, relative to the largest segment
    revenue: float | None = None  # from the analytics rollups, when given

    @property
    def builtin_slug(self) -> str:
        """The built-in targeting segment for this RFM segment."""
        return f"rfm-{self.slug.replace('_', '-')}"


@dataclass(frozen=True)
class RFMView:
    report: RFMReport
    rows: list[tuple[int, list[HeatCell]]]  # R5 first, each with cells F1..F5
    segments: list[SegmentRow]
    largest_cell: int

    @property
    def computed_ago(self) -> str:
        """When the run finished, e.g. "3 hours ago" or "now"."""
        return str(naturaltime(self.report.created_at))


def _count(mapping: Any, key: str) -> int:
    """A count from the stored JSON; anything that is not a whole number counts as 0."""
    value = mapping.get(key) if isinstance(mapping, dict) else None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return 0
    return max(0, int(value))


def _share(count: int, total: int) -> float:
    return 100.0 * count / total if total else 0.0


def build_report(report: RFMReport, revenue: Mapping[str, float] | None = None) -> RFMView:
    """The heat map rows (R5..R1 x F1..F5) and segment rows of ``report``.

    ``revenue`` (RFM segment slug -> revenue) fills each segment row's revenue column.
    """
    counts = {(r, f): _count(report.grid, f"{r},{f}") for r in SCORES for f in SCORES}
    total = report.customers or sum(counts.values())
    largest = max(counts.values())
    rows = []
    for r in reversed(SCORES):
        cells = []
        for f in SCORES:
            count = counts[(r, f)]
            segment = segment_for(r, f)
            cells.append(
                HeatCell(
                    r=r,
                    f=f,
                    count=count,
                    share=_share(count, total),
                    level=math.ceil(HEAT_LEVELS * count / largest) if count else 0,
                    segment=segment,
                    label=SEGMENTS[segment],
                )
            )
        rows.append((r, cells))
    segment_counts = {slug: _count(report.segments, slug) for slug in SEGMENTS}
    biggest = max(segment_counts.values())
    segments = [
        SegmentRow(
            slug=slug,
            label=label,
            count=segment_counts[slug],
            share=_share(segment_counts[slug], total),
            bar=round(100 * segment_counts[slug] / biggest) if biggest else 0,
            revenue=None if revenue is None else revenue.get(slug, 0.0),
        )
        for slug, label in SEGMENTS.items()
    ]
    return RFMView(report, rows, segments, largest)
