"""The audit trail of privacy requests: what was done, by whom, never about whom."""

from __future__ import annotations

from django.db import models


class PrivacyRequest(models.Model):
    """One export or erasure of a person's data.

    It holds no personal data of the person: the kind of identifier they were found by
    (never its value) and how many records of each kind were exported or erased.
    """

    class Kind(models.TextChoices):
        EXPORT = "export", "Export"
        ERASE = "erase", "Erasure"

    kind = models.CharField(max_length=10, choices=Kind.choices)
    requested_by = models.CharField(
        max_length=150, help_text='The staff user\'s username, or "command line".'
    )
    identifier_kind = models.CharField(
        max_length=20, help_text="email, user_id or visitor_id (the value is never stored)."
    )
    counts = models.JSONField(default=dict, help_text="Records of each kind exported or erased.")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        app_label = "personalize"
        ordering = ["-created_at", "-pk"]
        verbose_name = "privacy request"
        permissions = [
            (
                "handle_privacy_requests",
                "Can look up, export and erase a person's personal data",
            )
        ]

    def __str__(self) -> str:
        return (
            f"{self.get_kind_display()} by {self.requested_by} ({self.created_at:%Y-%m-%d %H:%M})"
        )

    @property
    def total(self) -> int:
        return sum(int(n) for n in self.counts.values())
