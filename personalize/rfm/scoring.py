"""RFM and eRFM scoring: quintile scores by rank, and the ten standard RFM segments.

Each customer gets a 1-5 score for recency (R), frequency (F) and monetary value (M).
Scores are quintiles of the customer's *rank*, not of the raw values, so that heavy
ties (most shops have many one-order customers) still spread customers over all five
scores:

1. order customers by the metric ascending, ties broken by ``customer_id`` ascending,
   and number them 1..N;
2. the score of rank ``k`` is ``max(1, ceil(5 * (k - 1) / (N - 1)))`` for N > 1 and 1
   for N = 1 — exactly what ``pandas.qcut(ranks, 5, labels=[1, 2, 3, 4, 5])`` gives;
3. recency is measured in whole days since the last order and reversed (R = 6 - score)
   so that the most recent customers get R = 5.

The segment comes from R and F (see :data:`SEGMENTS` and :func:`segment_for`). eRFM's
engagement score (:func:`engagement_scores`) applies the same rank quintiles to an
on-site engagement value.
"""

from __future__ import annotations

import itertools
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from types import MappingProxyType
from typing import TYPE_CHECKING, Final, TypeVar

if TYPE_CHECKING:
    from _typeshed import SupportsRichComparison

    CustomerId = TypeVar("CustomerId", bound=SupportsRichComparison)
else:
    CustomerId = TypeVar("CustomerId", bound=Hashable)

__all__ = ["SEGMENTS", "RFMScore", "engagement_scores", "score_customers", "segment_for"]

#: Segment slug -> human label, from the best customers to the least engaged.
SEGMENTS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "champions": "Champions",
        "loyal": "Loyal",
        "potential_loyalists": "Potential loyalists",
        "new_customers": "New customers",
        "promising": "Promising",
        "need_attention": "Need attention",
        "about_to_sleep": "About to sleep",
        "at_risk": "At risk",
        "cant_lose": "Can't lose",
        "hibernating": "Hibernating",
    }
)

# (segment, R scores, F scores): together the rules cover each of the 25 R x F cells once.
_SEGMENT_RULES: Final = (
    ("champions", (5,), (4, 5)),
    ("loyal", (3, 4), (4, 5)),
    ("potential_loyalists", (4, 5), (2, 3)),
    ("new_customers", (5,), (1,)),
    ("promising", (4,), (1,)),
    ("need_attention", (3,), (3,)),
    ("about_to_sleep", (3,), (1, 2)),
    ("at_risk", (1, 2), (3, 4)),
    ("cant_lose", (1, 2), (5,)),
    ("hibernating", (1, 2), (1, 2)),
)

_SEGMENT_BY_SCORES: Final[Mapping[tuple[int, int], str]] = {
    (r, f): slug
    for slug, recency_scores, frequency_scores in _SEGMENT_RULES
    for r in recency_scores
    for f in frequency_scores
}


@dataclass(frozen=True, slots=True)
class RFMScore:
    """One customer's RFM scores (each 1-5, 5 best), segment slug and recency in days."""

    r: int
    f: int
    m: int
    segment: str
    recency_days: int


def segment_for(r: int, f: int) -> str:
    """Return the segment slug for recency score ``r`` and frequency score ``f`` (1-5)."""
    try:
        return _SEGMENT_BY_SCORES[(r, f)]
    except KeyError:
        raise ValueError(f"RFM scores must be whole numbers 1-5, got r={r!r}, f={f!r}") from None


def score_customers(
    rows: Iterable[tuple[CustomerId, datetime, int, float | Decimal]], as_of: datetime
) -> dict[CustomerId, RFMScore]:
    """Score customers from ``(customer_id, last_order_at, orders_count, monetary)`` rows.

    ``as_of`` is the moment recency is measured from (``(as_of - last_order_at).days``);
    pass the same kind of datetime (aware or naive) as the rows. Customer ids must be
    unique and comparable with each other (they break ties). ``monetary`` may mix
    ``float`` and ``Decimal``; values are ranked exactly, never rounded. Raises
    ``ValueError`` for a repeated customer id or a NaN amount.
    """
    customer_ids: list[CustomerId] = []
    recency_days: list[int] = []
    orders_counts: list[int] = []
    monetary_values: list[float | Decimal] = []
    for customer_id, last_order_at, orders_count, monetary in rows:
        _check_number(customer_id, "monetary", monetary)
        customer_ids.append(customer_id)
        recency_days.append((as_of - last_order_at).days)
        orders_counts.append(orders_count)
        monetary_values.append(monetary)

    id_order = _positions_by_id(customer_ids)
    recency_groups = _rank_quintiles(recency_days, id_order)
    frequency_groups = _rank_quintiles(orders_counts, id_order)
    monetary_groups = _rank_quintiles(monetary_values, id_order)

    scores: dict[CustomerId, RFMScore] = {}
    for position, customer_id in enumerate(customer_ids):
        # Fewest days since the last order ranks first, so it is reversed into R = 5.
        r = 6 - recency_groups[position]
        f = frequency_groups[position]
        scores[customer_id] = RFMScore(
            r=r,
            f=f,
            m=monetary_groups[position],
            segment=_SEGMENT_BY_SCORES[(r, f)],
            recency_days=recency_days[position],
        )
    return scores


def engagement_scores(
    rows: Iterable[tuple[CustomerId, float | Decimal]],
) -> dict[CustomerId, int]:
    """Return eRFM's engagement score (1-5, 5 most engaged) per customer.

    ``rows`` are ``(customer_id, engagement_value)``; scores are the same rank
    quintiles as F and M in :func:`score_customers`.
    """
    customer_ids: list[CustomerId] = []
    values: list[float | Decimal] = []
    for customer_id, value in rows:
        _check_number(customer_id, "engagement value", value)
        customer_ids.append(customer_id)
        values.append(value)
    groups = _rank_quintiles(values, _positions_by_id(customer_ids))
    return dict(zip(customer_ids, groups, strict=True))


def _check_number(customer_id: object, name: str, value: float | Decimal) -> None:
    # NaN is unordered: it would silently scramble the sort, so reject it up front.
    if value != value:
        raise ValueError(f"{name} for customer {customer_id!r} is NaN; pass a number")


def _positions_by_id(customer_ids: Sequence[CustomerId]) -> list[int]:
    """Return row positions ordered by customer id, rejecting repeated ids."""
    id_order = sorted(range(len(customer_ids)), key=customer_ids.__getitem__)
    for previous, current in itertools.pairwise(id_order):
        if customer_ids[previous] == customer_ids[current]:
            raise ValueError(
                f"customer {customer_ids[current]!r} appears more than once; "
                "pass one row per customer"
            )
    return id_order


def _rank_quintiles(values: Sequence[int | float | Decimal], id_order: list[int]) -> list[int]:
    """Return the rank quintile (1-5) of each position's value, ties broken by id.

    Python's sort is stable, so sorting positions that are already in id order by value
    alone ranks equal values by id — exactly, for any mix of int, float and Decimal.
    """
    count = len(values)
    rank_order = sorted(id_order, key=values.__getitem__)
    groups = [1] * count
    if count > 1:
        last_rank = count - 1
        for rank, position in enumerate(rank_order):
            # ceil(5 * rank / last_rank) in integer arithmetic: no float rounding at the edges.
            groups[position] = max(1, -(-5 * rank // last_rank))
    return groups
