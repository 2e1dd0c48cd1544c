"""The production store: compact per-visitor Redis keys and a Redis Stream for events.

Layout for visitor ``V`` (the ``{V}`` hash tag keeps one visitor's keys in one
Redis Cluster slot)::

    pz:v:{V}:m      hash   scalar fields by short name (see profile.SCALAR_FIELDS)
    pz:v:{V}:vp     zset   viewed products        -> last time
    pz:v:{V}:vcat   zset   viewed categories      -> last time
    pz:v:{V}:s      zset   searches               -> last time
    pz:v:{V}:pp     zset   purchased products     -> last time
    pz:v:{V}:pc     zset   purchased categories   -> last time
    pz:v:{V}:aff    zset   category affinity      -> raw decayed score
    pz:v:{V}:cart   hash   q:<product> quantity, p:<product> price, c:<product> category
    pz:v:{V}:ap     zset   ids of the change batches applied in the last 10 minutes
                           (see profiles.backlog: deferred changes apply exactly once)
    pz:v:{V}:rl     zset   reported events accepted in the last minute (rate limit)
    pz:email:{<e>}  string the visitor id that last identified with email e (lower case)
    pz:user:{<id>}  string the visitor id holding a user's profile (``pz:user:<id>``
                    before hash tags, still read on single servers)
    pz:events       stream events waiting for ``personalize_worker``; with
                    ``PERSONALIZE_STREAM_SHARDS`` = n: pz:events:{0} ... pz:events:{n-1},
                    a visitor's events always in the same one

A request costs two round trips: the ``touch`` script (visit bookkeeping and
the whole profile, atomically) and one pipeline with the request's changes (one
script: every change and the batch's mark, atomically) and events. Every change
is an atomic command, so concurrent requests for one visitor never lose an update.

Every script, transaction and key group of a pipeline stays in one Redis Cluster
slot, so ``PERSONALIZE_REDIS_CLUSTER = True`` needs no other change: the touch
script reads only the visitor's keys, a ``MULTI`` never holds another slot's key,
and a non-transactional pipeline that writes the visitor's changes and the
shard's events is split by redis-py into one pipeline per node, all sent before
any reply is read (one network wait). On a single server the touch also fetches
the configuration version; a cluster node holds only some slots, so there the
version is polled every ``PERSONALIZE_CONFIG_POLL_SECONDS`` instead.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Collection, Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import redis
from django.core.checks import Error, Warning

from personalize import configuration
from personalize.conf import settings
from personalize.profiles.base import (
    BATCH_MARK_SECONDS,
    BaseProfileStore,
    EventStream,
    StoreUnavailable,
)
from personalize.profiles.profile import (
    COLLECTIONS,
    FLOAT_FIELDS,
    INT_FIELDS,
    JSON_FIELDS,
    OPTIONAL_FLOAT_FIELDS,
    SCALAR_FIELDS,
    SHORT_TO_FIELD,
    CartLine,
    Profile,
    ProfileOp,
)
from personalize.profiles.redis_client import (
    ERRORS,
    LuaScript,
    RedisClient,
    connect,
    is_cluster_node,
    shard_of,
)
from personalize.ratelimit import WINDOW
from personalize.recommendations.storage import RedisModelStore
from personalize.tracking.context import VisitContext
from personalize.tracking.events import EventRecord
from personalize.tracking.log import write_events

if TYPE_CHECKING:
    from django.core.checks import CheckMessage

logger = logging.getLogger("personalize.redis")

# KEYS: m, vp, vcat, s, pp, pc, aff, cart
# ARGV: now, timeout, path, referrer, utm json, device, country, ttl
TOUCH_SCRIPT = """
local now = tonumber(ARGV[1])
local m = KEYS[1]
local fs = redis.call('HGET', m, 'fs')
local last = tonumber(redis.call('HGET', m, 'ls') or '0') or 0
local new_visit = 0
if not fs then
  redis.call('HSET', m, 'fs', ARGV[1], 'lp', ARGV[3], 'fr', ARGV[4], 'fu', ARGV[5])
end
if (not fs) or (now - last > tonumber(ARGV[2])) then
  new_visit = 1
  redis.call('HINCRBY', m, 'vc', 1)
  redis.call('HSET', m, 'vs', ARGV[1], 'pvv', 0, 'vlp', ARGV[3], 'vr', ARGV[4], 'u', ARGV[5])
