"""Where trained recommendation tables live, so that serving is a lookup.

A trained model is a set of *rows*: ``(table, key) -> (item ids, scores)``.

========================  =================  ======================================
table                     key                row
========================  =================  ======================================
``similar``               item id            top-K similar items
``viewed``                item id            top-K viewed together (same visit)
``bought``                item id            top-K bought together (same order)
``bestsellers``           ``""`` / category  best sellers over the window
``trending``              ``""`` / category  time-decayed views and sales
``new``                   ``""`` / category  newest products
========================  =================  ======================================

Two backends, chosen by the profile store:

* :class:`DatabaseModelStore` (the database profile store): rows in
  :class:`~personalize.recommendations.models.TrainedRow`, one query per lookup.
  A new model's rows are written first, then one transaction flips
  ``TrainedModel.is_active``; a reader's single ``SELECT`` joins on the active
  flag, so it sees the old model or the new one, never a mix.
* :class:`RedisModelStore` (the Redis profile store): one hash per table under a
  version number, ``{prefix}:{rec}:<version>:<table>``, and a pointer
  ``{prefix}:{rec}:active``. A lookup is one Lua script that reads the pointer and
  every wanted field atomically, so swapping the pointer (and then deleting the
  old version) can never show a reader half a model. No SQL.

  On a Redis Cluster the rows are spread over :data:`CLUSTER_BUCKETS` hash tags by
  their key, ``{prefix}:{rec:<bucket>}:<version>:<table>``, each bucket with its
  own pointer, so the tables (and the reads of every widget) spread over the
  nodes. A lookup runs the script once per bucket it needs, all in one pipeline:
  redis-py sends one batch per node, every batch before reading any reply. Each
  bucket swaps atomically; while a new model is swapped in, one widget may read
  some buckets of the old model and some of the new, never half a row.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Final, TypeAlias

import redis
from django.db import transaction
from django.db.models import Q

from personalize import configuration
from personalize.conf import settings
from personalize.profiles.base import BaseProfileStore, StoreUnavailable, get_store
from personalize.profiles.redis_client import (
    ERRORS,
    LuaScript,
    RedisClient,
    connect,
    shard_of,
)

if TYPE_CHECKING:
    from personalize.profiles.redis import RedisProfileStore

logger = logging.getLogger(__name__)

TABLES: Final = ("similar", "viewed", "bought", "bestsellers", "trending", "new")

#: ``(item ids, scores)``, best first.
Row: TypeAlias = tuple[list[str], list[float]]
RowKey: TypeAlias = tuple[str, str]

_WRITE_BATCH: Final = 2000
#: Socket timeout of a model write. Training is a batch job: a busy Redis may slow it
#: down, but must not fail it after minutes of work, as the request path's
#: ``PERSONALIZE_REDIS_TIMEOUT`` (50 ms) would when the machine is loaded.
_WRITE_TIMEOUT: Final = 30.0

READ_SCRIPT: Final = """
local version = redis.call('GET', KEYS[1])
if not version then return {false} end
local out = {version}
for i = 2, #ARGV, 2 do
  out[#out + 1] = redis.call('HGET', ARGV[1] .. version .. ':' .. ARGV[i], ARGV[i + 1]) or false
end
return out
"""
_READ: Final = LuaScript(READ_SCRIPT)

#: Hash tags the rows are spread over on a Redis Cluster (one on a single server).
CLUSTER_BUCKETS: Final = 16


def pack_row(ids: Sequence[Any], scores: Sequence[float]) -> str:
    """A row as compact JSON: ``[["12","7"],[0.8123,0.5]]`` (scores to 4 significant places)."""
    return json.dumps(
        [[str(i) for i in ids], [float(f"{s:.4g}") for s in scores]], separators=(",", ":")
    )


def unpack_row(value: str | bytes | None) -> Row | None:
    if not value:
        return None
    try:
        ids, scores = json.loads(value)
        return [str(i) for i in ids], [float(s) for s in scores]
    except (TypeError, ValueError):
        logger.warning("Ignoring a malformed recommendation row: %.80r", value)
        return None


class ModelStore:
    """Reads rows of the active model and swaps a newly trained model in."""

    name = "base"

    def read(self, keys: Sequence[RowKey]) -> dict[RowKey, Row]:
        """The rows that exist among ``keys``, in one round trip."""
        raise NotImplementedError

    def write(self, model_id: int, rows: Iterable[tuple[str, str, str]]) -> int:
        """Store a new model's packed rows and make it the active one; return the row count."""
        raise NotImplementedError

    def clear(self) -> None:
        """Forget every trained model (tests, ``--clear``)."""
        raise NotImplementedError


ROW_CACHE_SIZE: Final = 20_000


class _RowCache:
    """Rows (and known misses) of the active model, most recently used last."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.rows: OrderedDict[tuple[str, str, str], Row | None] = OrderedDict()

    def get(self, key: tuple[str, str, str]) -> tuple[bool, Row | None]:
        with self.lock:
            if key not in self.rows:
                return False, None
            self.rows.move_to_end(key)
            return True, self.rows[key]

    def put(self, key: tuple[str, str, str], row: Row | None) -> None:
        with self.lock:
            self.rows[key] = row
            self.rows.move_to_end(key)
            while len(self.rows) > ROW_CACHE_SIZE:
                self.rows.popitem(last=False)


# Trained rows change only when a model is swapped in, and the swap bumps the
# configuration version: so each process keeps the rows it has read, per version,
# and a widget on the database store costs no query for its rows once warm.
_row_cache: configuration.Compiled[_RowCache] = configuration.Compiled(_RowCache)


class DatabaseModelStore(ModelStore):
    name = "database"

    def __init__(self, using: str | None = None) -> None:
        self.using = using or settings.DATABASE_ALIAS

    def read(self, keys: Sequence[RowKey]) -> dict[RowKey, Row]:
        if not keys:
            return {}
        cache = _row_cache.get()
        found: dict[RowKey, Row] = {}
        missing: list[RowKey] = []
        for table, key in dict.fromkeys(keys):
            hit, row = cache.get((self.using, table, key))
            if not hit:
                missing.append((table, key))
            elif row is not None:
                found[(table, key)] = row
        if missing:
            fetched = self._fetch(missing)
            for table, key in missing:
                row = fetched.get((table, key))
                cache.put((self.using, table, key), row)
                if row is not None:
                    found[(table, key)] = row
        return found

    def _fetch(self, keys: Sequence[RowKey]) -> dict[RowKey, Row]:
        from personalize.models import TrainedRow

        wanted = set(keys)
        by_table: dict[str, list[str]] = {}
        for table, key in wanted:
            by_table.setdefault(table, []).append(key)
        condition = Q()
        for table, table_keys in by_table.items():
            condition |= Q(table=table, key__in=table_keys)
        rows = (
            TrainedRow.objects.using(self.using)
            .filter(condition, model__is_active=True)
            .values_list("table", "key", "value")
        )
        found: dict[RowKey, Row] = {}
        for table, key, value in rows:
            row = unpack_row(value)
            if row is not None:
                found[(table, key)] = row
        return found

    def write(self, model_id: int, rows: Iterable[tuple[str, str, str]]) -> int:
        from personalize.models import TrainedModel, TrainedRow

        manager = TrainedRow.objects.using(self.using)
        count = 0
        limit = TrainedRow._meta.get_field("key").max_length or 80
        too_long: list[str] = []

        def fitting() -> Iterator[tuple[str, str, str]]:
            for row in rows:
                if len(row[1]) > limit:
                    too_long.append(row[1])  # a category slug longer than any id we log
                    continue
                yield row

        for batch in _batches(fitting(), _WRITE_BATCH):
            manager.bulk_create(
                [TrainedRow(model_id=model_id, table=t, key=k, value=v) for t, k, v in batch]
            )
            count += len(batch)
        models = TrainedModel.objects.using(self.using)
        with transaction.atomic(using=self.using):
            models.filter(is_active=True).exclude(pk=model_id).update(is_active=False)
            models.filter(pk=model_id).update(is_active=True)
        # Every process drops the rows it cached of the old model (within the poll period).
        configuration.bump()
        # Old rows go after the swap: readers of the old model have finished by then or
        # see the new one. Model records stay, for the training history in the admin.
        manager.exclude(model_id=model_id).delete()
        if too_long:
            logger.warning(
                "Skipped %d recommendation rows whose key is over %d characters, e.g. %.100r",
                len(too_long),
                limit,
                too_long[0],
            )
        return count

    def clear(self) -> None:
        from personalize.models import TrainedRow

        TrainedRow.objects.using(self.using).all().delete()
        configuration.bump()


class RedisModelStore(ModelStore):
    name = "redis"

    def __init__(self, store: RedisProfileStore) -> None:
        self.store = store
        self.buckets = CLUSTER_BUCKETS if store.cluster else 1

    @property
    def client(self) -> RedisClient:
        return self.store.client

    def bucket_base(self, bucket: int) -> str:
        """The start of every key of ``bucket``: a hash tag per bucket keeps its rows and
        its pointer in one Redis Cluster slot, as the read script needs."""
        tag = "rec" if self.buckets == 1 else f"rec:{bucket}"
        return f"{self.store.prefix}:{{{tag}}}:"

    @property
    def base(self) -> str:
        return self.bucket_base(0)

    def bucket_of(self, key: str) -> int:
        return shard_of(key, self.buckets)

    def active_key(self, bucket: int = 0) -> str:
        return self.bucket_base(bucket) + "active"

    def table_key(self, version: str, table: str, bucket: int = 0) -> str:
        return f"{self.bucket_base(bucket)}{version}:{table}"

    def read(self, keys: Sequence[RowKey]) -> dict[RowKey, Row]:
        if not keys:
            return {}
        by_bucket: dict[int, list[RowKey]] = {}
        for row_key in dict.fromkeys(keys):
            by_bucket.setdefault(self.bucket_of(row_key[1]), []).append(row_key)
        self.store.breaker.check()
        try:
            replies = self._read_buckets(by_bucket)
        except ERRORS as exc:
            raise self.store.breaker.failed(exc) from exc
        found: dict[RowKey, Row] = {}
        for bucket_keys, reply in zip(by_bucket.values(), replies, strict=True):
            for row_key, value in zip(bucket_keys, reply[1:], strict=False):
                row = unpack_row(value)
                if row is not None:
                    found[row_key] = row
        return found

    def _script_call(self, bucket: int, keys: list[RowKey]) -> tuple[list[str], list[str]]:
        args = [self.bucket_base(bucket)]
        for table, key in keys:
            args += [table, key]
        return [self.active_key(bucket)], args

    def _read_buckets(self, by_bucket: dict[int, list[RowKey]]) -> list[Any]:
        client = self.client
        calls = [self._script_call(bucket, keys) for bucket, keys in by_bucket.items()]
        if len(calls) == 1:
            return [_READ(client, *calls[0])]
        for attempt in (1, 2):
            pipe = client.pipeline(transaction=False)
            for script_keys, args in calls:
                # redis-py's cluster pipeline blocks its evalsha() method (it cannot load
                # scripts for you), not the command: NOSCRIPT is handled here instead.
                pipe.execute_command("EVALSHA", _READ.sha, 1, *script_keys, *args)
            try:
                return list(pipe.execute())
            except redis.exceptions.NoScriptError:
                if attempt == 2:
                    raise
                client.script_load(READ_SCRIPT)  # first use (on every primary of a cluster)
        raise AssertionError("unreachable")  # pragma: no cover

    def _bulk_client(self) -> RedisClient:
        """A client like the store's, with the patient timeout of a batch job."""
        return connect(self.store.url, timeout=_WRITE_TIMEOUT, cluster=self.store.cluster)

    def _stale_keys(self, version: str) -> list[str]:
        return [
            self.table_key(version, table, bucket)
            for bucket in range(self.buckets)
            for table in TABLES
        ]

    def write(self, model_id: int, rows: Iterable[tuple[str, str, str]]) -> int:
        version = str(model_id)
        client = self._bulk_client()
        stale = self._stale_keys(version)
        try:
            try:
                client.delete(*stale)  # a half-written earlier attempt with this id
                count = 0
                for batch in _batches(rows, _WRITE_BATCH):
                    pipe = client.pipeline(transaction=False)
                    per_key: dict[str, dict[str, str]] = {}
                    for table, key, value in batch:
                        name = self.table_key(version, table, self.bucket_of(key))
                        per_key.setdefault(name, {})[key] = value
                    for name, mapping in per_key.items():
                        pipe.hset(name, mapping=mapping)
                    pipe.execute()
                    count += len(batch)
            except ERRORS:
                # The next attempt trains under a new id: leave no orphaned half model.
                with contextlib.suppress(*ERRORS):
                    client.unlink(*stale)
                raise
            pipe = client.pipeline(transaction=False)
            for bucket in range(self.buckets):
                pipe.set(self.active_key(bucket), version)
            pipe.execute()
            # The read script resolves a bucket's pointer and its rows atomically, so every
            # other version can go at once: the previous model, and any a killed run left.
            keep = tuple(self.bucket_base(b) + version + ":" for b in range(self.buckets))
            old = [
                key
                for key in client.scan_iter(match=self.pattern + ":*:*", count=1000)
                if not str(key).startswith(keep) and not str(key).endswith(":active")
            ]
            if old:
                client.unlink(*old)
        finally:
            client.close()
        return count

    @property
    def pattern(self) -> str:
        """A SCAN pattern matching every key of every bucket (a cluster client's SCAN
        walks every primary)."""
        return f"{self.store.prefix}:{{rec*"

    def clear(self) -> None:
        client = self.client
        keys = list(client.scan_iter(match=self.pattern, count=1000))
        if keys:
            client.unlink(*keys)


def _batches(rows: Iterable[tuple[str, str, str]], size: int) -> Iterator[list[Any]]:
    batch: list[tuple[str, str, str]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def model_store(store: BaseProfileStore | None = None) -> ModelStore:
    """The model store that goes with the configured profile store (its own, or the
    database's)."""
    store = store or get_store()
    return store.model_store() or DatabaseModelStore()


def read_rows(keys: Sequence[RowKey]) -> dict[RowKey, Row]:
    """Rows of the active model; empty when the store is unavailable (widgets then hide)."""
    try:
        return model_store().read(keys)
    except StoreUnavailable:
        return {}


__all__ = [
    "TABLES",
    "DatabaseModelStore",
    "ModelStore",
    "RedisModelStore",
    "Row",
    "RowKey",
    "model_store",
    "pack_row",
    "read_rows",
    "unpack_row",
]
