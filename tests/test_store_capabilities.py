"""What a store can do is asked of the store, never guessed from its class.

A third-party store that implements only the required methods
(``tests/memory_store.py``) gets every optional capability's safe default:
configuration changes polled from the database, nothing for the worker to drain,
recommendation tables in the database, no email index, no extra checks.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.test import Client, override_settings

from personalize import configuration
from personalize.checks import check_store
from personalize.models import ConfigVersion, Event
from personalize.profiles.base import BaseProfileStore, get_store, reset_store
from personalize.recommendations.storage import DatabaseModelStore, RedisModelStore, model_store
from personalize.segments.admin import find_profile

MEMORY_STORE = "tests.memory_store.MemoryProfileStore"
PACKAGE = Path(__file__).resolve().parent.parent / "personalize"
CONCRETE_STORES = {"RedisProfileStore": "redis.py", "DatabaseProfileStore": "database.py"}


@pytest.fixture
def memory_store() -> Iterator[BaseProfileStore]:
    reset_store()
    with override_settings(PERSONALIZE_STORE=MEMORY_STORE):
        yield get_store()
    reset_store()


def test_no_module_asks_which_class_a_store_is() -> None:
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if not (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in {"isinstance", "issubclass"}
                and len(node.args) == 2
            ):
                continue
            names = {n.id for n in ast.walk(node.args[1]) if isinstance(n, ast.Name)}
            names |= {n.attr for n in ast.walk(node.args[1]) if isinstance(n, ast.Attribute)}
            for cls, home in CONCRETE_STORES.items():
                if cls in names and not (path.parent.name == "profiles" and path.name == home):
                    offenders.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno} ({cls})")
    assert offenders == []


@pytest.mark.django_db
def test_a_minimal_store_serves_pages_and_logs_events(memory_store: BaseProfileStore) -> None:
    client = Client(HTTP_USER_AGENT="Mozilla/5.0 (X11; Linux x86_64) Chrome/130.0")
    assert client.get("/", HTTP_ACCEPT="text/html").status_code == 200
    body = client.get("/personalize/api/visitor/").json()
    assert body["tracked"] is True and body["visit_count"] == 1
    assert Event.objects.filter(name="page_view").count() == 1
    profile = memory_store.load(body["id"])
    assert profile is not None and profile.pageviews_total == 1


@pytest.mark.django_db
def test_configuration_changes_are_polled_from_the_database(
    memory_store: BaseProfileStore,
) -> None:
    assert memory_store.config_version() is None
    version = configuration.bump()
    assert version == ConfigVersion.objects.get(pk=1).version
    configuration._observed = None  # the next reading goes to the source
    assert configuration.current_version() == version


def test_trained_tables_go_to_the_database(memory_store: BaseProfileStore) -> None:
    assert isinstance(model_store(), DatabaseModelStore)


@pytest.mark.redis
def test_the_redis_store_keeps_its_tables_in_redis(use_redis_store: BaseProfileStore) -> None:
    assert isinstance(model_store(), RedisModelStore)
    assert model_store() is model_store()  # one instance: its script is registered once


def test_the_worker_says_there_is_nothing_to_drain(memory_store: BaseProfileStore) -> None:
    with pytest.raises(CommandError, match="nothing to drain"):
        call_command("personalize_worker", "--until-empty")


@pytest.mark.django_db
def test_email_lookup_without_an_index_finds_nobody(memory_store: BaseProfileStore) -> None:
    assert memory_store.visitor_for_email("shopper@example.com") is None
    assert find_profile("shopper@example.com") is None


def test_a_store_adds_its_own_checks() -> None:
    with override_settings(PERSONALIZE_STORE=MEMORY_STORE):
        assert check_store() == []
    with override_settings(
        PERSONALIZE_STORE="personalize.profiles.redis.RedisProfileStore",
        PERSONALIZE_REDIS_URL="redis://127.0.0.1:1/0",
    ):
        assert [m.id for m in check_store()] == ["personalize.W003"]
    with override_settings(
        PERSONALIZE_STORE="personalize.profiles.redis.RedisProfileStore",
        PERSONALIZE_REDIS_URL="not-a-url",
    ):
        messages = check_store()
        assert [m.id for m in messages] == ["personalize.E001"]
        assert "cannot be created" in messages[0].msg
