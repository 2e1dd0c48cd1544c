"""Benchmark: evaluating 50 segment conditions per request.

Compares, in one run and on the same documents:

(a) personalize's compiled conditions (``compile_condition``, compiled once),
(b) personalize's interpreter (``evaluate_condition``),
(c) the ``growthbook`` Python SDK's ``growthbook.core.evalCondition`` (the baseline),

and asserts that all three agree on every condition and document before timing.
Prints the median microseconds per request (all 50 conditions on one visitor's
attributes) and the ratio to the GrowthBook baseline.

Run: ``python benchmarks/bench_conditions.py [--repetitions N]``
"""

from __future__ import annotations

import argparse
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from growthbook import __version__ as growthbook_version
from growthbook.core import evalCondition as growthbook_eval_condition

from personalize.conditions import compile_condition, evaluate_condition

SAVED_GROUPS: dict[str, list[Any]] = {
    "vip_customers": [f"v{i:05d}" for i in range(0, 2_000, 7)],
    "support_blocklist": ["v00013", "v00666"],
}

# 50 segments of the kind the demo shop and its merchandisers build. Only operators the
# growthbook 1.4.5 Python SDK implements are used, so the baseline is comparable.
SEGMENTS: list[dict[str, Any]] = [
    {"visit_count": 1},
    {"visit_count": {"$gte": 2}},
    {"is_returning": True, "is_logged_in": False},
    {"viewed_products": {"$size": {"$gt": 0}}, "cart.items": 0},
    {"cart.items": {"$gt": 0}, "visit_count": {"$gt": 1}},
    {"cart.value": {"$gt": 0, "$lt": 50}},
    {"cart.value": {"$gte": 100}},
    {"rfm.segment": "champions"},
    {"rfm.segment": {"$in": ["at_risk", "cant_lose"]}},
    {"rfm.segment": {"$in": ["loyal", "champions", "potential_loyalists"]}},
    {"rfm.r": {"$lte": 2}, "rfm.f": {"$gte": 4}},
    {"rfm.m": {"$gte": 4}},
    {"category_affinity.cats": {"$gte": 0.5}},
    {"category_affinity.dogs": {"$gte": 0.5}},
    {"category_affinity.top": {"$in": ["cats", "kittens"]}},
    {"viewed_categories": {"$elemMatch": {"$eq": "cat-food"}}},
    {"viewed_categories": {"$all": ["cats", "toys"]}},
    {"purchased_categories": {"$in": ["cat-food", "dog-food"]}},
    {"utm.source": "newsletter"},
    {"utm.source": {"$in": ["facebook", "instagram", "tiktok"]}, "utm.medium": "paid-social"},
    {"utm.campaign": {"$regex": "^spring-"}},
    {"referrer": {"$regex": "(google|bing|duckduckgo)\\."}},
    {"device": "mobile"},
    {"device": {"$in": ["desktop", "tablet"]}},
    {"country": {"$in": ["FR", "BE", "LU", "CH", "CA"]}},
    {"country": {"$nin": ["US", "CA", "GB"]}},
    {"language": {"$ne": "en"}},
    {"lifetime_value": {"$gte": 500}},
    {"orders_count": 1},
    {"orders_count": {"$gte": 2}},
    {"days_since_last_order": {"$gt": 180}},
    {"days_since_last_order": {"$gte": 25, "$lte": 35}, "purchased_categories": "cat-food"},
    {"lifecycle_stage": {"$in": ["at_risk", "lapsed"]}},
    {"lifecycle_stage": "prospect", "session_page_views": {"$gte": 3}},
    {"searches": {"$elemMatch": {"$regex": "scratch"}}},
    {"path": {"$regex": "^/p/"}},
    {"page_type": "category", "path": {"$regex": "^/c/cats/"}},
    {"page_type": {"$in": ["cart", "checkout"]}},
    {"hour": {"$gte": 18, "$lt": 23}},
    {"weekday": {"$in": [5, 6]}},
    {"visitor_id": {"$inGroup": "vip_customers"}},
    {"visitor_id": {"$notInGroup": "support_blocklist"}, "consent.marketing": True},
    {"email_known": False, "visit_count": {"$gte": 2}},
    {"email": {"$exists": True}},
    {"app_version": {"$vgte": "2.1.0"}},
    {"$or": [{"utm.source": "newsletter"}, {"referrer": {"$regex": "mail\\."}}]},
    {
        "$and": [
            {"cart.value": {"$gt": 0}},
            {"$or": [{"rfm.segment": "at_risk"}, {"days_since_last_order": {"$gt": 90}}]},
        ]
    },
    {"$nor": [{"device": "mobile"}, {"country": "US"}]},
    {"$not": {"rfm.segment": {"$in": ["champions", "loyal"]}}, "orders_count": {"$gte": 1}},
    {
        "recent_orders": {"$elemMatch": {"total": {"$gte": 50}, "category": "cats"}},
        "tags": {"$type": "array"},
    },
]


