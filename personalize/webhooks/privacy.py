"""What the delivery log holds about one person, for access and erasure requests.

Delivery bodies name visitors (id, user id, email). An erasure deletes the
person's deliveries, waiting ones included (they are not sent afterwards); an
export lists them.
"""

from __future__ import annotations

from django.db.models import Q, QuerySet

from personalize.conf import settings
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
