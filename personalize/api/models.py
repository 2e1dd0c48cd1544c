"""API keys for server-to-server clients (integrations, headless storefronts)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings as django_settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from personalize.api.keys import (
    DEFAULT_RATE_LIMIT,
    SCOPES,
    NewToken,
    generate_token,
    invalid_scopes,
)

#: ``last_used_at`` is written at most this often per key, not on every request.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def _scope_list_validator(value: object) -> None:
    unknown = invalid_scopes(value)
    if unknown:
        raise ValidationError(
            f"Unknown scope(s) {', '.join(unknown)}; use some of {', '.join(SCOPES)}."
        )


class ApiKey(models.Model):
    """A key a client sends as ``Authorization: Bearer pz_<prefix>_<secret>``.

    Only the prefix and an HMAC of the token are stored: the full token is shown
    once, when the key is created (:meth:`issue`), and cannot be recovered.
    """

    name = models.CharField(max_length=100, help_text="Who uses this key, e.g. 'CRM sync'.")
    prefix = models.CharField(max_length=8, unique=True, editable=False)
    secret_hash = models.CharField(max_length=64, editable=False)
    scopes = models.JSONField(
        default=list,
        blank=True,
        validators=[_scope_list_validator],
        help_text="What the key may do: " + ", ".join(SCOPES) + ".",
    )
    rate_limit = models.PositiveIntegerField(
        default=DEFAULT_RATE_LIMIT,
        validators=[MinValueValidator(1), MaxValueValidator(100_000)],
        help_text="Requests per minute, counted across every app server.",
    )
    created_by = models.ForeignKey(
        django_settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        editable=False,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = "API key"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} (pz_{self.prefix}_…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def has_scope(self, scope: str) -> bool:
        return isinstance(self.scopes, list) and scope in self.scopes

    def issue(self) -> NewToken:
        """Give the (unsaved) key a new secret; return the token to show once."""
        token = generate_token()
        self.prefix = token.prefix
        self.secret_hash = token.hashed
        return token

    def mark_used(self, now: datetime | None = None) -> None:
        """Record use, writing to the database at most once a minute per key.

        The conditional UPDATE makes concurrent requests of one key write once too.
        """
        now = now or timezone.now()
        if self.last_used_at is not None and now - self.last_used_at < LAST_USED_RESOLUTION:
            return
        stale = models.Q(last_used_at__isnull=True) | models.Q(
            last_used_at__lt=now - LAST_USED_RESOLUTION
        )
        ApiKey.objects.filter(stale, pk=self.pk).update(last_used_at=now)
        self.last_used_at = now
