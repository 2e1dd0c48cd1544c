"""``manage.py personalize_webhooks``: send webhook deliveries (the database store's worker)."""

from __future__ import annotations

import signal
import threading
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from personalize.webhooks.delivery import run_sender
from personalize.webhooks.orders import queue_attributed_orders


class Command(BaseCommand):
    help = (
        "Send queued webhook deliveries (retrying with backoff) and queue order.attributed "
        "events. personalize_worker does this too; run this command with the database "
        "store, which has no worker: left running, or from cron with --until-empty."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--until-empty",
            action="store_true",
            help="Exit once nothing is due (cron, tests).",
        )
        parser.add_argument(
            "--poll",
            type=float,
            default=1.0,
            help="Seconds to wait when nothing is due (default 1).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["poll"] <= 0:
            raise CommandError("--poll must be a positive number of seconds, e.g. --poll 1.")
        stop = threading.Event()
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                signal.signal(sig, lambda *_: stop.set())
        stats = run_sender(
            stop,
            poll_seconds=options["poll"],
            until_empty=options["until_empty"],
            also=queue_attributed_orders,
        )
        self.stdout.write(
            self.style.SUCCESS(
                f"Done: {stats.delivered} delivered, {stats.failed_attempts} failed attempts "
                f"(retried later), {stats.gave_up} given up, {stats.disabled} webhook(s) disabled."
            )
        )
