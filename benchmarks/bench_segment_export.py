"""Segment members export on 1,000,000 profiles with the database store (SQLite).

    .venv/bin/python benchmarks/bench_segment_export.py [--profiles 1000000] [--postgres URL]

Creates the profiles in a temporary database (in batches, never all in memory),
then streams ``GET /personalize/api/v1/segments/<slug>/members/?format=csv`` through
the test client as an admin would download it, and one JSON page of 1,000
members. It reports rows, bytes and seconds, and the peak Python memory of the
export (tracemalloc) next to the resident set size of the process, so a
regression to "build a list of every profile" shows at once: the peak must stay
in the megabytes whatever ``--profiles`` is.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BATCH = 10_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", type=int, default=1_000_000)
    parser.add_argument(
        "--postgres",
        default="",
        help="A PostgreSQL URL (its database is used as is) instead of a temporary SQLite file.",
    )
    args = parser.parse_args()
    os.environ["DJANGO_SETTINGS_MODULE"] = "shop_demo.settings"
    os.environ["DATABASE_URL"] = args.postgres or f"sqlite:///{tempfile.mkdtemp()}/export.sqlite3"
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.test import Client

    from personalize.models import Segment
    from personalize.profiles.base import get_store
    from personalize.profiles.profile import Profile

    call_command("migrate", verbosity=0)
    Segment.objects.update_or_create(
        slug="bench-regulars",
        defaults={"name": "Regulars", "condition": {"visit_count": {"$gte": 3}}},
    )
    store = get_store()
    now = time.time()
    started = time.perf_counter()
    for first in range(0, args.profiles, BATCH):
        store.import_profiles(
            (
                Profile(
                    visitor_id=f"{index:032x}",
                    visit_count=index % 6,
                    first_seen=now - 86400 * 60,
                    last_seen=now - index % 86400,
                    email=f"shopper{index}@example.com" if index % 2 else "",
                )
                for index in range(first, min(first + BATCH, args.profiles))
            ),
            [],
        )
    print(f"created {args.profiles:,} profiles in {time.perf_counter() - started:.1f} s")
    admin = get_user_model().objects.filter(username="bench-admin").first()
    if admin is None:
        admin = get_user_model().objects.create_superuser("bench-admin", "a@example.com", "x")
    client = Client()
    client.force_login(admin)
    url = "/personalize/api/v1/segments/bench-regulars/members/"
    client.get(url + "?limit=1")  # imports, URL resolver, compiled segments: not the export's

    tracemalloc.start()
    started = time.perf_counter()
    response = client.get(url + "?format=csv")
    rows = size = 0
    for chunk in response.streaming_content:  # type: ignore[attr-defined]
        rows += 1
        size += len(chunk)
    elapsed = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"CSV: {rows - 1:,} members, {size / 1e6:.1f} MB in {elapsed:.1f} s "
        f"({args.profiles / elapsed:,.0f} profiles/s); Python peak {peak / 1e6:.1f} MB "
        f"during the export, process max RSS {rss:.0f} MB"
    )
    started = time.perf_counter()
    page = client.get(url + "?limit=1000").json()
    print(
        f"JSON: first page of {page['count']} in {time.perf_counter() - started:.2f} s "
        f"(next_cursor {'set' if page['next_cursor'] else 'none'})"
    )


if __name__ == "__main__":
    main()
