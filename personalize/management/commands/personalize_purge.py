"""``manage.py personalize_purge``: enforce the retention limit in the database."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import models

from personalize.conf import settings
from personalize.management.progress import Progress
from personalize.models import Event, TrainedModel, VisitDay, VisitorProfile, WebhookDelivery
from personalize.webhooks.models import DeliveryStatus


class Command(BaseCommand):
    help = (
        "Delete visitor profiles not seen for PERSONALIZE_RETENTION_DAYS, events and "
        "records of past recommendation trainings older than that (never the live model), "
        "the analytics rollups' per-visit rows of days older than that (the days' totals "
        "stay), "
        "and delivered or failed webhook deliveries older than PERSONALIZE_WEBHOOK_LOG_DAYS. "
        "(The Redis store expires profiles by itself with a TTL.) Run it daily."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="Count what would go, delete nothing."
        )
        parser.add_argument(
            "--batch-size",
            type=int,
            default=10_000,
            help="Rows deleted per statement (default 10,000): short transactions, so the "
            "shop's own writes never wait long behind the purge.",
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
        # Per-visit rows name visitors: they go with the events they were rolled up from.
        visit_days = VisitDay.objects.using(using).filter(
            day__lt=(datetime.now(tz=UTC) - timedelta(days=days)).date()
        )
        log_days = settings.WEBHOOK_LOG_DAYS
        deliveries = WebhookDelivery.objects.using(using).filter(
            created_at__lt=datetime.now(tz=UTC) - timedelta(days=log_days),
            status__in=[DeliveryStatus.DELIVERED, DeliveryStatus.FAILED],
        )
        batch = options["batch_size"]
        if batch < 1:
            raise CommandError("--batch-size must be a positive number.")
        counts = (
            profiles.count(),
            events.count(),
            trainings.count(),
            deliveries.count(),
            visit_days.count(),
        )
        if not options["dry_run"]:
            self._delete_in_batches("Deleting profiles", profiles, counts[0], batch)
            self._delete_in_batches("Deleting events", events, counts[1], batch)
            trainings.delete()  # a handful of rows; their trained rows cascade
            self._delete_in_batches("Deleting webhook deliveries", deliveries, counts[3], batch)
            self._delete_in_batches("Deleting analytics visit rows", visit_days, counts[4], batch)
        verb = "Would delete" if options["dry_run"] else "Deleted"
        self.stdout.write(
            f"{verb} {counts[0]} profiles, {counts[1]} events and {counts[2]} past training "
            f"records older than {days} days."
        )
        self.stdout.write(
            f"{verb} {counts[3]} delivered or failed webhook deliveries older than {log_days} days."
        )
        self.stdout.write(
            f"{verb} {counts[4]} analytics visit rows of days older than {days} days "
            "(the days' totals stay)."
        )

    def _delete_in_batches(
        self, label: str, queryset: models.QuerySet[Any], total: int, batch: int
    ) -> None:
        """Delete by primary key, ``batch`` rows per statement, with a progress line.

        One DELETE of millions of rows holds its locks (SQLite: the whole database) and
        bloats the transaction log for minutes; batches keep each transaction short.
        """
        if not total:
            return
        progress = Progress(label, total=total, stream=self.stderr)
        pk = queryset.model._meta.pk
        assert pk is not None
        while True:
            # Unordered: the database walks the index behind the filter (``occurred_at``,
            # ``last_seen``) and stops at ``batch`` rows; ``ORDER BY id`` would make it
            # sort every expired row, each batch, or scan the table by id.
            ids = list(queryset.order_by().values_list(pk.name, flat=True)[:batch])
            if not ids:
                break
            deleted, _ = (
                queryset.model._default_manager.using(queryset.db).filter(pk__in=ids).delete()
            )
            progress(len(ids))
            if deleted == 0:
                break  # rows gone under us (another purge): nothing left to do
        progress.close()
