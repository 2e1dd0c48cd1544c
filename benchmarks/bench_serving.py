"""Benchmark: one recommendation widget served from the Redis model store, K=50.

    .venv/bin/python benchmarks/bench_serving.py [--events 200000] [--items 20000]
        [--calls 5000] [--histories 500] [--redis-url URL]

Sets up a temporary SQLite database (the demo shop's settings) and a private
``redis-server`` (else ``--redis-url``, under a unique key prefix deleted at the end),
fills them like ``bench_train_pipeline.py`` (synthetic log, shop_demo Products) and
trains with ``train()`` into the Redis model store, K=50.

Then calls the public ``recommend(request, widget, product=...)`` for two of the demo
shop's widgets (their ``DEMO_WIDGETS`` settings, without the per-segment rule):

* ``home``: ``personalised`` (fallback ``bestsellers``, 4 products) for visitors with
  20 recently viewed products, each with a full row of 50 similar items: about 1,000
  candidate scores per call;
* ``product-viewed``: ``viewed_together`` (fallback ``similar``, 4 products) on a
  product page, the product an instance loaded the way the demo's view loads it.

The request carries a ``Visitor`` whose profile is already loaded: the middleware
loads it once per request whatever the page shows, so it is not a cost of the widget.
What a call does is everything ``recommend`` does: build the context (history,
recency weights, category affinity), one Redis round trip (a Lua script) for the rows
of the strategy and its fallback, scoring and filtering, one SQL query for the
products (``ModelCatalogue.items``: the query, model instances, ``CatalogueItem``s),
the category boost. Each call is split by timers around the rows read and the product
query; the rest is scoring, filtering and the context.

Baselines in the same run, interleaved with the measurements in rounds: a bare Redis
``PING`` on the same connection, and a bare ``list(Product.objects.filter(pk__in=ids))``
of 12 ids (what a widget of 4 loads: 4 x 2 + 4 candidates).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_train_pipeline import (  # noqa: E402
    delete_prefix,
    populate,
    private_redis,
    scratch_database,
    setup_django,
    synthetic_log,
    versions,
)

HISTORY = 20
ROUNDS = 5


class Timed:
    """Nanoseconds of the last call of a wrapped function (0 when it was not called)."""

    def __init__(self, function: Callable[..., Any]) -> None:
        self.function = function
        self.last = 0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        began = time.perf_counter_ns()
        try:
            return self.function(*args, **kwargs)
        finally:
            self.last = time.perf_counter_ns() - began


def summary(samples: Sequence[float]) -> tuple[float, float]:
    """Median and p95, in µs, of samples in ns."""
    ordered = sorted(samples)
    return statistics.median(ordered) / 1e3, ordered[int(len(ordered) * 0.95)] / 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--calls", type=int, default=5_000)
    parser.add_argument("--histories", type=int, default=500)
    parser.add_argument(
        "--profile", action="store_true", help="cProfile 1,000 calls of each widget instead"
    )
    parser.add_argument(
        "--redis-url",
        default="redis://127.0.0.1:6379/15",
        help="used only when redis-server is not installed",
    )
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    prefix = f"pzbench:{uuid.uuid4().hex[:12]}"
    with (
        scratch_database(postgres=False) as database_url,
        private_redis(args.redis_url) as (redis_url, redis_how),
    ):
        setup_django(
            database_url,
            PERSONALIZE_STORE="redis",
            PERSONALIZE_REDIS_URL=redis_url,
            PERSONALIZE_REDIS_PREFIX=prefix,
        )
        try:
            # Count the server's EVALSHA calls only on a server of our own: on a shared one,
            # other clients' scripts would count too.
            run(args, count_scripts=redis_url != args.redis_url)
        finally:
            print(f"\n(Deleted {delete_prefix(redis_url, prefix)} Redis keys under {prefix}:.)")
        print(f"Redis: {redis_how}.")


def run(args: argparse.Namespace, *, count_scripts: bool) -> None:
    from django.core.management import call_command
    from django.db import connection
    from django.test import RequestFactory
    from django.test.utils import CaptureQueriesContext

    from personalize.conf import settings
    from personalize.identity.visitor import Visitor
    from personalize.profiles.profile import AFFINITY_EPOCH, Profile
    from personalize.recommendations import serving
    from personalize.recommendations.catalogue import ModelCatalogue
    from personalize.recommendations.serving import WidgetSpec, recommend
    from personalize.recommendations.storage import RedisModelStore, model_store
    from personalize.recommendations.training import train
    from shop_demo.models import Product

    print(versions("temporary file, WAL"))
    call_command("migrate", verbosity=0)
    log = synthetic_log(args.events, args.items)
    categories = log.categories
    populate(log, args.events, args.items, say=lambda line: None)
    del log
    report = train()
    print(
        f"Trained on {report.events:,} events ({report.shoppers:,} shoppers, "
        f"{report.items:,} products) in {report.seconds:.1f}s: {report.rows:,} rows, "
        f"K={report.k}, store {report.storage}"
    )
    store = model_store()
    assert isinstance(store, RedisModelStore)

    # Products whose rows are full (50 neighbours): the worst case per history item.
    ids = [str(i) for i in range(1, args.items + 1)]
    full: dict[str, list[str]] = {"similar": [], "viewed": []}
    rows: dict[tuple[str, str], tuple[list[str], list[float]]] = {}
    for start in range(0, len(ids), 1000):
        chunk = ids[start : start + 1000]
        rows.update(store.read([(table, i) for table in full for i in chunk]))
    for (table, item), (neighbours, _) in rows.items():
        if len(neighbours) == report.k:
            full[table].append(item)
    print(
        f"Products with a full row of {report.k}: similar {len(full['similar']):,}, "
        f"viewed together {len(full['viewed']):,} (of {args.items:,})"
    )

    rng = random.Random(5)
    now = time.time()
    half_life = settings.AFFINITY_HALF_LIFE_DAYS * 86_400.0
    factory = RequestFactory()
    requests = []
    candidates = []
    for n in range(args.histories):
        viewed = {
            item: now - rng.expovariate(1 / 86_400) for item in rng.sample(full["similar"], HISTORY)
        }
        affinity: dict[str, float] = {}
        for item, at in viewed.items():
            # As the profile stores it: pre-scaled from the epoch, decayed when read.
            category = categories[int(item)]
            boost = 2.0 ** ((at - AFFINITY_EPOCH) / half_life)
            affinity[category] = affinity.get(category, 0.0) + boost
        profile = Profile(
            visitor_id=f"{n:032x}",
            first_seen=now - 30 * 86_400,
            last_seen=now,
            visit_count=3,
            viewed_products=viewed,
            affinity_raw=affinity,
        )
        request = factory.get("/")
        visitor = Visitor(request, profile.visitor_id, tracked=True, cookie_is_new=False)
        visitor.now = now
        visitor._profile, visitor._loaded = profile, True  # what the middleware's touch() does
        request.visitor = visitor  # type: ignore[attr-defined]
        requests.append(request)
        candidates.append(len({c for item in viewed for c in rows[("similar", item)][0]}))
    products = list(
        Product.objects.select_related("category").filter(
            pk__in=rng.sample(full["viewed"], min(args.histories, len(full["viewed"])))
        )
    )
    print(
        f"{args.histories} visitors x {HISTORY} viewed products: "
        f"{statistics.mean(candidates):,.0f} distinct candidates per call on average"
    )

    home = WidgetSpec(
        slot="home",
        title="Recommended for you",
        strategy="personalised",
        fallback="bestsellers",
        count=4,
        minimum=2,
    )
    viewed_spec = WidgetSpec(
        slot="product-viewed",
        title="Customers who viewed this also viewed",
        strategy="viewed_together",
        fallback="similar",
        count=4,
        minimum=2,
    )

    class TimedCatalogue(ModelCatalogue):
        def __init__(self) -> None:
            super().__init__()
            self.timed = Timed(super().items)

        def items(self, ids: Sequence[str]) -> Any:
            return self.timed(ids)

    catalogue = TimedCatalogue()
    read = Timed(serving.read_rows)
    serving.read_rows = read  # type: ignore[assignment]

    def home_call(i: int) -> Any:
        return recommend(requests[i % len(requests)], home, catalogue=catalogue)

    def product_call(i: int) -> Any:
        request = requests[i % len(requests)]
        return recommend(
            request, viewed_spec, product=products[i % len(products)], catalogue=catalogue
        )

    def scripts_run() -> int:
        stats: dict[str, Any] = store.client.info("commandstats")
        return int(stats.get("cmdstat_evalsha", {}).get("calls", 0))

    # What a call costs, checked once: one Lua script (EVALSHA) and one SQL query.
    for name, call in (("home", home_call), ("product-viewed", product_call)):
        call(0)
        before = scripts_run()
        with CaptureQueriesContext(connection) as queries:
            shown = call(1)
        scripts = scripts_run() - before
        assert len(shown) == 4, (name, shown)
        assert len(queries) == 1, (name, [q["sql"] for q in queries])
        assert scripts == 1 or not count_scripts, (name, scripts)

    if args.profile:
        import cProfile
        import pstats

        for name, call in (("home", home_call), ("product-viewed", product_call)):
            profiler = cProfile.Profile()
            profiler.runcall(lambda call=call: [call(i) for i in range(1_000)])
            print(f"\n{name}: 1,000 calls")
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(30)
        return

    client = store.client
    pool = [str(p.pk) for p in products]

    def bare_product_query(i: int) -> Any:
        start = (i * 12) % (len(pool) - 12)
        return list(Product.objects.filter(pk__in=pool[start : start + 12]))

    samples: dict[str, dict[str, list[float]]] = {
        name: {"total": [], "rows": [], "products": [], "rest": []}
        for name in ("home", "product-viewed")
    }
    baselines: dict[str, list[float]] = {"ping": [], "products": []}
    per_round = args.calls // ROUNDS
    for i in range(500):  # warm-up
        home_call(i)
        product_call(i)
        client.ping()
        bare_product_query(i)
    for round_ in range(ROUNDS):
        for i in range(round_ * per_round, (round_ + 1) * per_round):
            began = time.perf_counter_ns()
            client.ping()
            baselines["ping"].append(time.perf_counter_ns() - began)
            began = time.perf_counter_ns()
            bare_product_query(i)
            baselines["products"].append(time.perf_counter_ns() - began)
        for name, call in (("home", home_call), ("product-viewed", product_call)):
            for i in range(round_ * per_round, (round_ + 1) * per_round):
                catalogue.timed.last = read.last = 0
                began = time.perf_counter_ns()
                call(i)
                total = time.perf_counter_ns() - began
                split = samples[name]
                split["total"].append(total)
                split["rows"].append(read.last)
                split["products"].append(catalogue.timed.last)
                split["rest"].append(total - read.last - catalogue.timed.last)

    ping, _ = summary(baselines["ping"])
    bare, _ = summary(baselines["products"])
    print(f"\n{per_round * ROUNDS:,} calls each, in {ROUNDS} interleaved rounds.\n")
    print("| baseline | median µs | p95 µs |")
    print("|---|---:|---:|")
    for label, key in (
        ("Redis `PING` round trip", "ping"),
        ("`list(Product.objects.filter(pk__in=ids))`, 12 ids", "products"),
    ):
        median, p95 = summary(baselines[key])
        print(f"| {label} | {median:.0f} | {p95:.0f} |")
    print("\n| widget | part | median µs | p95 µs | median x PING | median x product query |")
    print("|---|---|---:|---:|---:|---:|")
    labels = {
        "rows": "rows read (1 Redis round trip, Lua)",
        "rest": "scoring, filters, context",
        "products": "product query (`catalogue.items`)",
        "total": "**total `recommend()`**",
    }
    for name, split in samples.items():
        for part, label in labels.items():
            median, p95 = summary(split[part])
            print(
                f"| {name} | {label} | {median:.0f} | {p95:.0f} | {median / ping:.1f} "
                f"| {median / bare:.1f} |"
            )
    worst = max(summary(split["total"])[0] for split in samples.values())
    print(f"\nTarget: median under 2 ms -> {'met' if worst < 2000 else 'MISSED'} ({worst:.0f} µs).")


if __name__ == "__main__":
    main()
