"""Sending queued deliveries: claim, POST, record, back off, give up, disable.

Run by ``personalize_worker`` (a thread next to the stream drain) and by
``manage.py personalize_webhooks`` (the database store has no worker). Several
may run at once: a delivery is *claimed* before it is sent — rows locked with
``SELECT ... FOR UPDATE SKIP LOCKED`` where the database has it (PostgreSQL), and
on every database an ``UPDATE`` that only succeeds while the row is still due
(SQLite runs writers one at a time, so a second worker's update finds it taken).
The claim is a lease: a worker that dies mid-send leaves the row to be claimed
again when the lease runs out, so a delivery is sent at least once and, while
workers stay alive, exactly once.
"""

from __future__ import annotations

import http.client
import logging
import random
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from django.db import DatabaseError, connections, transaction
from django.db.models import F, QuerySet
from django.utils import timezone

import personalize
from personalize import configuration
from personalize.conf import settings
from personalize.webhooks.models import DeliveryStatus, Webhook, WebhookDelivery
from personalize.webhooks.signing import SIGNATURE_HEADER, encode_body, signature_header

logger = logging.getLogger("personalize.webhooks")

#: First retry after this many seconds, doubling per attempt up to MAX_RETRY_DELAY.
FIRST_RETRY_DELAY = 30.0
MAX_RETRY_DELAY = 4 * 3600.0
#: Attempts kept in a delivery's log (the newest).
LOG_LENGTH = 20
DUE = (DeliveryStatus.PENDING, DeliveryStatus.SENDING)


class Transport(Protocol):
    def __call__(
        self, url: str, body: bytes, headers: dict[str, str], timeout: float
    ) -> tuple[int, str]:
        """POST ``body``; return (status code, start of the response body). Raises
        ``OSError`` when no HTTP answer came (refused, timed out, TLS...)."""
        ...


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    # A redirect would turn the POST into a GET without the body: report it instead.
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirects)


def urllib_transport(
    url: str, body: bytes, headers: dict[str, str], timeout: float
) -> tuple[int, str]:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310
    try:
        with _opener.open(request, timeout=timeout) as response:
            return int(response.status), response.read(500).decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.read(500).decode("utf-8", "replace")


def retry_delay(attempts: int, rng: random.Random) -> float:
    """Seconds before the next attempt: exponential, capped, with "equal jitter" so
    receivers coming back up are not hit by every worker at the same moment."""
    ceiling: float = min(MAX_RETRY_DELAY, FIRST_RETRY_DELAY * 2.0 ** max(attempts - 1, 0))
    return float(ceiling / 2 + rng.uniform(0, ceiling / 2))


@dataclass
class SendStats:
    delivered: int = 0
    failed_attempts: int = 0
    gave_up: int = 0
    disabled: int = 0

    @property
    def attempted(self) -> int:
        return self.delivered + self.failed_attempts


