"""Top-K neighbour tables: what item-item training produces and serving reads.

A :class:`NeighbourTable` holds, for every item, its best ``k`` neighbour items and
their scores, as three CSR-style arrays (``indptr``, ``indices``, ``scores``). That is
compact (50,000 items x 50 neighbours is 20 MB), serialisable (:meth:`NeighbourTable.to_dict`
is JSON-ready when item ids are) and, as a read-only ``Mapping`` from item id to
:class:`Neighbours`, usable directly by the serving functions in
:mod:`personalize.recommendations.scoring`.

:func:`top_k_products` computes such a table from a sparse product ``left @ right``
in blocks of rows, so that the full items x items product never exists in memory.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Final, NamedTuple, overload

import numpy as np
import numpy.typing as npt

from personalize.recommendations.interactions import ItemId

__all__ = ["NeighbourTable", "Neighbours", "top_k_products"]

#: Work (multiply-adds) per block of rows in :func:`top_k_products`. The block's
#: product has at most this many entries; with the sort that follows, a block costs
#: roughly 40 bytes per entry, so ~400 MB at worst.
DEFAULT_BLOCK_WORK: Final = 10_000_000

#: ``adjust(rows, columns, values)`` -> new values for the entries of a product block.
Adjust = Callable[
    [npt.NDArray[np.int64], npt.NDArray[np.int32], npt.NDArray[np.float32]],
    npt.NDArray[np.float32],
]


class Neighbours(NamedTuple):
    """An item's neighbours, best first, and their scores (plain Python values)."""

    items: Sequence[ItemId]
    scores: Sequence[float]


_NO_NEIGHBOURS: Final = Neighbours((), ())


