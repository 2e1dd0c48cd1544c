"""End-to-end ``personalize_rfm`` on 100,000 customers with the database store (SQLite).

    .venv/bin/python benchmarks/bench_rfm_run.py [--customers 100000]

Creates the profiles in a temporary SQLite database, then times ``run_rfm``:
reading every profile, scoring, writing the scores back, saving the report.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    args = parser.parse_args()
    os.environ["DJANGO_SETTINGS_MODULE"] = "shop_demo.settings"
    os.environ["DATABASE_URL"] = f"sqlite:///{tempfile.mkdtemp()}/rfm.sqlite3"
    import django

    django.setup()
    from django.core.management import call_command

    from personalize.profiles.base import get_store
    from personalize.profiles.profile import Profile
    from personalize.rfm.run import run_rfm

    call_command("migrate", verbosity=0)
    rng = random.Random(7)
    now = time.time()
    profiles = []
    for i in range(args.customers):
        last = now - rng.randint(0, 700) * 86400
        orders = 1 + int(rng.paretovariate(1.5))
        profiles.append(
            Profile(
                visitor_id=f"{i:032x}",
                first_seen=last - 86400,
                last_seen=last,
                visit_count=orders + 1,
                orders_count=orders,
                total_spent=round(orders * rng.uniform(10, 90), 2),
                first_order_at=last - 86400,
                last_order_at=last,
            )
        )
    started = time.perf_counter()
    store = get_store()
    for start in range(0, len(profiles), 5000):
        store.import_profiles(profiles[start : start + 5000], [])
    print(f"created {len(profiles):,} profiles in {time.perf_counter() - started:.1f}s")
    started = time.perf_counter()
    result = run_rfm()
    print(
        f"run_rfm: {result.customers:,} customers scored and stored in "
        f"{time.perf_counter() - started:.1f}s"
    )


if __name__ == "__main__":
    main()
