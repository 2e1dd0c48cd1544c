"""Benchmark: how fast one ``StreamWorker`` drains the Redis event stream into the log.

    .venv/bin/python benchmarks/bench_worker_drain.py [--events 200000]
        [--batch-sizes 100,500,2000] [--databases sqlite,postgres] [--redis-url URL]

1. A private ``redis-server`` on a free port (else ``--redis-url``, under a unique key
   prefix deleted at the end), and per database a scratch one: a temporary SQLite file
   (WAL, as the demo settings configure it) and a PostgreSQL database created on
   127.0.0.1:5432 (user postgres, trust auth) and dropped at the end. Each database is
   measured in a fresh process running the demo's settings, after ``migrate``.
2. ``--events`` seeded events of a shop's mix (page views, product views, cart adds,
   orders with lines, widget and campaign events; props validated as live ones are),
   serialized as the Redis store streams them (``EventRecord.to_json``, compact JSON).
3. For each batch size, on an emptied event table each time:

   * baseline: the same rows (``Event`` objects built beforehand) inserted by plain
     ``bulk_create(ignore_conflicts=True)``, ``batch`` rows per transaction, no Redis:
     what the database itself costs;
   * the worker: the stream filled with every event, then
     ``StreamWorker(batch_size=batch).run(until_empty=True)`` (read from the consumer
     group, decode, insert, acknowledge and delete), until the stream is empty.

   Reported: events/s of each, and the worker's time as a multiple of the baseline's
   (its own overhead: Redis round trips, JSON decoding, building the rows).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_train_pipeline import delete_prefix, private_redis, scratch_database  # noqa: E402

VISITORS = 20_000
PRODUCTS = 5_000
#: (event name, share of the stream): page views dominate, orders are rare.
MIX = (
    ("page_view", 0.50),
    ("product_view", 0.25),
    ("add_to_cart", 0.05),
    ("purchase", 0.01),
    ("rec_view", 0.12),
    ("rec_click", 0.02),
    ("campaign_impression", 0.04),
    ("campaign_click", 0.01),
)
START = 1_764_000_000.0  # 2025-11-24


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- events ----------------------------------------------------------------------------------


def _props(name: str, rng: random.Random, n: int) -> dict[str, Any]:
    product = str(rng.randrange(1, PRODUCTS))
    category = f"category-{int(product) % 40}"
    price = float(5 + int(product) % 95) + 0.99
    if name == "page_view":
        return {"path": f"/products/{product}/", "title": f"Product {product}"}
    if name == "product_view":
        return {"product_id": product, "category": category, "price": price}
    if name == "add_to_cart":
        return {"product_id": product, "quantity": 1, "price": price, "category": category}
    if name == "purchase":
        lines = [
            {"product_id": str(rng.randrange(1, PRODUCTS)), "price": price, "quantity": 1}
            for _ in range(rng.randint(1, 4))
        ]
        value = round(sum(line["price"] for line in lines), 2)
        return {"order_id": f"o{n}", "value": value, "currency": "EUR", "items": lines}
    if name.startswith("rec_"):
        props: dict[str, Any] = {"widget": "product-detail", "strategy": "viewed_together"}
        if name == "rec_view":
            return {**props, "count": 4, "path": f"/products/{product}/"}
        return {**props, "product_id": product, "position": rng.randint(1, 4)}
    return {"campaign": "welcome", "variant": rng.choice("ab"), "kind": "popup", "path": "/"}


def records(count: int) -> Iterator[Any]:
    """``count`` seeded events of a shop's mix, validated like live ones."""
    from personalize.tracking.events import EventRecord, validate_event

    rng = random.Random(7)
    names, weights = zip(*MIX, strict=True)
    for n in range(count):
        name = rng.choices(names, weights)[0]
        visitor = rng.randrange(VISITORS)
        yield EventRecord(
            event_id=uuid.UUID(int=rng.getrandbits(128)).hex,
            visitor_id=f"{visitor:032x}",
            name=name,
            props=validate_event(name, _props(name, rng, n)),
            at=START + n * 0.05,
            visit=1 + n % 7,
            user_id=str(visitor) if visitor % 5 == 0 else "",
        )


# --- one database, in its own process --------------------------------------------------------


def empty_log() -> None:
    from django.db import connection

    from personalize.models import Event

    table = connection.ops.quote_name(Event._meta.db_table)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"TRUNCATE {table}")
            cursor.execute(f"VACUUM ANALYZE {table}")
        else:
            cursor.execute(f"DELETE FROM {table}")
            cursor.execute("VACUUM")


def baseline(payloads: list[str], batch: int) -> float:
    """Seconds to insert the rows by plain ``bulk_create``, ``batch`` per transaction."""
    from django.db import transaction

    from personalize.models import Event
    from personalize.tracking.events import EventRecord
    from personalize.tracking.log import to_row

    rows = [to_row(EventRecord.from_json(json.loads(p))) for p in payloads]
    began = time.perf_counter()
    for start in range(0, len(rows), batch):
        with transaction.atomic():
            Event.objects.bulk_create(rows[start : start + batch], ignore_conflicts=True)
    return time.perf_counter() - began


def fill_stream(client: Any, stream: str, payloads: list[str]) -> None:
    for start in range(0, len(payloads), 10_000):
        pipe = client.pipeline(transaction=False)
        for payload in payloads[start : start + 10_000]:
            pipe.xadd(stream, {"e": payload})
        pipe.execute()


