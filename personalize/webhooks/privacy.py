"""What the delivery log holds about one person, for access and erasure requests.

Delivery bodies name visitors (id, user id, email). An erasure deletes the
person's deliveries, waiting ones included (they are not sent afterwards); an
export lists them.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from personalize.conf import settings
from personalize.privacy.person import Person
from personalize.webhooks.models import WebhookDelivery


def deliveries_about(visitor_id: str, *, email: str = "") -> QuerySet[WebhookDelivery]:
    """Every delivery whose body names this visitor (or, given, this email)."""
    about = (
        Q(body__data__visitor__id=visitor_id)
        | Q(body__data__lead__visitor_id=visitor_id)
    )  # fmt: skip
    if email:
        about |= Q(body__data__visitor__email=email) | Q(body__data__lead__email=email)
    return WebhookDelivery.objects.using(settings.DATABASE_ALIAS).filter(about)


def erase_deliveries(visitor_id: str, *, email: str = "") -> int:
    """Delete the deliveries about a person; the number deleted."""
    deleted, _ = deliveries_about(visitor_id, email=email).delete()
    return deleted


class WebhookDeliverySource:
    """The delivery log as a personal-data source (``personalize.privacy.sources``):
    deliveries whose body names one of the person's visitor ids or emails."""

    name = "webhook_deliveries"

    def _rows(self, person: Person) -> QuerySet[WebhookDelivery]:
        about = Q(pk__in=[])
        for visitor_id in person.visitor_ids:
            about |= Q(body__data__visitor__id=visitor_id)
            about |= Q(body__data__lead__visitor_id=visitor_id)
        for email in person.emails:
            about |= Q(body__data__visitor__email__iexact=email)
            about |= Q(body__data__lead__email__iexact=email)
        return WebhookDelivery.objects.using(settings.DATABASE_ALIAS).filter(about)

    def count(self, person: Person) -> dict[str, int]:
        return {"webhook_deliveries": self._rows(person).count()}

    def export(self, person: Person) -> dict[str, list[dict[str, Any]]]:
        return {
            "webhook_deliveries": [
                {"event": row.event_type, "body": row.body,
                 "created_at": row.created_at.isoformat()}
                for row in self._rows(person).order_by("created_at", "pk")
            ]
        }  # fmt: skip

    def erase(self, person: Person) -> dict[str, int]:
        deleted, _ = self._rows(person).delete()
        return {"webhook_deliveries": deleted}
