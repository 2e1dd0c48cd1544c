"""Stored results of RFM runs, for the admin report."""

from __future__ import annotations

from django.db import models


class RFMReport(models.Model):
    """One ``personalize_rfm`` run: the R x F grid and segment counts at that moment."""

    as_of = models.DateTimeField()
    customers = models.PositiveIntegerField()
    grid = models.JSONField(default=dict, help_text='"r,f" -> number of customers')
    segments = models.JSONField(default=dict, help_text="segment slug -> number of customers")
    duration_seconds = models.FloatField(default=0.0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "RFM report"

    def __str__(self) -> str:
        return f"RFM {self.as_of:%Y-%m-%d} ({self.customers} customers)"