def make_documents(count: int, seed: int = 20250301) -> list[dict[str, Any]]:
    """Build varied visitor attribute documents like the attribute builder produces."""
    rng = random.Random(seed)
    categories = ["cats", "dogs", "cat-food", "dog-food", "toys", "kittens", "birds"]
    segments = ["champions", "loyal", "potential_loyalists", "at_risk", "cant_lose", "hibernating"]
    documents = []
    for index in range(count):
        orders_count = rng.choice([0, 0, 1, 2, 5])
        cart_items = rng.choice([0, 0, 1, 3])
        cats = round(rng.random(), 2)
        document: dict[str, Any] = {
            "visitor_id": f"v{rng.randrange(2_000):05d}",
            "visit_count": rng.choice([1, 1, 2, 3, 8]),
            "is_returning": index % 3 != 0,
            "is_logged_in": rng.random() < 0.3,
            "session_page_views": rng.randint(1, 9),
            "device": rng.choice(["mobile", "desktop", "tablet"]),
            "country": rng.choice(["FR", "BE", "US", "DE", "CA"]),
            "language": rng.choice(["fr", "en", "de"]),
            "path": rng.choice(["/", "/p/scratching-post-xl/", "/c/cats/food/", "/cart/"]),
            "page_type": rng.choice(["home", "product", "category", "cart"]),
            "referrer": rng.choice(["https://www.google.com/", "https://mail.example.org/", ""]),
            "utm": {
                "source": rng.choice(["newsletter", "facebook", "google"]),
                "medium": rng.choice(["email", "paid-social", "cpc"]),
                "campaign": rng.choice(["spring-sale", "winback", "brand"]),
            },
            "cart": {
                "items": cart_items,
                "value": round(cart_items * rng.uniform(5, 60), 2),
                "skus": [f"SKU-{rng.randrange(500)}" for _ in range(cart_items)],
            },
            "orders_count": orders_count,
            "days_since_last_order": rng.randint(1, 400) if orders_count else None,
            "lifetime_value": round(orders_count * rng.uniform(20, 200), 2),
            "rfm": {
                "r": rng.randint(1, 5),
                "f": rng.randint(1, 5),
                "m": rng.randint(1, 5),
                "segment": rng.choice(segments),
            },
            "lifecycle_stage": rng.choice(
                ["prospect", "first_time", "repeat", "at_risk", "lapsed"]
            ),
            "category_affinity": {
                "cats": cats,
                "dogs": round(1 - cats, 2),
                "top": "cats" if cats >= 0.5 else "dogs",
            },
            "viewed_categories": rng.sample(categories, rng.randint(0, 4)),
            "viewed_products": [rng.randrange(1_000) for _ in range(rng.randint(0, 6))],
            "purchased_categories": rng.sample(categories, rng.randint(0, 2)),
            "searches": rng.sample(["scratching post", "litter", "leash", "catnip"], 2),
            "recent_orders": [
                {"total": round(rng.uniform(10, 120), 2), "category": rng.choice(categories)}
                for _ in range(orders_count)
            ],
            "tags": ["newsletter"] if rng.random() < 0.5 else [],
            "email_known": rng.random() < 0.4,
            "consent": {"marketing": rng.random() < 0.7},
            "hour": rng.randrange(24),
            "weekday": rng.randrange(7),
            "app_version": rng.choice(["1.9.4", "2.0.0", "2.1.0", "2.3.1-beta.2", "10.0.1"]),
        }
        if document["email_known"]:
            document["email"] = f"visitor{index}@example.org"
        documents.append(document)
    return documents


