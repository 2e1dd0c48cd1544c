"""``manage.py personalize_purge``: enforce the retention limit in the database."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from personalize.conf import settings
from personalize.models import Event, VisitorProfile


class Command(BaseCommand):
    help = (
        "Delete visitor profiles not seen for PERSONALIZE_RETENTION_DAYS and events older "
        "than that. (The Redis store expires profiles by itself with a TTL.) Run it daily."
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
        counts = (profiles.count(), events.count())
        if not options["dry_run"]:
            profiles.delete()
            events.delete()
        verb = "Would delete" if options["dry_run"] else "Deleted"
        self.stdout.write(
            f"{verb} {counts[0]} profiles and {counts[1]} events older than {days} days."
        )
