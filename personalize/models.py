"""Database tables: profiles for the embedded store and the durable event log."""

from __future__ import annotations

from django.db import models


class VisitorProfile(models.Model):
    """One visitor's profile document, used by :class:`DatabaseProfileStore`."""

    visitor_id = models.CharField(max_length=32, primary_key=True)
    user_id = models.CharField(max_length=64, blank=True, default="", db_index=True)
    email = models.CharField(max_length=320, blank=True, default="", db_index=True)
    last_seen = models.FloatField(default=0.0, db_index=True)
    data = models.JSONField(default=dict)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "visitor profile"
        constraints = [
            models.UniqueConstraint(
                fields=["user_id"],
                condition=~models.Q(user_id=""),
                name="personalize_profile_unique_user",
            ),
        ]

    def __str__(self) -> str:
        return self.email or self.visitor_id


class Event(models.Model):
    """An event in the durable log; ``event_id`` makes every insert idempotent."""

    event_id = models.CharField(max_length=32, unique=True)
    visitor_id = models.CharField(max_length=32, db_index=True)
    user_id = models.CharField(max_length=64, blank=True, default="")
    name = models.CharField(max_length=32)
    props = models.JSONField(default=dict, blank=True)
    visit = models.PositiveIntegerField(default=0)
    occurred_at = models.DateTimeField(db_index=True)
    logged_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        # Each index serves queries on large logs, and tests/test_event_indexes.py proves
        # it with EXPLAIN (docs/deployment.md, "The event log", has the table):
        # ``event_id`` (unique) the writer's ON CONFLICT DO NOTHING; ``occurred_at`` the
        # purge and the reads of a recent window (training, RFM, widget stats); (name,
        # occurred_at) campaign results, widget clicks, attribution; ``visitor_id``
        # attribution. ``name`` alone would duplicate the composite's leading column.
        # Migration 0007 drops the ``varchar_pattern_ops`` twins PostgreSQL gets for
        # indexed CharFields: nothing queries ``LIKE`` on them.
        ordering = ["-occurred_at", "-id"]
        indexes = [models.Index(fields=["name", "occurred_at"], name="personalize_event_name_at")]

    def __str__(self) -> str:
        return f"{self.name} by {self.visitor_id}"


class DeferredChange(models.Model):
    """A request's profile changes the store could not apply, kept for replay.

    Written when a request is served without its profile (the store timed out or
    its breaker is open) or when writing its changes failed; ``personalize_worker``
    replays each exactly once when the store answers again (the store marks the
    batch id with the changes), so counters end equal to what the event log implies.
    """

    #: The request's first event id: what the store marks when it applies the batch.
    batch_id = models.CharField(max_length=32, unique=True)
    visitor_id = models.CharField(max_length=32)
    #: Whether the changes were sent and may have been applied (a timeout after
    #: sending); otherwise they certainly were not (never computed, breaker open).
    maybe_applied = models.BooleanField(default=False)
    #: The visit facts to record when the request's visit itself was not recorded.
    visit = models.JSONField(null=True, blank=True)
    events = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)
    attempts = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = "deferred profile change"
        # The worker reads the oldest first.
        indexes = [models.Index(fields=["created_at"], name="personalize_deferred_at")]

    def __str__(self) -> str:
        return f"{len(self.events)} events of {self.visitor_id}"


from personalize.analytics.models import AttributedDay, Dashboard, RollupDay, VisitDay  # noqa: E402
from personalize.api.models import ApiKey  # noqa: E402
from personalize.campaigns.models import Campaign, CouponCode, Lead, Variant  # noqa: E402
from personalize.privacy.models import PrivacyRequest  # noqa: E402
from personalize.recommendations.models import (  # noqa: E402
    TrainedModel,
    TrainedRow,
    Widget,
    WidgetRule,
)
from personalize.rfm.models import RFMReport  # noqa: E402
from personalize.segments.models import ConfigVersion, Segment, SegmentMember  # noqa: E402
from personalize.webhooks.models import Webhook, WebhookCursor, WebhookDelivery  # noqa: E402

__all__ = [
    "ApiKey",
    "AttributedDay",
    "Campaign",
    "ConfigVersion",
    "CouponCode",
    "Dashboard",
    "DeferredChange",
    "Event",
    "Lead",
    "PrivacyRequest",
    "RFMReport",
    "RollupDay",
    "Segment",
    "SegmentMember",
    "TrainedModel",
    "TrainedRow",
    "Variant",
    "VisitDay",
    "VisitorProfile",
    "Webhook",
    "WebhookCursor",
    "WebhookDelivery",
    "Widget",
    "WidgetRule",
]
