"""The last step before a widget renders: exclusions, fill from a fallback, minimum count."""

from __future__ import annotations

from collections.abc import Container, Iterable

from personalize.recommendations.interactions import ItemId

__all__ = ["filter_ranked"]


def filter_ranked(
    ranked: Iterable[ItemId],
    *,
    exclude: Iterable[Container[ItemId]] = (),
    fallback: Iterable[ItemId] = (),
    limit: int = 10,
    minimum: int = 1,
) -> list[ItemId]:
    """The first ``limit`` items of ``ranked``, then of ``fallback``, that no set excludes.

    ``exclude`` is a list of sets (cart, purchased, out of stock, ``{current_item}``...),
    checked one by one so that a large set such as "out of stock" is never copied.
    Duplicates are dropped. Both iterables are read lazily and only as far as needed,
    so ``fallback`` can be a long bestseller list. Fewer than ``minimum`` items after
    the fill returns ``[]``: a widget with one lonely product is better hidden.
    """
    if limit < 0 or minimum < 0:
        raise ValueError(f"limit and minimum must be >= 0, got {limit} and {minimum}")
    if minimum > limit:
        raise ValueError(f"minimum ({minimum}) cannot exceed limit ({limit})")
    exclusions = list(exclude)
    chosen: dict[ItemId, None] = {}
    for source in (ranked, fallback):
        if len(chosen) >= limit:
            break
        for item in source:
            if item in chosen or any(item in excluded for excluded in exclusions):
                continue
            chosen[item] = None
            if len(chosen) >= limit:
                break
    return list(chosen) if len(chosen) >= minimum else []
