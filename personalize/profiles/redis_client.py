"""Redis connections: the one place that knows a single server from a Redis Cluster.

Every part of personalize that talks to Redis (the profile store, its rate
limiter and configuration version, the recommendation tables, the worker) gets
its client from :func:`connect`, so ``PERSONALIZE_REDIS_CLUSTER`` switches all of
them at once to redis-py's :class:`~redis.cluster.RedisCluster`.

Neither client retries a failed call: on the request path a slow or failing
Redis must cost one timeout, after which the store's breaker skips Redis for a
while (the worker has its own backoff). A cluster client still follows
``MOVED``/``ASK`` redirections, which are answers, not failures.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Sequence
from typing import Any, TypeAlias

import redis
from redis.backoff import NoBackoff
from redis.cluster import RedisCluster
from redis.exceptions import RedisClusterException
from redis.retry import Retry

from personalize.conf import settings

#: A client of either kind; both have the same data commands and ``pipeline()``.
RedisClient: TypeAlias = "redis.Redis | RedisCluster"

#: What a Redis call may raise. ``RedisClusterException`` (no reachable node, a
#: command spanning slots, ...) is not a ``RedisError``: catching only the latter
#: would let a cluster's failures through as server errors.
ERRORS: tuple[type[Exception], ...] = (redis.RedisError, RedisClusterException)


def connect(
    url: str,
    *,
    timeout: float,
    connect_timeout: float | None = None,
    cluster: bool | None = None,
) -> RedisClient:
    """A client for ``url`` answering with ``str``, that never retries on its own.

    ``cluster`` defaults to ``PERSONALIZE_REDIS_CLUSTER``. A cluster client contacts
    the cluster when it is built (to learn which node serves which slot), so it can
    raise one of :data:`ERRORS` here; a single-server client connects on first use.
    """
    if settings.REDIS_CLUSTER if cluster is None else cluster:
        return RedisCluster(
            url=url,
            decode_responses=True,
            socket_timeout=timeout,
            socket_connect_timeout=connect_timeout or timeout,
            retry=Retry(NoBackoff(), 0),
        )
    return redis.Redis.from_url(
        url,
        decode_responses=True,
        socket_timeout=timeout,
        socket_connect_timeout=connect_timeout or timeout,
        retry=Retry(NoBackoff(), 0),
        health_check_interval=30,
    )


class LuaScript:
    """A Lua script run by its SHA1, loaded on the server the first time it is missing.

    Unlike redis-py's ``register_script`` it is bound to no client: the store builds
    its client lazily, and a cluster client loads the script on every primary.
    """

    def __init__(self, source: str) -> None:
        self.source = source
        # SHA1 is how Redis names scripts (EVALSHA), not a security measure.
        self.sha = hashlib.sha1(source.encode(), usedforsecurity=False).hexdigest()

    def __call__(
        self, client: RedisClient, keys: Sequence[str], args: Sequence[str | int | float]
    ) -> Any:
        try:
            return client.evalsha(self.sha, len(keys), *keys, *args)  # type: ignore[arg-type]
        except redis.exceptions.NoScriptError:
            client.script_load(self.source)
            return client.evalsha(self.sha, len(keys), *keys, *args)  # type: ignore[arg-type]


def shard_of(key: str, shards: int) -> int:
    """Which of ``shards`` buckets ``key`` belongs to: stable across processes and runs
    (Python's ``hash()`` of a string is not)."""
    return zlib.crc32(key.encode()) % shards if shards > 1 else 0


def is_cluster_node(url: str) -> bool:
    """Whether the server at ``url`` runs in cluster mode (``INFO cluster``)."""
    client = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
    try:
        info: Any = client.info("cluster")
    finally:
        client.close()
    return bool(int(info.get("cluster_enabled", 0)))
