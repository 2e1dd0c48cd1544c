"""A bound that tells a hang from a slow machine, for tests on hostile input.

The tests that use it are not speed claims (``benchmarks/bench_untrusted_input.py``
measures speed, as ratios to a baseline in the same run). They guard against
catastrophic behaviour, exponential backtracking or quadratic scans of 100 kB to
1 MB inputs, which takes minutes to hours: a bound of many seconds catches that
and never trips because CI is busy.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

HANG_GUARD_SECONDS = 20.0


def finishes(call: Callable[[], T]) -> T:
    """Run ``call``; fail if it took longer than :data:`HANG_GUARD_SECONDS`."""
    started = time.perf_counter()
    result = call()
    elapsed = time.perf_counter() - started
    assert elapsed < HANG_GUARD_SECONDS, f"took {elapsed:.1f} s: catastrophic on this input"
    return result
