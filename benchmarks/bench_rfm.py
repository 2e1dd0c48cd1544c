"""Benchmark: RFM scoring of 100,000 customers.

Times ``score_customers`` (and eRFM's ``engagement_scores``) on synthetic customers from
a seeded RNG: a skewed order count (most customers order once), ``Decimal`` amounts
with many ties, and recency spread over two years. Prints the median wall time of
several runs after a warm-up.

Run: ``python benchmarks/bench_rfm.py [--customers N] [--runs N]``
"""

from __future__ import annotations

import argparse
import platform
import random
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from personalize.rfm import engagement_scores, score_customers

AS_OF = datetime(2025, 3, 1, tzinfo=UTC)

Row = tuple[str, datetime, int, Decimal]


def make_customers(count: int, seed: int = 20250301) -> list[Row]:
    """Build ``(customer_id, last_order_at, orders_count, monetary)`` rows."""
    rng = random.Random(seed)
    rows = []
    for index in range(count):
        orders_count = min(1 + int(rng.expovariate(0.6)), 60)
        basket = Decimal(rng.choice([1990, 2490, 3500, 4999, 7500, 12000])) / 100
        rows.append(
            (
                f"cust-{index:07d}",
                AS_OF - timedelta(days=rng.randint(0, 730), seconds=rng.randint(0, 86_399)),
                orders_count,
                basket * orders_count,
            )
        )
    rng.shuffle(rows)
    return rows


def median_seconds(run: Callable[[], object], runs: int) -> float:
    run()  # warm-up
    samples = []
    for _ in range(runs):
        started = time.perf_counter_ns()
        run()
        samples.append(time.perf_counter_ns() - started)
    return statistics.median(samples) / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=7)
    arguments = parser.parse_args()

    rows = make_customers(arguments.customers)
    engagement_rows = [(customer_id, float(orders * 3)) for customer_id, _, orders, _ in rows]

    scores = score_customers(rows, AS_OF)
    assert len(scores) == arguments.customers
    segments = Counter(score.segment for score in scores.values())

    rfm_seconds = median_seconds(lambda: score_customers(rows, AS_OF), arguments.runs)
    engagement_seconds = median_seconds(lambda: engagement_scores(engagement_rows), arguments.runs)

    print(
        f"Python {platform.python_version()} on {platform.machine()}; "
        f"{arguments.customers:,} customers; median of {arguments.runs} runs after a warm-up"
    )
    print()
    print("| function | median seconds | µs per customer |")
    print("|---|---:|---:|")
    for name, seconds in (
        ("score_customers (R, F, M, segment)", rfm_seconds),
        ("engagement_scores (eRFM's E)", engagement_seconds),
    ):
        print(f"| {name} | {seconds:.3f} | {seconds / arguments.customers * 1e6:.2f} |")
    print()
    print("Segments: " + ", ".join(f"{name} {count}" for name, count in segments.most_common()))


if __name__ == "__main__":
    main()
