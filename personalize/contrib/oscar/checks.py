"""System checks of the Oscar integration (``manage.py check``)."""

from __future__ import annotations

from typing import Any

from django.conf import settings as project
from django.core.checks import CheckMessage, Tags, Warning
from django.core.checks import register as register_check
from django.utils.module_loading import import_string

from personalize.conf import settings

CATALOGUE = "personalize.contrib.oscar.catalogue.OscarCatalogue"
MIDDLEWARE = "personalize.contrib.oscar.middleware.CategoryViewMiddleware"


def check_oscar_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """The catalogue, the category middleware and the currency fit an Oscar shop."""
    from personalize.contrib.oscar.catalogue import OscarCatalogue

    messages: list[CheckMessage] = []
    try:
        catalogue = import_string(settings.CATALOGUE)
    except ImportError:
        catalogue = None
    if not (isinstance(catalogue, type) and issubclass(catalogue, OscarCatalogue)):
        messages.append(
            Warning(
                f"PERSONALIZE_CATALOGUE = {settings.CATALOGUE!r} does not read Oscar's products "
                "through Oscar's pricing strategy.",
                hint=f'Set PERSONALIZE_CATALOGUE = "{CATALOGUE}" (or a subclass of it).',
                id="personalize_oscar.W001",
            )
        )
    if MIDDLEWARE not in project.MIDDLEWARE:
        messages.append(
            Warning(
                "CategoryViewMiddleware is not installed, so category pages are not tracked.",
                hint=f"Add '{MIDDLEWARE}' to MIDDLEWARE.",
                id="personalize_oscar.W002",
            )
        )
    oscar_currency = getattr(project, "OSCAR_DEFAULT_CURRENCY", None)
    if oscar_currency and oscar_currency != settings.CURRENCY:
        messages.append(
            Warning(
                f"PERSONALIZE_CURRENCY is {settings.CURRENCY!r} but OSCAR_DEFAULT_CURRENCY is "
                f"{oscar_currency!r}: widgets would show Oscar's prices in the wrong currency.",
                hint="Set PERSONALIZE_CURRENCY = OSCAR_DEFAULT_CURRENCY.",
                id="personalize_oscar.W003",
            )
        )
    return messages


def register() -> None:
    """Register the checks; only when the Oscar integration is installed."""
    register_check(Tags.compatibility)(check_oscar_settings)
