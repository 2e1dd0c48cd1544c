"""Similar items: item-item cosine similarity over BM25- or TF-IDF-weighted interactions.

Two items are similar when the same users interacted with both. Raw co-counts favour
blockbusters and heavy users, so the items x users matrix is first weighted the way
the ``implicit`` library's ``bm25_weight`` does (items are the documents, users the
terms):

* a user who touched few items says more about each of them (inverse document
  frequency ``log(N) - log1p(items the user touched)``);
* repeated interactions saturate (BM25's ``K1``), and items with long interaction
  lists are length-normalised (BM25's ``B``).

Each item's weighted row is then L2-normalised, so ``S = W @ W.T`` is the cosine
similarity, and only each item's top-K neighbours are kept. ``S`` is computed in blocks
of items (:func:`~personalize.recommendations.neighbours.top_k_products`), never as a
dense items x items matrix.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, Literal

import numpy as np

from personalize.recommendations.interactions import Interactions
from personalize.recommendations.neighbours import (
    DEFAULT_BLOCK_WORK,
    NeighbourTable,
    top_k_products,
)

__all__ = ["Weighting", "bm25_weight", "item_similarity", "similar_items", "tfidf_weight"]

Weighting = Literal["bm25", "tfidf", "none"]


def bm25_weight(item_users: Any, k1: float = 1.2, b: float = 0.75) -> Any:
    """BM25-weight an items x users sparse matrix (``implicit``'s ``bm25_weight``).

    ``w = x * (k1 + 1) / (k1 * length_norm[item] + x) * idf[user]`` with
    ``idf = log(n_items) - log1p(items the user touched)`` and
    ``length_norm = (1 - b) + b * row_sum / mean(row_sum)``. One deliberate difference:
    ``idf`` is clipped at 0, so a user who touched every item adds nothing rather than
    pushing similarities negative. Returns a new CSR matrix.
    """
    weighted = item_users.tocoo(copy=True)
    n_items = weighted.shape[0]
    idf = _idf(weighted, n_items)
    row_sums = np.asarray(item_users.sum(axis=1)).ravel()
    average = row_sums.mean() if row_sums.size else 0.0
    length_norm = (1.0 - b) + b * row_sums / average if average > 0 else np.ones_like(row_sums)
    data = weighted.data
    weighted.data = data * (k1 + 1.0) / (k1 * length_norm[weighted.row] + data) * idf[weighted.col]
    return weighted.tocsr()


def tfidf_weight(item_users: Any) -> Any:
    """TF-IDF-weight an items x users sparse matrix: ``sqrt(x) * idf[user]``."""
    weighted = item_users.tocoo(copy=True)
    weighted.data = np.sqrt(weighted.data) * _idf(weighted, weighted.shape[0])[weighted.col]
    return weighted.tocsr()


def _idf(coo: Any, n_items: int) -> Any:
    document_frequency = np.bincount(coo.col, minlength=coo.shape[1])
    return np.maximum(np.log(max(n_items, 1)) - np.log1p(document_frequency), 0.0)


def item_similarity(
    user_items: Any,
    *,
    item_ids: Collection[Any] | None = None,
    k: int = 50,
    weighting: Weighting = "bm25",
    k1: float = 1.2,
    b: float = 0.75,
    block_work: int = DEFAULT_BLOCK_WORK,
) -> NeighbourTable:
    """Top-``k`` cosine neighbours of each column of a users x items sparse matrix.

    ``item_ids`` names the columns (default: ``0..n_items-1``). ``weighting`` is
    ``"bm25"`` (default; ``k1``, ``b``), ``"tfidf"`` or ``"none"`` (plain cosine).
    """
    item_users = user_items.T.tocsr().astype(np.float64)
    if weighting == "bm25":
        weighted = bm25_weight(item_users, k1, b)
    elif weighting == "tfidf":
        weighted = tfidf_weight(item_users)
    elif weighting == "none":
        weighted = item_users
    else:
        raise ValueError(f"weighting must be 'bm25', 'tfidf' or 'none', got {weighting!r}")
    weighted.eliminate_zeros()
    norms = np.sqrt(np.asarray(weighted.multiply(weighted).sum(axis=1)).ravel())
    lengths = np.diff(weighted.indptr)
    safe = np.where(norms > 0, norms, 1.0)
    weighted.data = weighted.data / np.repeat(safe, lengths)
    weighted = weighted.astype(np.float32)
    indptr, indices, scores = top_k_products(weighted, weighted.T.tocsr(), k, block_work=block_work)
    names = list(item_ids) if item_ids is not None else list(range(weighted.shape[0]))
    if len(names) != weighted.shape[0]:
        raise ValueError(f"item_ids has {len(names)} ids for {weighted.shape[0]} items")
    # Rounding can push a self-similar pair a hair above 1.
    np.minimum(scores, 1.0, out=scores)
    return NeighbourTable(names, indptr, indices, scores, k=k)


def similar_items(
    interactions: Interactions,
    *,
    k: int = 50,
    weighting: Weighting = "bm25",
    k1: float = 1.2,
    b: float = 0.75,
    kinds: Collection[str] | None = None,
    block_work: int = DEFAULT_BLOCK_WORK,
) -> NeighbourTable:
    """Top-``k`` similar items per item, from all interactions (or those of ``kinds``).

    Views, cart adds and purchases all count, with the kind weights of
    ``interactions`` (by default a purchase says five times what a view says).
    """
    return item_similarity(
        interactions.matrix(kinds),
        item_ids=interactions.item_ids,
        k=k,
        weighting=weighting,
        k1=k1,
        b=b,
        block_work=block_work,
    )
