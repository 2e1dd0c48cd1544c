"""Redis memory stays bounded, and a full Redis loses no events.

The event stream used to grow without limit while no worker drained it, and a
Redis out of memory lost the events of every request that hit it. Now a stream
at ``PERSONALIZE_STREAM_MAXLEN`` takes no more events (they go to the database
log directly), a Redis that refuses writes (OOM under ``noeviction``) sends them
there too, and a system check warns when Redis may evict profiles.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from django.test import Client, override_settings

from personalize.checks import check_store
from personalize.models import Event
from personalize.profiles.base import get_store, reset_store
from personalize.profiles.redis import RedisProfileStore
from tests.conftest import REDIS_STORE

CHROME = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36"

pytestmark = [pytest.mark.redis, pytest.mark.urls("tests.urls")]


def browser() -> Client:
    return Client(headers={"User-Agent": CHROME, "Accept": "text/html"})


@pytest.fixture
def own_redis_store(throwaway_redis: dict[str, Any]) -> Iterator[RedisProfileStore]:
    reset_store()
    with override_settings(
        PERSONALIZE_STORE=REDIS_STORE, PERSONALIZE_REDIS_URL=throwaway_redis["url"]
    ):
        store = get_store()
        assert isinstance(store, RedisProfileStore)
        yield store
    reset_store()


def _fill(store: RedisProfileStore, count: int) -> None:
    pipe = store.client.pipeline(transaction=False)
    for i in range(count):
        pipe.xadd(store.stream, {"e": json.dumps({"filler": i})})
    pipe.execute()


@pytest.mark.django_db
def test_a_full_stream_sends_events_to_the_database(
    own_redis_store: RedisProfileStore, caplog: pytest.LogCaptureFixture
) -> None:
    with override_settings(PERSONALIZE_STREAM_MAXLEN=1000):
        store = get_store()  # changing a setting gave the process a new store instance
        assert isinstance(store, RedisProfileStore) and store.url == own_redis_store.url
        _fill(store, 999)
        client = browser()
        client.get("/page/")  # the 1000th entry: the stream is now at its cap
        assert store.client.xlen(store.stream) == 1000
        assert Event.objects.count() == 0
        assert "holds 1000 entries (cap 1000)" in caplog.text

        with caplog.at_level(logging.WARNING):
            client.get("/page/")
            client.get("/page/")
        assert store.client.xlen(store.stream) == 1000  # no growth past the cap
        assert Event.objects.filter(name="page_view").count() == 2  # nothing lost
        profile = store.load(client.get("/personalize/api/visitor/").json()["id"])
        assert profile is not None and profile.pageviews_total == 3  # profiles still in Redis

        # Drained by a worker, and the backoff over: events take the stream again.
        store.client.delete(store.stream)
        store._stream_full_until.clear()
        client.get("/page/")
        assert store.client.xlen(store.stream) == 1
        assert Event.objects.count() == 2


@pytest.mark.django_db
def test_a_redis_out_of_memory_loses_no_events(
    own_redis_store: RedisProfileStore, throwaway_redis: dict[str, Any]
) -> None:
    store = own_redis_store
    admin = throwaway_redis["client"]
    used = int(admin.info("memory")["used_memory"])
    admin.config_set("maxmemory-policy", "noeviction")
    admin.config_set("maxmemory", used + 256 * 1024)
    with pytest.raises(redis.OutOfMemoryError):
        for _ in range(1000):
            _fill(store, 100)  # until Redis refuses writes

    statuses = [browser().get("/page/").status_code for _ in range(5)]
    assert statuses == [200] * 5
    assert Event.objects.filter(name="page_view").count() == 5


def test_a_redis_that_may_evict_profiles_is_reported(
    throwaway_redis: dict[str, Any],
) -> None:
    admin = throwaway_redis["client"]
    with override_settings(
        PERSONALIZE_STORE=REDIS_STORE, PERSONALIZE_REDIS_URL=throwaway_redis["url"]
    ):
        for policy in ("allkeys-lru", "volatile-ttl"):
            admin.config_set("maxmemory-policy", policy)
            messages = check_store()
            assert [m.id for m in messages] == ["personalize.W006"]
            assert repr(policy) in messages[0].msg and "noeviction" in str(messages[0].hint)
        admin.config_set("maxmemory-policy", "noeviction")
        assert check_store() == []
