"""Draining the Redis event stream into the database event log.

Delivery is at-least-once (consumer group, acknowledgement after the insert
commits) and the insert is idempotent (unique ``event_id``), so the log ends
up with every event exactly once even when a worker dies mid-batch: its
unacknowledged entries are claimed by the next worker after ``min_idle_ms``.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import redis
from django.db import transaction

from personalize.tracking.events import EventRecord
from personalize.tracking.log import write_events

logger = logging.getLogger("personalize.worker")

GROUP = "personalize-log"


@dataclass
class WorkerStats:
    batches: int = 0
    logged: int = 0
    claimed: int = 0
    malformed: int = 0
    extra: dict[str, int] = field(default_factory=dict)


class StreamWorker:
    """Moves events from a Redis Stream to the ``Event`` table."""

    def __init__(
        self,
        client: redis.Redis,
        stream: str,
        *,
        consumer: str,
        using: str,
        batch_size: int = 500,
        block_ms: int = 2000,
        min_idle_ms: int = 30_000,
        after_insert: Callable[[list[str]], None] | None = None,
    ) -> None:
        self.client = client
        self.stream = stream
        self.consumer = consumer
        self.using = using
        self.batch_size = batch_size
        self.block_ms = block_ms
        self.min_idle_ms = min_idle_ms
        # Test hook: runs after the insert commits and before the acknowledgement,
        # exactly where a crash would leave entries pending.
        self.after_insert = after_insert
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
    ) -> WorkerStats:
        """Loop until ``stop`` is set (or, with ``until_empty``, the stream is drained)."""
        self.ensure_group()
        self.claim_stale()
        while stop is None or not stop.is_set():
            done = self.run_once(block=not until_empty)
            if on_batch is not None and done:
                on_batch(done)
            if until_empty and done == 0:
                break
        return self.stats