def check_agreement(documents: list[dict[str, Any]]) -> int:
    """Assert that the three evaluators agree; return how many conditions matched."""
    compiled = [compile_condition(segment) for segment in SEGMENTS]
    matches = 0
    for document in documents:
        for segment, compiled_segment in zip(SEGMENTS, compiled, strict=True):
            baseline = growthbook_eval_condition(document, segment, SAVED_GROUPS)
            interpreted = evaluate_condition(segment, document, SAVED_GROUPS)
            fast = compiled_segment(document, SAVED_GROUPS)
            assert baseline == interpreted == fast, (segment, document, baseline, interpreted, fast)
            matches += baseline
    return matches


def time_requests(
    evaluate_request: Callable[[dict[str, Any]], object],
    documents: list[dict[str, Any]],
    repetitions: int,
) -> float:
    """Return the median nanoseconds one request (all 50 segments) takes."""
    for document in documents:  # warm-up: caches, branch predictors, lazy imports
        evaluate_request(document)
    samples = []
    for repetition in range(repetitions):
        document = documents[repetition % len(documents)]
        started = time.perf_counter_ns()
        evaluate_request(document)
        samples.append(time.perf_counter_ns() - started)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repetitions", type=int, default=20_000)
    parser.add_argument("--documents", type=int, default=200)
    arguments = parser.parse_args()

    assert len(SEGMENTS) == 50
    documents = make_documents(arguments.documents)
    matches = check_agreement(documents)
    compiled = [compile_condition(segment) for segment in SEGMENTS]

    def with_compiled(document: dict[str, Any]) -> list[bool]:
        return [segment(document, SAVED_GROUPS) for segment in compiled]

    def with_interpreter(document: dict[str, Any]) -> list[bool]:
        return [evaluate_condition(segment, document, SAVED_GROUPS) for segment in SEGMENTS]

    def with_growthbook(document: dict[str, Any]) -> list[bool]:
        return [growthbook_eval_condition(document, segment, SAVED_GROUPS) for segment in SEGMENTS]

    runners = [
        ("personalize compile_condition (compiled once)", with_compiled),
        ("personalize evaluate_condition", with_interpreter),
        (f"growthbook {growthbook_version} evalCondition (baseline)", with_growthbook),
    ]
    # Interleave the runners over several rounds so drift on a busy machine hits all.
    rounds = 5
    medians: dict[str, list[float]] = {name: [] for name, _ in runners}
    for _ in range(rounds):
        for name, runner in runners:
            medians[name].append(time_requests(runner, documents, arguments.repetitions // rounds))
    results = {name: statistics.median(values) / 1_000 for name, values in medians.items()}
    baseline_us = results[runners[-1][0]]

    print(
        f"Python {platform.python_version()} on {platform.machine()}; "
        f"{len(SEGMENTS)} segments x {len(documents)} documents agree "
        f"({matches} matches); {arguments.repetitions} requests per evaluator"
    )
    print()
    print("| evaluator | median µs / request (50 segments) | vs growthbook |")
    print("|---|---:|---:|")
    for name, microseconds in results.items():
        print(f"| {name} | {microseconds:.1f} | {microseconds / baseline_us:.2f}x |")


if __name__ == "__main__":
    main()
