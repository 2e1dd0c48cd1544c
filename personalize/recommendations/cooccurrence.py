"""Viewed together and bought together: items that share visits or orders.

A *basket* is a group of events: a visit for "viewed together", an order for "bought
together". With ``B`` the groups x items 0/1 matrix, ``C = B.T @ B`` counts, for each
pair of items, the baskets holding both, and ``n_i`` (the diagonal) the baskets
holding item ``i``. Raw counts make every item's top neighbour a blockbuster, so the
counts are normalised by popularity before the top-K cut:

``"cosine"`` (default)
    ``c_ij / sqrt(n_i * n_j)``: the Ochiai coefficient; symmetric, in ``[0, 1]``.
``"jaccard"``
    ``c_ij / (n_i + n_j - c_ij)``: share of baskets with either item that hold both.
``"lift"``
    ``c_ij * G / (n_i * n_j)``: how much more often than chance (``G`` baskets);
    unbounded and noisy for rare items, so pair it with ``min_count``.
``"count"``
    ``c_ij`` unnormalised, for diagnostics.

Pairs seen together in fewer than ``min_count`` baskets are dropped.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from personalize.recommendations.interactions import Interactions, ItemId
from personalize.recommendations.neighbours import (
    DEFAULT_BLOCK_WORK,
    Adjust,
    NeighbourTable,
    top_k_products,
)

__all__ = ["Normalisation", "bought_together", "co_occurrence", "viewed_together"]

Normalisation = Literal["cosine", "jaccard", "lift", "count"]


def co_occurrence(
    baskets: Any,
    *,
    item_ids: Sequence[ItemId] | None = None,
    k: int = 50,
    normalisation: Normalisation = "cosine",
    min_count: int = 1,
    block_work: int = DEFAULT_BLOCK_WORK,
) -> NeighbourTable:
    """Top-``k`` co-occurring items per item of a groups x items 0/1 sparse matrix."""
    if normalisation not in ("cosine", "jaccard", "lift", "count"):
        raise ValueError(
            f"normalisation must be 'cosine', 'jaccard', 'lift' or 'count', got {normalisation!r}"
        )
    baskets = baskets.tocsr().astype(np.float32)
    baskets.data = np.ones_like(baskets.data)
    item_baskets = baskets.T.tocsr()
    counts = np.diff(item_baskets.indptr).astype(np.float32)
    n_baskets = float(np.count_nonzero(np.diff(baskets.indptr)))
    indptr, indices, scores = top_k_products(
        item_baskets,
        baskets,
        k,
        adjust=_normaliser(normalisation, counts, n_baskets, min_count),
        block_work=block_work,
    )
    names = list(item_ids) if item_ids is not None else list(range(baskets.shape[1]))
    return NeighbourTable(names, indptr, indices, scores, k=k)


def _normaliser(
    normalisation: Normalisation,
    counts: npt.NDArray[np.float32],
    n_baskets: float,
    min_count: int,
) -> Adjust:
    def adjust(
        rows: npt.NDArray[np.int64],
        columns: npt.NDArray[np.int32],
        together: npt.NDArray[np.float32],
    ) -> npt.NDArray[np.float32]:
        n_i, n_j = counts[rows], counts[columns]
        if normalisation == "cosine":
            scores = together / np.sqrt(n_i * n_j)
        elif normalisation == "jaccard":
            scores = together / (n_i + n_j - together)
        elif normalisation == "lift":
            scores = together * np.float32(n_baskets) / (n_i * n_j)
        else:
            scores = together
        # Zeroed entries are dropped by top_k_products.
        result: npt.NDArray[np.float32] = np.where(together >= min_count, scores, 0.0).astype(
            np.float32
        )
        return result

    return adjust


def viewed_together(
    interactions: Interactions,
    *,
    k: int = 50,
    normalisation: Normalisation = "cosine",
    min_count: int = 1,
    kinds: Collection[str] = ("view",),
    block_work: int = DEFAULT_BLOCK_WORK,
) -> NeighbourTable:
    """Top-``k`` items viewed in the same visits as each item.

    ``kinds=("view", "cart")`` also counts cart adds made during the visit.
    """
    return co_occurrence(
        interactions.baskets(kinds),
        item_ids=interactions.item_ids,
        k=k,
        normalisation=normalisation,
        min_count=min_count,
        block_work=block_work,
    )


def bought_together(
    interactions: Interactions,
    *,
    k: int = 50,
    normalisation: Normalisation = "cosine",
    min_count: int = 1,
    block_work: int = DEFAULT_BLOCK_WORK,
) -> NeighbourTable:
    """Top-``k`` items bought in the same orders as each item."""
    return co_occurrence(
        interactions.baskets(("purchase",)),
        item_ids=interactions.item_ids,
        k=k,
        normalisation=normalisation,
        min_count=min_count,
        block_work=block_work,
    )
