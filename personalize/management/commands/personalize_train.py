"""``manage.py personalize_train``: train the recommendation tables from the event log."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from personalize.management.progress import Progress
from personalize.recommendations.storage import model_store
from personalize.recommendations.training import train

LABELS = {
    "similar": "similar items",
    "viewed": "viewed together",
    "bought": "bought together",
    "bestsellers": "bestsellers",
    "trending": "trending",
    "new": "new arrivals",
}


class Command(BaseCommand):
    help = (
        "Train the recommendation tables (similar items, viewed and bought together, "
        "bestsellers, trending, new arrivals) from the event log and swap them in "
        "atomically. Run it nightly, or hourly on a busy shop."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--k",
            type=int,
            default=None,
            help="Neighbours kept per item (default PERSONALIZE_RECS_K, 50).",
        )
        parser.add_argument(
            "--as-of", help="Train as of this date (YYYY-MM-DD), for back-testing; default now."
        )
        parser.add_argument(
            "--clear",
            action="store_true",
            help="Delete every trained table instead of training (widgets fall back to nothing).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["clear"]:
            model_store().clear()
            self.stdout.write("Deleted every trained recommendation table.")
            return
        k = options["k"]
        if k is not None and not 1 <= k <= 500:
            raise CommandError("--k must be a whole number from 1 to 500.")
        as_of = None
        if options["as_of"]:
            try:
                as_of = datetime.fromisoformat(options["as_of"]).replace(tzinfo=UTC)
            except ValueError:
                raise CommandError("--as-of must be a date like 2026-01-31.") from None
        bars: list[Progress] = []

        def step(label: str, total: int | None) -> Callable[[int], None]:
            if bars:
                bars[-1].close()
            bars.append(Progress(label, total, stream=self.stderr))
            return bars[-1]

        report = train(k=k, as_of=as_of, progress=step)
        if bars:
            bars[-1].close()
        self.stdout.write(
            f"Trained model #{report.model_id} in {report.seconds:.1f}s from "
            f"{report.events:,} events ({report.interactions:,} interactions, "
            f"{report.shoppers:,} shoppers, {report.items:,} products; "
            f"{report.catalogue_items:,} in the catalogue).\n"
            f"Stored {report.rows:,} rows in {report.storage} (K={report.k}):"
        )
        for name, label in LABELS.items():
            covered = report.covered.get(name, 0)
            pairs = report.pairs.get(name)
            detail = f"{covered:,} products" + (f", {pairs:,} pairs" if pairs is not None else "")
            timing = report.timings.get(name)
            suffix = f" ({timing:.2f}s)" if timing is not None else ""
            self.stdout.write(f"  {label:<16} {detail}{suffix}")
        if not report.events:
            self.stdout.write(
                self.style.WARNING(
                    "No product views, cart adds or purchases were logged yet: widgets will "
                    "show only new arrivals until shoppers browse."
                )
            )
