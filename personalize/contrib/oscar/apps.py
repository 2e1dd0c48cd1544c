from __future__ import annotations

from django.apps import AppConfig


class PersonalizeOscarConfig(AppConfig):
    """Connects Oscar's signals to ``personalize.track`` and registers the app's checks."""

    name = "personalize.contrib.oscar"
    label = "personalize_oscar"
    verbose_name = "Personalization for django-oscar"

    def ready(self) -> None:
        from personalize.contrib.oscar import checks, receivers

        receivers.connect()
        checks.register()
