"""System checks: each id fires on the misconfiguration it names, and only then."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.test import override_settings

from personalize import checks

MW = checks.MIDDLEWARE_PATH
AUTH = checks.AUTH_MIDDLEWARE
SESSION = checks.SESSION_MIDDLEWARE


def ids(messages: list[Any]) -> list[str]:
    return [m.id for m in messages]


def test_demo_settings_pass_every_check() -> None:
    assert checks.check_middleware() == []
    assert checks.check_store() == []
    assert checks.check_settings() == []
    assert checks.check_time_zone_support() == []


def test_w001_middleware_missing() -> None:
    with override_settings(MIDDLEWARE=[SESSION, AUTH]):
        assert ids(checks.check_middleware()) == ["personalize.W001"]


def test_e002_before_authentication() -> None:
    with override_settings(MIDDLEWARE=[SESSION, MW, AUTH]):
        assert ids(checks.check_middleware()) == ["personalize.E002"]


def test_e003_before_sessions() -> None:
    with override_settings(MIDDLEWARE=[MW, SESSION]):
        assert ids(checks.check_middleware()) == ["personalize.W002", "personalize.E003"]


def test_w002_no_authentication() -> None:
    with override_settings(MIDDLEWARE=[SESSION, MW]):
        assert ids(checks.check_middleware()) == ["personalize.W002"]


@pytest.mark.parametrize(
    "path", ["nope.Store", "personalize.profiles.base.get_store", "personalize.conf.Settings"]
)
def test_e001_bad_store(path: str) -> None:
    with override_settings(PERSONALIZE_STORE=path):
        messages = checks.check_store()
    assert ids(messages) == ["personalize.E001"]
    assert "PERSONALIZE_STORE" in messages[0].msg


def test_w003_unreachable_redis() -> None:
    with override_settings(
        PERSONALIZE_STORE="personalize.profiles.redis.RedisProfileStore",
        PERSONALIZE_REDIS_URL="redis://127.0.0.1:1/0",
    ):
        assert ids(checks.check_store()) == ["personalize.W003"]


def test_w003_silent_when_redis_answers(redis_url: str) -> None:
    with override_settings(
        PERSONALIZE_STORE="personalize.profiles.redis.RedisProfileStore",
        PERSONALIZE_REDIS_URL=redis_url,
    ):
        assert checks.check_store() == []


def test_e009_time_zone_support_off() -> None:
    with override_settings(USE_TZ=False):
        messages = checks.check_time_zone_support()
    assert ids(messages) == ["personalize.E009"]
    assert "USE_TZ = True" in messages[0].hint


@pytest.mark.filterwarnings("ignore:Overriding setting DATABASES")
def test_w004_sqlite_without_immediate_transactions() -> None:
    databases = {"default": {**settings.DATABASES["default"], "OPTIONS": {}}}
    with override_settings(DATABASES=databases):
        assert ids(checks.check_store()) == ["personalize.W004"]


def test_e005_unknown_database_alias() -> None:
    with override_settings(PERSONALIZE_DATABASE_ALIAS="nope"):
        assert ids(checks.check_store()) == ["personalize.E005"]


@pytest.mark.parametrize(
    "overrides",
    [
        {"PERSONALIZE_VISIT_TIMEOUT": 0},
        {"PERSONALIZE_VISIT_TIMEOUT": "soon"},
        {"PERSONALIZE_COOKIE_AGE": -1},
        {"PERSONALIZE_RETENTION_DAYS": 0},
        {"PERSONALIZE_REDIS_TIMEOUT": 0},
        {"PERSONALIZE_REDIS_TIMEOUT": "fast"},
        {"PERSONALIZE_COOKIE_NAME": "bad name;"},
        {"PERSONALIZE_CONSENT_COOKIE_NAME": ""},
        {"PERSONALIZE_RECS_K": 0},
        {"PERSONALIZE_RECS_BESTSELLER_DAYS": "a month"},
        {"PERSONALIZE_RECS_TRENDING_HALF_LIFE_DAYS": -1},
        {"PERSONALIZE_RECS_HISTORY_HALF_LIFE_HOURS": "soon"},
        {"PERSONALIZE_STREAM_MAXLEN": 10},
        {"PERSONALIZE_STREAM_MAXLEN": "a lot"},
        {"PERSONALIZE_STREAM_SHARDS": 0},
        {"PERSONALIZE_STREAM_SHARDS": "three"},
        {"PERSONALIZE_WEBHOOK_TIMEOUT": 0},
        {"PERSONALIZE_WEBHOOK_RETRY_HOURS": "a day"},
        {"PERSONALIZE_WEBHOOK_MAX_FAILURES": 0},
        {"PERSONALIZE_WEBHOOK_BATCH_SIZE": -5},
        {"PERSONALIZE_WEBHOOK_LOG_DAYS": 0},
    ],
)
def test_e004_invalid_settings(overrides: dict[str, Any]) -> None:
    with override_settings(**overrides):
        messages = checks.check_settings()
    assert ids(messages) == ["personalize.E004"]
    name = next(iter(overrides))
    assert name in messages[0].msg


@pytest.mark.parametrize("label", ["nope.Product", "shop_demo", "shop_demo.Nope"])
def test_e006_unknown_product_model(label: str) -> None:
    with override_settings(PERSONALIZE_PRODUCT_MODEL=label):
        assert ids(checks.check_product_model()) == ["personalize.E006"]


def test_e007_unknown_product_field_keys() -> None:
    with override_settings(PERSONALIZE_PRODUCT_FIELDS={"name": "title", "price": "price"}):
        messages = checks.check_product_model()
    assert ids(messages) == ["personalize.E007"]
    assert "unknown keys: name" in messages[0].msg and "category" in str(messages[0].hint)


@pytest.mark.parametrize(
    ("fields", "missing"),
    [
        ({"title": "title"}, "'title'"),  # the demo's Product calls it "name"
        ({"category": "category.code"}, "'code'"),  # followed through the relation
        ({"category": "kind.slug"}, "'kind'"),
    ],
)
def test_w005_product_field_path_the_model_lacks(fields: dict[str, str], missing: str) -> None:
    with override_settings(PERSONALIZE_PRODUCT_FIELDS=fields):
        messages = checks.check_product_model()
    assert ids(messages) == ["personalize.W005"]
    assert f"{missing} is not an attribute of shop_demo.Product" in messages[0].msg
    assert next(iter(fields)) in messages[0].msg


def test_w005_silent_for_properties_methods_and_own_catalogues() -> None:
    # get_absolute_url is a method and image_url a property: neither is walked into.
    with override_settings(PERSONALIZE_PRODUCT_FIELDS={"url": "get_absolute_url.x"}):
        assert checks.check_product_model() == []
    with override_settings(
        PERSONALIZE_PRODUCT_FIELDS={"title": "nope"},
        PERSONALIZE_CATALOGUE="personalize.recommendations.catalogue.BaseCatalogue",
    ):
        assert checks.check_product_model() == []


def test_product_model_ok_or_unset() -> None:
    assert checks.check_product_model() == []
    with override_settings(PERSONALIZE_PRODUCT_MODEL=""):
        assert checks.check_product_model() == []


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("SELECT_RELATED", "category", "must be a list"),
        ("PREFETCH_RELATED", [1], "must be a list"),
        ("SELECT_RELATED", ["nope"], "has no relation 'nope'"),
        ("SELECT_RELATED", ["name"], "has no relation 'name'"),
        ("SELECT_RELATED", ["order_items"], "many-valued"),
        ("PREFETCH_RELATED", ["category__nope"], "shop_demo.Category has no relation 'nope'"),
    ],
)
def test_e008_catalogue_relations(name: str, value: object, message: str) -> None:
    with override_settings(**{f"PERSONALIZE_CATALOGUE_{name}": value}):
        messages = checks.check_catalogue_relations()
    assert ids(messages) == ["personalize.E008"]
    assert message in messages[0].msg and f"PERSONALIZE_CATALOGUE_{name}" in messages[0].msg


def test_catalogue_relations_ok() -> None:
    assert checks.check_catalogue_relations() == []
    with override_settings(
        PERSONALIZE_CATALOGUE_SELECT_RELATED=["category"],
        PERSONALIZE_CATALOGUE_PREFETCH_RELATED=("order_items__order", "category__products"),
    ):
        assert checks.check_catalogue_relations() == []
    # Without a product model only the shape can be checked.
    with override_settings(
        PERSONALIZE_PRODUCT_MODEL="", PERSONALIZE_CATALOGUE_SELECT_RELATED=["anything"]
    ):
        assert checks.check_catalogue_relations() == []


def test_w008_api_docs_assets_missing() -> None:
    assert checks.check_api_docs_assets() == []
    apps_without = [app for app in settings.INSTALLED_APPS if app != "drf_spectacular_sidecar"]
    with override_settings(INSTALLED_APPS=apps_without):
        assert ids(checks.check_api_docs_assets()) == ["personalize.W008"]
