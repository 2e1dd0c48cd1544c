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

With ``shoppers`` (the shopper of each basket), everything counts shoppers instead of
baskets: a pair counts once per shopper who had both items in one basket, however
often they did, and ``n_i`` is the number of shoppers with ``i`` in a basket. One
customer re-ordering the same food and the same fish-tank heater every month then
weighs as much as any other customer, not twelve of them.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from scipy import sparse

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
    shoppers: npt.NDArray[np.integer[Any]] | None = None,
    block_work: int = DEFAULT_BLOCK_WORK,
) -> NeighbourTable:
    """Top-``k`` co-occurring items per item of a groups x items 0/1 sparse matrix.

    ``shoppers[g]`` is the shopper of basket ``g``: counts are then per shopper (see the
    module docstring).
    """
    if normalisation not in ("cosine", "jaccard", "lift", "count"):
        raise ValueError(
            f"normalisation must be 'cosine', 'jaccard', 'lift' or 'count', got {normalisation!r}"
        )
    baskets = baskets.tocsr().astype(np.float32)
    baskets.sum_duplicates()
    baskets.data = np.ones_like(baskets.data)
    if shoppers is not None:
        together = _shopper_pairs(baskets, np.asarray(shoppers, dtype=np.int64))
        counts = together.diagonal().astype(np.float32)
        owners = np.asarray(shoppers, dtype=np.int64)
        n_baskets = float(np.unique(owners[np.diff(baskets.indptr) > 0]).size)
        left, right = together, sparse.identity(together.shape[0], dtype=np.float32, format="csr")
    else:
        left, right = baskets.T.tocsr(), baskets
        counts = np.diff(left.indptr).astype(np.float32)
        n_baskets = float(np.count_nonzero(np.diff(baskets.indptr)))
    indptr, indices, scores = top_k_products(
        left,
        right,
        k,
        adjust=_normaliser(normalisation, counts, n_baskets, min_count),
        block_work=block_work,
    )
    names = list(item_ids) if item_ids is not None else list(range(baskets.shape[1]))
    return NeighbourTable(names, indptr, indices, scores, k=k)


def _shopper_pairs(baskets: Any, shoppers: npt.NDArray[np.int64]) -> Any:
    """Items x items: how many shoppers had both items in one basket (diagonal: the item).

    Every ordered pair of every basket is listed (sum of squared basket sizes: fine for
    orders), deduplicated per shopper, then counted.
    """
    n_items = baskets.shape[1]
    lengths = np.diff(baskets.indptr)
    basket_of = np.repeat(np.arange(baskets.shape[0]), lengths)
    per_element = lengths[basket_of]
    total = int(per_element.sum())
    left = np.repeat(baskets.indices.astype(np.int64), per_element)
    offsets = np.arange(total, dtype=np.int64) - np.repeat(
        np.cumsum(per_element) - per_element, per_element
    )
    right = baskets.indices.astype(np.int64)[
        np.repeat(baskets.indptr[:-1][basket_of], per_element) + offsets
    ]
    owner = np.repeat(shoppers[basket_of], per_element)
    key = left * n_items + right
    # Distinct (shopper, pair): sort by both, keep the first of each run (no key packing,
    # so no overflow however many shoppers and items).
    order = np.lexsort((key, owner))
    key, owner = key[order], owner[order]
    first = np.ones(key.size, dtype=np.bool_)
    first[1:] = (key[1:] != key[:-1]) | (owner[1:] != owner[:-1])
    pairs = key[first]
    matrix = sparse.coo_array(
        (np.ones(pairs.size, dtype=np.float32), (pairs // n_items, pairs % n_items)),
        shape=(n_items, n_items),
    ).tocsr()
    matrix.sum_duplicates()
    return matrix


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
    per_shopper: bool = False,
    block_work: int = DEFAULT_BLOCK_WORK,
) -> NeighbourTable:
    """Top-``k`` items bought in the same orders as each item.

    ``per_shopper=True`` counts each pair once per shopper, so that a few customers
    re-ordering the same basket do not outweigh everyone else.
    """
    return co_occurrence(
        interactions.baskets(("purchase",)),
        item_ids=interactions.item_ids,
        k=k,
        normalisation=normalisation,
        min_count=min_count,
        shoppers=interactions.group_users() if per_shopper else None,
        block_work=block_work,
    )
