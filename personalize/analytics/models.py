"""Daily rollups of the event log: what the dashboard and the analytics API read.

``personalize_rollup`` (and the worker, for today and yesterday) replaces a day's rows
as a whole, so re-running a day is idempotent. Days are UTC calendar days.
"""

from __future__ import annotations

from django.db import models


class RollupDay(models.Model):
    """One rolled-up UTC day: its totals (the daily trend) and when it was computed."""

    day = models.DateField(unique=True)
    events = models.PositiveIntegerField(default=0)
    visitors = models.PositiveIntegerField(default=0)
    visits = models.PositiveIntegerField(default=0)
    converting_visits = models.PositiveIntegerField(default=0)
    orders = models.PositiveIntegerField(default=0)
    revenue = models.DecimalField(max_digits=16, decimal_places=2, default=0)
    captures = models.PositiveIntegerField(default=0)
    rolled_at = models.DateTimeField()

    class Meta:
        ordering = ["day"]
        verbose_name = "rolled-up day"

    def __str__(self) -> str:
        return f"{self.day:%Y-%m-%d}"


class Dashboard(RollupDay):
    """The analytics dashboard's place in the admin (``/admin/personalize/dashboard/``).

    A proxy, so the page gets an admin URL, an entry in the app list and a "Can view
    dashboard" permission without a table of its own.
    """

    class Meta:
        proxy = True
        verbose_name = "dashboard"
        verbose_name_plural = "dashboard"


class VisitDay(models.Model):
    """One visit's part of one UTC day: the rows every range figure is summed from.

    A visit that runs past midnight has a row on each day. The dimensions describe the
    visitor when the day was rolled up (see docs/analytics.md for what is exact).
    """

    day = models.DateField()
    visitor_id = models.CharField(max_length=32)
    visit = models.PositiveIntegerField()
    events = models.PositiveIntegerField(default=0)
    orders = models.PositiveIntegerField(default=0)
    revenue = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    captures = models.PositiveIntegerField(default=0)
    device = models.CharField(max_length=16, default="")
    utm_source = models.CharField(max_length=64, default="")
    lifecycle = models.CharField(max_length=32, default="")
    rfm = models.CharField(max_length=32, default="")

    class Meta:
        verbose_name = "visit day"
        constraints = [
            models.UniqueConstraint(
                fields=["day", "visitor_id", "visit"], name="personalize_visitday_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.visitor_id} visit {self.visit} on {self.day:%Y-%m-%d}"


class AttributedDay(models.Model):
    """Orders of one UTC day attributed to one campaign or widget (``key`` "" = any)."""

    day = models.DateField()
    kind = models.CharField(max_length=16)  # "campaign" or "widget"
    key = models.CharField(max_length=100)  # the campaign slug or widget slot
    orders = models.PositiveIntegerField(default=0)
    revenue = models.DecimalField(max_digits=16, decimal_places=2, default=0)

    class Meta:
        verbose_name = "attributed day"
        constraints = [
            models.UniqueConstraint(
                fields=["day", "kind", "key"], name="personalize_attributedday_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.key or '(any)'} on {self.day:%Y-%m-%d}"
