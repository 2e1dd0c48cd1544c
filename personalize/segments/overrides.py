"""Forcing segment membership: for shops' tests (``override_segment``) and staff preview."""

from __future__ import annotations

import threading
from collections.abc import Iterable

_state = threading.local()


def _stack() -> list[tuple[frozenset[str], frozenset[str]]]:
    stack: list[tuple[frozenset[str], frozenset[str]]] | None = getattr(_state, "stack", None)
    if stack is None:
        stack = []
        _state.stack = stack
    return stack


def push(active: Iterable[str], inactive: Iterable[str]) -> None:
    _stack().append((frozenset(active), frozenset(inactive)))


def pop() -> None:
    _stack().pop()


def apply_overrides(matched: list[str]) -> list[str]:
    """The matched slugs with every active override applied, innermost last."""
    result = list(matched)
    for active, inactive in _stack():
        result = [slug for slug in result if slug not in inactive]
        result += sorted(slug for slug in active if slug not in result)
    return result
