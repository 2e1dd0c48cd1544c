"""The dashboard's tables as rows: one definition for the CSV downloads and the JSON API."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any, Final

from django.http import HttpResponse

from personalize.analytics.summary import DIMENSIONS, Summary, Totals

__all__ = ["TABLES", "csv_response", "summary_json"]

Table = tuple[list[str], list[list[Any]]]


def _rate(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def _kpis(totals: Totals) -> dict[str, Any]:
    return {
        "visitors": totals.visitors,
        "visits": totals.visits,
        "orders": totals.orders,
        "revenue": totals.revenue,
        "conversion_rate": _rate(totals.conversion_rate),
        "aov": totals.aov,
        "revenue_per_visitor": totals.revenue_per_visitor,
        "email_captures": totals.capturing_visitors,
        "capture_rate": _rate(totals.capture_rate),
    }


def _segments(summary: Summary) -> list[dict[str, Any]]:
    return [
        {
            "dimension": row.dimension,
            "segment": row.segment,
            "visitors": row.visitors,
            "visits": row.visits,
            "orders": row.orders,
            "revenue": row.revenue,
            "conversion_rate": _rate(row.conversion_rate),
            "aov": row.aov,
        }
        for dimension in DIMENSIONS
        for row in summary.breakdown[dimension]
    ]


def summary_json(summary: Summary) -> dict[str, Any]:
    """The API's document (docs/analytics.md defines every figure)."""
    previous = summary.period.previous
    return {
        "start": summary.start.isoformat(),
        "end": summary.end.isoformat(),
        "currency": summary.currency,
        **_kpis(summary.totals),
        "influenced": {
            f"{kind}s": {"orders": item.orders, "revenue": item.revenue}
            for kind, item in summary.influenced.items()
        },
        "previous": {
            "start": previous.start.isoformat(),
            "end": previous.end.isoformat(),
            **_kpis(summary.previous),
        },
        "segments": _segments(summary),
        "daily": [
            {
                "date": day.day.isoformat(),
                "visitors": day.visitors,
                "visits": day.visits,
                "orders": day.orders,
                "revenue": day.revenue,
                "conversion_rate": _rate(day.conversion_rate),
            }
            for day in summary.trend
        ],
        "rolled_at": summary.rolled_at.isoformat() if summary.rolled_at else None,
        "missing_days": [day.isoformat() for day in summary.missing_days],
    }


def _kpi_table(summary: Summary) -> Table:
    now, before = _kpis(summary.totals), _kpis(summary.previous)
    rows: list[list[Any]] = [[name, value, before[name]] for name, value in now.items()]
    for kind, item in summary.influenced.items():
        past = summary.influenced_previous[kind]
        rows.append([f"{kind}_influenced_revenue", item.revenue, past.revenue])
        rows.append([f"{kind}_influenced_orders", item.orders, past.orders])
    return ["metric", "value", "previous_period"], rows


def _segment_table(summary: Summary) -> Table:
    segments = _segments(summary)
    columns = list(segments[0]) if segments else ["dimension", "segment"]
    return columns, [list(row.values()) for row in segments]


def _trend_table(summary: Summary) -> Table:
    columns = ["date", "visitors", "visits", "orders", "revenue", "conversion_rate"]
    return columns, [
        [d.day.isoformat(), d.visitors, d.visits, d.orders, d.revenue, _rate(d.conversion_rate)]
        for d in summary.trend
    ]


def _influence_table(kind: str) -> Callable[[Summary], Table]:
    def table(summary: Summary) -> Table:
        items = summary.campaigns if kind == "campaign" else summary.widgets
        key = "slug" if kind == "campaign" else "slot"
        return [key, "name", "attributed_orders", "attributed_revenue"], [
            [i.key, i.label, i.orders, i.revenue] for i in items
        ]

    return table


#: ``?format=csv&table=<name>``: every table of the dashboard.
TABLES: Final[dict[str, Callable[[Summary], Table]]] = {
    "kpis": _kpi_table,
    "segments": _segment_table,
    "daily": _trend_table,
    "campaigns": _influence_table("campaign"),
    "widgets": _influence_table("widget"),
}


def csv_response(summary: Summary, table: str) -> HttpResponse:
    """One table as a CSV download; ``table`` must be a key of :data:`TABLES`."""
    columns, rows = TABLES[table](summary)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    writer.writerows(["" if value is None else value for value in row] for row in rows)
    response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
    name = f"personalize-{table}-{summary.start:%Y%m%d}-{summary.end:%Y%m%d}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "private, no-store"
    return response
