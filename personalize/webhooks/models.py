"""Webhook configuration and the delivery queue (which is also the delivery log)."""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.db import models


class EventType(models.TextChoices):
    SEGMENT_ENTERED = "segment.entered", "segment.entered — a visitor entered a segment"
    SEGMENT_LEFT = "segment.left", "segment.left — a visitor left a segment"
    LEAD_CAPTURED = "lead.captured", "lead.captured — a campaign form captured an email"
    ORDER_ATTRIBUTED = (
        "order.attributed",
        "order.attributed — an order followed a campaign or a recommendation click",
    )


SEGMENT_EVENTS = frozenset({EventType.SEGMENT_ENTERED.value, EventType.SEGMENT_LEFT.value})


def new_secret() -> str:
    return f"whsec_{secrets.token_urlsafe(32)}"


def validate_webhook_url(value: str) -> None:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https"):
        raise ValidationError(
            f"The URL must start with https:// (or http://), not {parts.scheme or 'nothing'}:"
            " webhooks are sent as HTTP POST requests only.",
            code="scheme",
        )
    if not parts.hostname:
        raise ValidationError(
            "The URL has no host name: enter a full address like https://example.com/hooks.",
            code="host",
        )


def validate_event_types(value: Any) -> None:
    if not isinstance(value, list) or not value:
        raise ValidationError("Choose at least one event to send.", code="required")
    unknown = sorted(str(v) for v in value if v not in EventType.values)
    if unknown:
        raise ValidationError(
            f"Unknown event type(s): {', '.join(unknown)}; choose from "
            f"{', '.join(EventType.values)}.",
            code="unknown",
        )


class Webhook(models.Model):
    """An endpoint of the merchant's that receives signed JSON events."""

    name = models.CharField(max_length=100)
    url = models.URLField(
        "URL",
        max_length=500,
        validators=[validate_webhook_url],
        help_text="Where events are POSTed, e.g. https://crm.example.com/hooks/personalize.",
    )
    secret = models.CharField(
        max_length=100,
        default=new_secret,
        editable=False,
        help_text="Signs every request (X-Personalize-Signature). Give it to the receiver.",
    )
    events = models.JSONField(
        default=list,
        error_messages={"blank": "Choose at least one event to send."},
        validators=[validate_event_types],
        help_text="The event types to send.",
    )
    segments = models.ManyToManyField(
        "personalize.Segment",
        blank=True,
        related_name="webhooks",
        help_text="Send segment.entered / segment.left for these segments only "
        "(none selected: every segment).",
    )
    is_active = models.BooleanField(
        "active",
        default=True,
        help_text="Inactive webhooks get no new events; waiting deliveries wait.",
    )
    consecutive_failures = models.PositiveIntegerField(default=0, editable=False)
    disabled_reason = models.TextField(blank=True, editable=False)
    disabled_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "pk"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if isinstance(self.events, list) and set(self.events) <= set(EventType.values):
            self.events = sorted(set(self.events), key=EventType.values.index)


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Waiting"
    SENDING = "sending", "Sending"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed (gave up)"


class WebhookDelivery(models.Model):
    """One event for one webhook: queued, attempted, and kept as the delivery log."""

    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    event_type = models.CharField(max_length=32, choices=EventType.choices)
    #: Makes enqueueing idempotent: one delivery per webhook and event, however often a
    #: worker rescans (``order.attributed:<event id>``, ``lead.captured:<lead id>``...).
    event_key = models.CharField(max_length=80)
    body = models.JSONField()
    status = models.CharField(
        max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    claim_token = models.CharField(max_length=32, blank=True, default="")
    last_response_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    attempt_log = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField()
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "webhook deliveries"
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["webhook", "event_key"], name="personalize_delivery_unique_event"
            ),
        ]
        indexes = [
            # The worker's claim: due deliveries, oldest first.
            models.Index(fields=["status", "next_attempt_at"], name="personalize_delivery_due"),
            # personalize_purge: finished deliveries past PERSONALIZE_WEBHOOK_LOG_DAYS.
            models.Index(fields=["created_at"], name="personalize_delivery_created"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} to {self.webhook_id} ({self.status})"


class WebhookCursor(models.Model):
    """How far a worker's scan of the event log got (``order.attributed``)."""

    name = models.CharField(max_length=40, primary_key=True)
    position = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.name}@{self.position}"
