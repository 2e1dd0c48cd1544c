from __future__ import annotations

from django.apps import AppConfig


class PersonalizeConfig(AppConfig):
    name = "personalize"
    verbose_name = "Personalization"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from personalize import checks, signals  # noqa: F401  (registers checks and receivers)
        from personalize.analytics.privacy import VisitDaySource
        from personalize.privacy.sources import register_source
        from personalize.webhooks.privacy import WebhookDeliverySource

        register_source(WebhookDeliverySource())
        register_source(VisitDaySource())
