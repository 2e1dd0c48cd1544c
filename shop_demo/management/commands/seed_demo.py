"""``manage.py seed_demo``: fill the demo shop with a catalogue, users and shopper history."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from tqdm import tqdm

from shop_demo import seeding


class Command(BaseCommand):
    help = (
        "Seed the demo shop: the pet-shop catalogue (upserted by slug), a demo admin, "
        "customer accounts and a synthetic shopping history fed to personalize, whose "
        "last 60 days hold the demo campaigns' and widgets' exposures, clicks, captures "
        "and orders. "
        "Deterministic for a given --seed; the history is generated once "
        "(use --reset to delete orders, visitor profiles and events and generate it again)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--seed", type=int, default=42, help="RNG seed (default 42).")
        parser.add_argument(
            "--visitors", type=int, default=3000, help="Visitors in the history (default 3000)."
        )
        parser.add_argument(
            "--months", type=int, default=18, help="Months of history before today (default 18)."
        )
        parser.add_argument(
            "--customers",
            type=int,
            default=200,
            help="Customer accounts customerN@example.com (default 200).",
        )
        parser.add_argument(
            "--reset",
            action="store_true",
            help="Delete all orders, visitor profiles and events first.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        for name in ("visitors", "months", "customers"):
            if options[name] < 0 or (name == "months" and options[name] < 1):
                self.stderr.write(self.style.ERROR(f"--{name} must be a positive number."))
                return
        started = time.perf_counter()
        quiet = options["verbosity"] == 0

        @contextmanager
        def progress(phase: str, total: int | None) -> Iterator[Callable[[int], None]]:
            with tqdm(
                total=total,
                desc=f"{phase:<10}",
                unit="",
                disable=quiet,
                leave=True,
                dynamic_ncols=True,
            ) as bar:

                def step(done: int) -> None:
                    bar.update(done)

                yield step

        report = seeding.run(
            seed=options["seed"],
            visitors=options["visitors"],
            months=options["months"],
            customers=options["customers"],
            reset=options["reset"],
            progress=progress,
        )
        if report.history_skipped:
            self.stdout.write(
                self.style.WARNING(
                    f"History not generated: {report.history_skipped}. "
                    "Run with --reset to delete it and generate it again."
                )
            )
        rows = [(p.phase, p.detail, f"{p.seconds:.1f}s") for p in report.phases]
        rows.append(("Total", "", f"{time.perf_counter() - started:.1f}s"))
        widths = [
            max(len(row[i]) for row in [("Phase", "Result", "Time"), *rows]) for i in range(3)
        ]
        line = "  ".join("-" * w for w in widths)
        self.stdout.write("")
        self.stdout.write(
            "  ".join(h.ljust(w) for h, w in zip(("Phase", "Result", "Time"), widths, strict=True))
        )
        self.stdout.write(line)
        for row in rows:
            self.stdout.write("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
        self.stdout.write("")
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo admin: {seeding.ADMIN_USERNAME} / {seeding.ADMIN_PASSWORD} "
                "(for the local demo only: never use these credentials anywhere else)."
            )
        )
        self.stdout.write(
            f"Customers: customer1@example.com ... customer{options['customers']}@example.com, "
            f"password {seeding.CUSTOMER_PASSWORD}"
        )
