"""``manage.py personalize_rfm``: score every customer (RFM + eRFM) and store the scores."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from personalize.management.progress import Progress
from personalize.rfm import SEGMENTS
from personalize.rfm.run import run_rfm


class Command(BaseCommand):
    help = (
        "Recompute RFM/eRFM scores of all customers and store them on their profiles "
        "(run nightly). Prints the segment table."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--as-of", help="Score as of this date (YYYY-MM-DD); default now.")

    def handle(self, *args: Any, **options: Any) -> None:
        as_of = None
        if options["as_of"]:
            try:
                as_of = datetime.fromisoformat(options["as_of"]).replace(tzinfo=UTC)
            except ValueError:
                raise CommandError("--as-of must be a date like 2026-01-31.") from None
        progress = Progress("Reading profiles", stream=self.stderr)
        result = run_rfm(as_of, progress=progress)
        progress.close()
        duration = result.duration_seconds
        self.stdout.write(
            f"Scored {result.customers:,} customers in {duration:.1f}s "
            f"(as of {result.as_of:%Y-%m-%d}).\n"
        )
        width = max(len(label) for label in SEGMENTS.values())
        self.stdout.write(f"{'segment':<{width}}  customers  share")
        for slug, label in SEGMENTS.items():
            count = result.segments.get(slug, 0)
            share = 100 * count / result.customers if result.customers else 0.0
            self.stdout.write(f"{label:<{width}}  {count:>9,}  {share:5.1f}%")
