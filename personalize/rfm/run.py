"""Scoring every customer in the store and writing the scores back to their profiles.

The pure scoring lives in :mod:`personalize.rfm.scoring`; this module reads
profiles and the event log, and writes ``profile.ext["rfm"]`` so the request hot
path only reads the result.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db.models import Count

from personalize.conf import settings
from personalize.models import Event, RFMReport
from personalize.profiles.base import BaseProfileStore, get_store
from personalize.rfm.scoring import engagement_scores, score_customers


@dataclass
class RFMRunResult:
    as_of: datetime
    customers: int = 0
    grid: dict[str, int] = field(default_factory=dict)  # "r,f" -> customers
    segments: dict[str, int] = field(default_factory=dict)
    duration_seconds: float = 0.0


def engagement_values(as_of: datetime, visitor_ids: set[str]) -> dict[str, float]:
    """On-site engagement in the last 30 days: visits plus product views, from the event log."""
    since = as_of - timedelta(days=30)
    rows = (
        Event.objects.using(settings.DATABASE_ALIAS)
        .filter(
            occurred_at__gte=since, occurred_at__lte=as_of, name__in=("page_view", "product_view")
        )
        .values("visitor_id", "name")
        .annotate(n=Count("id"), visits=Count("visit", distinct=True))
    )
    values: dict[str, float] = {}
    for row in rows.iterator():
        vid = row["visitor_id"]
        if vid in visitor_ids:
            amount = row["visits"] if row["name"] == "page_view" else row["n"]
            values[vid] = values.get(vid, 0.0) + float(amount)
    return values


def run_rfm(
    as_of: datetime | None = None,
    *,
    store: BaseProfileStore | None = None,
    progress: Callable[[int], None] | None = None,
) -> RFMRunResult:
    """Score every customer (a profile with an order), store the scores on the profiles
    and save an :class:`RFMReport` (the admin's heat map) unless there were no customers."""
    started = time.monotonic()
    as_of = as_of or datetime.now(tz=UTC)
    store = store or get_store()
    rows: list[tuple[str, datetime, int, float]] = []
    for count, profile in enumerate(store.iter_profiles(), start=1):
        if profile.orders_count > 0 and profile.last_order_at:
            last = datetime.fromtimestamp(profile.last_order_at, tz=UTC)
            rows.append(
                (profile.visitor_id, min(last, as_of), profile.orders_count, profile.total_spent)
            )
        if progress is not None and count % 1000 == 0:
            progress(1000)
    result = RFMRunResult(as_of=as_of, customers=len(rows))
    if not rows:
        return result
    scores = score_customers(rows, as_of)
    ids = set(scores)
    engagement = engagement_values(as_of, ids)
    e_scores = engagement_scores([(vid, engagement.get(vid, 0.0)) for vid in sorted(ids)])
    # Spend percentile: share of customers spending strictly less (ties share a rank).
    by_spend = sorted(rows, key=lambda row: row[3])
    percentile: dict[str, int] = {}
    below = 0
    for index, row in enumerate(by_spend):
        if index and row[3] > by_spend[index - 1][3]:
            below = index
        percentile[row[0]] = int(100 * below / len(rows))
    documents: dict[str, Any] = {}
    grid: Counter[str] = Counter()
    segments: Counter[str] = Counter()
    for vid, score in scores.items():
        documents[vid] = {
            "r": score.r,
            "f": score.f,
            "m": score.m,
            "e": e_scores[vid],
            "segment": score.segment,
            "recency_days": score.recency_days,
            "spend_percentile": percentile[vid],
            "as_of": as_of.date().isoformat(),
        }
        grid[f"{score.r},{score.f}"] += 1
        segments[score.segment] += 1
    store.write_ext("rfm", documents)
    result.grid = dict(grid)
    result.segments = dict(segments)
    result.duration_seconds = time.monotonic() - started
    RFMReport.objects.using(settings.DATABASE_ALIAS).create(
        as_of=as_of,
        customers=result.customers,
        grid=result.grid,
        segments=result.segments,
        duration_seconds=result.duration_seconds,
    )
    return result
