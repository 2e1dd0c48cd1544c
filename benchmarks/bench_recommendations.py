"""Benchmark: recommendation training at 1M interactions, serving latency, and quality.

    .venv/bin/python benchmarks/bench_recommendations.py [--events 1000000] [--items 50000]
        [--calls 10000] [--sessions-mean 2.5] [--skip-quality]

1. Training: a seeded synthetic log (``personalize.recommendations.synthetic``) of
   ``--events`` interactions (views, cart adds, purchases) over ``--items`` items. Times
   indexing the events and building the three top-50 tables (similar items, viewed
   together, bought together) in a fresh process, whose peak RSS is reported, then
   repeats the work under ``tracemalloc`` for the peak memory each step allocates.
2. Serving: ``personalised()`` with 20 history items and K=50 neighbours per item,
   reading the trained similar-items table, over ``--calls`` calls with varied
   histories; median and p95 in microseconds. Also the whole request step (recency
   weights, scoring, filters) and the same scoring from rows decoded from JSON, the
   way a cache would hand them over.
3. Quality: the leave-one-out evaluation on the documented synthetic data set (5,000
   users, 2,000 items, seed 1), next to a straightforward item-kNN written here
   independently (dense cosine on the binary user x item matrix, K=50 neighbours,
   Deshpande & Karypis item-based top-N scoring).
"""

from __future__ import annotations

import argparse
import gc
import io
import json
import platform
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from personalize.recommendations.cooccurrence import bought_together, viewed_together
from personalize.recommendations.evaluate import (
    Row,
    Split,
    evaluate,
    evaluate_recommendations,
    leave_one_out,
    read_interactions,
)
from personalize.recommendations.filters import filter_ranked
from personalize.recommendations.interactions import Interactions
from personalize.recommendations.neighbours import NeighbourTable
from personalize.recommendations.scoring import personalised, recency_weighted
from personalize.recommendations.similarity import similar_items
from personalize.recommendations.synthetic import SyntheticLog, generate

EVENTS_PER_USER = 8  # what the generator's defaults give, about
LOG_ARRAYS = ("users", "items", "timestamps", "kinds", "groups")


def train(log: Any) -> dict[str, tuple[float, object]]:
    """Index the log and build the tables: stage -> (seconds, result)."""
    stages: dict[str, tuple[float, object]] = {}
    started = time.perf_counter()
    interactions = Interactions.from_events(log.events())
    stages["index events (Interactions.from_events)"] = (
        time.perf_counter() - started,
        interactions,
    )
    builders: list[tuple[str, Callable[[], NeighbourTable]]] = [
        ("similar items, BM25 cosine, top 50", lambda: similar_items(interactions, k=50)),
        ("viewed together, cosine, top 50", lambda: viewed_together(interactions, k=50)),
        ("bought together, cosine, top 50", lambda: bought_together(interactions, k=50)),
    ]
    for name, build in builders:
        started = time.perf_counter()
        result = build()
        stages[name] = (time.perf_counter() - started, result)
    return stages


def traced_peaks(log: Any) -> tuple[float, float, NeighbourTable]:
    """Peak traced MB while indexing and while building the three tables; the similar table."""
    gc.collect()
    tracemalloc.start()
    interactions = Interactions.from_events(log.events())
    index_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    similar = similar_items(interactions, k=50)
    viewed_together(interactions, k=50)
    bought_together(interactions, k=50)
    train_peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    return index_peak / 2**20, train_peak / 2**20, similar