def drain(client: Any, stream: str, batch: int, total: int) -> float:
    """Seconds for one worker to log every entry of ``stream``."""
    from personalize.tracking.worker import StreamWorker

    worker = StreamWorker(client, stream, consumer="bench", using="default", batch_size=batch)
    worker.ensure_group()
    done = 0
    shown = 0

    def progress(n: int) -> None:
        nonlocal done, shown
        done += n
        if done - shown >= 50_000 or done == total:
            shown = done
            say(f"    worker: {done:,}/{total:,} ({time.perf_counter() - began:.1f}s)")

    began = time.perf_counter()
    stats = worker.run(until_empty=True, on_batch=progress)
    seconds = time.perf_counter() - began
    assert stats.logged == total and stats.errors == 0, stats
    return seconds


def child(count: int, sizes: list[int]) -> None:
    """``--child``: every measurement on the database in ``DATABASE_URL``; JSON on stdout.

    The stream and its connection come from the Redis store, as ``personalize_worker``
    gets them (``PERSONALIZE_STORE=redis`` in the environment).
    """
    import django
    from django.core.management import call_command
    from django.db import connection

    django.setup()
    from personalize.models import Event
    from personalize.profiles.base import get_store
    from personalize.tracking.worker import status_key

    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SHOW server_version")
            engine = f"PostgreSQL {cursor.fetchone()[0].split()[0]}"
        else:
            cursor.execute("PRAGMA journal_mode")
            mode = cursor.fetchone()[0]
            cursor.execute("SELECT sqlite_version()")
            engine = f"SQLite {cursor.fetchone()[0]} ({mode})"
    events = get_store().event_stream()
    assert events is not None and len(events.names) == 1, events
    stream = events.names[0]
    client = events.connect(2000)

    began = time.perf_counter()
    payloads = [json.dumps(r.to_json(), separators=(",", ":")) for r in records(count)]
    size = sum(map(len, payloads)) / len(payloads)
    say(
        f"  {engine}: {count:,} events generated ({size:.0f} B of JSON each, "
        f"{time.perf_counter() - began:.1f}s)"
    )
    result: dict[str, Any] = {"engine": engine, "json_bytes": size, "runs": {}}
    for batch in sizes:
        empty_log()
        seconds = baseline(payloads, batch)
        say(f"  batch {batch}: bulk_create {count / seconds:,.0f} events/s ({seconds:.1f}s)")
        assert Event.objects.count() == count
        empty_log()
        fill_stream(client, stream, payloads)
        drained = drain(client, stream, batch, count)
        assert Event.objects.count() == count and client.xlen(stream) == 0
        say(f"  batch {batch}: worker {count / drained:,.0f} events/s ({drained:.1f}s)")
        result["runs"][str(batch)] = {"baseline": seconds, "worker": drained}
        client.delete(stream, status_key(stream))  # the next run starts a new group
    client.close()
    print(json.dumps(result))


# --- main ------------------------------------------------------------------------------------


def measure(database_url: str, redis_url: str, prefix: str, args: argparse.Namespace) -> Any:
    done = subprocess.run(
        [
            sys.executable,
            __file__,
            "--child",
            "--events",
            str(args.events),
            "--batch-sizes",
            args.batch_sizes,
        ],
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "shop_demo.settings",
            "DATABASE_URL": database_url,
            "PERSONALIZE_STORE": "redis",
            "PERSONALIZE_REDIS_URL": redis_url,
            "PERSONALIZE_REDIS_PREFIX": prefix,
        },
        stdout=subprocess.PIPE,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--batch-sizes", default="100,500,2000")
    parser.add_argument("--databases", default="sqlite,postgres")
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("PERSONALIZE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15"),
        help="used only when redis-server is not installed",
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    sizes = [int(size) for size in args.batch_sizes.split(",")]
    if args.child:
        child(args.events, sizes)
        return

    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    # scratch_database() closes Django's connections when it drops a database.
    os.environ["DJANGO_SETTINGS_MODULE"] = "shop_demo.settings"
    import django
    import redis

    print(
        f"Python {platform.python_version()} on {platform.machine()} ({os.cpu_count()} CPUs), "
        f"Django {django.__version__}, redis-py {redis.__version__}"
    )
    prefix = f"pzbench:{uuid.uuid4().hex[:12]}"
    results: dict[str, Any] = {}
    with private_redis(args.redis_url) as (redis_url, redis_how):
        print(f"Redis: {redis_how}, key prefix {prefix}")
        for database in args.databases.split(","):
            with scratch_database(postgres=database == "postgres") as database_url:
                print(f"\n{database}: {args.events:,} events, batch sizes {args.batch_sizes}")
                results[database] = measure(database_url, redis_url, prefix, args)
        deleted = delete_prefix(redis_url, prefix)
    report(results, args.events)
    print(f"\n(Deleted {deleted} Redis keys under {prefix}:.)")


def report(results: dict[str, Any], count: int) -> None:
    print(f"\n{count:,} events per run; events/s (higher is better)\n")
    print("| database | batch | bulk_create (baseline) | worker | worker time x baseline |")
    print("|---|---:|---:|---:|---:|")
    for result in results.values():
        for batch, run in result["runs"].items():
            print(
                f"| {result['engine']} | {int(batch):,} | {count / run['baseline']:,.0f} "
                f"| {count / run['worker']:,.0f} | {run['worker'] / run['baseline']:.2f} |"
            )


if __name__ == "__main__":
    main()
