"""Serving-time scoring: a visitor's items x a neighbour table -> ranked item ids.

These run on the request path, so they are plain Python over small inputs (a history
of ~20 items, ~50 neighbours each): no numpy, one dict of candidates and a short sort. The
``table`` argument is any ``Mapping[item_id, (neighbour_ids, scores)]``: a
:class:`~personalize.recommendations.neighbours.NeighbourTable`, or a dict of the
rows the caller fetched from its cache for just these items.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Container, Hashable, Iterable, Mapping, Sequence
from datetime import timedelta
from operator import itemgetter
from typing import Any, TypeAlias, TypeVar

from personalize.recommendations.interactions import Timestamp, to_seconds

__all__ = [
    "NeighbourRows",
    "cart_cross_sell",
    "personalised",
    "recency_weighted",
    "score_neighbours",
]

_Item = TypeVar("_Item", bound=Hashable)
_Category = TypeVar("_Category", bound=Hashable)

#: What the scoring functions read: item id -> (neighbour ids, scores), best first.
NeighbourRows: TypeAlias = Mapping[_Item, tuple[Sequence[_Item], Sequence[float]]]

_score = itemgetter(1)


def recency_weighted(
    history: Iterable[tuple[_Item, Timestamp]],
    as_of: Timestamp,
    *,
    half_life: timedelta = timedelta(days=1),
) -> list[tuple[_Item, float]]:
    """Turn ``(item_id, seen_at)`` pairs into ``(item_id, weight)`` for :func:`personalised`.

    An item seen now weighs 1, one half-life ago 0.5; an item seen several times sums
    its weights. Times after ``as_of`` count as now. Order: first occurrence.
    """
    seconds = half_life.total_seconds()
    if seconds <= 0:
        raise ValueError(f"half_life must be positive, got {half_life}")
    end = to_seconds(as_of)
    weights: dict[_Item, float] = {}
    for item, seen_at in history:
        age = max(end - to_seconds(seen_at), 0.0)
        weights[item] = weights.get(item, 0.0) + math.exp2(-age / seconds)
    return list(weights.items())


def score_neighbours(
    weighted_items: Iterable[tuple[_Item, float]],
    table: NeighbourRows[_Item],
    *,
    exclude: Container[_Item] = frozenset(),
    limit: int | None = 20,
) -> list[tuple[_Item, float]]:
    """Sum ``weight x neighbour score`` over the items' neighbours; best ``limit`` first.

    Items in ``exclude`` are never returned. Equal scores keep the order in which the
    candidates were first met, so results are deterministic.
    """
    scores = _accumulate(weighted_items, table)
    for item in [item for item in scores if item in exclude]:
        del scores[item]
    return _top(scores, limit)


def _accumulate(
    weighted_items: Iterable[tuple[_Item, float]], table: NeighbourRows[_Item]
) -> dict[_Item, float]:
    # The hot loop of every request: local names, no attribute lookups inside.
    scores: dict[_Item, float] = {}
    get = scores.get
    row_of = table.get
    for item, weight in weighted_items:
        row = row_of(item)
        if row is not None:
            for neighbour, similarity in zip(row[0], row[1], strict=False):
                scores[neighbour] = get(neighbour, 0.0) + weight * similarity
    return scores


def _top(scores: dict[_Item, float], limit: int | None) -> list[tuple[_Item, float]]:
    """The best ``limit`` (all for ``None``) of ``scores``, ties in first-met order."""
    if limit is not None and len(scores) > limit:
        if limit <= 0:
            return []
        # A request has ~1,000 candidates and wants ~20: sort only those that can make it.
        kth = heapq.nlargest(limit, scores.values())[-1]
        candidates = [(item, score) for item, score in scores.items() if score >= kth]
    else:
        candidates = list(scores.items())
    # sorted() with reverse=True is stable: equal scores keep first-met order.
    ranked = sorted(candidates, key=_score, reverse=True)
    return ranked if limit is None else ranked[:limit]


def personalised(
    history: Sequence[tuple[_Item, float]],
    similar: NeighbourRows[_Item],
    *,
    limit: int = 20,
    item_categories: Mapping[Any, _Category] | None = None,
    category_affinity: Mapping[_Category, float] | None = None,
    category_boost: float = 0.5,
    exclude_history: bool = True,
) -> list[_Item]:
    """Items similar to the visitor's recent history: "recommended for you".

    ``history`` is ``(item_id, weight)`` pairs (see :func:`recency_weighted`); a
    candidate scores the sum of its similarity to each history item times that item's
    weight. With ``category_affinity`` (category -> score, e.g. time-decayed category
    views) and ``item_categories``, a candidate's score is multiplied by
    ``1 + category_boost * affinity / max(affinity)``: the boost reorders candidates
    towards the visitor's favourite categories, it never adds items the history does
    not lead to.

    Returns ``[]`` for an empty history (cold start): the caller falls back to
    trending or bestsellers.
    """
    if category_boost < 0:
        raise ValueError(f"category_boost must be >= 0, got {category_boost}")
    if not history:
        return []
    scores = _accumulate(history, similar)
    if exclude_history:
        for item, _ in history:
            scores.pop(item, None)
    multipliers = _category_multipliers(category_affinity, category_boost)
    if item_categories is None or not multipliers:
        return [item for item, _ in _top(scores, limit)]
    # No multiplier exceeds 1 + category_boost, so a candidate scoring below the
    # limit-th score divided by that can never overtake the unboosted top ``limit``:
    # only the others need a category lookup (a cache miss in a big catalogue mapping).
    if limit <= 0:
        return []
    contenders = scores
    if len(scores) > limit:
        cutoff = heapq.nlargest(limit, scores.values())[-1] / (1.0 + category_boost)
        contenders = {item: score for item, score in scores.items() if score >= cutoff}
    category_of = item_categories.get
    multiplier_of = multipliers.get
    for item, score in contenders.items():
        category = category_of(item)
        multiplier = None if category is None else multiplier_of(category)
        if multiplier is not None:
            contenders[item] = score * multiplier
    return [item for item, _ in _top(contenders, limit)]


def _category_multipliers(
    category_affinity: Mapping[_Category, float] | None, category_boost: float
) -> dict[_Category, float]:
    """Category -> ``1 + category_boost * affinity / max(affinity)``, positive ones only."""
    if not category_affinity or not category_boost:
        return {}
    top = max(category_affinity.values())
    if top <= 0:
        return {}
    factor = category_boost / top
    return {
        category: 1.0 + factor * affinity
        for category, affinity in category_affinity.items()
        if affinity > 0
    }


def cart_cross_sell(
    cart: Iterable[_Item],
    bought_together: NeighbourRows[_Item],
    *,
    limit: int = 10,
) -> list[_Item]:
    """Items bought with the cart's items, by summed co-purchase score; none in the cart."""
    items = list(dict.fromkeys(cart))
    ranked = score_neighbours(
        ((item, 1.0) for item in items), bought_together, exclude=set(items), limit=limit
    )
    return [item for item, _ in ranked]