def peak_rss_mb() -> float:
    """This process's peak resident memory in MB.

    Linux's ``VmHWM`` belongs to the current program image; ``ru_maxrss`` survives
    ``exec`` and so would report the benchmark's parent when it is larger.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def train_in_child(npz: Path) -> None:
    """``--train-from``: train on a saved log in this fresh process; print timings as JSON.

    A fresh process, so that its peak RSS is training's alone, not the generator's.
    """
    with np.load(npz) as arrays:
        log = SyntheticLog(
            **{name: arrays[name] for name in LOG_ARRAYS}, categories={}, clusters={}
        )
    loaded = peak_rss_mb()
    stages = train(log)
    print(
        json.dumps(
            {
                "stages": [
                    [name, seconds, repr(result)] for name, (seconds, result) in stages.items()
                ],
                "loaded_rss_mb": loaded,
                "peak_rss_mb": peak_rss_mb(),
            }
        )
    )


def percentiles(run: Callable[[int], object], calls: int) -> tuple[float, float]:
    """Median and p95 microseconds of ``run(i)`` over ``calls`` calls, after a warm-up."""
    for i in range(min(calls, 2_000)):
        run(i)
    samples = []
    for i in range(calls):
        started = time.perf_counter_ns()
        run(i)
        samples.append(time.perf_counter_ns() - started)
    samples.sort()
    return statistics.median(samples) / 1e3, samples[int(len(samples) * 0.95)] / 1e3


def serving(table: NeighbourTable, categories: Mapping[Any, str], calls: int) -> list[str]:
    rng = random.Random(11)
    # History items with a full row of K=50 neighbours: the worst case per item.
    items = [item for item in table if len(table[item].items) == table.k]
    now = 1_750_000_000.0
    # Varied visitors: 20 recently viewed items each, minutes to days old.
    histories = [
        [(rng.choice(items), now - rng.expovariate(1 / 86_400)) for _ in range(20)]
        for _ in range(1_000)
    ]
    weighted = [recency_weighted(history, now) for history in histories]
    affinities = []
    for history in weighted:
        affinity: dict[str, float] = {}
        for item, weight in history:
            affinity[categories[item]] = affinity.get(categories[item], 0.0) + weight
        affinities.append(affinity)
    # As a cache would return them: each history item's row as JSON, decoded per request.
    payloads = [
        [json.dumps([list(table[item].items), list(table[item].scores)]) for item, _ in h]
        for h in weighted
    ]
    in_cart = {items[0], items[1]}
    fallback = items[:100]

    def scoring_only(i: int) -> object:
        n = i % len(weighted)
        return personalised(
            weighted[n],
            table,
            limit=20,
            item_categories=categories,
            category_affinity=affinities[n],
        )

    def without_boost(i: int) -> object:
        return personalised(weighted[i % len(weighted)], table, limit=20)

    def from_json(i: int) -> object:
        n = i % len(weighted)
        rows = {
            item: json.loads(payload)
            for (item, _), payload in zip(weighted[n], payloads[n], strict=True)
        }
        return personalised(
            weighted[n], rows, limit=20, item_categories=categories, category_affinity=affinities[n]
        )

    def whole_step(i: int) -> object:
        n = i % len(histories)
        history = recency_weighted(histories[n], now)
        ranked = personalised(
            history, table, limit=30, item_categories=categories, category_affinity=affinities[n]
        )
        return filter_ranked(ranked, exclude=[in_cart], fallback=fallback, limit=12, minimum=4)

    lines = [
        f"{len(items):,} items have 50 neighbours; {calls:,} calls per row, 1,000 distinct "
        "histories.",
        "",
        "| step (20 history items, K=50) | median µs | p95 µs |",
        "|---|---:|---:|",
    ]
    for name, run in (
        ("`personalised()` on a `NeighbourTable`, category boost", scoring_only),
        ("`personalised()` on a `NeighbourTable`, no category boost", without_boost),
        ("`json.loads` of the 20 rows + `personalised()`", from_json),
        ("`recency_weighted` + `personalised` + `filter_ranked`", whole_step),
    ):
        median, p95 = percentiles(run, calls)
        lines.append(f"| {name} | {median:.0f} | {p95:.0f} |")
    return lines


# --- quality: an independent reference item-kNN -------------------------------------------


def reference_item_knn(
    split: Split, k: int, neighbours: int = 50
) -> dict[str, dict[str, list[str]]]:
    """Classic item-based top-N: cosine on the binary matrix, K neighbours, summed scores."""
    items = sorted({row.item_id for row in split.train})
    column = {item: j for j, item in enumerate(items)}
    users = sorted({row.user_id for row in split.train})
    line = {user: i for i, user in enumerate(users)}
    matrix = np.zeros((len(users), len(items)))
    for row in split.train:
        matrix[line[row.user_id], column[row.item_id]] = 1.0
    norms = np.linalg.norm(matrix, axis=0)
    unit = matrix / np.where(norms > 0, norms, 1.0)
    similarity = unit.T @ unit
    np.fill_diagonal(similarity, 0.0)
    # Keep each item's K most similar items (Deshpande & Karypis 2004).
    weakest = np.argsort(-similarity, axis=1, kind="stable")[:, neighbours:]
    np.put_along_axis(similarity, weakest, 0.0, axis=1)

    def top(scores: np.ndarray, seen: list[int]) -> list[str]:
        scores = scores.copy()
        scores[seen] = -np.inf
        order = np.argsort(-scores, kind="stable")[:k]
        return [items[j] for j in order if scores[j] > 0]

    whole: dict[str, list[str]] = {}
    last: dict[str, list[str]] = {}
    for user, history in split.histories.items():
        seen = [column[row.item_id] for row in history]
        whole[user] = top(similarity[seen].sum(axis=0), seen)
        last[user] = top(similarity[seen[-1]], seen)
    return {
        "reference item-kNN, whole history": whole,
        "reference item-kNN, last item": last,
    }


def quality(k: int = 10) -> list[str]:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "log.csv"
        generate(5_000, 2_000, seed=1).write_csv(path)
        rows: list[Row] = read_interactions(path, errors=io.StringIO())
    split = leave_one_out(rows)
    report = evaluate(split, k=k)
    targets = {user: row.item_id for user, row in split.held_out.items()}
    reference = {
        name: evaluate_recommendations(lists, targets, k=k, catalogue_size=split.items)
        for name, lists in reference_item_knn(split, k).items()
    }
    lines = [
        f"| strategy ({report.users} users, k={k}) | hit rate@{k} | NDCG@{k} | coverage |",
        "|---|---:|---:|---:|",
    ]
    for name, metrics in [*report.results.items(), *reference.items()]:
        lines.append(
            f"| {name} | {metrics.hit_rate:.4f} | {metrics.ndcg:.4f} | {metrics.coverage:.1%} |"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--items", type=int, default=50_000)
    parser.add_argument("--calls", type=int, default=10_000)
    parser.add_argument(
        "--sessions-mean",
        type=float,
        default=2.5,
        help="visits per user (default 2.5; 25 gives heavy users, ~37 items each)",
    )
    parser.add_argument("--skip-quality", action="store_true")
    parser.add_argument("--train-from", type=Path, help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.train_from:
        train_in_child(arguments.train_from)
        return

    print(f"Python {platform.python_version()} on {platform.machine()}, numpy {np.__version__}")
    per_user = EVENTS_PER_USER * arguments.sessions_mean / 2.5
    users = int(arguments.events / per_user) + 10_000
    log = generate(
        users,
        arguments.items,
        seed=7,
        max_events=arguments.events,
        sessions_mean=arguments.sessions_mean,
    )
    kinds = np.bincount(log.kinds, minlength=3).tolist()
    print(
        f"\n{len(log):,} events ({kinds[0]:,} views, {kinds[1]:,} cart adds, "
        f"{kinds[2]:,} purchases) of {len(np.unique(log.users)):,} users "
        f"over {arguments.items:,} items\n"
    )
    with tempfile.TemporaryDirectory() as directory:
        npz = Path(directory) / "log.npz"
        np.savez(npz, **{name: getattr(log, name) for name in LOG_ARRAYS})
        child = subprocess.run(
            [sys.executable, __file__, "--train-from", str(npz)],
            capture_output=True,
            text=True,
            check=True,
        )
    trained = json.loads(child.stdout)
    print("| stage (fresh process) | seconds | result |")
    print("|---|---:|---|")
    for name, seconds, result in trained["stages"]:
        print(f"| {name} | {seconds:.2f} | {result.strip('<>')} |")
    tables = sum(seconds for name, seconds, _ in trained["stages"] if "top 50" in name)
    print(f"| the three tables together | {tables:.2f} | |")
    index_mb, train_mb, similar = traced_peaks(log)
    print(
        f"\nPeak RSS of that process: {trained['peak_rss_mb']:.0f} MB "
        f"({trained['loaded_rss_mb']:.0f} MB after loading the log arrays). "
        f"Peak traced allocations: indexing {index_mb:.0f} MB, then the three tables "
        f"{train_mb:.0f} MB above the indexed events."
    )

    print()
    print("\n".join(serving(similar, log.categories, arguments.calls)))

    if not arguments.skip_quality:
        print()
        print("\n".join(quality()))


if __name__ == "__main__":
    main()
