"""Draining the Redis event stream into the database event log.

Delivery is at-least-once (consumer group, acknowledgement after the insert
commits) and the insert is idempotent (unique ``event_id``), so the log ends
up with every event exactly once even when a worker dies mid-batch: its
unacknowledged entries are claimed by a surviving worker once they have been
idle ``min_idle_ms`` (every worker looks for such entries every
``claim_interval`` seconds, not only when it starts).

With ``PERSONALIZE_STREAM_SHARDS`` > 1 events wait in several streams, each with
its own consumer group: one :class:`StreamWorker` drains one stream, and
:func:`run_workers` runs one per stream, each in a thread of its own, so a
single ``personalize_worker`` process drains every shard (or a process per
shard, ``--shard N``).

The worker is meant to be left running: a Redis or database error never ends
it. It waits (capped exponential backoff), reconnects, recreates its consumer
group if Redis lost it (a restart without persistence) and carries on; entries
it had read but not acknowledged are read again first.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import redis
from django.db import DatabaseError, connections, transaction

from personalize.profiles.redis_client import ERRORS, RedisClient
from personalize.tracking.events import EventRecord
from personalize.tracking.log import write_events

logger = logging.getLogger("personalize.worker")

GROUP = "personalize-log"


MAX_BACKOFF = 30.0


@dataclass
class WorkerStats:
    batches: int = 0
    logged: int = 0
    claimed: int = 0
    malformed: int = 0
    errors: int = 0
    extra: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class StreamStatus:
    """What an operator needs to know about one stream (``personalize_worker --check``)."""

    stream: str
    length: int  # entries in the stream (not yet logged, or logged but not yet deleted)
    pending: int  # read by a worker, not yet acknowledged
    lag: int | None  # entries no worker has read yet (Redis >= 7)
    consumers: int
    last_drain: float | None  # Unix time of the last acknowledged batch

    def age_of_last_drain(self, now: float) -> float | None:
        return None if self.last_drain is None else max(0.0, now - self.last_drain)


def status_key(stream: str) -> str:
    """The hash where workers record their last successful drain of ``stream``."""
    return f"{stream}:worker"


def stream_status(client: RedisClient, stream: str) -> StreamStatus:
    """Backlog, pending entries, consumers and the last drain of one stream."""
    raw_length: Any = client.xlen(stream)
    length = int(raw_length)
    pending = consumers = 0
    lag: int | None = None
    try:
        groups: Any = client.xinfo_groups(stream)
    except redis.ResponseError:  # no such stream yet
        groups = []
    for group in groups:
        if group.get("name") == GROUP:
            pending = int(group.get("pending") or 0)
            consumers = int(group.get("consumers") or 0)
            raw_lag = group.get("lag")
            lag = None if raw_lag is None else int(raw_lag)
    raw: Any = client.hget(status_key(stream), "last_drain")
    return StreamStatus(
        stream=stream,
        length=length,
        pending=pending,
        lag=lag,
        consumers=consumers,
        last_drain=float(raw) if raw else None,
    )


class StreamWorker:
    """Moves events from a Redis Stream to the ``Event`` table."""

    def __init__(
        self,
        client: RedisClient,
        stream: str,
        *,
        consumer: str,
        using: str,
        batch_size: int = 500,
        block_ms: int = 2000,
        min_idle_ms: int = 30_000,
        claim_interval: float = 5.0,
        status_interval: float = 0.0,
        on_status: Callable[[str], None] | None = None,
        after_insert: Callable[[list[str]], None] | None = None,
        maintenance: Callable[[], object] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.stream = stream
        self.consumer = consumer
        self.using = using
        self.batch_size = batch_size
        self.block_ms = block_ms
        self.min_idle_ms = min_idle_ms
        self.claim_interval = claim_interval
        self.status_interval = status_interval
        self.on_status = on_status
        self.clock = clock
        # Test hook: runs after the insert commits and before the acknowledgement,
        # exactly where a crash would leave entries pending.
        self.after_insert = after_insert
        #: Runs with each look for stale entries (every ``claim_interval``), under the
        #: same error handling: replaying deferred profile changes.
        self.maintenance = maintenance
        self.stats = WorkerStats()

    def ensure_group(self) -> None:
        try:
            self.client.xgroup_create(self.stream, GROUP, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def _process(self, entries: list[tuple[str, dict[str, str]]]) -> int:
        if not entries:
            return 0
        ids = [entry_id for entry_id, _ in entries]
        records: list[EventRecord] = []
        for entry_id, fields in entries:
            if fields is None:
                continue  # already deleted after an earlier acknowledgement was lost
            try:
                records.append(EventRecord.from_json(json.loads(fields["e"])))
            except (KeyError, TypeError, ValueError):
                # A malformed entry can never be inserted: log it and drop it
                # rather than blocking the stream forever.
                self.stats.malformed += 1
                logger.error("Dropping malformed stream entry %s: %r", entry_id, fields)
        with transaction.atomic(using=self.using):
            write_events(records, using=self.using)
        if self.after_insert is not None:
            self.after_insert(ids)
        pipe = self.client.pipeline(transaction=False)
        pipe.xack(self.stream, GROUP, *ids)
        pipe.xdel(self.stream, *ids)
        pipe.hset(
            status_key(self.stream),
            mapping={"last_drain": f"{time.time():.3f}", "consumer": self.consumer},
        )
        pipe.execute()
        self.stats.batches += 1
        self.stats.logged += len(records)
        return len(entries)

    def claim_stale(self) -> int:
        """Take over entries another (dead) consumer read but never acknowledged."""
        total = 0
        start = "0-0"
        while True:
            reply: Any = self.client.xautoclaim(
                self.stream,
                GROUP,
                self.consumer,
                min_idle_time=self.min_idle_ms,
                start_id=start,
                count=self.batch_size,
            )
            start, entries = reply[0], reply[1]
            entries = [e for e in entries if e is not None]
            total += self._process(entries)
            if start in ("0-0", b"0-0"):
                break
        self.stats.claimed += total
        return total

    def run_once(self, *, block: bool = True) -> int:
        """Process one batch: this consumer's own pending entries first, then new ones."""
        pending: Any = self.client.xreadgroup(
            GROUP, self.consumer, {self.stream: "0"}, count=self.batch_size
        )
        entries = pending[0][1] if pending else []
        if entries:
            return self._process(entries)
        reply: Any = self.client.xreadgroup(
            GROUP,
            self.consumer,
            {self.stream: ">"},
            count=self.batch_size,
            block=self.block_ms if block else None,
        )
        return self._process(reply[0][1] if reply else [])

    def run(
        self,
        stop: threading.Event | None = None,
        *,
        until_empty: bool = False,
        on_batch: Callable[[int], None] | None = None,
        max_failures: int | None = None,
    ) -> WorkerStats:
        """Loop until ``stop`` is set (or, with ``until_empty``, the stream is drained).

        Redis and database errors are logged and retried after a capped exponential
        backoff; ``max_failures`` consecutive failures (default: unlimited, or 10
        with ``until_empty``, so a cron run cannot hang forever) re-raise the last.
        """
        stop = stop or threading.Event()
        if max_failures is None and until_empty:
            max_failures = 10
        failures = 0
        ready = False
        next_claim = 0.0
        next_status = self.clock() + self.status_interval
        last_logged, last_status_at = 0, self.clock()
        while not stop.is_set():
            try:
                if not ready:
                    self.ensure_group()
                    ready = True
                if self.clock() >= next_claim:
                    claimed = self.claim_stale()
                    if self.maintenance is not None:
                        self.maintenance()
                    next_claim = self.clock() + self.claim_interval
                    if claimed and on_batch is not None:
                        on_batch(claimed)
                done = self.run_once(block=not until_empty)
            except (*ERRORS, DatabaseError) as exc:  # type: ignore[misc]
                failures += 1
                self.stats.errors += 1
                if max_failures is not None and failures >= max_failures:
                    raise
                delay = min(MAX_BACKOFF, 0.5 * 2 ** (failures - 1))
                logger.warning(
                    "personalize_worker: %s: %s; retrying in %.1f s",
                    type(exc).__name__,
                    exc,
                    delay,
                )
                # A restarted Redis may have lost the group; a dead database connection
                # must be replaced. Both are redone before the next read.
                ready = False
                connections[self.using].close_if_unusable_or_obsolete()
                stop.wait(delay)
                continue
            if failures:
                logger.warning("personalize_worker: reconnected after %d failure(s)", failures)
                failures = 0
            if on_batch is not None and done:
                on_batch(done)
            if self.status_interval and self.on_status and self.clock() >= next_status:
                now = self.clock()
                rate = (self.stats.logged - last_logged) / max(now - last_status_at, 1e-9)
                self.on_status(self._status_line(rate))
                last_logged, last_status_at = self.stats.logged, now
                next_status = now + self.status_interval
            if until_empty and done == 0:
                break
        return self.stats

    def _status_line(self, rate: float) -> str:
        try:
            status = stream_status(self.client, self.stream)
        except ERRORS as exc:
            return f"{self.stream}: status unavailable ({type(exc).__name__})"
        lag = "?" if status.lag is None else str(status.lag)
        return (
            f"{self.stream}: {rate:.0f} events/s, lag {lag}, pending {status.pending}, "
            f"{self.stats.logged} logged in all, {self.stats.errors} errors"
        )


