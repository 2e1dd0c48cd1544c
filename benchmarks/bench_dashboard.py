"""Benchmark: the analytics dashboard from rollups vs a scan of the event log.

    .venv/bin/python benchmarks/bench_dashboard.py [--events 10000000] [--days 90]
        [--day-events 1000000] [--database-url postgres://...]

Two measurements, each as a ratio to a baseline timed in the same run on the same data:

1. **Dashboard render**: ``summarize()`` of the second half of the period (KPIs and
   the previous period, trend, five breakdowns, influenced revenue) read from the
   rollups of ``--events`` events over ``--days`` days, and the four headline figures
   alone (``totals()``: visitors, visits, orders, revenue) from the rollups; baseline:
   those four counted straight from the ``Event`` table.
2. **Rolling up one day** of ``--day-events`` events (``rollup_day``); baseline: one
   ``GROUP BY visitor_id, visit`` over that day's events, the least any rollup reads.

Events are synthetic (seeded RNG): five events a visit, most visits from a different
visitor, 15% of visits with a purchase. A temporary SQLite database unless ``--database-url``.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

NAMES = ("page_view", "product_view", "category_view", "add_to_cart", "search")


def _median(run: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--day-events", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    os.environ["DJANGO_SETTINGS_MODULE"] = "shop_demo.settings"
    os.environ["DATABASE_URL"] = (
        args.database_url or f"sqlite:///{tempfile.mkdtemp()}/dashboard.sqlite3"
    )
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.db.models import Count

    from personalize.analytics.rollup import day_bounds, rollup_day
    from personalize.analytics.summary import DateRange, summarize, totals
    from personalize.models import Event

    call_command("migrate", verbosity=0)
    Event.objects.all().delete()
    rng = random.Random(12)
    first = date(2026, 1, 1)
    last = first + timedelta(days=args.days - 1)
    per_day = args.events // args.days

    def write_day(day: date, count: int) -> None:
        start, _ = day_bounds(day)
        rows: list[Event] = []
        visitors = max(1, count // 7)
        written = 0
        while written < count:
            visitor = rng.randrange(visitors * 20)
            visit = 1 + rng.randrange(4)
            at = start + timedelta(seconds=rng.randrange(86_000))
            for n in range(min(5, count - written)):
                name = NAMES[n % len(NAMES)]
                props: dict[str, Any] = {"path": "/"}
                if n == 4 and rng.random() < 0.15:
                    name = "purchase"
                    props = {"order_id": uuid.uuid4().hex[:12], "value": 40.0, "items": []}
                rows.append(
                    Event(
                        event_id=uuid.uuid4().hex,
                        visitor_id=f"{visitor:032x}",
                        name=name,
                        props=props,
                        visit=visit,
                        occurred_at=at + timedelta(seconds=30 * n),
                    )
                )
                written += 1
            if len(rows) >= 20_000:
                Event.objects.bulk_create(rows)
                rows = []
        if rows:
            Event.objects.bulk_create(rows)

    started = time.perf_counter()
    for n in range(args.days):
        write_day(first + timedelta(days=n), per_day)
    big_day = last + timedelta(days=1)
    write_day(big_day, args.day_events)
    print(
        f"wrote {per_day * args.days + args.day_events:,} events "
        f"in {time.perf_counter() - started:.0f}s ({connection.vendor})"
    )
    started = time.perf_counter()
    for n in range(args.days):
        rollup_day(first + timedelta(days=n))
    print(f"rolled up {args.days} days in {time.perf_counter() - started:.0f}s")

    period = DateRange(first + timedelta(days=args.days // 2), last)

    def scan() -> None:
        start, _ = day_bounds(period.start)
        _, end = day_bounds(period.end)
        events = Event.objects.filter(occurred_at__gte=start, occurred_at__lt=end)
        events.values("visitor_id").distinct().count()
        events.values("visitor_id", "visit").distinct().count()
        purchases = events.filter(name="purchase")
        purchases.count()
        sum(float(p.get("value", 0)) for p in purchases.values_list("props", flat=True))

    render = _median(lambda: summarize(period, roll_up_missing=False), args.repeat)
    headline = _median(lambda: totals(period), args.repeat)
    baseline = _median(scan, args.repeat)
    print(
        f"whole dashboard ({period.days} days, {per_day * period.days:,} events rolled up): "
        f"{render * 1000:.0f} ms; the headline figures from the rollups: "
        f"{headline * 1000:.0f} ms; the same scanned from the event log: "
        f"{baseline * 1000:.0f} ms; ratios {render / baseline:.2f} and {headline / baseline:.2f}"
    )

    start, end = day_bounds(big_day)

    def group() -> None:
        rows = Event.objects.filter(occurred_at__gte=start, occurred_at__lt=end)
        list(rows.values("visitor_id", "visit").annotate(n=Count("id")).order_by())

    roll = _median(lambda: rollup_day(big_day), args.repeat)
    floor = _median(group, args.repeat)
    print(
        f"rollup of one day of {args.day_events:,} events: {roll:.2f} s; "
        f"GROUP BY visitor, visit: {floor:.2f} s; ratio {roll / floor:.2f}"
    )
    print(f"finished {datetime.now(tz=UTC):%Y-%m-%d %H:%M} UTC")


if __name__ == "__main__":
    main()