end
redis.call('HSET', m, 'dev', ARGV[6])
if ARGV[7] ~= '' then redis.call('HSET', m, 'cc', ARGV[7]) end
if now > last then redis.call('HSET', m, 'ls', ARGV[1]) end
local ttl = tonumber(ARGV[8])
local out = {new_visit, redis.call('HGETALL', m)}
for i = 2, 7 do out[#out + 1] = redis.call('ZRANGE', KEYS[i], 0, -1, 'WITHSCORES') end
out[#out + 1] = redis.call('HGETALL', KEYS[8])
for i = 1, #KEYS do redis.call('EXPIRE', KEYS[i], ttl) end
return out
"""

_SUFFIXES = ("m", *COLLECTIONS.values(), "aff", "cart")


@contextmanager
def _answering() -> Iterator[None]:
    """Off the request path: a Redis error is :class:`StoreUnavailable`, which callers
    (privacy requests, the admin) report to the user instead of failing."""
    try:
        yield
    except ERRORS as exc:
        raise StoreUnavailable(str(exc)) from exc


class _Breaker:
    """Skips Redis for a while after a failure so an outage costs one timeout, not one per call."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.down_until = 0.0
        self.failures = 0

    def check(self) -> None:
        if time.monotonic() < self.down_until:
            raise StoreUnavailable("Redis marked unavailable after a recent failure.")

    def failed(self, exc: Exception) -> StoreUnavailable:
        with self._lock:
            self.failures += 1
            self.down_until = time.monotonic() + settings.REDIS_RETRY_AFTER
        logger.warning(
            "Redis profile store unavailable (%s failures so far): %s", self.failures, exc
        )
        return StoreUnavailable(str(exc))


# An exact sliding window of reported events per visitor: timestamps (Redis's own
# clock, shared by every app server) of the events accepted in the last minute.
# KEYS: the visitor's rate key; ARGV: window seconds, limit, count, member prefix
RATE_SCRIPT = """
local now = redis.call('TIME')
local t = tonumber(now[1]) + tonumber(now[2]) / 1000000
local window, limit, count = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', t - window)
if redis.call('ZCARD', KEYS[1]) + count > limit then return 0 end
for i = 1, count do redis.call('ZADD', KEYS[1], t, ARGV[4] .. i) end
redis.call('EXPIRE', KEYS[1], math.ceil(window) + 1)
return 1
"""

# The request's profile changes as one atomic unit, marked with the batch's id (its
# first event's id) so a batch whose outcome is unknown (a timeout after sending)
# can later be applied exactly once: the marker and the changes commit together.
# KEYS: the visitor's keys, the marker set first; ARGV: batch id ('' = unmarked),
# now, marker lifetime (seconds), JSON [[command, key index, args...], ...]
APPLY_SCRIPT = """
local batch = ARGV[1]
if batch ~= '' and redis.call('ZSCORE', KEYS[1], batch) then return 0 end
for _, c in ipairs(cjson.decode(ARGV[4])) do
  redis.call(c[1], KEYS[c[2]], unpack(c, 3))
end
if batch ~= '' then
  local now = tonumber(ARGV[2])
  local keep = tonumber(ARGV[3])
  redis.call('ZADD', KEYS[1], now, batch)
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - keep)
  redis.call('EXPIRE', KEYS[1], math.ceil(keep))
end
return 1
"""

_TOUCH = LuaScript(TOUCH_SCRIPT)
_RATE = LuaScript(RATE_SCRIPT)
_APPLY = LuaScript(APPLY_SCRIPT)

STREAM_FULL_BACKOFF = 5  # seconds events bypass a full stream before it is looked at again
#: Profiles read per pipeline by ``load_many``, and the replies each one takes.
LOAD_MANY_BATCH = 200
LOAD_REPLIES = 8


class RedisProfileStore(BaseProfileStore):
    """Profiles in Redis, events in a Redis Stream drained by ``personalize_worker``."""

    replays_changes = True  # apply() marks each batch; apply_once() honours the marks

    def __init__(self, url: str | None = None, prefix: str | None = None) -> None:
        self.url = url or settings.REDIS_URL
        self.prefix = prefix or settings.REDIS_PREFIX
        #: Whether ``url`` is a Redis Cluster (``PERSONALIZE_REDIS_CLUSTER``).
        self.cluster = settings.REDIS_CLUSTER
        redis.ConnectionPool.from_url(self.url)  # a malformed URL fails now, not per request
        self.breaker = _Breaker()
        self._client: RedisClient | None = None
        self._client_lock = threading.Lock()
        self._model_store: RedisModelStore | None = None
        self._stream_full_until: dict[str, float] = {}

    @property
    def client(self) -> RedisClient:
        """The request path's client, built on first use.

        A cluster client contacts the cluster when it is built: building it lazily,
        inside the calls' error handling, lets an unreachable cluster degrade
        requests like any other Redis failure instead of failing ``get_store()``.
        """
        client = self._client
        if client is None:
            with self._client_lock:
                if self._client is None:
                    timeout = settings.REDIS_TIMEOUT
                    self._client = connect(self.url, timeout=timeout, cluster=self.cluster)
                client = self._client
        return client

    # Capabilities ---------------------------------------------------------------

    def event_stream(self) -> EventStream:
        return EventStream(names=self.streams, connect=self.worker_client)

    def rate_limiter(self) -> RedisProfileStore:
        return self  # allow() below: an exact sliding window beside the profile

    def allow(self, visitor_id: str, count: int, limit: int) -> bool:
        """Count ``count`` reported events if the visitor stays within ``limit`` a minute."""
        try:
            self.breaker.check()
            accepted: Any = _RATE(
                self.client,
                [self.key(visitor_id, "rl")],
                [WINDOW, limit, count, f"{uuid.uuid4().hex}:"],
            )
        except ERRORS as exc:
            raise self.breaker.failed(exc) from exc
        return bool(accepted)

    def model_store(self) -> RedisModelStore:
        # The recommendations layer owns the table layout; the store lends its
        # connection and breaker (one instance, so its Lua script is registered once).
        if self._model_store is None:
            self._model_store = RedisModelStore(self)
        return self._model_store

    def check(self) -> list[CheckMessage]:
        # A plain client even for a cluster: every question here is for the node at the
        # URL, and it answers them whether or not it is a cluster node.
        client = redis.Redis.from_url(
            self.url, socket_timeout=0.5, socket_connect_timeout=0.5, decode_responses=True
        )
        try:
            client.ping()
            clustered = is_cluster_node(self.url)
        except (redis.RedisError, ValueError) as exc:
            return [
                Warning(
                    f"Redis at PERSONALIZE_REDIS_URL = {self.url!r} is unreachable ({exc}). "
                    "Pages are still served, but without visitor profiles.",
                    hint="Start Redis or fix PERSONALIZE_REDIS_URL.",
                    id="personalize.W003",
                )
            ]
        if clustered != self.cluster:
            return [self._cluster_mode_error(clustered)]
        try:
            config: Any = client.config_get("maxmemory-policy")
        except redis.RedisError:
            return []  # CONFIG is disabled on some managed services: nothing to check
        policy = str(config.get("maxmemory-policy", "noeviction"))
        if policy != "noeviction":
            return [
                Warning(
                    f"Redis's maxmemory-policy is {policy!r}: when Redis is full it evicts "
                    "visitor profiles (they all expire, so volatile-* policies evict them too) "
                    "and nobody notices.",
                    hint="Set maxmemory-policy noeviction: when Redis is full, writes fail and "
                    "personalize sends events to the database instead (docs/deployment.md).",
                    id="personalize.W006",
                )
            ]
        return []

    def _cluster_mode_error(self, clustered: bool) -> CheckMessage:
        if clustered:
            return Error(
                f"Redis at PERSONALIZE_REDIS_URL = {self.url!r} is a Redis Cluster node, but "
                "PERSONALIZE_REDIS_CLUSTER is off: every request would fail on keys held by "
                "other nodes and be served without a profile.",
                hint="Set PERSONALIZE_REDIS_CLUSTER = True.",
                id="personalize.E010",
            )
        return Error(
            f"PERSONALIZE_REDIS_CLUSTER is on, but Redis at PERSONALIZE_REDIS_URL = "
            f"{self.url!r} is not a cluster node (cluster_enabled:0): the cluster client "
            "cannot start and every request would be served without a profile.",
            hint="Set PERSONALIZE_REDIS_CLUSTER = False, or point PERSONALIZE_REDIS_URL at "
            "a node of your Redis Cluster.",
            id="personalize.E010",
        )

    def worker_client(self, block_ms: int) -> RedisClient:
        """A connection for ``personalize_worker``, separate from the request path's.

        The request client's read timeout (``PERSONALIZE_REDIS_TIMEOUT``, 50 ms) is
        far shorter than a blocking ``XREADGROUP``; the worker's must outlast the
        block, or every idle read would end in a ``TimeoutError``. It does not retry:
        the worker has its own backoff loop.
        """
        return connect(
            self.url, timeout=block_ms / 1000 + 5.0, connect_timeout=5.0, cluster=self.cluster
        )

    # Keys ---------------------------------------------------------------------

    def keys(self, visitor_id: str) -> list[str]:
        base = f"{self.prefix}:v:{{{visitor_id}}}:"
        return [base + suffix for suffix in _SUFFIXES]

    def key(self, visitor_id: str, suffix: str) -> str:
        return f"{self.prefix}:v:{{{visitor_id}}}:{suffix}"

    def user_key(self, user_id: str) -> str:
        # A hash tag of its own: the key's slot never depends on what a user id contains.
        return f"{self.prefix}:user:{{{user_id}}}"

    def email_key(self, email: str) -> str:
        """The link from an identified email to its visitor (``visitor_for_email``)."""
        return f"{self.prefix}:email:{{{email.strip().lower()}}}"

    def _legacy_user_key(self, user_id: str) -> str:
        return f"{self.prefix}:user:{user_id}"  # before hash tags (single servers only)

    @property
    def streams(self) -> tuple[str, ...]:
        """Every event stream (shard); a visitor's events always go to the same one."""
        base = f"{self.prefix}:{settings.STREAM_NAME}"
        shards = settings.STREAM_SHARDS
        if shards <= 1:
            return (base,)
        return tuple(f"{base}:{{{n}}}" for n in range(shards))

    @property
    def stream(self) -> str:
        """The first event stream: the only one unless ``PERSONALIZE_STREAM_SHARDS`` > 1."""
        return self.streams[0]

    def stream_for(self, visitor_id: str) -> str:
        streams = self.streams
        return streams[shard_of(visitor_id, len(streams))]

    @property
    def ttl(self) -> int:
        return settings.RETENTION_DAYS * 86400

    # Hot path -------------------------------------------------------------------

    def touch(self, visitor_id: str, ctx: VisitContext) -> tuple[Profile, bool]:
        self.breaker.check()
        args: list[str | int | float] = [
            ctx.now,
            settings.VISIT_TIMEOUT,
            ctx.path,
            ctx.referrer,
            json.dumps(ctx.utm, sort_keys=True),
            ctx.device,
            ctx.country,
            self.ttl,
        ]
        keys = self.keys(visitor_id)
        try:
            try:
                reply, version = self._touch_round_trip(keys, args)
            except redis.exceptions.NoScriptError:
                # First use on this server (every primary of a cluster) only.
                self.client.script_load(TOUCH_SCRIPT)
                reply, version = self._touch_round_trip(keys, args)
        except ERRORS as exc:
            raise self.breaker.failed(exc) from exc
        if version is not None:
            configuration.observe(int(version or 0))
        profile = self._parse(visitor_id, reply[1], reply[2:8], reply[8])
        return profile, bool(reply[0])

    def _touch_round_trip(self, keys: list[str], args: list[str | int | float]) -> Any:
        client = self.client
        if self.cluster:
            # The version lives in another slot, likely on another node: reading it here
            # would cost every request a second node. configuration polls it instead.
            reply = client.evalsha(_TOUCH.sha, len(keys), *keys, *args)  # type: ignore[arg-type]
            return reply, None
        # On a single server the configuration version rides along in the same round trip.
        pipe = client.pipeline(transaction=False)
        pipe.evalsha(_TOUCH.sha, len(keys), *keys, *args)  # type: ignore[arg-type]
        pipe.get(configuration.redis_key())
        return pipe.execute()

    def config_version(self) -> int:
        try:
            self.breaker.check()
            value: Any = self.client.get(configuration.redis_key())
            return int(value or 0)
        except ERRORS as exc:
            raise self.breaker.failed(exc) from exc

    def bump_config_version(self) -> int:
        try:
            value: Any = self.client.incr(configuration.redis_key())
            return int(value)
        except ERRORS as exc:
            raise self.breaker.failed(exc) from exc

    def apply(self, visitor_id: str, ops: list[ProfileOp], events: list[EventRecord]) -> None:
        # A stream at its cap (no worker draining it) takes no more events: they go to
        # the database log directly instead of growing Redis's memory without bound.
        stream = self.stream_for(visitor_id)
        streamed = [] if self._stream_full(stream) else events
        script_args: list[Any] | None = None
        try:
            self.breaker.check()
            # The visitor's changes (one script, one slot) and the shard's stream: on a
            # cluster, redis-py splits this pipeline per node and sends every part
            # before reading any reply.
            pipe = self.client.pipeline(transaction=False)
            if ops:
                batch = events[0].event_id if events else ""
                script_args = self._apply_args(visitor_id, batch, ops)
                # execute_command: a cluster pipeline refuses its evalsha() method, but
                # routes EVALSHA by its keys like any other command.
                pipe.execute_command("EVALSHA", _APPLY.sha, *script_args)
                for email in _emails_set(ops):
                    pipe.set(self.email_key(email), visitor_id, ex=self.ttl)
            cap = settings.STREAM_MAXLEN
            for event in streamed:
                pipe.xadd(
                    stream,
                    {"e": json.dumps(event.to_json(), separators=(",", ":"))},
                    # A safety net above the cap: trimming drops undrained events, so it
                    # must only ever happen if the cap check below was raced past.
                    maxlen=cap + cap // 10,
                    approximate=True,
                )
            if streamed:
                pipe.xlen(stream)
            replies = pipe.execute(raise_on_error=False)
            if script_args is not None and isinstance(replies[0], redis.exceptions.NoScriptError):
                # A restarted server has forgotten the script: the rest of the pipeline
                # ran, the script did not. Load it and run only the script again.
                count = script_args[0]
                _APPLY(self.client, script_args[1 : 1 + count], script_args[1 + count :])
                replies[0] = 1
            for reply in replies:
                if isinstance(reply, Exception):
                    raise reply
            if streamed:
                self._observe_stream_length(stream, int(replies[-1]), cap)
        except (*ERRORS, StoreUnavailable) as exc:  # type: ignore[misc]
            error = exc if isinstance(exc, StoreUnavailable) else self.breaker.failed(exc)
            # The events are kept: they go straight to the log (an event that did reach
            # the stream is inserted once: event ids are unique). The profile changes
            # are the caller's to defer (personalize.profiles.backlog).
            self._log_directly(events)
            raise error from exc
        if len(streamed) < len(events):
            self._log_directly(events)

    def apply_once(self, visitor_id: str, batch_id: str, ops: list[ProfileOp]) -> bool:
        try:
            self.breaker.check()
            args = self._apply_args(visitor_id, batch_id, ops)
            applied: Any = _APPLY(self.client, args[1 : 1 + args[0]], args[1 + args[0] :])
            for email in _emails_set(ops):
                self.client.set(self.email_key(email), visitor_id, ex=self.ttl)
        except ERRORS as exc:
            raise self.breaker.failed(exc) from exc
        return bool(applied)

    def _apply_args(self, visitor_id: str, batch: str, ops: list[ProfileOp]) -> list[Any]:
        """``[number of keys, *keys, *args]`` of the apply script for these ops."""
        keys, commands = self._commands(visitor_id, ops)
        return [
            len(keys),
            *keys,
            # 64 bits of the event id tell a visitor's batches apart for the few minutes
            # a mark lives, at half the memory of the whole id.
            batch[:16],
            repr(time.time()),
            BATCH_MARK_SECONDS,
            json.dumps(commands, separators=(",", ":")),
        ]

    def _log_directly(self, events: list[EventRecord]) -> None:
        if not events:
            return
        try:
            write_events(events, using=settings.DATABASE_ALIAS)
        except Exception:
            # Redis failed or the stream is full, and now the database too: nowhere left.
            logger.exception("Could not log %d events directly in the database", len(events))

    def _stream_full(self, stream: str) -> bool:
        return time.monotonic() < self._stream_full_until.get(stream, 0.0)

    def _observe_stream_length(self, stream: str, length: int, cap: int) -> None:
        if length >= cap:
            # Look again in a few seconds: one XLEN per request is already paid for.
            self._stream_full_until[stream] = time.monotonic() + STREAM_FULL_BACKOFF
            logger.warning(
                "Event stream %s holds %d entries (cap %d): is personalize_worker running? "
                "Events go to the database directly for %d s.",
                stream,
                length,
                cap,
                STREAM_FULL_BACKOFF,
            )

    def _commands(
        self, visitor_id: str, ops: list[ProfileOp]
    ) -> tuple[list[str], list[list[str | int]]]:
        """The visitor's keys (the batch marker set first) and the Redis commands that
        apply ``ops``, each as ``[command, index of its key in keys (1-based), *args]``
        with every argument a string, for the apply script."""
        keys = [self.key(visitor_id, "ap"), self.key(visitor_id, "m")]
        index = {keys[0]: 1, keys[1]: 2}
        commands: list[list[str | int]] = []

        def on(key: str, command: str, *args: Any) -> None:
            if key not in index:
                keys.append(key)
                index[key] = len(keys)
            commands.append([command, index[key], *(_arg(a) for a in args)])

        main = keys[1]
        for op in ops:
            kind = op.kind
            if kind in ("incr", "incrfloat", "set", "setnx"):
                short = SCALAR_FIELDS[op.name]
                if kind == "incr":
                    on(main, "HINCRBY", short, int(op.value))
                elif kind == "incrfloat":
                    on(main, "HINCRBYFLOAT", short, float(op.value))
                elif kind == "set":
                    on(main, "HSET", short, _encode(op.name, op.value))
                else:
                    on(main, "HSETNX", short, _encode(op.name, op.value))
            elif kind in ("zadd", "zincr"):
                key = self.key(visitor_id, COLLECTIONS[op.name] if kind == "zadd" else "aff")
                if kind == "zadd":
                    on(key, "ZADD", float(op.value), op.member)
                else:
                    on(key, "ZINCRBY", float(op.value), op.member)
                if op.limit:
                    on(key, "ZREMRANGEBYRANK", 0, -(op.limit + 1))
            elif kind in ("cart_add", "cart_del", "cart_clear"):
                cart = self.key(visitor_id, "cart")
                if kind == "cart_add":
                    price, category = op.extra
                    on(cart, "HINCRBY", f"q:{op.member}", int(op.value))
                    on(cart, "HSET", f"p:{op.member}", price, f"c:{op.member}", category)
                elif kind == "cart_del":
                    on(cart, "HDEL", f"q:{op.member}", f"p:{op.member}", f"c:{op.member}")
                else:
                    on(cart, "DEL")
            elif kind == "ext":
                on(main, "HSET", f"x:{op.name}", json.dumps(op.value))
            else:
                raise ValueError(f"Unknown profile op {kind!r}.")
        for key in keys[1:]:
            on(key, "EXPIRE", self.ttl)
        return keys, commands

    # Parsing ----------------------------------------------------------------------

    def _parse(
        self, visitor_id: str, flat_main: list[str], zsets: list[list[str]], flat_cart: list[str]
    ) -> Profile:
        profile = Profile(visitor_id=visitor_id)
        main = _pairs(flat_main)
        for short, raw in main.items():
            if short.startswith("x:"):
                profile.ext[short[2:]] = json.loads(raw)
                continue
            name = SHORT_TO_FIELD.get(short)
            if name is not None:
                setattr(profile, name, _decode(name, raw))
        for name, flat in zip(COLLECTIONS, zsets[:5], strict=True):
            setattr(profile, name, {k: float(v) for k, v in _pairs(flat).items()})
        profile.affinity_raw = {k: float(v) for k, v in _pairs(zsets[5]).items()}
        cart = _pairs(flat_cart)
        for field_name, raw in cart.items():
            if field_name.startswith("q:"):
                pid = field_name[2:]
                quantity = int(raw)
                if quantity > 0:
                    profile.cart[pid] = CartLine(
                        quantity, float(cart.get(f"p:{pid}", 0) or 0), cart.get(f"c:{pid}", "")
                    )
        return profile

    def _queue_load(self, pipe: Any, visitor_id: str) -> None:
        """Queue the :data:`LOAD_REPLIES` reads of one profile."""
        keys = self.keys(visitor_id)
        pipe.hgetall(keys[0])
        for key in keys[1:7]:
            pipe.zrange(key, 0, -1, withscores=True)
        pipe.hgetall(keys[7])

    def _loaded(self, visitor_id: str, replies: list[Any]) -> Profile | None:
        main, *rest = replies
        if not main:
            return None
        zsets = [[x for pair in z for x in pair] for z in rest[:6]]
        flat_main = [x for pair in main.items() for x in pair]
        flat_cart = [x for pair in rest[6].items() for x in pair]
        return self._parse(visitor_id, flat_main, zsets, flat_cart)

    def load(self, visitor_id: str) -> Profile | None:
        pipe = self.client.pipeline(transaction=False)
        self._queue_load(pipe, visitor_id)
        try:
            replies = pipe.execute()
        except ERRORS as exc:
            raise StoreUnavailable(str(exc)) from exc
        return self._loaded(visitor_id, replies)

    def load_many(self, visitor_ids: Collection[str]) -> dict[str, Profile]:
        # One pipeline per LOAD_MANY_BATCH visitors instead of a round trip each (a
        # cluster pipeline splits the reads by node; each profile's keys share a slot).
        ids = list(visitor_ids)
        found: dict[str, Profile] = {}
        for start in range(0, len(ids), LOAD_MANY_BATCH):
            chunk = ids[start : start + LOAD_MANY_BATCH]
            pipe = self.client.pipeline(transaction=False)
            for visitor_id in chunk:
                self._queue_load(pipe, visitor_id)
            try:
                replies = pipe.execute()
            except ERRORS as exc:
                raise StoreUnavailable(str(exc)) from exc
            for index, visitor_id in enumerate(chunk):
                profile = self._loaded(
                    visitor_id, replies[index * LOAD_REPLIES : (index + 1) * LOAD_REPLIES]
                )
                if profile is not None:
                    found[visitor_id] = profile
        return found

    # Whole-profile writes -------------------------------------------------------------

    def _queue_save(self, pipe: Any, profile: Profile) -> None:
        """Queue the profile's keys (one slot); the user link is the caller's to write."""
        vid = profile.visitor_id
        keys = self.keys(vid)
        for key in keys:
            pipe.delete(key)  # one key a DEL: a cluster pipeline refuses more
        mapping: dict[str, Any] = {}
        for name, short in SCALAR_FIELDS.items():
            value = getattr(profile, name)
            if value not in (None, "", {}):
                mapping[short] = _encode(name, value)
        for key, value in profile.ext.items():
            mapping[f"x:{key}"] = json.dumps(value)
        pipe.hset(keys[0], mapping=mapping)
        for name in COLLECTIONS:
            items = getattr(profile, name)
            if items:
                pipe.zadd(self.key(vid, COLLECTIONS[name]), items)
        if profile.affinity_raw:
            pipe.zadd(self.key(vid, "aff"), profile.affinity_raw)
        if profile.cart:
            cart: dict[str, Any] = {}
            for pid, line in profile.cart.items():
                cart.update(
                    {f"q:{pid}": line.quantity, f"p:{pid}": line.price, f"c:{pid}": line.category}
                )
            pipe.hset(self.key(vid, "cart"), mapping=cart)
        for key in keys:
            pipe.expire(key, self.ttl)

    def save(self, profile: Profile) -> None:
        # The profile atomically (its keys share a slot), then the user's link: the link
        # lives in another slot, so it cannot join the MULTI. Written after, it only ever
        # points at a saved profile; a crash in between leaves the link as it was (the
        # profile still knows its user_id, and the next login links it again).
        pipe = self.client.pipeline(transaction=True)
        self._queue_save(pipe, profile)
        pipe.execute()
        if profile.user_id:
            self.client.set(self.user_key(profile.user_id), profile.visitor_id, ex=self.ttl)
        if profile.email:
            self.client.set(self.email_key(profile.email), profile.visitor_id, ex=self.ttl)

    def all_keys(self, visitor_id: str) -> list[str]:
        """Every key named after the visitor: the profile, its applied-batch marks and
        its rate-limit window (one slot, so one DEL takes them all)."""
        return [*self.keys(visitor_id), self.key(visitor_id, "ap"), self.key(visitor_id, "rl")]

    def delete(self, visitor_id: str) -> None:
        self.client.delete(*self.all_keys(visitor_id))

    def visitor_for_user(self, user_id: str) -> str | None:
        with _answering():
            if self.cluster:
                value: Any = self.client.get(self.user_key(user_id))
            else:
                # Links written before the key had a hash tag, in the same round trip.
                pipe = self.client.pipeline(transaction=False)
                pipe.get(self.user_key(user_id))
                pipe.get(self._legacy_user_key(user_id))
                current, legacy = pipe.execute()
                value = current or legacy
        return str(value) if value else None

    def link_user(self, visitor_id: str, user_id: str) -> None:
        pipe = self.client.pipeline(transaction=False)
        pipe.hset(self.key(visitor_id, "m"), SCALAR_FIELDS["user_id"], user_id)
        pipe.set(self.user_key(user_id), visitor_id, ex=self.ttl)
        pipe.execute()

    # Privacy requests ---------------------------------------------------------------

    def find_visitors(
        self, *, user_ids: Collection[str] = (), emails: Collection[str] = ()
    ) -> set[str]:
        # The links first; then every profile, since no index maps an email (or a user
        # id whose link expired or was overwritten) to profiles: one SCAN, read in batches.
        found = super().find_visitors(user_ids=user_ids)
        users = {u for u in user_ids if u}
        wanted = {e.lower() for e in emails if e}
        if not users and not wanted:
            return found
        batch: list[str] = []
        with _answering():
            for key in self.client.scan_iter(match=f"{self.prefix}:v:*:m", count=1000):
                batch.append(str(key))
                if len(batch) >= 500:
                    found |= self._owned_by(batch, users, wanted)
                    batch = []
            if batch:
                found |= self._owned_by(batch, users, wanted)
        return found

    def _owned_by(self, main_keys: list[str], users: set[str], emails: set[str]) -> set[str]:
        pipe = self.client.pipeline(transaction=False)
        for key in main_keys:
            pipe.hmget(key, [SCALAR_FIELDS["user_id"], SCALAR_FIELDS["email"]])
        owned = set()
        for key, (user_id, email) in zip(main_keys, pipe.execute(), strict=True):
            if (user_id and user_id in users) or (email and email.lower() in emails):
                owned.add(key[key.index("{") + 1 : key.index("}")])
        return owned

    def erase_profile(self, visitor_id: str) -> bool:
        with _answering():
            existed = bool(self.client.exists(self.key(visitor_id, "m")))
            self.client.delete(*self.all_keys(visitor_id))
        return existed

    def visitor_for_email(self, email: str) -> str | None:
        # The latest visitor to identify with the email (a capture form, identify(),
        # a server-to-server batch): written with the change that set the email.
        with _answering():
            value: Any = self.client.get(self.email_key(email))
        return str(value) if value else None

    def unlink_email(self, email: str) -> bool:
        with _answering():
            removed: Any = self.client.delete(self.email_key(email))
        return bool(int(removed))

    def unlink_user(self, user_id: str) -> bool:
        with _answering():
            # Two slots: two commands (a cluster refuses a cross-slot DEL).
            removed: Any = self.client.delete(self.user_key(user_id))
            legacy: Any = self.client.delete(self._legacy_user_key(user_id))
        return bool(int(removed) + int(legacy))

    def buffered_events(self, match: Callable[[EventRecord], bool]) -> list[EventRecord]:
        with _answering():
            return [record for _, _, record in self._stream_entries(match)]

    def drop_buffered_events(self, match: Callable[[EventRecord], bool]) -> int:
        dropped = 0
        with _answering():
            for stream, entry_id, _ in self._stream_entries(match):
                # The worker skips an entry deleted while pending (XAUTOCLAIM gives None).
                deleted: Any = self.client.xdel(stream, entry_id)
                dropped += int(deleted)
        return dropped

    def _stream_entries(
        self, match: Callable[[EventRecord], bool]
    ) -> Iterator[tuple[str, str, EventRecord]]:
        """Every event waiting in (or drained but not yet trimmed from) the streams."""
        for stream in self.streams:
            start = "-"
            while True:
                entries: Any = self.client.xrange(stream, min=start, count=1000)
                if not entries:
                    break
                for entry_id, fields in entries:
                    raw = fields.get("e") if fields else None
                    if raw is None:
                        continue
                    record = EventRecord.from_json(json.loads(raw))
                    if match(record):
                        yield stream, str(entry_id), record
                start = f"({entries[-1][0]}"  # exclusive: after the last one read

    def iter_profiles(self, *, seen_since: float = 0.0) -> Iterator[Profile]:
        pattern = f"{self.prefix}:v:*:m"
        # A cluster client's SCAN walks every primary, one after the other.
        batch: list[str] = []
        for key in self.client.scan_iter(match=pattern, count=1000):
            batch.append(str(key))
            if len(batch) >= 500:
                yield from self._load_batch(batch, seen_since)
                batch = []
        if batch:
            yield from self._load_batch(batch, seen_since)

    def _load_batch(self, main_keys: list[str], seen_since: float) -> Iterator[Profile]:
        for key in main_keys:
            visitor_id = key[key.index("{") + 1 : key.index("}")]
            profile = self.load(visitor_id)
            if profile is not None and profile.last_seen >= seen_since:
                yield profile

    def write_ext(self, key: str, values: dict[str, Any]) -> None:
        pipe = self.client.pipeline(transaction=False)
        for count, (visitor_id, value) in enumerate(values.items(), start=1):
            pipe.hset(self.key(visitor_id, "m"), f"x:{key}", json.dumps(value))
            if count % 1000 == 0:
                pipe.execute()
        pipe.execute()

    def import_profiles(self, profiles: Iterable[Profile], events: Iterable[EventRecord]) -> None:
        pipe = self.client.pipeline(transaction=False)
        for count, profile in enumerate(profiles, start=1):
            self._queue_save(pipe, profile)
            if profile.user_id:
                pipe.set(self.user_key(profile.user_id), profile.visitor_id, ex=self.ttl)
            if profile.email:
                pipe.set(self.email_key(profile.email), profile.visitor_id, ex=self.ttl)
            if count % 200 == 0:
                pipe.execute()
        pipe.execute()
        write_events(events, using=settings.DATABASE_ALIAS)


def _emails_set(ops: list[ProfileOp]) -> list[str]:
    """The emails these ops give the profile (an ``identify``)."""
    return [str(op.value) for op in ops if op.kind == "set" and op.name == "email" and op.value]


def _arg(value: Any) -> str:
    """A command argument as the string Redis receives (floats exactly, by repr)."""
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _pairs(flat: list[str]) -> dict[str, str]:
    return dict(zip(flat[::2], flat[1::2], strict=True))


def _encode(name: str, value: Any) -> str | int | float:
    if name in JSON_FIELDS:
        return json.dumps(value, sort_keys=True)
    if value is None:
        return ""
    if isinstance(value, (int, float, str)):
        return value
    return str(value)


def _decode(name: str, raw: str) -> Any:
    if name in INT_FIELDS:
        return int(float(raw or 0))
    if name in FLOAT_FIELDS:
        return float(raw or 0)
    if name in OPTIONAL_FLOAT_FIELDS:
        return float(raw) if raw else None
    if name in JSON_FIELDS:
        try:
            value = json.loads(raw) if raw else {}
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}
    return raw
