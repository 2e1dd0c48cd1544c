"""Deterministic assignment of visitors to variants, reproducing GrowthBook's SDKs.

A visitor's variant is a pure function of the experiment's seed and the visitor's id:
no state is stored, every app server agrees, and an analyst can recompute any
assignment offline. The functions below reproduce GrowthBook's ``hash``,
``getEqualWeights``, ``getBucketRanges``, ``chooseVariation`` and ``inNamespace``
exactly (checked against the vectors of GrowthBook's SDK test suite, spec 0.8.0), so
the same assignment can be recomputed with any GrowthBook SDK or a few lines in any
language.

The hash is 32-bit FNV-1a over the UTF-16 code units of the text, as in the
JavaScript SDK; for ids made of characters from the Basic Multilingual Plane (every
id this app generates) that is the same as hashing Unicode code points.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence

__all__ = [
    "assign_variant",
    "choose_variation",
    "get_bucket_ranges",
    "get_equal_weights",
    "hash",
    "in_namespace",
]

_FNV_OFFSET_BASIS = 0x811C9DC5
_FNV_PRIME = 0x01000193
_UINT32_MASK = 0xFFFFFFFF


def _code_units(text: str) -> Iterable[int]:
    if text.isascii():
        return text.encode("ascii")
    data = text.encode("utf-16-le")
    return struct.unpack(f"<{len(data) // 2}H", data)


def _fnv1a32(text: str) -> int:
    value = _FNV_OFFSET_BASIS
    for code_unit in _code_units(text):
        value = ((value ^ code_unit) * _FNV_PRIME) & _UINT32_MASK
    return value


def _hash_v2(seed: str, value: str) -> float:
    # Hashing the decimal string of a first hash spreads similar seeds and ids better
    # than version 1 did.
    return _fnv1a32(str(_fnv1a32(seed + value))) % 10000 / 10000


def hash(seed: str, value: str, version: int) -> float | None:
    """Hash ``value`` with ``seed`` to a number in [0, 1), as GrowthBook's SDKs do.

    Version 2 (the default for new experiments) is
    ``fnv1a32(str(fnv1a32(seed + value))) % 10000 / 10000``; version 1, kept for
    compatibility, is ``fnv1a32(value + seed) % 1000 / 1000``. Any other version
    returns ``None``.

    >>> hash("seed", "a", 2)
    0.0505
    """
    if version == 2:
        return _hash_v2(seed, value)
    if version == 1:
        return _fnv1a32(value + seed) % 1000 / 1000
    return None


def get_equal_weights(num_variations: int) -> list[float]:
    """Return ``num_variations`` equal weights summing to 1 (empty for fewer than one)."""
    if num_variations < 1:
        return []
    return [1 / num_variations] * num_variations


def get_bucket_ranges(
    num_variations: int, coverage: float = 1, weights: Sequence[float] | None = None
) -> list[tuple[float, float]]:
    """Return the ``[start, end)`` slice of the hash space that each variation gets.

    Variation ``i`` owns the slice starting at the sum of the earlier weights, of width
    ``coverage * weights[i]``; the rest of each weight is left to visitors outside the
    experiment. ``coverage`` is clamped to 0..1. ``weights`` that do not have one entry
    per variation or do not sum to 1 (within 0.99..1.01) fall back to equal weights,
    as in GrowthBook.
    """
    coverage = min(max(coverage, 0), 1)
    equal_weights = get_equal_weights(num_variations)
    if weights is None or len(weights) != num_variations:
        weights = equal_weights
    total = sum(weights)
    if total < 0.99 or total > 1.01:
        weights = equal_weights
    ranges: list[tuple[float, float]] = []
    cumulative: float = 0
    for weight in weights:
        start = cumulative
        cumulative += weight
        ranges.append((start, start + coverage * weight))
    return ranges


def choose_variation(n: float, ranges: Iterable[Sequence[float]]) -> int:
    """Return the index of the first ``[start, end)`` range containing ``n``, or -1."""
    for index, (start, end) in enumerate(ranges):
        if start <= n < end:
            return index
    return -1


def in_namespace(user_id: str, namespace: tuple[str, float, float]) -> bool:
    """Return whether ``user_id`` falls in ``namespace`` = ``(id, start, end)``.

    Experiments that share a namespace id but own disjoint ``[start, end)`` slices
    never see the same visitor.
    """
    namespace_id, start, end = namespace
    n = hash("__" + namespace_id, user_id, 1)
    return n is not None and start <= n < end


def assign_variant(
    seed: str, visitor_id: str, weights: Sequence[float], coverage: float = 1.0
) -> int:
    """Return the index of ``visitor_id``'s variant, or -1 when outside ``coverage``.

    Combines hash version 2, :func:`get_bucket_ranges` and :func:`choose_variation`
    exactly as GrowthBook does for an experiment whose seed (or key) is ``seed``, so
    ``assign_variant("welcome-popup", "v123", [0.5, 0.5])`` gives the same answer as a
    GrowthBook SDK evaluating that experiment for a visitor with id ``"v123"``.
    Invalid ``weights`` fall back to equal weights; no weights means no variant (-1).
    """
    n = _hash_v2(seed, visitor_id)
    return choose_variation(n, get_bucket_ranges(len(weights), coverage, weights))