class NeighbourTable(Mapping[ItemId, Neighbours]):
    """Top-``k`` neighbours per item: a read-only mapping ``item id -> Neighbours``.

    Items without any neighbour are not keys (``table.get(item)`` is ``None``).
    Neighbours of item index ``i`` are ``indices[indptr[i]:indptr[i + 1]]`` (indices
    into :attr:`item_ids`), best first, with ``scores`` alongside. Looking an item up
    converts its row to Python tuples once and caches it, because serving code adds
    Python floats far faster than numpy scalars. The cache grows with the items looked
    up, to about 45 bytes per neighbour once every row has been read (~110 MB for
    50,000 items x 50): a process serving a big table for long may prefer to keep the
    rows in its cache store and pass a dict of the few it needs per request.
    """

    def __init__(
        self,
        item_ids: Sequence[ItemId],
        indptr: npt.NDArray[np.int64],
        indices: npt.NDArray[np.int32],
        scores: npt.NDArray[np.float32],
        *,
        k: int,
    ) -> None:
        if len(indptr) != len(item_ids) + 1 or len(indices) != len(scores):
            raise ValueError("indptr must have len(item_ids) + 1 entries, indices one per score")
        self.item_ids: tuple[ItemId, ...] = tuple(item_ids)
        self.indptr = np.asarray(indptr, dtype=np.int64)
        self.indices = np.asarray(indices, dtype=np.int32)
        self.scores = np.asarray(scores, dtype=np.float32)
        self.k = k
        self._index: dict[ItemId, int] = {item: i for i, item in enumerate(self.item_ids)}
        self._rows: dict[ItemId, Neighbours] = {}
        self._keys: list[ItemId] | None = None

    def __repr__(self) -> str:
        return f"<NeighbourTable: {len(self)} of {len(self.item_ids)} items, k={self.k}>"

    def __getitem__(self, item: ItemId) -> Neighbours:
        row = self.get(item)
        if row is None:
            raise KeyError(item)
        return row

    @overload
    def get(self, item: ItemId, /) -> Neighbours | None: ...
    @overload
    def get(self, item: ItemId, /, default: Neighbours) -> Neighbours: ...
    @overload
    def get(self, item: ItemId, /, default: Any) -> Any: ...

    def get(self, item: ItemId, /, default: Any = None) -> Any:
        # Overridden (Mapping.get goes through KeyError) because serving calls it per
        # history item and misses are common.
        row = self._rows.get(item)
        if row is not None:
            return row
        index = self._index.get(item)
        if index is None:
            return default
        start, end = self.indptr[index], self.indptr[index + 1]
        if start == end:
            return default
        ids = self.item_ids
        row = Neighbours(
            tuple(ids[j] for j in self.indices[start:end].tolist()),
            tuple(self.scores[start:end].tolist()),
        )
        self._rows[item] = row
        return row

    def __iter__(self) -> Iterator[ItemId]:
        return iter(self._non_empty())

    def __len__(self) -> int:
        return len(self._non_empty())

    def __contains__(self, item: object) -> bool:
        index = self._index.get(item)
        return index is not None and bool(self.indptr[index + 1] > self.indptr[index])

    def _non_empty(self) -> list[ItemId]:
        if self._keys is None:
            counts = np.diff(self.indptr)
            self._keys = [self.item_ids[i] for i in np.flatnonzero(counts).tolist()]
        return self._keys

    def neighbours(self, item: ItemId, limit: int | None = None) -> Neighbours:
        """``item``'s neighbours, at most ``limit`` of them; empty for unknown items."""
        row = self.get(item, _NO_NEIGHBOURS)
        if limit is not None and len(row.items) > limit:
            return Neighbours(row.items[:limit], row.scores[:limit])
        return row

    @property
    def nnz(self) -> int:
        """How many (item, neighbour) pairs the table holds."""
        return len(self.indices)

    def to_dict(self) -> dict[str, Any]:
        """The table as lists and numbers: JSON-ready when item ids are (str/int)."""
        return {
            "k": self.k,
            "item_ids": list(self.item_ids),
            "indptr": self.indptr.tolist(),
            "indices": self.indices.tolist(),
            "scores": self.scores.tolist(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> NeighbourTable:
        """Rebuild a table from :meth:`to_dict`'s output."""
        return cls(
            data["item_ids"],
            np.asarray(data["indptr"], dtype=np.int64),
            np.asarray(data["indices"], dtype=np.int32),
            np.asarray(data["scores"], dtype=np.float32),
            k=int(data["k"]),
        )


def top_k_products(
    left: Any,
    right: Any,
    k: int,
    *,
    adjust: Adjust | None = None,
    block_work: int = DEFAULT_BLOCK_WORK,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int32], npt.NDArray[np.float32]]:
    """Top-``k`` columns of each row of ``left @ right``, as ``(indptr, indices, scores)``.

    ``left`` is an ``n x f`` and ``right`` an ``f x n`` scipy CSR matrix, so the product
    is square (items x items) and its diagonal is skipped: an item is not its own
    neighbour. ``adjust`` rescales a block's entries (e.g. a normalisation that needs
    both items' counts); entries that end up ``<= 0`` or not finite are dropped. Ties
    go to the lower column index, so results are deterministic.

    Rows are processed in blocks whose multiply-add count stays under ``block_work``
    (a single heavier row makes its own block), which bounds memory independently of
    the number of items.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    n = left.shape[0]
    if right.shape[1] != n:
        raise ValueError(f"left @ right must be square, got {left.shape} @ {right.shape}")
    pattern = left.copy()
    pattern.data = np.ones_like(pattern.data)
    # A row's work is the sum, over its non-zero columns f, of right's row f length.
    work = np.asarray(pattern @ np.diff(right.indptr).astype(np.float64))
    cumulative = np.cumsum(work)

    pieces_indices: list[npt.NDArray[np.int32]] = []
    pieces_scores: list[npt.NDArray[np.float32]] = []
    counts = np.zeros(n, dtype=np.int64)
    start = 0
    while start < n:
        done = cumulative[start - 1] if start else 0.0
        end = int(np.searchsorted(cumulative, done + block_work, side="right"))
        end = min(max(end, start + 1), n)
        block_indices, block_scores, block_counts = _block_top_k(
            left[start:end] @ right, start, k, adjust
        )
        pieces_indices.append(block_indices)
        pieces_scores.append(block_scores)
        counts[start:end] = block_counts
        start = end

    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    indices = np.concatenate(pieces_indices) if pieces_indices else np.zeros(0, np.int32)
    scores = np.concatenate(pieces_scores) if pieces_scores else np.zeros(0, np.float32)
    return indptr, indices.astype(np.int32), scores.astype(np.float32)


def _block_top_k(
    block: Any, offset: int, k: int, adjust: Adjust | None
) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.float32], npt.NDArray[np.int64]]:
    """Top-``k`` entries of each row of a CSR block whose first row is item ``offset``."""
    n_rows = block.shape[0]
    rows = np.repeat(np.arange(offset, offset + n_rows, dtype=np.int64), np.diff(block.indptr))
    columns = block.indices.astype(np.int32, copy=False)
    values = block.data.astype(np.float32, copy=False)
    if adjust is not None:
        values = adjust(rows, columns, values).astype(np.float32, copy=False)
    keep = (columns != rows) & (values > 0) & np.isfinite(values)
    rows, columns, values = rows[keep], columns[keep], values[keep]
    per_row = np.bincount(rows - offset, minlength=n_rows)
    # Cut rows with more than k entries down to k before sorting: sorting every entry
    # of a heavy block costs far more than a partition per heavy row.
    heavy = np.flatnonzero(per_row > k)
    if heavy.size:
        starts = np.concatenate(([0], np.cumsum(per_row)))
        selected = np.ones(len(values), dtype=np.bool_)
        for row in heavy.tolist():
            start, end = int(starts[row]), int(starts[row + 1])
            selected[start:end] = _k_largest(values[start:end], columns[start:end], k)
        rows, columns, values = rows[selected], columns[selected], values[selected]
        per_row = np.minimum(per_row, k)
    # Sort by row, then score descending, then column ascending (the tie-break).
    order = np.lexsort((columns, -values, rows))
    return columns[order], values[order], per_row


def _k_largest(
    values: npt.NDArray[np.float32], columns: npt.NDArray[np.int32], k: int
) -> npt.NDArray[np.bool_]:
    """Mask of the ``k`` largest values; ties at the cut go to the lowest columns."""
    cut = len(values) - k
    threshold = np.partition(values, cut)[cut]
    mask: npt.NDArray[np.bool_] = values > threshold
    missing = k - int(np.count_nonzero(mask))
    if missing:
        ties = np.flatnonzero(values == threshold)
        mask[ties[np.argsort(columns[ties], kind="stable")[:missing]]] = True
    return mask
