"""Who subscribes to what, compiled once per configuration version, and enqueueing.

The request hot path asks :func:`get_subscriptions` whether anyone wants an event
before building it: with no subscriber that costs no query at all (the answer is
part of the compiled configuration); with subscribers, :func:`enqueue` writes every
delivery in one ``INSERT``. Sending is the worker's job, never the request's.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db import DatabaseError
from django.utils import timezone

from personalize.conf import settings
from personalize.configuration import Compiled
from personalize.webhooks.models import SEGMENT_EVENTS, EventType, Webhook, WebhookDelivery

if TYPE_CHECKING:
    from personalize.campaigns.models import Lead

logger = logging.getLogger("personalize.webhooks")


@dataclass(frozen=True)
class Subscription:
    webhook_id: int
    events: frozenset[str]
    #: Segment slugs the segment events are limited to; empty: every segment.
    segments: frozenset[str] = frozenset()

    def wants(self, event_type: str, segment: str | None = None) -> bool:
        if event_type not in self.events:
            return False
        if event_type in SEGMENT_EVENTS and self.segments:
            return segment in self.segments
        return True


@dataclass(frozen=True)
class Subscriptions:
    """Every active webhook's subscription; ``event_types`` is what anyone wants."""

    subscriptions: tuple[Subscription, ...] = ()
    event_types: frozenset[str] = field(default_factory=frozenset)

    def wants(self, event_type: str) -> bool:
        return event_type in self.event_types

    def webhooks_for(self, event_type: str, segment: str | None = None) -> list[int]:
        return [s.webhook_id for s in self.subscriptions if s.wants(event_type, segment)]


def build_subscriptions() -> Subscriptions:
    using = settings.DATABASE_ALIAS
    rows = Webhook.objects.using(using).filter(is_active=True).prefetch_related("segments")
    subscriptions = tuple(
        Subscription(
            webhook.pk,
            frozenset(str(e) for e in webhook.events if isinstance(e, str)),
            frozenset(segment.slug for segment in webhook.segments.all()),
        )
        for webhook in rows
    )
    event_types = frozenset(e for s in subscriptions for e in s.events)
    return Subscriptions(subscriptions, event_types)


subscriptions = Compiled(build_subscriptions)


def get_subscriptions() -> Subscriptions:
    return subscriptions.get()


@dataclass(frozen=True)
class WebhookEvent:
    """An event to send: its type, what it is about, and (for segment events) the segment."""

    type: str
    data: dict[str, Any]
    key: str = ""  # idempotency key; a new one per event when empty
    segment: str | None = None


def payload(delivery_id: str, event: WebhookEvent, at: datetime) -> dict[str, Any]:
    return {
        "id": delivery_id,
        "type": event.type,
        "created_at": at.isoformat().replace("+00:00", "Z"),
        "data": event.data,
    }


def enqueue(events: Iterable[WebhookEvent], *, now: datetime | None = None) -> int:
    """Queue each event for every active webhook subscribed to it, in one ``INSERT``.

    Returns how many deliveries were queued (0 without any query when nobody
    subscribes). An event already queued for a webhook (same key) is skipped, so
    rescans never send twice. Never raises: a failed insert is logged.
    """
    current = get_subscriptions()
    wanted = [e for e in events if current.wants(e.type)]
    if not wanted:
        return 0
    at = now or timezone.now()
    rows = []
    for event in wanted:
        webhook_ids = current.webhooks_for(event.type, event.segment)
        if not webhook_ids:
            continue
        # One id per event, the same for every webhook: receivers deduplicate on it.
        event_id = uuid.uuid4().hex
        key = event.key or event_id
        for webhook_id in webhook_ids:
            rows.append(
                WebhookDelivery(
                    webhook_id=webhook_id,
                    event_type=event.type,
                    event_key=key[:80],
                    body=payload(f"evt_{event_id}", event, at),
                    next_attempt_at=at,
                    created_at=at,
                )
            )
    if not rows:
        return 0
    try:
        WebhookDelivery.objects.using(settings.DATABASE_ALIAS).bulk_create(
            rows, ignore_conflicts=True
        )
    except DatabaseError:
        logger.exception("Could not queue %d webhook deliveries", len(rows))
        return 0
    return len(rows)


def lead_captured(lead: Lead) -> int:
    """Queue ``lead.captured`` for a new lead (no query when nobody subscribes)."""
    if not get_subscriptions().wants(EventType.LEAD_CAPTURED):
        return 0
    campaign = lead.campaign
    data = {
        "lead": {
            "id": lead.pk,
            "email": lead.email,
            "consent": lead.consent,
            "campaign": campaign.slug if campaign is not None else None,
            "variant": lead.variant,
            "visitor_id": lead.visitor_id,
            "created_at": lead.created_at.isoformat().replace("+00:00", "Z"),
        }
    }
    return enqueue([WebhookEvent(EventType.LEAD_CAPTURED.value, data, key=f"lead:{lead.pk}")])
