"""Profile changes a request could not apply are deferred and replayed exactly once.

On a real Redis (single server and cluster): a request served while the store is
away keeps its events in the log and its changes in ``DeferredChange``; the
replay recomputes them and the store's batch marks decide whether they count.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import redis
from django.core.management import call_command
from django.test import Client, override_settings
from django.utils import timezone

from personalize.models import DeferredChange, Event
from personalize.profiles import backlog
from personalize.profiles.base import BATCH_MARK_SECONDS, BaseProfileStore, get_store, reset_store
from personalize.profiles.profile import ProfileOp
from personalize.tracking.events import EventRecord, new_event_id
from tests.conftest import REDIS_STORE

CHROME = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0 Safari/537.36"
)

pytestmark = [pytest.mark.redis, pytest.mark.urls("tests.urls")]


@pytest.fixture(params=["redis", "redis-cluster"])
def redis_store(request: pytest.FixtureRequest) -> Iterator[BaseProfileStore]:
    fixture = "use_redis_store" if request.param == "redis" else "use_redis_cluster_store"
    yield request.getfixturevalue(fixture)


def browser() -> Client:
    return Client(headers={"User-Agent": CHROME, "Accept": "text/html"})


def settle() -> None:
    """Age every deferred batch past the settling delay (no sleeping)."""
    old = timezone.now() - timedelta(seconds=backlog.SETTLE_SECONDS + 1)
    DeferredChange.objects.update(created_at=old)


def visitor_id(client: Client) -> str:
    return str(client.get("/personalize/api/visitor/").json()["id"])


@pytest.mark.django_db
def test_apply_once_counts_a_batch_once(redis_store: BaseProfileStore) -> None:
    ops = [ProfileOp("incr", "pageviews_total", 1)]
    assert redis_store.apply_once("v1", "batch-1", ops) is True
    assert redis_store.apply_once("v1", "batch-1", ops) is False
    assert redis_store.apply_once("v1", "batch-2", ops) is True
    profile = redis_store.load("v1")
    assert profile is not None and profile.pageviews_total == 2


@pytest.mark.django_db
def test_a_live_batch_is_marked_so_its_replay_is_skipped(redis_store: BaseProfileStore) -> None:
    event = EventRecord(new_event_id(), "v2", "page_view", {}, time.time())
    ops = [ProfileOp("incr", "pageviews_total", 1)]
    redis_store.apply("v2", ops, [event])
    # The first attempt landed (say its reply timed out): replaying it changes nothing.
    assert redis_store.apply_once("v2", event.event_id, ops) is False
    profile = redis_store.load("v2")
    assert profile is not None and profile.pageviews_total == 1


@pytest.mark.django_db
def test_breaker_open_defers_the_changes_and_the_worker_replays_them(
    redis_store: BaseProfileStore,
) -> None:
    client = browser()
    client.get("/page/")
    vid = visitor_id(client)
    breaker: Any = getattr(redis_store, "breaker")
    breaker.down_until = time.monotonic() + 60  # as after another request's timeout
    for n in range(3):
        assert client.get(f"/p/{n}/").status_code == 200
    # Served without a profile; events in the log, changes deferred (one per request).
    assert Event.objects.filter(visitor_id=vid, name="product_view").count() == 3
    assert DeferredChange.objects.filter(visitor_id=vid).count() == 3
    breaker.down_until = 0.0
    settle()
    stats = backlog.replay(redis_store)
    assert (stats.replayed, stats.already_applied, stats.expired) == (3, 0, 0)
    assert DeferredChange.objects.count() == 0
    profile = redis_store.load(vid)
    assert profile is not None
    assert profile.pageviews_total == 1 + 3
    assert set(profile.viewed_products) == {"0", "1", "2"}
    assert profile.visit_count == 1  # the outage's requests continued the same visit
    # A second replay (another worker, a retry) finds nothing to do.
    assert backlog.replay(redis_store).handled == 0
    again = redis_store.load(vid)
    assert again is not None and again.pageviews_total == 4


@pytest.mark.django_db
def test_a_new_visitor_first_seen_during_the_outage_gets_a_profile(
    redis_store: BaseProfileStore,
) -> None:
    breaker: Any = getattr(redis_store, "breaker")
    breaker.down_until = time.monotonic() + 60
    client = browser()
    assert client.get("/p/7/?utm_source=news").status_code == 200
    assert client.get("/page/").status_code == 200
    vid = client.cookies["pz_vid"].value.split(":")[0]
    breaker.down_until = 0.0
    settle()
    assert backlog.replay(redis_store).replayed == 2
    profile = redis_store.load(vid)
    assert profile is not None
    assert (profile.visit_count, profile.pageviews_total) == (1, 2)
    assert profile.landing_path == "/p/7/"
    assert profile.first_utm == {"source": "news"}
    assert profile.first_seen > 0 and profile.last_seen >= profile.first_seen


# Keeps the server busy for ARGV[1] milliseconds: commands sent meanwhile wait in their
# connections' buffers, and run (late) once it returns.
BUSY_SCRIPT = """
local function ms() local t = redis.call('TIME') return t[1] * 1000 + t[2] / 1000 end
local stop = ms() + tonumber(ARGV[1])
while ms() < stop do end
return 1
"""


@pytest.mark.django_db
def test_a_write_that_timed_out_but_landed_is_not_counted_twice(
    throwaway_redis: dict[str, Any],
) -> None:
    """The common failure under load: the reply comes too late, the write happened."""
    with override_settings(
        PERSONALIZE_STORE=REDIS_STORE,
        PERSONALIZE_REDIS_URL=throwaway_redis["url"],
        PERSONALIZE_REDIS_RETRY_AFTER=0,
    ):
        client = browser()
        client.get("/page/")
        vid = visitor_id(client)
        server: redis.Redis = throwaway_redis["client"]
        store = get_store()
        original = store.apply

        def late_apply(visitor: str, ops: list[ProfileOp], events: list[EventRecord]) -> None:
            busy = threading.Thread(target=server.eval, args=(BUSY_SCRIPT, 0, 300))
            busy.start()
            time.sleep(0.05)  # the busy script is running: the writes below wait
            try:
                original(visitor, ops, events)
            finally:
                busy.join()

        store.apply = late_apply  # type: ignore[method-assign]
        try:
            assert client.get("/p/3/").status_code == 200
        finally:
            store.apply = original  # type: ignore[method-assign]
        deferred = DeferredChange.objects.get(visitor_id=vid)
        assert deferred.maybe_applied is True
        settle()
        stats = backlog.replay(store)
        # The late write landed with its mark: the replay knows and skips it.
        assert (stats.replayed, stats.already_applied) == (0, 1)
        profile = store.load(vid)
        assert profile is not None and profile.pageviews_total == 2
        assert "3" in profile.viewed_products
        assert Event.objects.filter(visitor_id=vid, name="product_view").count() == 1
    reset_store()


@pytest.mark.django_db
def test_an_unknown_outcome_older_than_the_marks_is_dropped(
    redis_store: BaseProfileStore,
) -> None:
    event = EventRecord(new_event_id(), "v3", "page_view", {}, time.time())
    backlog.defer("v3", [event], maybe_applied=True, visit=None)
    backlog.defer("v4", [EventRecord(new_event_id(), "v4", "page_view", {}, time.time())],
                  maybe_applied=False, visit=None)  # fmt: skip
    DeferredChange.objects.update(created_at=timezone.now() - timedelta(seconds=BATCH_MARK_SECONDS))
    stats = backlog.replay(redis_store)
    # The batch that may have landed cannot be told apart any more: not risked twice.
    # The one that certainly did not land is still applied.
    assert (stats.replayed, stats.expired) == (1, 1)
    assert redis_store.load("v3") is None
    v4 = redis_store.load("v4")
    assert v4 is not None and v4.pageviews_total == 1


@pytest.mark.django_db
def test_replay_waits_while_the_store_is_away(redis_store: BaseProfileStore) -> None:
    backlog.defer("v5", [EventRecord(new_event_id(), "v5", "page_view", {}, time.time())],
                  maybe_applied=False, visit=None)  # fmt: skip
    settle()
    breaker: Any = getattr(redis_store, "breaker")
    breaker.down_until = time.monotonic() + 60
    assert backlog.replay(redis_store).handled == 0
    assert DeferredChange.objects.count() == 1  # kept for the next round
    breaker.down_until = 0.0
    assert backlog.replay(redis_store).replayed == 1
    assert backlog.pending() == 0


@pytest.mark.django_db
def test_a_batch_deferred_twice_is_kept_once() -> None:
    event = EventRecord(new_event_id(), "v6", "page_view", {}, time.time())
    backlog.defer("v6", [event], maybe_applied=True, visit=None)
    backlog.defer("v6", [event], maybe_applied=False, visit=None)
    backlog.defer("v6", [], maybe_applied=False, visit=None)  # nothing to replay
    assert DeferredChange.objects.count() == 1


@pytest.mark.django_db
def test_the_database_store_never_defers() -> None:
    client = browser()
    client.get("/p/1/")
    assert get_store().replays_changes is False
    assert DeferredChange.objects.count() == 0
    assert backlog.replay(get_store()).handled == 0


@pytest.mark.django_db(transaction=True)
def test_the_worker_replays_deferred_changes(use_redis_store: BaseProfileStore) -> None:
    client = browser()
    client.get("/page/")
    vid = visitor_id(client)
    breaker: Any = getattr(use_redis_store, "breaker")
    breaker.down_until = time.monotonic() + 60
    client.get("/p/9/")
    breaker.down_until = 0.0
    settle()
    call_command("personalize_worker", "--until-empty", "--status-every", "0")
    assert backlog.pending() == 0
    profile = use_redis_store.load(vid)
    assert profile is not None and profile.pageviews_total == 2
    assert "9" in profile.viewed_products
