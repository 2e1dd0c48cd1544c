"""``manage.py personalize_purge``: enforce the retention limit in the database."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from personalize.conf import settings
from personalize.models import Event, TrainedModel, VisitorProfile


class Command(BaseCommand):
    help = (
        "Delete visitor profiles not seen for PERSONALIZE_RETENTION_DAYS, events and "
        "records of past recommendation trainings older than that (never the live model). "
        "(The Redis store expires profiles by itself with a TTL.) Run it daily."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="Count what would go, delete nothing."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        days = settings.RETENTION_DAYS
        cutoff = time.time() - days * 86400
        using = settings.DATABASE_ALIAS
        profiles = VisitorProfile.objects.using(using).filter(last_seen__lt=cutoff)
        events = Event.objects.using(using).filter(
            occurred_at__lt=datetime.now(tz=UTC) - timedelta(days=days)
        )
        trainings = TrainedModel.objects.using(using).filter(
            is_active=False, created_at__lt=datetime.now(tz=UTC) - timedelta(days=days)
        )
        counts = (profiles.count(), events.count(), trainings.count())
        if not options["dry_run"]:
            profiles.delete()
            events.delete()
            trainings.delete()
        verb = "Would delete" if options["dry_run"] else "Deleted"
        self.stdout.write(
            f"{verb} {counts[0]} profiles, {counts[1]} events and {counts[2]} past training "
            f"records older than {days} days."
        )
