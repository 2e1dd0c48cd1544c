"""``manage.py personalize_rollup``: roll days of the event log up for the dashboard."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from personalize.analytics import summary
from personalize.analytics.models import RollupDay
from personalize.analytics.rollup import days_between, rollup_day
from personalize.conf import settings
from personalize.management.progress import Progress


def _day(option: str, raw: str) -> date:
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise CommandError(f"{option} must be a date like 2026-01-31, not {raw!r}.") from None


class Command(BaseCommand):
    help = (
        "Roll days (UTC) of the event log up into the tables the analytics dashboard and "
        "API read. Each day is replaced as a whole, so running a day again is safe. "
        "The worker keeps today and yesterday current; with the database store, run "
        "`personalize_rollup --since yesterday` from cron every few minutes instead."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--since",
            required=True,
            help="First day, YYYY-MM-DD (or 'today', 'yesterday').",
        )
        parser.add_argument("--until", help="Last day, YYYY-MM-DD (default: today).")
        parser.add_argument(
            "--missing",
            action="store_true",
            help="Only the days never rolled up (and always today and yesterday): a "
            "backfill that is cheap to repeat.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        now = summary.today()
        named = {"today": now, "yesterday": now - timedelta(days=1)}
        since = named.get(options["since"]) or _day("--since", options["since"])
        until = now if options["until"] is None else _day("--until", options["until"])
        if until < since:
            raise CommandError(f"--until ({until}) is before --since ({since}).")
        days = list(days_between(since, until))
        if options["missing"]:
            done = set(
                RollupDay.objects.using(settings.DATABASE_ALIAS)
                .filter(day__gte=since, day__lte=until)
                .values_list("day", flat=True)
            )
            recent = {now, now - timedelta(days=1)}
            days = [day for day in days if day not in done or day in recent]
        progress = Progress("Rolling up days", len(days), stream=self.stderr)
        events = orders = 0
        for day in days:
            result = rollup_day(day)
            events += result.events
            orders += result.orders
            progress()
            if options["verbosity"] > 1:
                self.stdout.write(
                    f"  {day}: {result.events:,} events, {result.visits:,} visits, "
                    f"{result.orders:,} orders ({result.seconds:.1f}s)"
                )
        progress.close()
        self.stdout.write(
            self.style.SUCCESS(
                f"Rolled up {len(days)} day(s) of {since} to {until}: {events:,} events, "
                f"{orders:,} orders."
            )
        )
