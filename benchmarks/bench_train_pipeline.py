"""Benchmark: ``manage.py personalize_train`` end to end, 1,000,000 logged events.

    .venv/bin/python benchmarks/bench_train_pipeline.py [--events 1000000] [--items 50000]
        [--postgres] [--redis-url URL] [--sqlite PATH]

1. A scratch database: a temporary SQLite file (WAL, as the demo settings configure
   it), or with ``--postgres`` a database created on 127.0.0.1:5432 (user postgres,
   trust auth) and dropped at the end. ``--sqlite PATH`` keeps the file and reuses
   its data on the next run (for profiling).
2. ``migrate``, then ``--items`` shop_demo Products in the synthetic generator's
   categories (``personalize.recommendations.synthetic``: latent clusters, long-tailed
   popularity, visits that walk a cluster, cart adds and orders) and ``--events`` rows
   in the event log: one ``product_view`` / ``add_to_cart`` row per view and cart add,
   one ``purchase`` row per order with its lines; a fifth of the shoppers signed in.
   Timestamps end an hour ago, so everything is inside the training window.
3. Each measurement in a fresh process (so that its peak RSS, ``VmHWM``, is its own):

   * baseline: ``SELECT COUNT(*)`` and a plain cursor scan of the rows and columns that
     training reads (same filter, same order), values as the driver returns them;
   * the same scan through the ORM, as ``read_events`` does it (JSON and datetimes
     decoded), to show what the ORM adds;
   * ``call_command("personalize_train")`` with the database model store, then with the
     Redis model store; the per-step timings come from the trained model's report.

Redis: a private ``redis-server`` on a free port when one is installed, else
``--redis-url``, always under a unique key prefix whose keys are deleted at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_recommendations import EVENTS_PER_USER, peak_rss_mb  # noqa: E402

STEPS = ("catalogue", "read", "similar", "viewed", "bought", "rankings", "store")
POSTGRES_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
INSERT_BATCH = 10_000
#: Every n-th shopper is signed in (events carry a user id).
SIGNED_IN_EVERY = 5


# --- services: scratch database, private Redis ---------------------------------------------


@contextlib.contextmanager
def scratch_database(*, postgres: bool, sqlite: Path | None = None) -> Iterator[str]:
    """A ``DATABASE_URL`` for a database of our own, deleted afterwards unless ``sqlite``."""
    if postgres:
        import psycopg

        name = f"pzbench_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield f"postgres://postgres@127.0.0.1:5432/{name}"
        finally:
            from django.db import connections

            connections.close_all()
            with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        return
    if sqlite is not None:
        yield f"sqlite:///{sqlite.resolve()}"
        return
    with tempfile.TemporaryDirectory(prefix="pzbench-") as directory:
        yield f"sqlite:///{directory}/bench.sqlite3"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def private_redis(fallback_url: str) -> Iterator[tuple[str, str]]:
    """``(url, how)``: a redis-server of our own on a free port, else ``fallback_url``."""
    import redis

    binary = shutil.which("redis-server")
    if binary is None:
        yield fallback_url, f"the Redis at {fallback_url}"
        return
    port = free_port()
    server = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    try:
        client = redis.Redis.from_url(url)
        for _ in range(100):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        version = client.info("server")["redis_version"]
        client.close()
        yield url, f"a private redis-server {version} on 127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=10)


def delete_prefix(url: str, prefix: str) -> int:
    """Delete every key under ``prefix:`` (never a whole database)."""
    import redis

    client = redis.Redis.from_url(url)
    keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
    if keys:
        client.unlink(*keys)
    client.close()
    return len(keys)


def setup_django(database_url: str, **environ: str) -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "shop_demo.settings"
    os.environ["DATABASE_URL"] = database_url
    os.environ.update(environ)
    import django

    django.setup()


# --- data ----------------------------------------------------------------------------------


def synthetic_log(events: int, items: int, sessions_mean: float = 2.5) -> Any:
    """A seeded log with a little more than ``events`` interactions (orders fold lines)."""
    from personalize.recommendations.synthetic import generate

    wanted = events + events // 20 + 100
    per_user = EVENTS_PER_USER * sessions_mean / 2.5
    return generate(
        int(wanted / per_user) + 10_000,
        items,
        seed=7,
        max_events=wanted,
        sessions_mean=sessions_mean,
    )


def event_rows(log: Any, limit: int, shift: float) -> Iterator[tuple[Any, ...]]:
    """Event log rows of ``log``: one per view and cart add, one per order; ``limit`` rows.

    ``(event_id, visitor_id, user_id, name, props, visit, occurred_at)``, props a dict.
    """
    from personalize.recommendations.interactions import KINDS

    view, cart, purchase = (KINDS.index(kind) for kind in ("view", "cart", "purchase"))
    names = {view: "product_view", cart: "add_to_cart"}
    count = 0
    order: tuple[int, int, float] | None = None  # (user, order number, time) being collected
    lines: list[dict[str, Any]] = []

    def row(user: int, name: str, props: dict[str, Any], visit: int, at: float) -> tuple[Any, ...]:
        return (
            f"{count:032x}",
            f"{user:032x}",
            str(user) if user % SIGNED_IN_EVERY == 0 else "",
            name,
            props,
            visit,
            datetime.fromtimestamp(at + shift, UTC),
        )

    def purchase_row(user: int, number: int, at: float) -> tuple[Any, ...]:
        return row(user, "purchase", {"order_id": number, "items": lines}, 0, at)

    columns = (log.users, log.items, log.timestamps, log.kinds, log.groups)
    for start in range(0, len(log), 50_000):
        chunk = [column[start : start + 50_000].tolist() for column in columns]
        for user, item, at, kind, group in zip(*chunk, strict=True):
            # An order's lines are consecutive in the log: one purchase event holds them all.
            if order is not None and (kind != purchase or order[:2] != (user, group)):
                yield purchase_row(*order)
                count += 1
                order, lines = None, []
            if count >= limit:
                return
            if kind == purchase:
                order = order or (user, group, at)
                lines.append({"product_id": str(item), "quantity": 1})
                continue
            props: dict[str, Any] = {"product_id": str(item)}
            if kind == cart:
                props["quantity"] = 1
            yield row(user, names[kind], props, group, at)
            count += 1
    if order is not None and count < limit:
        yield purchase_row(*order)


def populate(
    log: Any, events: int, items: int, say: Callable[[str], None] = print
) -> dict[str, float]:
    """Fill the (migrated) database: categories, products, event log. Returns timings."""
    from django.db import connection, transaction

    from personalize.models import Event
    from shop_demo.models import Category, Product

    timings: dict[str, float] = {}
    began = time.perf_counter()
    names = sorted(set(log.categories.values()))
    Category.objects.bulk_create(
        [Category(name=f"Category {n}", slug=n, position=i) for i, n in enumerate(names)]
    )
    category_ids = dict(Category.objects.values_list("slug", "pk"))
    now = datetime.now(UTC)
    Product.objects.bulk_create(
        [
            Product(
                id=item,
                category_id=category_ids[log.categories[item]],
                name=f"Product {item}",
                slug=f"product-{item}",
                price=Decimal(5 + item % 95) + Decimal("0.99"),
                # One in twenty out of stock, so that the stock filter has work.
                stock=0 if item % 20 == 0 else 1 + item % 50,
                created_at=now - timedelta(days=item % 730, hours=item % 24),
                hue=item % 360,
            )
            for item in range(1, items + 1)
        ],
        batch_size=5_000,
    )
    timings["products"] = time.perf_counter() - began
    say(f"  {len(names):,} categories, {items:,} products: {timings['products']:.1f}s")

    began = time.perf_counter()
    table = connection.ops.quote_name(Event._meta.db_table)
    columns = [
        "event_id",
        "visitor_id",
        "user_id",
        "name",
        "props",
        "visit",
        "occurred_at",
        "logged_at",
    ]
    sql = (
        f"INSERT INTO {table} ({', '.join(connection.ops.quote_name(c) for c in columns)}) "
        f"VALUES ({', '.join(['%s'] * len(columns))})"
    )
    ops = connection.ops
    logged_at = ops.adapt_datetimefield_value(now)
    # The log ends an hour ago: all of it is inside the training and bestseller windows.
    shift = now.timestamp() - 3600.0 - float(log.timestamps.max())
    written = 0
    batch: list[tuple[Any, ...]] = []

    def flush() -> None:
        nonlocal written
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.executemany(sql, batch)
        written += len(batch)
        batch.clear()
        if written % 100_000 < INSERT_BATCH or written == events:
            elapsed = time.perf_counter() - began
            say(f"  events: {written:,}/{events:,} ({elapsed:.1f}s)")

    for event_id, visitor, user, name, props, visit, at in event_rows(log, events, shift):
        batch.append(
            (
                event_id,
                visitor,
                user,
                name,
                ops.adapt_json_value(props, None),
                visit,
                ops.adapt_datetimefield_value(at),
                logged_at,
            )
        )
        if len(batch) >= INSERT_BATCH:
            flush()
    if batch:
        flush()
    timings["events"] = time.perf_counter() - began
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    return timings


# --- the fresh-process measurements ----------------------------------------------------------


def child(kind: str) -> None:
    """``--child scan|train``: one measurement in this fresh process; JSON on stdout."""
    import django

    django.setup()
    setup_rss = peak_rss_mb()
    result: dict[str, Any] = {"setup_rss_mb": setup_rss}
    if kind == "scan":
        result.update(scan())
    else:
        from django.core.management import call_command

        from personalize.models import TrainedModel

        out = io.StringIO()
        began = time.perf_counter()
        call_command("personalize_train", stdout=out, stderr=sys.stderr)
        result["command_seconds"] = time.perf_counter() - began
        model = TrainedModel.objects.order_by("-pk").first()
        assert model is not None
        result.update(seconds=model.seconds, summary=model.summary, output=out.getvalue())
    result["peak_rss_mb"] = peak_rss_mb()
    print(json.dumps(result))


def scan() -> dict[str, Any]:
    """The floor of reading the log: what training's query costs without any training."""
    from django.db import connection
    from django.utils import timezone

    from personalize.conf import settings
    from personalize.models import Event
    from personalize.recommendations.training import TRAINING_EVENTS

    since = timezone.now() - timedelta(days=settings.RECS_TRAINING_DAYS)
    events = Event.objects.filter(name__in=TRAINING_EVENTS, occurred_at__gte=since)
    out: dict[str, Any] = {}
    began = time.perf_counter()
    out["count"] = events.count()
    out["count_seconds"] = time.perf_counter() - began

    rows = events.order_by("occurred_at", "id").values_list(
        "visitor_id", "user_id", "name", "props", "visit", "occurred_at"
    )
    sql, params = rows.query.sql_with_params()
    began = time.perf_counter()
    scanned = 0
    with connection.chunked_cursor() as cursor:
        cursor.execute(sql, params)
        while chunk := cursor.fetchmany(5000):
            scanned += len(chunk)
    out["cursor_seconds"] = time.perf_counter() - began
    out["cursor_rows"] = scanned

    began = time.perf_counter()
    scanned = sum(1 for _ in rows.iterator(chunk_size=5000))
    out["orm_seconds"] = time.perf_counter() - began
    out["orm_rows"] = scanned
    return out