class WebhookSender:
    """Claims due deliveries and sends them."""

    def __init__(
        self,
        *,
        using: str | None = None,
        transport: Transport = urllib_transport,
        clock: Callable[[], datetime] = timezone.now,
        rng: random.Random | None = None,
    ) -> None:
        self.using = using or settings.DATABASE_ALIAS
        self.transport = transport
        self.clock = clock
        self.rng = rng or random.Random()  # jitter, not security
        self.stats = SendStats()

    def claim(self, limit: int) -> tuple[str, list[WebhookDelivery]]:
        """Take up to ``limit`` due deliveries of active webhooks for this worker."""
        now = self.clock()
        token = uuid.uuid4().hex
        with transaction.atomic(using=self.using):
            ids = self.due_ids(limit, now)
            if not ids:
                return token, []
            self.take(ids, now, token)
        claimed = WebhookDelivery.objects.using(self.using).filter(
            claim_token=token, status=DeliveryStatus.SENDING
        )
        return token, list(claimed.select_related("webhook").order_by("pk"))

    def due_ids(self, limit: int, now: datetime) -> list[int]:
        """The oldest due deliveries of active webhooks, rows locked (and those another
        worker holds skipped) where the database can."""
        due = WebhookDelivery.objects.using(self.using).filter(
            status__in=DUE, next_attempt_at__lte=now, webhook__is_active=True
        )
        if connections[self.using].features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True, of=("self",))
        return list(due.order_by("next_attempt_at", "pk").values_list("pk", flat=True)[:limit])

    def take(self, ids: list[int], now: datetime, token: str) -> int:
        """Mark ``ids`` as this worker's for a lease, those still due only: a worker that
        read the same rows (no row locks on SQLite) finds them taken. The number taken."""
        lease = timedelta(seconds=2 * settings.WEBHOOK_TIMEOUT + 60)
        return (
            WebhookDelivery.objects.using(self.using)
            .filter(pk__in=ids, status__in=DUE, next_attempt_at__lte=now)
            .update(status=DeliveryStatus.SENDING, claim_token=token, next_attempt_at=now + lease)
        )

    def run_once(self, limit: int | None = None) -> int:
        """Claim one batch and send it; the number of deliveries attempted."""
        token, deliveries = self.claim(limit or settings.WEBHOOK_BATCH_SIZE)
        disabled: set[int] = set()
        for delivery in deliveries:
            if delivery.webhook_id in disabled:
                # Disabled during this batch: release it to wait for re-activation.
                self._owned(delivery, token).update(
                    status=DeliveryStatus.PENDING, next_attempt_at=self.clock()
                )
                continue
            error = self.send(delivery, token)
            if error and self._count_failure(delivery.webhook, delivery, error):
                disabled.add(delivery.webhook_id)
        return len(deliveries)

    def _owned(self, delivery: WebhookDelivery, token: str) -> QuerySet[WebhookDelivery]:
        return WebhookDelivery.objects.using(self.using).filter(pk=delivery.pk, claim_token=token)

    def send(self, delivery: WebhookDelivery, token: str) -> str:
        """One attempt, recorded on the delivery: "" when delivered, else the error."""
        webhook = delivery.webhook
        started = self.clock()
        timestamp = int(time.time())  # the real time of sending, whatever schedules retries
        body = encode_body(delivery.body)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": f"personalize-webhooks/{personalize.__version__}",
            "X-Personalize-Event": delivery.event_type,
            "X-Personalize-Delivery": str(delivery.pk),
            SIGNATURE_HEADER: signature_header(webhook.secret, timestamp, body),
        }
        code: int | None = None
        error = ""
        clock_start = time.monotonic()
        try:
            code, text = self.transport(webhook.url, body, headers, settings.WEBHOOK_TIMEOUT)
            if not 200 <= code < 300:
                error = f"HTTP {code}: {text.strip()[:200]}" if text.strip() else f"HTTP {code}"
        except (OSError, ValueError, http.client.HTTPException) as exc:
            # Refused, timed out, TLS, a bad URL, a garbled answer.
            error = f"{type(exc).__name__}: {exc}"[:300]
        elapsed_ms = int((time.monotonic() - clock_start) * 1000)
        attempts = delivery.attempts + 1
        entry = {
            "at": started.isoformat(),
            "attempt": attempts,
            "status": code,
            "error": error,
            "ms": elapsed_ms,
        }
        log = [*(delivery.attempt_log or []), entry][-LOG_LENGTH:]
        rows = self._owned(delivery, token)
        if not error:
            rows.update(
                status=DeliveryStatus.DELIVERED,
                attempts=attempts,
                last_response_code=code,
                last_error="",
                attempt_log=log,
                delivered_at=self.clock(),
                claim_token="",
            )
            logger.info(
                "Webhook %s: delivered %s #%s (attempt %d, HTTP %s, %d ms)",
                webhook.pk, delivery.event_type, delivery.pk, attempts, code, elapsed_ms,
            )  # fmt: skip
            self.stats.delivered += 1
            # Filtered, not read from ``webhook``: failures earlier in this batch are
            # counted in the database only.
            Webhook.objects.using(self.using).filter(
                pk=webhook.pk, consecutive_failures__gt=0
            ).update(consecutive_failures=0)
            return ""
        next_at = self.clock() + timedelta(seconds=retry_delay(attempts, self.rng))
        gives_up = next_at > delivery.created_at + timedelta(hours=settings.WEBHOOK_RETRY_HOURS)
        rows.update(
            status=DeliveryStatus.FAILED if gives_up else DeliveryStatus.PENDING,
            attempts=attempts,
            last_response_code=code,
            last_error=error,
            attempt_log=log,
            next_attempt_at=next_at,
            claim_token="",
        )
        logger.warning(
            "Webhook %s: attempt %d of %s #%s failed (%s); %s",
            webhook.pk, attempts, delivery.event_type, delivery.pk, error,
            "giving up" if gives_up else f"next attempt at {next_at.isoformat()}",
        )  # fmt: skip
        self.stats.failed_attempts += 1
        self.stats.gave_up += int(gives_up)
        return error

    def _count_failure(self, webhook: Webhook, delivery: WebhookDelivery, error: str) -> bool:
        """Count a consecutive failure; disable the webhook at the limit. True if disabled."""
        hooks = Webhook.objects.using(self.using).filter(pk=webhook.pk)
        hooks.update(consecutive_failures=F("consecutive_failures") + 1)
        failures = hooks.values_list("consecutive_failures", flat=True).first() or 0
        limit = settings.WEBHOOK_MAX_FAILURES
        if failures < limit:
            return False
        reason = (
            f"Disabled automatically after {failures} failed attempts in a row; the last "
            f"(delivery #{delivery.pk}) failed with: {error}. "
            "Fix the receiver, then tick “active” again: waiting deliveries are sent then."
        )
        disabled = hooks.filter(is_active=True).update(
            is_active=False, disabled_reason=reason, disabled_at=self.clock()
        )
        if disabled:
            logger.error("Webhook %s (%s): %s", webhook.pk, webhook.url, reason)
            self.stats.disabled += 1
            # App servers stop queueing events for it (compiled subscriptions).
            configuration.bump_on_commit(self.using)
        return True


def run_sender(
    stop: threading.Event,
    *,
    sender: WebhookSender | None = None,
    poll_seconds: float = 1.0,
    until_empty: bool = False,
    also: Callable[[], int] | None = None,
) -> SendStats:
    """Send due deliveries until ``stop`` is set (or, ``until_empty``, none is due).

    ``also`` runs before each batch (the ``order.attributed`` scan). Database errors
    are logged and retried after a capped backoff; the loop never dies of them.
    """
    sender = sender or WebhookSender()
    failures = 0
    while not stop.is_set():
        try:
            queued = also() if also is not None else 0
            attempted = sender.run_once()
        except Exception as exc:
            # A database error (or a bug on one delivery) must not end the worker.
            failures += 1
            delay = min(30.0, 0.5 * 2 ** (failures - 1))
            logger.warning(
                "Webhook delivery: %s: %s; retrying in %.1f s",
                type(exc).__name__,
                exc,
                delay,
                exc_info=not isinstance(exc, DatabaseError),
            )
            connections[sender.using].close_if_unusable_or_obsolete()
            if until_empty and failures >= 10:
                raise
            stop.wait(delay)
            continue
        failures = 0
        if attempted == 0 and queued == 0:
            if until_empty:
                break
            stop.wait(poll_seconds)
    return sender.stats
