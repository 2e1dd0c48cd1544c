"""Segment configuration tables."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models


class Segment(models.Model):
    """A named condition over visitor attributes (GrowthBook's condition language)."""

    name = models.CharField(max_length=100)
    slug = models.SlugField(
        max_length=80, unique=True, help_text='Used in templates: {% ifsegment "slug" %}.'
    )
    description = models.TextField(blank=True)
    enabled = models.BooleanField(default=True)
    condition = models.JSONField(
        default=dict,
        blank=True,
        help_text='Condition document, e.g. {"visit_count": {"$gte": 2}}. '
        "Use the rule builder or edit the JSON.",
    )
    builtin = models.BooleanField(
        default=False,
        editable=False,
        help_text="Shipped with personalize; editable, not deletable.",
    )
    position = models.PositiveIntegerField(
        default=100,
        help_text="Segments are evaluated in this order; a condition can test "
        "segments matched earlier via the 'segments' attribute.",
    )
    estimated_size = models.PositiveIntegerField(null=True, blank=True, editable=False)
    estimated_at = models.DateTimeField(null=True, blank=True, editable=False)
    estimated_population = models.PositiveIntegerField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["position", "name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        from personalize.conditions import validate_condition

        if not isinstance(self.condition, dict):
            raise ValidationError({"condition": "The condition must be a JSON object."})
        errors = validate_condition(self.condition)
        if errors:
            raise ValidationError({"condition": errors})

    @property
    def group_id(self) -> str:
        """The saved-group id of this segment's static members (for ``$inGroup``)."""
        return self.slug


class SegmentMember(models.Model):
    """A static member of a segment: a visitor id, a user id or an email."""

    class Kind(models.TextChoices):
        VISITOR = "visitor", "Visitor id"
        USER = "user", "User id"
        EMAIL = "email", "Email"

    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="members")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    value = models.CharField(max_length=320)
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["segment", "kind", "value"], name="personalize_member_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind}:{self.value}"

    @property
    def key(self) -> str:
        """How the member appears in the visitor's ``ids`` attribute."""
        return member_key(self.kind, self.value)


def member_key(kind: str, value: str) -> str:
    prefix = {"visitor": "v", "user": "u", "email": "e"}[kind]
    return f"{prefix}:{value.lower() if kind == 'email' else value}"


class ConfigVersion(models.Model):
    """A counter bumped on every configuration change, so workers know to reload."""

    version = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"v{self.version}"
