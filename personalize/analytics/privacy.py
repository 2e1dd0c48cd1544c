"""What the analytics rollups hold about one person: their visit-day rows.

:class:`VisitDay` rows name a visitor id (the breakdown's distinct visitors need it).
An erasure deletes them; the days' totals (:class:`RollupDay`, :class:`AttributedDay`)
are counts without ids and stay.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from personalize.analytics.models import VisitDay
from personalize.conf import settings
from personalize.privacy.person import Person


class VisitDaySource:
    """The rollups as a personal-data source (``personalize.privacy.sources``)."""

    name = "analytics_visit_days"

    def _rows(self, person: Person) -> QuerySet[VisitDay]:
        ids = [v for v in person.visitor_ids if v]
        return VisitDay.objects.using(settings.DATABASE_ALIAS).filter(visitor_id__in=ids)

    def count(self, person: Person) -> dict[str, int]:
        return {"analytics_visit_days": self._rows(person).count()}

    def export(self, person: Person) -> dict[str, list[dict[str, Any]]]:
        rows = self._rows(person).order_by("day", "visitor_id", "visit")
        return {
            "analytics_visit_days": [
                {
                    "day": row.day.isoformat(),
                    "visitor_id": row.visitor_id,
                    "visit": row.visit,
                    "events": row.events,
                    "orders": row.orders,
                    "revenue": str(row.revenue),
                    "device": row.device,
                    "utm_source": row.utm_source,
                    "lifecycle": row.lifecycle,
                    "rfm": row.rfm,
                }
                for row in rows
            ]
        }

    def erase(self, person: Person) -> dict[str, int]:
        deleted, _ = self._rows(person).delete()
        return {"analytics_visit_days": deleted}
