"""The Oscar integration's system checks."""

from __future__ import annotations

from django.conf import settings
from django.test import override_settings

from personalize.contrib.oscar.checks import MIDDLEWARE, check_oscar_settings


def ids() -> list[str]:
    return [message.id or "" for message in check_oscar_settings()]


def test_the_test_shop_is_configured_right() -> None:
    assert ids() == []


def test_w005_catalogue_that_ignores_oscars_strategy() -> None:
    with override_settings(PERSONALIZE_CATALOGUE="personalize.recommendations.catalogue.Nope"):
        assert ids() == ["personalize_oscar.W001"]
    with override_settings(
        PERSONALIZE_CATALOGUE="personalize.recommendations.catalogue.ModelCatalogue"
    ):
        assert ids() == ["personalize_oscar.W001"]


def test_w006_category_middleware_missing() -> None:
    with override_settings(MIDDLEWARE=[m for m in settings.MIDDLEWARE if m != MIDDLEWARE]):
        assert ids() == ["personalize_oscar.W002"]


def test_w007_currency_differs_from_oscars() -> None:
    with override_settings(PERSONALIZE_CURRENCY="EUR"):
        messages = check_oscar_settings()
    assert [m.id for m in messages] == ["personalize_oscar.W003"]
    assert "'EUR'" in messages[0].msg and "'GBP'" in messages[0].msg