def run_workers(
    workers: list[StreamWorker],
    stop: threading.Event | None = None,
    *,
    until_empty: bool = False,
    on_batch: Callable[[int], None] | None = None,
) -> WorkerStats:
    """Run each worker (one per stream) until ``stop`` is set or, with ``until_empty``,
    every stream is drained; return the stats of all of them together.

    One worker runs in the calling thread; several run in a thread each (a blocking
    read holds its connection, and on a Redis Cluster each stream may live on
    another node). If one gives up (``max_failures``), the others are stopped and
    its error is raised.
    """
    stop = stop or threading.Event()
    if len(workers) == 1:
        return workers[0].run(stop, until_empty=until_empty, on_batch=on_batch)
    errors: list[BaseException] = []

    def drain(worker: StreamWorker) -> None:
        try:
            worker.run(stop, until_empty=until_empty, on_batch=on_batch)
        except BaseException as exc:
            errors.append(exc)
            stop.set()
        finally:
            connections.close_all()  # this thread's database connections

    threads = [
        threading.Thread(target=drain, args=(worker,), name=f"personalize-worker:{worker.stream}")
        for worker in workers
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        # join() with a timeout keeps the main thread responsive to signals.
        while thread.is_alive():
            thread.join(0.5)
    if errors:
        raise errors[0]
    total = WorkerStats()
    for worker in workers:
        for name in ("batches", "logged", "claimed", "malformed", "errors"):
            setattr(total, name, getattr(total, name) + getattr(worker.stats, name))
    return total
