"""API keys for the headless and server-to-server API (docs/api.md)."""

import django.core.validators
import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

import personalize.api.models


class Migration(migrations.Migration):
    dependencies = [
        ("personalize", "0008_deferred_changes"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="ApiKey",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "name",
                    models.CharField(
                        help_text="Who uses this key, e.g. 'CRM sync'.", max_length=100
                    ),
                ),
                ("prefix", models.CharField(editable=False, max_length=8, unique=True)),
                ("secret_hash", models.CharField(editable=False, max_length=64)),
                (
                    "scopes",
                    models.JSONField(
                        blank=True,
                        default=list,
                        help_text="What the key may do: events:write, decisions:read, "
                        "recommendations:read, segments:read, analytics:read, privacy:write.",
                        validators=[personalize.api.models._scope_list_validator],
                    ),
                ),
                (
                    "rate_limit",
                    models.PositiveIntegerField(
                        default=600,
                        help_text="Requests per minute, counted across every app server.",
                        validators=[
                            django.core.validators.MinValueValidator(1),
                            django.core.validators.MaxValueValidator(100000),
                        ],
                    ),
                ),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("last_used_at", models.DateTimeField(blank=True, editable=False, null=True)),
                ("revoked_at", models.DateTimeField(blank=True, editable=False, null=True)),
                (
                    "created_by",
                    models.ForeignKey(
                        blank=True,
                        editable=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={"verbose_name": "API key", "ordering": ["-created_at"]},
        ),
    ]
