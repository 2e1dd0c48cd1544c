"""``manage.py personalize_segment_sizes``: estimate segment sizes for the admin list."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from personalize.management.progress import Progress
from personalize.segments.sizes import estimate_segment_sizes


class Command(BaseCommand):
    help = "Count, for each segment, the visitors seen recently who are in it (run hourly)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--days",
            type=int,
            default=30,
            help="Look at visitors seen in the last N days (default 30).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["days"] < 1:
            raise CommandError("--days must be at least 1.")
        progress = Progress("Evaluating profiles", stream=self.stderr)
        estimate = estimate_segment_sizes(options["days"], progress=progress)
        progress.close()
        self.stdout.write(
            f"{estimate.population:,} visitors seen in the last {options['days']} days."
        )
        for slug, size in sorted(estimate.sizes.items(), key=lambda kv: -kv[1]):
            self.stdout.write(f"  {slug:<32} {size:>8,}")
