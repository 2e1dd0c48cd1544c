"""``manage.py personalize_worker``: drain the Redis event stream into the event log."""

from __future__ import annotations

import os
import signal
import socket
import threading
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from personalize.conf import settings
from personalize.profiles.base import get_store
from personalize.profiles.redis import RedisProfileStore
from personalize.tracking.worker import StreamWorker


class Command(BaseCommand):
    help = (
        "Move events from the Redis Stream into the database event log. Run one or more "
        "workers next to the app servers when PERSONALIZE_STORE is the Redis store."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--consumer",
            default=f"{socket.gethostname()}-{os.getpid()}",
            help="Consumer name in the group (default: host-pid).",
        )
        parser.add_argument("--batch-size", type=int, default=500)
        parser.add_argument(
            "--block-ms", type=int, default=2000, help="How long to wait for new events per read."
        )
        parser.add_argument(
            "--min-idle-ms",
            type=int,
            default=30_000,
            help="Claim entries a dead worker left unacknowledged this long.",
        )
        parser.add_argument(
            "--until-empty",
            action="store_true",
            help="Exit once the stream is drained (cron, tests).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        store = get_store()
        if not isinstance(store, RedisProfileStore):
            raise CommandError(
                f"PERSONALIZE_STORE is {settings.STORE}: events already go straight to the "
                "database, there is nothing to drain. Use the worker with the Redis store."
            )
        for name in ("batch_size", "block_ms"):
            if options[name] < 1:
                raise CommandError(f"--{name.replace('_', '-')} must be a positive number.")
        if options["min_idle_ms"] < 0:
            raise CommandError("--min-idle-ms must be 0 or more.")
        worker = StreamWorker(
            store.client,
            store.stream,
            consumer=options["consumer"],
            using=settings.DATABASE_ALIAS,
            batch_size=options["batch_size"],
            block_ms=options["block_ms"],
            min_idle_ms=options["min_idle_ms"],
        )
        stop = threading.Event()
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                signal.signal(sig, lambda *_: stop.set())
        self.stdout.write(f"Draining {store.stream} as {options['consumer']} (Ctrl-C to stop)...")

        def report(count: int) -> None:
            self.stdout.write(
                f"  logged {worker.stats.logged} events ({worker.stats.batches} batches)"
            )

        stats = worker.run(stop, until_empty=options["until_empty"], on_batch=report)
        self.stdout.write(
            self.style.SUCCESS(
                f"Done: {stats.logged} events logged, {stats.claimed} reclaimed from dead "
                f"workers, {stats.malformed} malformed entries dropped."
            )
        )
