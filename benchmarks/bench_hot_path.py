"""What VisitorMiddleware adds to a request, as ratios against a baseline in the same run.

    .venv/bin/python benchmarks/bench_hot_path.py [--requests 2000] [--redis-url URL]

Measures, through Django's full handler (test client, no network):

* baseline   - the demo settings without VisitorMiddleware, a view that renders a tiny page;
* database   - VisitorMiddleware + DatabaseProfileStore (SQLite file), page view tracked;
* redis      - VisitorMiddleware + RedisProfileStore, page view tracked, 50 segments evaluated.

Reports the median and p95 per request and each ratio to the baseline. Needs a
Redis for the last row (skipped otherwise).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("PERSONALIZE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15"),
    )
    args = parser.parse_args()

    tmp = tempfile.mkdtemp()
    os.environ["DJANGO_SETTINGS_MODULE"] = "shop_demo.settings"
    os.environ["DATABASE_URL"] = f"sqlite:///{tmp}/bench.sqlite3"
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.http import HttpRequest, HttpResponse
    from django.test import Client, override_settings
    from django.urls import path

    call_command("migrate", verbosity=0)

    def page(request: HttpRequest) -> HttpResponse:
        visitor = getattr(request, "visitor", None)
        segments = visitor.segments if visitor is not None else []
        return HttpResponse(f"<html><body>{len(segments)}</body></html>")

    import types

    urls = types.ModuleType("bench_urls")
    urls.urlpatterns = [path("page/", page)]  # type: ignore[attr-defined]
    sys.modules["bench_urls"] = urls

    from personalize.models import Segment

    Segment.objects.bulk_create(
        [
            Segment(
                name=f"B{i}",
                slug=f"bench-{i}",
                position=2000 + i,
                condition={"$or": [{"cart.value": {"$gte": i}}, {"utm.source": f"s{i}"}]},
            )
            for i in range(50 - Segment.objects.filter(enabled=True).count())
        ]
    )
    from personalize import configuration

    configuration.bump()

    ua = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36"

    def measure(label: str, **overrides: object) -> list[float]:
        with override_settings(ROOT_URLCONF="bench_urls", **overrides):
            client = Client(headers={"User-Agent": ua, "Accept": "text/html"})
            for _ in range(50):
                client.get("/page/")
            times = []
            for _ in range(args.requests):
                start = time.perf_counter_ns()
                client.get("/page/")
                times.append((time.perf_counter_ns() - start) / 1000)
        return times

    rows: list[tuple[str, list[float]]] = []
    without = [m for m in settings.MIDDLEWARE if "personalize" not in m]
    rows.append(("baseline (no personalize)", measure("baseline", MIDDLEWARE=without)))
    rows.append(("database store (SQLite)", measure("database")))
    try:
        import redis

        redis.Redis.from_url(args.redis_url).ping()
        rows.append(
            (
                "redis store + 50 segments",
                measure(
                    "redis",
                    PERSONALIZE_STORE="personalize.profiles.redis.RedisProfileStore",
                    PERSONALIZE_REDIS_URL=args.redis_url,
                    PERSONALIZE_REDIS_PREFIX="pzbench",
                ),
            )
        )
    except Exception as exc:  # report and go on
        print(f"(redis row skipped: {exc})")

    base = statistics.median(rows[0][1])
    print(f"{'configuration':<28} {'median µs':>10} {'p95 µs':>8} {'x baseline':>11}")
    for label, times in rows:
        times.sort()
        median = statistics.median(times)
        p95 = times[int(len(times) * 0.95)]
        print(f"{label:<28} {median:>10.0f} {p95:>8.0f} {median / base:>11.2f}")


if __name__ == "__main__":
    main()
