"""The Redis store on a real three-primary Redis Cluster (``tests/run`` starts one).

Round trips per node on the hot path, events sharded over streams and drained
exactly once by the worker (in process and as a real ``manage.py`` process),
recommendation tables spread over the nodes, the demo's pages end to end, and
cluster failures served as degraded pages, never as errors.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import redis
from django.db import connections
from django.test import Client, override_settings

from personalize import configuration
from personalize.checks import check_store
from personalize.models import Event
from personalize.profiles.base import get_store, reset_store
from personalize.profiles.redis import RedisProfileStore
from personalize.recommendations.storage import model_store
from personalize.recommendations.training import train
from personalize.tracking.events import EventRecord
from personalize.tracking.worker import GROUP, StreamWorker, run_workers
from shop_demo.models import Product
from tests.conftest import CLUSTER_SHARDS, REDIS_STORE, Clock, delete_cluster_keys
from tests.test_campaigns import make
from tests.test_rec_serving import catalogue, ids, make_widget  # noqa: F401 (a fixture)
from tests.test_redis_store import RoundTrips

pytestmark = pytest.mark.redis
ROOT = Path(__file__).resolve().parent.parent
CHROME = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0 Safari/537.36"
)


def browser() -> Client:
    return Client(headers={"User-Agent": CHROME, "Accept": "text/html"})


def visitor_of(client: Client) -> str:
    return str(client.cookies["pz_vid"].value.split(":")[0])


def port_of(store: RedisProfileStore, key: str) -> int:
    cluster: Any = store.client
    return int(cluster.get_node_from_key(key).port)


@pytest.fixture
def round_trips(monkeypatch: pytest.MonkeyPatch) -> RoundTrips:
    return RoundTrips(monkeypatch)


@pytest.fixture
def cluster_store(use_redis_cluster_store: Any) -> RedisProfileStore:
    store = use_redis_cluster_store
    assert isinstance(store, RedisProfileStore) and store.cluster
    return store


# The request path --------------------------------------------------------------------


@pytest.mark.urls("tests.urls")
@pytest.mark.django_db
def test_hot_path_is_two_round_trips_to_the_visitors_node(
    cluster_store: RedisProfileStore, django_assert_num_queries: Any, round_trips: RoundTrips
) -> None:
    client = browser()
    client.get("/page/")  # warm up: the slot table, the touch script, the config version
    store = get_store()
    assert isinstance(store, RedisProfileStore)
    visitor = visitor_of(client)
    home = port_of(store, store.key(visitor, "m"))
    shard = port_of(store, store.stream_for(visitor))
    round_trips.reset()
    with django_assert_num_queries(0):
        response = client.get("/p/5/")  # a page view plus a tracked product view
    assert response.status_code == 200
    sends = Counter(round_trips.ports)
    # The touch, then the changes; the events' XADD goes to the shard's node in the same
    # pipeline (one batch per node, all sent before any reply is read).
    assert sends[home] == 2
    assert sum(sends.values()) == (2 if shard == home else 3)
    assert set(sends) <= {home, shard}  # no configuration version read per request

    round_trips.reset()
    data = client.get("/personalize/api/visitor/").json()
    assert round_trips.ports == [home]  # nothing tracked: only the touch
    assert data["attributes"]["viewed_products"] == ["5"]
    assert data["visit_count"] == 1 and data["degraded"] is False


@pytest.mark.django_db
def test_the_configuration_version_is_polled_on_a_cluster(
    cluster_store: RedisProfileStore,
) -> None:
    with override_settings(PERSONALIZE_CONFIG_POLL_SECONDS=0):
        store = get_store()
        before = configuration.current_version()
        bumped = store.bump_config_version()
        assert bumped == before + 1
        assert configuration.current_version() == bumped  # another process's bump, seen


@pytest.mark.django_db
def test_a_user_link_has_its_own_slot_and_survives_a_save(
    cluster_store: RedisProfileStore,
) -> None:
    from personalize.testing.store_contract import ctx

    visitor = "d" * 32
    profile, _ = cluster_store.touch(visitor, ctx())
    profile.user_id = "42"
    cluster_store.save(profile)  # a MULTI on the visitor's slot, then the link
    assert cluster_store.visitor_for_user("42") == visitor
    assert "{42}" in cluster_store.user_key("42")


# Events: shards and the worker -------------------------------------------------------


def _records(count: int) -> dict[str, list[EventRecord]]:
    """``count`` page views of ``count`` visitors, by visitor."""
    return {
        f"{n:032x}": [
            EventRecord(f"e{n:031x}", f"{n:032x}", "page_view", {"path": "/"}, 1.764e9 + n, 1)
        ]
        for n in range(count)
    }


def _write(store: RedisProfileStore, records: dict[str, list[EventRecord]]) -> set[str]:
    for visitor, events in records.items():
        store.apply(visitor, [], events)
    return {event.event_id for events in records.values() for event in events}


def test_a_visitors_events_go_to_one_shard_and_shards_spread(
    cluster_store: RedisProfileStore,
) -> None:
    streams = cluster_store.event_stream().names
    assert len(streams) == CLUSTER_SHARDS
    assert len({cluster_store.client.keyslot(name) for name in streams}) == CLUSTER_SHARDS  # type: ignore[union-attr]
    _write(cluster_store, _records(60))
    lengths = [int(cluster_store.client.xlen(name)) for name in streams]  # type: ignore[arg-type]
    assert sum(lengths) == 60 and all(lengths)  # every shard got some visitors
    visitor = "0" * 32
    shard = cluster_store.stream_for(visitor)
    cluster_store.apply(visitor, [], _records(1)[visitor])
    assert int(cluster_store.client.xlen(shard)) == lengths[streams.index(shard)] + 1  # type: ignore[arg-type]


@pytest.mark.django_db(transaction=True)
def test_workers_killed_mid_batch_on_every_shard_lose_and_duplicate_nothing(
    cluster_store: RedisProfileStore,
) -> None:
    ids_written = _write(cluster_store, _records(300))
    events = cluster_store.event_stream()
    client = events.connect(100)

    class Killed(Exception):
        pass

    def die(batch_ids: list[str]) -> None:
        raise Killed  # the process dies after the insert commits, before XACK

    for name in events.names:
        doomed = StreamWorker(
            client, name, consumer="w1", using="default", batch_size=20, min_idle_ms=0,
            after_insert=die,
        )  # fmt: skip
        doomed.ensure_group()
        with pytest.raises(Killed):
            doomed.run_once(block=False)
        assert client.xpending(name, GROUP)["pending"] == 20  # type: ignore[index]
    assert Event.objects.count() == 20 * CLUSTER_SHARDS

    survivors = [
        StreamWorker(client, name, consumer="w2", using="default", batch_size=50, min_idle_ms=0)
        for name in events.names
    ]
    stats = run_workers(survivors, until_empty=True)
    assert stats.claimed == 20 * CLUSTER_SHARDS
    assert Event.objects.count() == 300
    assert set(Event.objects.values_list("event_id", flat=True)) == ids_written
    for name in events.names:
        assert client.xlen(name) == 0
        assert client.xpending(name, GROUP)["pending"] == 0  # type: ignore[index]


def _worker_env(store: RedisProfileStore, url: str) -> dict[str, str]:
    if "postgres" not in connections.databases:
        pytest.skip("PostgreSQL not available")  # the conftest fails this in CI instead
    db = connections["postgres"].settings_dict
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "shop_demo.settings",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "PERSONALIZE_STORE": "redis",
        "PERSONALIZE_REDIS_URL": url,
        "PERSONALIZE_REDIS_CLUSTER": "1",
        "PERSONALIZE_REDIS_PREFIX": store.prefix,
        "PERSONALIZE_STREAM_SHARDS": str(CLUSTER_SHARDS),
    }


def _manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", "personalize_worker", "--block-ms", "50", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, databases=["default", "postgres"])
def test_worker_processes_drain_every_shard(
    cluster_store: RedisProfileStore, redis_cluster_url: str
) -> None:
    env = _worker_env(cluster_store, redis_cluster_url)
    streams = cluster_store.event_stream().names
    logged = Event.objects.using("postgres")

    first = _write(cluster_store, _records(90))
    stuck = _manage(env, "--check", "--max-drain-age", "60")
    assert stuck.returncode == 1
    for name in streams:  # every shard is reported
        assert f"{name}: " in stuck.stdout
    assert "is a personalize_worker running?" in stuck.stderr

    # A process for one shard drains that shard only.
    one = _manage(env, "--shard", "1", "--until-empty")
    assert one.returncode == 0, one.stderr
    assert int(cluster_store.client.xlen(streams[1])) == 0  # type: ignore[arg-type]
    assert 0 < logged.count() < 90
    missing = _manage(env, "--shard", str(CLUSTER_SHARDS), "--until-empty")
    assert missing.returncode == 1 and "--shard 3 does not exist" in missing.stderr

    # One process for all of them drains the rest.
    second = _write(cluster_store, {k: v for k, v in _records(120).items() if k >= f"{90:032x}"})
    every = _manage(env, "--until-empty")
    assert every.returncode == 0, every.stderr
    assert set(logged.values_list("event_id", flat=True)) == first | second
    assert logged.count() == 120
    healthy = _manage(env, "--check")
    assert healthy.returncode == 0, healthy.stderr
    assert healthy.stdout.count("0 pending") == CLUSTER_SHARDS


# Recommendations ---------------------------------------------------------------------


@pytest.mark.django_db
def test_recommendation_rows_spread_over_the_nodes_and_read_back(
    cluster_store: RedisProfileStore,
    catalogue: list[Product],  # noqa: F811
    round_trips: RoundTrips,
) -> None:
    train()
    models = model_store()
    client: Any = cluster_store.client
    nodes = set()
    for node in client.get_primaries():
        if list(client.scan_iter(match=f"{cluster_store.prefix}:{{rec:*", target_nodes=node)):
            nodes.add(node.name)
    assert len(nodes) > 1
    first = str(catalogue[0].pk)
    keys = [("viewed", first), ("similar", first), ("bestsellers", ""), ("viewed", "nope")]
    models.read(keys)  # warm up: loads the read script on every primary
    round_trips.reset()
    rows = models.read(keys)
    # One script per bucket, in one pipeline: one batch per node, all sent at once.
    assert len(round_trips.ports) == len(set(round_trips.ports)) <= len(nodes)
    assert set(rows) == {("viewed", first), ("similar", first), ("bestsellers", "")}
    assert rows[("viewed", first)][0][0] == str(catalogue[1].pk)
    models.clear()
    assert models.read(keys) == {}


# The demo, end to end ---------------------------------------------------------------------


@pytest.mark.urls("tests.urls")
@pytest.mark.django_db
def test_a_shopper_on_the_cluster(
    cluster_store: RedisProfileStore,
    catalogue: list[Product],  # noqa: F811
    clock: Clock,
) -> None:
    train()
    make_widget()
    make("welcome", segments=("new-visitors",), trigger="delay", trigger_value=5)
    client = browser()

    first = client.get("/shop/").content.decode()
    assert 'data-pz-campaign="welcome"' in first and 'role="dialog"' in first
    data = client.get("/personalize/api/visitor/").json()
    assert data["is_new"] is True and data["degraded"] is False

    product = catalogue[0].pk
    html = client.get(f"/recs/product-viewed/?product={product}").content.decode()
    assert ids(html) == [catalogue[1].pk, catalogue[6].pk, catalogue[11].pk]

    clock.advance(3600)  # the next request starts a second visit
    again = client.get("/shop/").content.decode()
    assert 'data-pz-campaign="welcome"' not in again
    data = client.get("/personalize/api/visitor/").json()
    assert data["is_returning"] is True and data["visit_count"] == 2
    assert data["degraded"] is False


# Failures and checks ------------------------------------------------------------------


def _a_visitor_served_elsewhere(url: str) -> str:
    """A visitor id whose keys live on another node than the one at ``url``."""
    from redis.crc import key_slot

    node: Any = redis.Redis.from_url(url)
    own = [(int(r[0]), int(r[1])) for r in node.execute_command("CLUSTER", "SLOTS")
           if int(r[2][1]) == node.connection_pool.connection_kwargs["port"]]  # fmt: skip
    node.close()
    for n in range(100):
        visitor = f"{n:032x}"
        slot = key_slot(visitor.encode())
        if not any(low <= slot <= high for low, high in own):
            return visitor
    raise AssertionError("every slot on one node?")


@pytest.mark.urls("tests.urls")
@pytest.mark.django_db
@pytest.mark.parametrize("cluster", [True, False])
def test_a_redis_in_the_other_mode_degrades_pages_and_fails_the_check(
    cluster: bool, redis_url: str, redis_cluster_url: str
) -> None:
    from personalize.profiles.base import StoreUnavailable
    from personalize.testing.store_contract import ctx

    # A cluster client on a single server cannot learn the slots (RedisClusterException,
    # not a RedisError); a single-server client on a cluster node gets MOVED.
    url = redis_url if cluster else redis_cluster_url
    with override_settings(
        PERSONALIZE_STORE=REDIS_STORE,
        PERSONALIZE_REDIS_URL=url,
        PERSONALIZE_REDIS_CLUSTER=cluster,
        PERSONALIZE_REDIS_PREFIX="pztest:mode",
        PERSONALIZE_REDIS_RETRY_AFTER=0,
    ):
        messages = check_store()
        assert [m.id for m in messages] == ["personalize.E010"]
        assert "PERSONALIZE_REDIS_CLUSTER" in messages[0].msg
        visitor = "e" * 32 if cluster else _a_visitor_served_elsewhere(url)
        with pytest.raises(StoreUnavailable):
            get_store().touch(visitor, ctx())
        for _ in range(4):
            client = browser()
            assert client.get("/p/1/").status_code == 200
            assert client.get("/personalize/api/visitor/").status_code == 200
    reset_store()
    if not cluster:
        delete_cluster_keys(url, "pztest:mode:*")


@pytest.mark.urls("tests.urls")
@pytest.mark.django_db
def test_an_unreachable_cluster_serves_degraded_pages() -> None:
    with override_settings(
        PERSONALIZE_STORE=REDIS_STORE,
        PERSONALIZE_REDIS_URL="redis://127.0.0.1:1/0",
        PERSONALIZE_REDIS_CLUSTER=True,
    ):
        client = browser()
        assert client.get("/p/1/").status_code == 200
        assert client.get("/personalize/api/visitor/").json()["degraded"] is True
        assert Event.objects.filter(name="product_view").count() == 1  # logged directly
    reset_store()


def test_the_check_passes_on_a_cluster(cluster_store: RedisProfileStore) -> None:
    assert check_store() == []
