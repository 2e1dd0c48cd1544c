"""Non-personal rankings: bestsellers, trending and new arrivals, overall and per category.

Each returns a :class:`Ranking`: an overall list of ``(item_id, score)`` pairs, best
first, and the same per category when an ``item -> category`` mapping is given. They
are also the cold-start fallback of the personal strategies.

Time windows are ``(as_of - window, as_of]``: an event exactly at ``as_of`` counts, one
exactly ``window`` earlier does not, so back-to-back windows never count an event twice.
Events after ``as_of`` are ignored, so a ranking can be recomputed "as of" a past time.
"""

from __future__ import annotations

from collections.abc import Collection, Hashable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import numpy as np
import numpy.typing as npt

from personalize.recommendations.interactions import Interactions, ItemId, Timestamp, to_seconds

__all__ = ["Ranking", "bestsellers", "new_arrivals", "trending"]

RankedList = list[tuple[ItemId, float]]


@dataclass(frozen=True)
class Ranking:
    """Items best first with their scores, overall and per category."""

    overall: RankedList
    by_category: dict[Hashable, RankedList] = field(default_factory=dict)

    def items(self, category: Hashable | None = None) -> list[ItemId]:
        """The ranked item ids, overall or for ``category`` (empty if unknown)."""
        ranked = self.overall if category is None else self.by_category.get(category, [])
        return [item for item, _ in ranked]


def bestsellers(
    interactions: Interactions,
    as_of: Timestamp,
    *,
    window: timedelta | None = timedelta(days=30),
    kinds: Collection[str] = ("purchase",),
    categories: Mapping[Any, Hashable] | None = None,
    limit: int = 100,
) -> Ranking:
    """Items by units sold (the sum of purchase event weights) in ``window`` up to ``as_of``.

    ``window=None`` counts all history up to ``as_of``; ``kinds=("view",)`` ranks by
    views instead ("most popular").
    """
    end = to_seconds(as_of)
    mask = interactions.kind_mask(kinds) & (interactions.timestamps <= end)
    if window is not None:
        mask &= interactions.timestamps > end - window.total_seconds()
    totals = np.asarray(
        np.bincount(
            interactions.items[mask],
            weights=interactions.weights[mask],
            minlength=interactions.n_items,
        ),
        dtype=np.float64,
    )
    return _ranking(totals, interactions.item_ids, categories, limit)


def trending(
    interactions: Interactions,
    as_of: Timestamp,
    *,
    half_life: timedelta = timedelta(days=3),
    kinds: Collection[str] = ("view", "purchase"),
    categories: Mapping[Any, Hashable] | None = None,
    limit: int = 100,
) -> Ranking:
    """Items by exponentially time-decayed interest as of ``as_of``.

    Each event adds its value (kind weight x weight, so a sale outweighs a view) times
    ``0.5 ** (age / half_life)``: an event one half-life old counts half.
    """
    seconds = half_life.total_seconds()
    if seconds <= 0:
        raise ValueError(f"half_life must be positive, got {half_life}")
    end = to_seconds(as_of)
    mask = interactions.kind_mask(kinds) & (interactions.timestamps <= end)
    age = end - interactions.timestamps[mask]
    decayed = interactions.event_values()[mask] * np.exp2(-age / seconds)
    totals = np.asarray(
        np.bincount(interactions.items[mask], weights=decayed, minlength=interactions.n_items),
        dtype=np.float64,
    )
    return _ranking(totals, interactions.item_ids, categories, limit)


def new_arrivals(
    created_at: Mapping[Any, Timestamp],
    as_of: Timestamp,
    *,
    categories: Mapping[Any, Hashable] | None = None,
    limit: int = 100,
    max_age: timedelta | None = None,
) -> Ranking:
    """Items newest first, created at or before ``as_of`` (and within ``max_age``).

    The score is the creation time in unix seconds.
    """
    end = to_seconds(as_of)
    start = end - max_age.total_seconds() if max_age is not None else -np.inf
    item_ids = list(created_at)
    times = np.array([to_seconds(created_at[item]) for item in item_ids], dtype=np.float64)
    eligible = np.flatnonzero((times <= end) & (times > start))
    return _ranking(times, item_ids, categories, limit, eligible)


def _ranking(
    totals: npt.NDArray[np.float64],
    item_ids: tuple[ItemId, ...] | list[ItemId],
    categories: Mapping[Any, Hashable] | None,
    limit: int,
    eligible: npt.NDArray[np.intp] | None = None,
) -> Ranking:
    """Rank the ``eligible`` items (default: positive totals), best first, ties by index."""
    if limit < 0:
        raise ValueError(f"limit must be >= 0, got {limit}")
    if eligible is None:
        eligible = np.flatnonzero(totals > 0)
    order = eligible[np.lexsort((eligible, -totals[eligible]))]
    ranked = [(item_ids[i], float(totals[i])) for i in order.tolist()]
    by_category: dict[Hashable, RankedList] = {}
    if categories is not None:
        for item, score in ranked:
            category = categories.get(item)
            if category is None:
                continue
            bucket = by_category.setdefault(category, [])
            if len(bucket) < limit:
                bucket.append((item, score))
    return Ranking(ranked[:limit], by_category)
