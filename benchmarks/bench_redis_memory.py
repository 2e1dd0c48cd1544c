"""Benchmark: Redis memory per visitor profile and per buffered event (for sizing).

    .venv/bin/python benchmarks/bench_redis_memory.py [--visitors 5000] [--events 50000]

Starts a private ``redis-server`` (nothing else in it) and measures ``used_memory``
before and after, through the real ``RedisProfileStore`` (touch + the ops of each
event, exactly what requests do):

* profiles of three kinds of visitor: a bouncer (one page view), a browser (8 page
  views, 5 product views in 2 categories, a search) and a customer (a browser who
  also added 3 products to the cart and bought them); the stream is emptied before
  measuring so only profile keys count;
* stream entries: typical events (page views, product views) as the request path
  writes them, i.e. what a worker outage costs per event.

Prints bytes per profile of each kind and per event, and the sizing formula used in
docs/deployment.md. Numbers are from Redis's allocator (jemalloc), so they include
per-key overhead; ``used_memory`` deltas are divided by the count.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--visitors", type=int, default=5_000, help="profiles of each kind")
    parser.add_argument("--events", type=int, default=50_000, help="stream entries")
    args = parser.parse_args()
    if shutil.which("redis-server") is None:
        sys.exit("redis-server is not installed")

    directory = tempfile.mkdtemp()
    port = _free_port()
    server = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", directory],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        _run(args, f"redis://127.0.0.1:{port}/0")
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(directory, ignore_errors=True)


def _run(args: argparse.Namespace, url: str) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shop_demo.settings")
    os.environ["PERSONALIZE_STORE"] = "redis"
    os.environ["PERSONALIZE_REDIS_URL"] = url
    import django

    django.setup()
    import redis
    from django.conf import settings

    from personalize.profiles.redis import RedisProfileStore
    from personalize.tracking.context import VisitContext
    from personalize.tracking.events import EventRecord, event_ops, new_event_id, validate_event

    # A busy benchmark machine must not trip the request path's 50 ms timeout.
    settings.PERSONALIZE_REDIS_TIMEOUT = 5.0
    store = RedisProfileStore(url=url)
    admin = redis.Redis.from_url(url)
    for _ in range(100):
        try:
            admin.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.05)

    now = time.time()
    journeys: dict[str, list[tuple[str, dict[str, object]]]] = {
        "bouncer": [("page_view", {"path": "/"})],
        "browser": [("page_view", {"path": f"/p/{i}/"}) for i in range(8)]
        + [("product_view", {"product_id": 100 + i, "category": f"cat-{i % 2}", "price": 9.5})
           for i in range(5)]
        + [("search", {"query": "dry cat food", "results": 12})],
    }  # fmt: skip
    journeys["customer"] = [
        *journeys["browser"],
        *[("add_to_cart", {"product_id": 100 + i, "price": 9.5, "quantity": 1,
                           "category": f"cat-{i % 2}"}) for i in range(3)],
        ("purchase", {"order_id": "A1", "value": 28.5, "currency": "EUR",
                      "items": [{"product_id": 100 + i, "price": 9.5, "quantity": 1,
                                 "category": f"cat-{i % 2}"} for i in range(3)]}),
    ]  # fmt: skip

    def used() -> int:
        return int(admin.info("memory")["used_memory"])

    print(f"Redis memory per profile ({args.visitors:,} visitors of each kind):")
    per_kind: dict[str, float] = {}
    for kind, journey in journeys.items():
        admin.delete(store.stream)
        before = used()
        for n in range(args.visitors):
            visitor_id = f"{kind[:2]}{n:030x}"
            for name, props in journey:
                # One request per event, as the request path writes it: the changes,
                # their batch mark (pz:v:{V}:ap) and the event in the stream.
                profile, _ = store.touch(visitor_id, VisitContext(now=now, path="/"))
                cleaned = validate_event(name, props)
                ops = event_ops(profile, name, cleaned, now)
                record = EventRecord(new_event_id(), visitor_id, name, cleaned, now, 1)
                store.apply(visitor_id, ops, [record])
        admin.delete(store.stream)  # only profile keys count here
        with_marks = used()
        marks = list(admin.scan_iter(match=f"{store.prefix}:v:*:ap", count=1000))
        for start in range(0, len(marks), 1000):
            admin.delete(*marks[start : start + 1000])
        per_kind[kind] = (used() - before) / args.visitors
        mark_bytes = (with_marks - used()) / args.visitors
        print(
            f"  {kind:<9} {per_kind[kind]:>8,.0f} bytes  ({len(journey)} events); "
            f"+{mark_bytes:,.0f} bytes of batch marks for 10 minutes after the last request"
        )

    admin.delete(store.stream)
    before = used()
    batch = 1000
    for start in range(0, args.events, batch):
        records = [
            EventRecord(
                new_event_id(),
                f"{i:032x}",
                "product_view" if i % 3 else "page_view",
                {"product_id": i % 5000, "category": "cat-food", "price": 12.5}
                if i % 3
                else {"path": f"/c/cat-food/?page={i % 7}", "title": "Cat food"},
                now,
                1,
            )
            for i in range(start, min(start + batch, args.events))
        ]
        store.apply(records[0].visitor_id, [], records)
    per_event = (used() - before) / args.events
    print(f"Redis memory per buffered event ({args.events:,} events): {per_event:,.0f} bytes")
    print(
        "Sizing: memory = active visitors x bytes per profile (mix of kinds) + "
        f"events/s x worker outage (s) x {per_event:,.0f} B, at most "
        f"PERSONALIZE_STREAM_MAXLEN x {per_event:,.0f} B per stream."
    )


if __name__ == "__main__":
    main()
