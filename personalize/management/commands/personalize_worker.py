"""``manage.py personalize_worker``: drain the Redis event streams into the event log."""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError, connections

from personalize.analytics.rollup import rollup_recent
from personalize.conf import settings
from personalize.profiles import backlog
from personalize.profiles.base import BaseProfileStore, get_store
from personalize.profiles.redis_client import ERRORS, RedisClient
from personalize.tracking.worker import MAX_BACKOFF, StreamWorker, run_workers, stream_status
from personalize.webhooks.delivery import SendStats, WebhookSender, run_sender
from personalize.webhooks.orders import queue_attributed_orders


class Command(BaseCommand):
    help = (
        "Move events from the Redis Streams into the database event log. Run one or more "
        "workers next to the app servers when PERSONALIZE_STORE is the Redis store: each "
        "drains every stream shard, or the one --shard names, and sends webhook deliveries "
        "(unless --no-webhooks)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--consumer",
            default=f"{socket.gethostname()}-{os.getpid()}",
            help="Consumer name in the group (default: host-pid).",
        )
        parser.add_argument(
            "--shard",
            type=int,
            default=None,
            help="Drain (or --check) only this stream shard, 0 to PERSONALIZE_STREAM_SHARDS - 1 "
            "(default: all of them, a thread each).",
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
            "--claim-interval",
            type=float,
            default=5.0,
            help="Seconds between looks for entries dead workers left pending (default 5).",
        )
        parser.add_argument(
            "--status-every",
            type=float,
            default=60.0,
            help="Seconds between status lines (events/s, lag, pending); 0: none (default 60).",
        )
        parser.add_argument(
            "--until-empty",
            action="store_true",
            help="Exit once the stream is drained (cron, tests).",
        )
        parser.add_argument(
            "--check",
            action="store_true",
            help="Print the backlog, pending entries and last drain, then exit: 0 when "
            "healthy, 1 when events wait and nothing was drained for --max-drain-age.",
        )
        parser.add_argument(
            "--max-drain-age",
            type=float,
            default=300.0,
            help="With --check: seconds without a drain, while events wait, that is unhealthy.",
        )
        parser.add_argument(
            "--rollup-every",
            type=float,
            default=300.0,
            help="Seconds between roll-ups of today and yesterday for the analytics "
            "dashboard; 0: none, another process runs personalize_rollup (default 300).",
        )
        parser.add_argument(
            "--no-webhooks",
            action="store_true",
            help="Do not send webhook deliveries from this process (another one does).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        store = get_store()
        events = store.event_stream()
        if events is None:
            raise CommandError(
                f"PERSONALIZE_STORE is {settings.STORE}: events already go straight to the "
                "database, there is nothing to drain. Use the worker with the Redis store."
            )
        streams = list(events.names)
        shard = options["shard"]
        if shard is not None:
            if not 0 <= shard < len(streams):
                raise CommandError(
                    f"--shard {shard} does not exist: the store has {len(streams)} event "
                    f"stream(s) (PERSONALIZE_STREAM_SHARDS), numbered 0 to {len(streams) - 1}."
                )
            streams = [streams[shard]]
        for name in ("batch_size", "block_ms", "claim_interval", "max_drain_age"):
            if options[name] <= 0:
                raise CommandError(f"--{name.replace('_', '-')} must be a positive number.")
        for name in ("min_idle_ms", "status_every", "rollup_every"):
            if options[name] < 0:
                raise CommandError(f"--{name.replace('_', '-')} must be 0 or more.")
        stop = threading.Event()
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                signal.signal(sig, lambda *_: stop.set())
        # One-shot runs fail fast; a worker left running waits for Redis to come up.
        patient = not (options["check"] or options["until_empty"])
        client = self._connect(events.connect, options["block_ms"], stop, patient=patient)
        if client is None:
            return  # stopped while waiting for Redis
        if options["check"]:
            self._check(client, streams, options["max_drain_age"])
            return
        workers = [
            StreamWorker(
                client,
                stream,
                consumer=options["consumer"],
                using=settings.DATABASE_ALIAS,
                batch_size=options["batch_size"],
                block_ms=options["block_ms"],
                min_idle_ms=options["min_idle_ms"],
                claim_interval=options["claim_interval"],
                status_interval=options["status_every"],
                on_status=lambda line: self.stdout.write(line),
            )
            for stream in streams
        ]
        # One thread replays deferred profile changes; several workers may (the store's
        # batch marks keep each replay to one application), but one per process is plenty.
        workers[0].maintenance = lambda: self._replay(store)
        self.stdout.write(
            f"Draining {', '.join(streams)} as {options['consumer']} (Ctrl-C to stop)..."
        )

        def report(count: int) -> None:
            logged = sum(worker.stats.logged for worker in workers)
            batches = sum(worker.stats.batches for worker in workers)
            self.stdout.write(f"  logged {logged} events ({batches} batches)")

        webhooks = None if options["no_webhooks"] else self._start_webhooks(stop, options)
        if options["rollup_every"] and not options["until_empty"]:
            self._start_rollups(stop, options["rollup_every"])
        try:
            stats = run_workers(workers, stop, until_empty=options["until_empty"], on_batch=report)
        except ERRORS as exc:
            stop.set()
            raise CommandError(f"Redis kept failing ({type(exc).__name__}: {exc}).") from exc
        finally:
            if webhooks is not None and not options["until_empty"]:
                stop.set()
        if webhooks is not None:
            thread, sent = webhooks
            while thread.is_alive():
                thread.join(0.5)
            self.stdout.write(
                f"Webhooks: {sent.delivered} delivered, {sent.failed_attempts} failed attempts."
            )
        self.stdout.write(
            self.style.SUCCESS(
                f"Done: {stats.logged} events logged, {stats.claimed} reclaimed from dead "
                f"workers, {stats.malformed} malformed entries dropped."
            )
        )

    def _replay(self, store: BaseProfileStore) -> None:
        """Apply the profile changes requests deferred while the store was away."""
        while True:
            stats = backlog.replay(store)
            if stats.replayed or stats.already_applied:
                self.stdout.write(
                    f"  replayed {stats.replayed} deferred profile change(s) "
                    f"({stats.already_applied} had been applied already)"
                )
            if stats.handled < backlog.REPLAY_BATCH:
                return

    def _start_webhooks(
        self, stop: threading.Event, options: dict[str, Any]
    ) -> tuple[threading.Thread, SendStats]:
        """The delivery step: a thread of its own, so slow receivers never hold up the
        drain (and a blocking stream read never delays a delivery)."""
        stats = SendStats()

        def deliver() -> None:
            sender = WebhookSender()
            sender.stats = stats
            try:
                run_sender(
                    stop,
                    sender=sender,
                    until_empty=options["until_empty"],
                    also=queue_attributed_orders,
                )
            except Exception:
                self.stderr.write("Webhook delivery stopped after repeated database errors.")
            finally:
                connections.close_all()

        thread = threading.Thread(target=deliver, name="personalize-webhooks", daemon=True)
        thread.start()
        return thread, stats

    def _start_rollups(self, stop: threading.Event, every: float) -> threading.Thread:
        """Keep the dashboard's rollups of today and yesterday current, in a thread of
        its own: a busy day takes a while to roll up, and the drain must not wait."""

        def roll_up() -> None:
            try:
                while not stop.wait(every):
                    try:
                        results = rollup_recent()
                    except DatabaseError as exc:
                        self.stderr.write(f"Rollup failed ({exc}); retrying in {every:g}s.")
                        continue
                    days = ", ".join(f"{r.day} ({r.events:,} events)" for r in results)
                    self.stdout.write(f"  rolled up {days}")
            finally:
                connections.close_all()

        thread = threading.Thread(target=roll_up, name="personalize-rollups", daemon=True)
        thread.start()
        return thread

    def _connect(
        self,
        connect: Callable[[int], RedisClient],
        block_ms: int,
        stop: threading.Event,
        *,
        patient: bool,
    ) -> RedisClient | None:
        """The worker's client. A cluster client asks the cluster for its slots at once,
        so an unreachable cluster fails here: wait for it (capped backoff) unless this is
        a one-shot run; ``None`` if stopped while waiting."""
        delay = 0.5
        while True:
            try:
                return connect(block_ms)
            except ERRORS as exc:
                message = f"Redis does not answer ({type(exc).__name__}: {exc})"
                if not patient:
                    raise CommandError(f"{message}.") from exc
                self.stderr.write(f"{message}; retrying in {delay:.1f} s")
                if stop.wait(delay):
                    return None
                delay = min(MAX_BACKOFF, delay * 2)

    def _check(self, client: RedisClient, streams: list[str], max_age: float) -> None:
        stuck: list[str] = []
        for stream in streams:
            try:
                status = stream_status(client, stream)
            except ERRORS as exc:
                raise CommandError(f"Redis does not answer ({type(exc).__name__}: {exc}).") from exc
            age = status.age_of_last_drain(time.time())
            lag = "unknown" if status.lag is None else str(status.lag)
            self.stdout.write(
                f"{stream}: {status.length} in stream, {lag} not yet read, {status.pending} "
                f"pending, {status.consumers} consumer(s), last drain "
                + ("never" if age is None else f"{age:.0f} s ago")
            )
            waiting = status.pending + (status.lag if status.lag is not None else status.length)
            if waiting and (age is None or age > max_age):
                stuck.append(f"{waiting} events wait in {stream}")
        deferred = backlog.pending()
        self.stdout.write(f"{deferred} deferred profile change(s) wait for replay")
        if stuck:
            raise CommandError(
                f"{'; '.join(stuck)} and nothing was drained for more than {max_age:.0f} s: "
                "is a personalize_worker running?"
            )
        self.stdout.write(self.style.SUCCESS("healthy"))