def run_child(kind: str, env: dict[str, str]) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, __file__, "--child", kind],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        text=True,
        check=True,
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


# --- main ------------------------------------------------------------------------------------


def database_size_mb(database_url: str) -> float:
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_database_size(current_database())")
            return float(cursor.fetchone()[0]) / 2**20
    path = Path(database_url.removeprefix("sqlite:///"))
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*")) / 2**20


def versions(database: str) -> str:
    import django
    import numpy
    import redis
    import scipy
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SHOW server_version")
            engine = f"PostgreSQL {cursor.fetchone()[0].split()[0]}"
        else:
            cursor.execute("SELECT sqlite_version()")
            engine = f"SQLite {cursor.fetchone()[0]}"
    return (
        f"Python {platform.python_version()} on {platform.machine()} ({os.cpu_count()} CPUs), "
        f"Django {django.__version__}, numpy {numpy.__version__}, scipy {scipy.__version__}, "
        f"redis-py {redis.__version__}; {engine} ({database})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--items", type=int, default=50_000)
    parser.add_argument("--sessions-mean", type=float, default=2.5)
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL on 127.0.0.1:5432")
    parser.add_argument(
        "--sqlite", type=Path, help="keep the SQLite database in this file and reuse its data"
    )
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("PERSONALIZE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15"),
        help="used only when redis-server is not installed",
    )
    parser.add_argument("--child", choices=("scan", "train"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return

    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    prefix = f"pzbench:{uuid.uuid4().hex[:12]}"
    with (
        scratch_database(postgres=args.postgres, sqlite=args.sqlite) as database_url,
        private_redis(args.redis_url) as (redis_url, redis_how),
    ):
        setup_django(database_url)
        from django.core.management import call_command
        from django.db.models import Count

        from personalize.models import Event

        database = (
            "scratch database" if args.postgres else f"{args.sqlite or 'temporary file'}, WAL"
        )
        print(versions(database))
        print(f"Redis: {redis_how}, key prefix {prefix}")
        call_command("migrate", verbosity=0)
        if Event.objects.exists():
            print(f"\nReusing the {Event.objects.count():,} events in {database_url}")
        else:
            began = time.perf_counter()
            log = synthetic_log(args.events, args.items, args.sessions_mean)
            print(f"\nGenerated {len(log):,} interactions in {time.perf_counter() - began:.1f}s")
            timings = populate(log, args.events, args.items)
            del log
            print(f"Inserted in {sum(timings.values()):.1f}s")
        counts = dict(Event.objects.order_by().values_list("name").annotate(n=Count("id")))
        print(f"Event log: {counts}; database {database_size_mb(database_url):,.0f} MB")
        from django.db import connections

        connections.close_all()

        env = {"DJANGO_SETTINGS_MODULE": "shop_demo.settings", "DATABASE_URL": database_url}
        print("\nBaseline: scanning the events training reads (fresh process)...", flush=True)
        baseline = run_child("scan", env)
        runs: dict[str, dict[str, Any]] = {}
        print("Training with the database model store (fresh process)...", flush=True)
        runs["database"] = run_child("train", {**env, "PERSONALIZE_STORE": "database"})
        print("Training with the Redis model store (fresh process)...", flush=True)
        redis_env = {
            "PERSONALIZE_STORE": "redis",
            "PERSONALIZE_REDIS_URL": redis_url,
            "PERSONALIZE_REDIS_PREFIX": prefix,
        }
        runs["redis"] = run_child("train", {**env, **redis_env})
        import redis

        client = redis.Redis.from_url(redis_url)
        redis_mb = client.info("memory")["used_memory"] / 2**20
        client.close()
        deleted = delete_prefix(redis_url, prefix)
        size = database_size_mb(database_url)
        report(baseline, runs, redis_mb, size)
        print(f"\n(Deleted {deleted} Redis keys under {prefix}:.)")


def report(
    baseline: dict[str, Any], runs: dict[str, dict[str, Any]], redis_mb: float, size: float
) -> None:
    floor = baseline["count_seconds"] + baseline["cursor_seconds"]
    print(
        f"\nBaseline (fresh process): COUNT(*) {baseline['count_seconds']:.2f}s + cursor scan of "
        f"{baseline['cursor_rows']:,} rows {baseline['cursor_seconds']:.2f}s = {floor:.2f}s; "
        f"the same scan through the ORM (values_list, JSON and datetimes decoded) "
        f"{baseline['orm_seconds']:.2f}s ({baseline['orm_seconds'] / floor:.1f}x).\n"
    )
    summary = runs["database"]["summary"]
    print(
        f"{summary['events']:,} events -> {summary['interactions']:,} interactions of "
        f"{summary['shoppers']:,} shoppers over {summary['items']:,} products "
        f"({summary['catalogue_items']:,} in the catalogue); {summary['rows']:,} rows stored; "
        f"pairs {summary['pairs']}\n"
    )
    print("| step | database store, s | x baseline | Redis store, s | x baseline |")
    print("|---|---:|---:|---:|---:|")
    timings = {store: run["summary"]["timings"] for store, run in runs.items()}
    for step in STEPS:
        db, rd = timings["database"].get(step, 0.0), timings["redis"].get(step, 0.0)
        print(f"| {step} | {db:.2f} | {db / floor:.2f} | {rd:.2f} | {rd / floor:.2f} |")
    for label, key in (("train() total", "seconds"), ("the command, wall", "command_seconds")):
        db, rd = runs["database"][key], runs["redis"][key]
        print(
            f"| **{label}** | **{db:.2f}** | **{db / floor:.2f}** "
            f"| **{rd:.2f}** | **{rd / floor:.2f}** |"
        )
    print(
        f"| peak RSS, MB (after django.setup) | {runs['database']['peak_rss_mb']:.0f} "
        f"({runs['database']['setup_rss_mb']:.0f}) | | {runs['redis']['peak_rss_mb']:.0f} "
        f"({runs['redis']['setup_rss_mb']:.0f}) | |"
    )
    worst = max(run["command_seconds"] for run in runs.values())
    peak = max(run["peak_rss_mb"] for run in runs.values())
    print(
        f"\nTargets: under 60 s -> {'met' if worst < 60 else 'MISSED'} ({worst:.1f}s); "
        f"under 2 GB -> {'met' if peak < 2048 else 'MISSED'} ({peak:.0f} MB). "
        f"Baseline scan peak RSS {baseline['peak_rss_mb']:.0f} MB. "
        f"Redis used_memory with the model {redis_mb:.0f} MB; database {size:,.0f} MB."
    )


if __name__ == "__main__":
    main()
