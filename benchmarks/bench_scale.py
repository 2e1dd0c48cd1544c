"""Benchmark: the demo shop under gunicorn, 1 to 4 processes, on one Redis and a Redis Cluster.

    .venv/bin/python benchmarks/bench_scale.py [--targets redis cluster] [--shards 1 3]
        [--processes 1 2 4] [--concurrency 16] [--visitors 400] [--warmup 48] [--seed 7]
        [--port PORT] [--rounds 1] [--quiet-below CPUS] [--quiet-wait SECONDS]

Services, all of the benchmark's own and removed at the end (on an error, Ctrl-C or
SIGTERM too):

* ``--targets redis``: a private ``redis-server`` on a free port;
* ``--targets cluster``: a private Redis Cluster of three primaries (no replicas),
  ``redis-server --cluster-enabled yes`` on three free ports whose cluster bus ports
  (port + 10000) are free too, joined by ``redis-cli --cluster create``, its files in a
  temporary directory; it is measured once per ``--shards`` count
  (``PERSONALIZE_STREAM_SHARDS``: the event streams, each in a hash slot of its own);
* a fresh PostgreSQL database on 127.0.0.1:5432 (user postgres, trust auth), created,
  migrated and seeded small (``manage.py seed_demo --visitors 100 --months 1
  --customers 20``), dropped at the end.

``redis-server`` (and for the cluster ``redis-cli``) must be installed.

Each target (one Redis; the cluster with 1 stream shard, with 3...) is one column of
the results. For each target and process count: ``gunicorn shop_demo.wsgi`` with that
many sync workers (``DJANGO_DEBUG=0``, ``PERSONALIZE_STORE=redis``,
``DATABASE_CONN_MAX_AGE`` set so each worker keeps its connection; on the cluster
``PERSONALIZE_REDIS_CLUSTER=1``, ``PERSONALIZE_REDIS_URL`` one of its nodes and
``PERSONALIZE_STREAM_SHARDS``) and one ``manage.py personalize_worker`` draining every
stream shard, with the same environment. The load comes from a separate process (this
script with ``load``): a fixed number of simulated visitors at a time, each with its
own cookie jar and its own seeded random walk: a landing page (home, a category or a
product), then categories, products and the home page (HTML GETs, tracked as page
views), and now and then an add-to-cart POST as htmx sends it (the CSRF token taken
from the product page). No think time: a visitor sends its next request when the
previous one is answered. The first ``--warmup`` visitors warm the workers up and are
not timed; the next ``--visitors`` are. Every visitor's walk depends only on
``--seed`` and its number, so every run sends the same requests.

Reported per target and process count: throughput (requests/s while every visitor
slot was busy), p50/p95 latency, both as ratios to the 1-process run of the same
target, the 5xx count, the worker's drain rate (events logged per second during the
load: it keeps up, so this is the rate events arrive, and its CPU per event says how
far it is from its limit), the largest backlog it had, and the events each stream
shard received (with the cluster node serving it). Then the script waits (at most
120 s, else it fails naming what is left) until ``personalize_worker --check`` shows
nothing unread and nothing pending in any shard and the ``personalize_deferredchange``
table is empty (requests served degraded while Redis was slow defer their profile
changes there, and the worker replays them: the run reports how many, from the
worker's ``replayed N deferred profile change(s)`` lines). Then, for every visitor
(warm-up included):

* events exactly once: the ``page_view`` rows of the visitor in the ``Event`` table
  equal the page views the load generator sent for it, with no ``event_id`` twice (and
  its ``add_to_cart`` rows equal the adds the shop accepted);
* counters exact: ``pageviews_total`` of its profile, read with the target's
  ``RedisProfileStore`` (a ``RedisCluster`` client on the cluster), equals the page
  views sent. This must hold even when the store's breaker opened during the load
  (counted from the servers' ``Redis profile store unavailable`` lines): the skipped
  requests' changes come back through the deferred changes.

The machine's CPUs are shared with whatever else runs on it: before each run the
script measures how many CPUs other work keeps busy (``--quiet-below`` waits, up to
``--quiet-wait`` seconds, for that to drop), and reports the CPU time gunicorn spent per
request, the figure least moved by other work. A round runs every target at one
process count, then at the next, so a drift in the machine's load touches the targets
alike; ``--rounds`` repeats it, every other round in reverse order, and reports medians.

Structure: a ``Target`` is where the app servers keep profiles and events, with the
environment the servers get and the settings this script reads profiles and the
backlog with; ``single_redis()`` and ``redis_cluster()`` start and remove theirs.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.client import HTTPConnection
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_train_pipeline import (  # noqa: E402
    free_port,
    private_redis,
    scratch_database,
    setup_django,
    versions,
)

PYTHON = sys.executable
SEED_ARGS = ["--visitors", "100", "--months", "1", "--customers", "20"]
USER_AGENT = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0 Safari/537.36"
)
HTML_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
#: Chance of an add-to-cart POST after a product page that offers one.
ADD_CHANCE = 0.2
CSRF_RE = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
PRODUCT_ID_RE = re.compile(r'name="product_id" value="(\d+)"')


# --- where profiles and events live ------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """Where the app servers keep profiles and events: one column of the results."""

    label: str
    how: str
    #: Environment the demo's settings read (PERSONALIZE_STORE, PERSONALIZE_REDIS_URL...).
    environ: dict[str, str]
    #: The cluster's primaries, ``[]`` for a single server.
    nodes: list[int] = field(default_factory=list)

    @property
    def shards(self) -> int:
        return int(self.environ.get("PERSONALIZE_STREAM_SHARDS", "1"))

    @contextlib.contextmanager
    def active(self) -> Iterator[None]:
        """This process's Django settings as the servers' ``environ`` makes theirs.

        ``personalize_worker --check`` and the profile reads then see this target; the
        settings change resets the store (``personalize.signals``).
        """
        from django.test import override_settings

        from shop_demo.settings import _STORES

        store = self.environ["PERSONALIZE_STORE"]
        with override_settings(
            PERSONALIZE_STORE=_STORES.get(store, store),
            PERSONALIZE_REDIS_URL=self.environ["PERSONALIZE_REDIS_URL"],
            PERSONALIZE_REDIS_CLUSTER=self.environ.get("PERSONALIZE_REDIS_CLUSTER") == "1",
            PERSONALIZE_STREAM_SHARDS=self.shards,
            # The servers keep the 50 ms default; this script's reads are not under test
            # and must not fail because the machine is busy.
            PERSONALIZE_REDIS_TIMEOUT=5.0,
        ):
            yield

    def profile_store(self) -> Any:
        """A store to read profiles back with (call under :meth:`active`)."""
        from personalize.profiles.base import get_store

        return get_store()


def redis_version(url: str) -> str:
    import redis

    client = redis.Redis.from_url(url)
    try:
        for _ in range(100):
            try:
                info: Any = client.info("server")
                return str(info["redis_version"])
            except redis.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError(f"no Redis answers at {url}")
    finally:
        client.close()


@contextlib.contextmanager
def single_redis() -> Iterator[Target]:
    if shutil.which("redis-server") is None:
        sys.exit("bench_scale.py starts a redis-server of its own: install redis-server.")
    with private_redis("") as (url, how):
        yield Target(
            "one Redis",
            how,
            {"PERSONALIZE_STORE": "redis", "PERSONALIZE_REDIS_URL": url},
        )


def cluster_ports(count: int) -> list[int]:
    """Free ports whose cluster bus port (port + 10000) is free too."""
    import socket

    ports: list[int] = []
    held: list[socket.socket] = []
    try:
        while len(ports) < count:
            sock = socket.socket()
            held.append(sock)
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
            if port + 10000 > 65535:
                continue
            bus = socket.socket()
            held.append(bus)
            try:
                bus.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
            ports.append(port)
    finally:
        for sock in held:
            sock.close()
    return ports


@contextlib.contextmanager
def redis_cluster(shard_counts: list[int]) -> Iterator[list[Target]]:
    """A private three-primary Redis Cluster; one target per stream shard count."""
    for binary in ("redis-server", "redis-cli"):
        if shutil.which(binary) is None:
            sys.exit(f"bench_scale.py starts a Redis Cluster of its own: install {binary}.")
    servers: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory(prefix="pzcluster-") as directory:
        try:
            ports = cluster_ports(3)
            for port in ports:
                home = Path(directory) / str(port)
                home.mkdir()
                servers.append(
                    subprocess.Popen(
                        [
                            *("redis-server", "--port", str(port), "--bind", "127.0.0.1"),
                            *("--save", "", "--appendonly", "no", "--cluster-enabled", "yes"),
                            *("--cluster-config-file", str(home / "nodes.conf")),
                            *("--dir", str(home), "--logfile", str(home / "redis.log")),
                        ],
                        stdout=subprocess.DEVNULL,
                        # Ctrl-C reaches this script alone; it stops the nodes itself.
                        start_new_session=True,
                    )
                )
            version = ", ".join(
                sorted({redis_version(f"redis://127.0.0.1:{port}/0") for port in ports})
            )
            created = subprocess.run(
                [
                    *("redis-cli", "--cluster", "create"),
                    *(f"127.0.0.1:{port}" for port in ports),
                    *("--cluster-replicas", "0", "--cluster-yes"),
                ],
                capture_output=True,
                text=True,
            )
            if created.returncode:
                raise RuntimeError(f"redis-cli --cluster create failed:\n{created.stdout}")
            wait_for_cluster(ports)
            url = f"redis://127.0.0.1:{ports[0]}/0"
            how = f"a private Redis Cluster {version}, 3 primaries on 127.0.0.1:" + ", ".join(
                map(str, ports)
            )
            yield [
                Target(
                    f"Redis Cluster, {shards} shard{'s' if shards > 1 else ''}",
                    how,
                    {
                        "PERSONALIZE_STORE": "redis",
                        "PERSONALIZE_REDIS_URL": url,
                        "PERSONALIZE_REDIS_CLUSTER": "1",
                        "PERSONALIZE_STREAM_SHARDS": str(shards),
                    },
                    nodes=ports,
                )
                for shards in shard_counts
            ]
        finally:
            for server in servers:
                server.terminate()
            for server in servers:
                try:
                    server.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    server.kill()
                    server.wait()


def wait_for_cluster(ports: list[int], timeout: float = 30) -> None:
    """Until every node reports ``cluster_state:ok``."""
    import redis

    deadline = time.monotonic() + timeout
    clients = [redis.Redis(port=port, decode_responses=True) for port in ports]
    try:
        while time.monotonic() < deadline:
            states: list[Any] = [client.cluster("info") for client in clients]
            if all(state.get("cluster_state") == "ok" for state in states):
                return
            time.sleep(0.1)
    finally:
        for client in clients:
            client.close()
    raise RuntimeError(f"the Redis Cluster on ports {ports} did not reach cluster_state:ok")


# --- the load generator (a process of its own) -------------------------------------------


@dataclass
class VisitorLog:
    """What the load generator did as one visitor."""

    number: int
    phase: str
    ids: set[str] = field(default_factory=set)
    page_views: int = 0
    adds: int = 0
    requests: int = 0


class Browser:
    """One visitor: a cookie jar and the headers a browser sends."""

    def __init__(self, host: str, port: int, cookie_name: str, log: VisitorLog) -> None:
        self.host, self.port, self.cookie_name, self.log = host, port, cookie_name, log
        self.jar: dict[str, str] = {}

    def request(
        self, method: str, path: str, samples: list[tuple[float, float, int, str]], **form: str
    ) -> tuple[int, dict[str, str], str]:
        headers = {"User-Agent": USER_AGENT, "Host": f"{self.host}:{self.port}"}
        if self.jar:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.jar.items())
        body = None
        if method == "GET":
            headers |= {"Accept": HTML_ACCEPT, "Sec-Fetch-Dest": "document"}
        else:
            body = urlencode(form)
            origin = f"http://{self.host}:{self.port}"
            headers |= {
                "Accept": "*/*",
                "Sec-Fetch-Dest": "empty",
                "Content-Type": "application/x-www-form-urlencoded",
                "Origin": origin,
                "HX-Request": "true",
                "HX-Target": "toast",
                "HX-Current-URL": origin + form.get("next", "/"),
            }
        began = time.monotonic()
        status, reply_headers, text = 0, {}, ""
        connection = HTTPConnection(self.host, self.port, timeout=60)
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            text = response.read().decode("utf-8", "replace")
            status = response.status
            reply_headers = {k.lower(): v for k, v in response.getheaders()}
            for raw in response.headers.get_all("Set-Cookie") or []:
                self.keep(raw)
        except OSError as exc:  # connection refused or reset, timeout: counted, never raised
            text = f"{type(exc).__name__}: {exc}"
        finally:
            connection.close()
        ended = time.monotonic()
        samples.append((began, ended, status, method))
        self.log.requests += 1
        # The middleware records a page view for every tracked GET it answers below 500.
        if method == "GET" and 0 < status < 500:
            self.log.page_views += 1
        return status, reply_headers, text

    def keep(self, raw: str) -> None:
        cookie: SimpleCookie = SimpleCookie()
        cookie.load(raw)
        for name, morsel in cookie.items():
            if morsel["max-age"] == "0" or not morsel.value:
                self.jar.pop(name, None)
                continue
            self.jar[name] = morsel.value
            if name == self.cookie_name:
                self.log.ids.add(morsel.value.split(":", 1)[0])


def walk(
    browser: Browser,
    rng: Any,
    plan: dict[str, Any],
    samples: list[tuple[float, float, int, str]],
) -> None:
    """One visit: 3 to 20 pages, a seeded random walk over the shop."""
    categories, products = plan["categories"], plan["products"]
    pages = 3 + min(int(rng.expovariate(1 / 5)), 17)
    roll = rng.random()
    path = "/" if roll < 0.5 else rng.choice(categories) if roll < 0.8 else rng.choice(products)
    for _ in range(pages):
        status, _, text = browser.request("GET", path, samples)
        wants_add = rng.random() < ADD_CHANCE  # drawn on every page: walks stay reproducible
        if status == 200 and path.startswith("/p/") and wants_add:
            token, product = CSRF_RE.search(text), PRODUCT_ID_RE.search(text)
            if token and product:  # out-of-stock products have no add form
                status, headers, _ = browser.request(
                    "POST",
                    "/cart/add/",
                    samples,
                    csrfmiddlewaretoken=token.group(1),
                    product_id=product.group(1),
                    quantity="1",
                    next=path,
                )
                # The shop triggers pz:refresh exactly when the add went through.
                if status == 200 and "pz:refresh" in headers.get("hx-trigger", ""):
                    browser.log.adds += 1
        roll = rng.random()
        path = rng.choice(categories) if roll < 0.3 else rng.choice(products) if roll < 0.9 else "/"


def load(plan_path: str, result_path: str) -> None:
    """The load generator: run the plan's visitors, write what each did as JSON."""
    import random

    plan = json.loads(Path(plan_path).read_text())
    host, port = plan["host"], plan["port"]
    logs: list[VisitorLog] = []
    samples: dict[str, list[tuple[float, float, int, str]]] = {"warmup": [], "measure": []}
    window: dict[str, float] = {}

    def phase(name: str, first: int, count: int) -> None:
        numbers = iter(range(first, first + count))
        lock = threading.Lock()
        own: list[list[tuple[float, float, int, str]]] = []

        def slot() -> None:
            mine: list[tuple[float, float, int, str]] = []
            with lock:
                own.append(mine)
            while True:
                with lock:
                    number = next(numbers, None)
                    if number is None:
                        # From here on fewer visitors than slots are busy.
                        window.setdefault(f"{name}_full_until", time.monotonic())
                        return
                    log = VisitorLog(number, name)
                    logs.append(log)
                rng = random.Random(f"{plan['seed']}:{number}")
                walk(Browser(host, port, plan["cookie"], log), rng, plan, mine)

        window[f"{name}_start"] = time.monotonic()
        threads = [threading.Thread(target=slot) for _ in range(plan["concurrency"])]
        for thread in threads:
            thread.start()
        done = threading.Event()

        def progress() -> None:
            while not done.wait(5):
                sent = sum(len(s) for s in own)
                elapsed = time.monotonic() - window[f"{name}_start"]
                print(f"    load {name}: {sent} requests, {sent / elapsed:.0f}/s", file=sys.stderr)

        reporter = threading.Thread(target=progress, daemon=True)
        reporter.start()
        for thread in threads:
            thread.join()
        done.set()
        window[f"{name}_end"] = time.monotonic()
        samples[name] = [s for chunk in own for s in chunk]

    phase("warmup", 0, plan["warmup"])
    phase("measure", plan["warmup"], plan["visitors"])
    usage = resource.getrusage(resource.RUSAGE_SELF)
    Path(result_path).write_text(
        json.dumps(
            {
                "visitors": [
                    {
                        "number": log.number,
                        "phase": log.phase,
                        "ids": sorted(log.ids),
                        "page_views": log.page_views,
                        "adds": log.adds,
                        "requests": log.requests,
                    }
                    for log in sorted(logs, key=lambda log: log.number)
                ],
                "samples": samples["measure"],
                "warmup_statuses": [s[2] for s in samples["warmup"]],
                "window": window,
                "cpu_seconds": usage.ru_utime + usage.ru_stime,
            }
        )
    )


# --- one run: app servers, worker, load, checks ------------------------------------------


@dataclass
class Result:
    target: str
    processes: int
    shards: int
    requests: int
    throughput: float
    p50_ms: float
    p95_ms: float
    server_errors: int
    failures: int
    events: int
    drain_rate: float
    max_backlog: int
    drained_after: float
    load_cpu: float
    machine_busy: float
    background: float
    server_cpu_ms: float
    worker_cpu_ms: float
    visitors: int
    page_views: int
    adds: int
    events_exact: int
    counters_exact: int
    #: Page views sent but missing from the profiles' ``pageviews_total``.
    uncounted: int
    breaker_trips: int
    #: Deferred profile changes the worker replayed, and those it found applied already.
    replayed: int
    already_applied: int
    #: Events logged per stream shard: (stream, cluster node port or 0, events).
    per_shard: list[tuple[str, int, int]]
    notes: list[str] = field(default_factory=list)
    round: int = 1


class WorkerOutput:
    """Reads ``personalize_worker``'s batch lines: (time, events logged so far)."""

    LINE = re.compile(r"logged (\d+) events")
    REPLAYED = re.compile(r"replayed (\d+) deferred profile change\(s\) \((\d+) had been")

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.points: list[tuple[float, int]] = [(time.monotonic(), 0)]
        self.lines: list[str] = []
        self.thread = threading.Thread(target=self._read, args=(process,), daemon=True)
        self.thread.start()

    def _read(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            self.lines.append(line.rstrip())
            match = self.LINE.search(line)
            if match:
                self.points.append((time.monotonic(), int(match.group(1))))

    def logged_at(self, moment: float) -> int:
        return max((n for t, n in self.points if t <= moment), default=0)

    def replayed(self) -> tuple[int, int]:
        """(deferred changes replayed, found applied already) over the worker's life."""
        matches = [m for m in map(self.REPLAYED.search, list(self.lines)) if m]
        return sum(int(m.group(1)) for m in matches), sum(int(m.group(2)) for m in matches)


def cpu_times() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs since boot, from /proc/stat."""
    line = Path("/proc/stat").read_text().split("\n", 1)[0]
    fields = [int(x) for x in line.split()[1:9]]  # guest time is counted in user already
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


def process_seconds(pids: list[int]) -> float:
    """CPU seconds (user + system) the processes used so far; gone ones count 0."""
    ticks = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            # Fields after the command name (which may hold spaces): utime, stime are 14, 15.
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def with_children(pid: int) -> list[int]:
    """The process and its direct children (gunicorn's master and its workers)."""
    with contextlib.suppress(OSError):
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        return [pid, *map(int, children)]
    return [pid]


def machine_busy(seconds: float) -> float:
    """CPUs busy, on average over ``seconds`` (what else runs on the machine)."""
    before = cpu_times()
    time.sleep(seconds)
    after = cpu_times()
    return (after[0] - before[0]) / (after[1] - before[1]) * (os.cpu_count() or 1)


def wait_for_server(port: int, workers: int, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        booted = log.read_text().count("Booting worker")
        if booted >= workers:
            try:
                connection = HTTPConnection("127.0.0.1", port, timeout=5)
                connection.request("GET", "/img/hero.svg", headers={"User-Agent": "curl/8"})
                status = connection.getresponse().status
                connection.close()
                if status == 200:
                    return
            except OSError:
                pass
        time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not come up on port {port}: see {log}")


def stop(process: subprocess.Popen[Any], name: str) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            print(f"  ({name} ignored SIGTERM for 30 s: killed)")
            process.kill()
            process.wait()


@dataclass
class Backlog:
    """What ``personalize_worker --check`` shows, summed over the stream shards."""

    lines: list[str]
    #: Entries not yet read (the stream's length when Redis cannot say).
    unread: int
    pending: int
    #: Deferred profile changes waiting for replay.
    deferred: int

    @property
    def empty(self) -> bool:
        return self.unread == 0 and self.pending == 0 and self.deferred == 0


CHECK_SHARD = re.compile(r"(\d+) in stream, (\d+|unknown) not yet read, (\d+) pending")
CHECK_DEFERRED = re.compile(r"(\d+) deferred profile change\(s\) wait for replay")


def check_backlog() -> Backlog:
    """``personalize_worker --check`` (under the active target's settings), parsed."""
    from django.core.management import call_command

    out = io.StringIO()
    # The command takes SIGINT and SIGTERM over when run in the main thread: keep ours.
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with contextlib.suppress(Exception):  # exits 1 (CommandError) while events wait
            call_command("personalize_worker", check=True, stdout=out, stderr=io.StringIO())
    finally:
        if threading.current_thread() is threading.main_thread():
            for sig, handler in handlers.items():
                signal.signal(sig, handler)
    lines = out.getvalue().splitlines()
    shards = [m for m in map(CHECK_SHARD.search, lines) if m]
    deferred = next((m for m in map(CHECK_DEFERRED.search, lines) if m), None)
    if not shards or deferred is None:
        raise RuntimeError(f"unexpected personalize_worker --check output: {out.getvalue()!r}")
    return Backlog(
        lines=[line for line in lines if line != "healthy"],
        unread=sum(int(m.group(1) if m.group(2) == "unknown" else m.group(2)) for m in shards),
        pending=sum(int(m.group(3)) for m in shards),
        deferred=int(deferred.group(1)),
    )


def run(
    target: Target,
    processes: int,
    args: argparse.Namespace,
    environ: dict[str, str],
    plan: dict[str, Any],
    scratch: Path,
) -> Result:
    from django.db import connections
    from django.db.models import Count, Q

    from personalize.models import DeferredChange, Event

    port = args.port or free_port()
    server_log = scratch / f"gunicorn-{processes}-{time.monotonic_ns()}.log"
    worker_log: list[str] = []
    print(f"\n== {processes} gunicorn process(es), {target.label}, port {port}")
    with server_log.open("w") as log_file:
        server = subprocess.Popen(
            [
                str(Path(PYTHON).with_name("gunicorn")),
                "shop_demo.wsgi:application",
                "--workers",
                str(processes),
                "--worker-class",
                "sync",
                "--bind",
                f"127.0.0.1:{port}",
                "--timeout",
                "120",
                "--log-level",
                "info",
            ],
            cwd=ROOT,
            env=environ,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    worker = subprocess.Popen(
        [
            PYTHON,
            "manage.py",
            "personalize_worker",
            "--consumer",
            f"bench-{processes}-{target.shards}",
            "--status-every",
            "0",
        ],
        cwd=ROOT,
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    drained = WorkerOutput(worker)
    try:
        wait_for_server(port, processes, server_log)
        print(f"  gunicorn up ({processes} sync workers); personalize_worker pid {worker.pid}")
        background = machine_busy(2.0)
        waited = 0.0
        while background > args.quiet_below and waited < args.quiet_wait:
            waited += 10 + 2
            time.sleep(10)
            background = machine_busy(2.0)
        print(f"  before the load the machine is {background:.2f} CPUs busy (others' work)")
        plan_path, result_path = scratch / "plan.json", scratch / f"load-{processes}.json"
        plan_path.write_text(json.dumps(plan | {"port": port}))

        backlog: list[int] = []
        sampling = threading.Event()

        def sample_backlog() -> None:
            try:
                while not sampling.wait(0.5):
                    with contextlib.suppress(RuntimeError):
                        seen = check_backlog()
                        backlog.append(seen.unread + seen.pending)
            finally:
                connections.close_all()  # this thread's own database connection

        sampler = threading.Thread(target=sample_backlog, daemon=True)
        sampler.start()
        print(
            f"  load: {args.warmup} warm-up + {args.visitors} timed visitors, "
            f"{args.concurrency} at a time (seed {args.seed})"
        )
        servers = with_children(server.pid)
        server_cpu, worker_cpu = process_seconds(servers), process_seconds([worker.pid])
        cpu_before = cpu_times()
        subprocess.run(
            [PYTHON, __file__, "load", str(plan_path), str(result_path)], check=True, env=environ
        )
        cpu_after = cpu_times()
        server_cpu = process_seconds(servers) - server_cpu
        worker_cpu = process_seconds([worker.pid]) - worker_cpu
        busy, jiffies = cpu_after[0] - cpu_before[0], cpu_after[1] - cpu_before[1]
        load_ended = time.monotonic()
        sampling.set()
        sampler.join()
        outcome = json.loads(result_path.read_text())

        # Wait for the worker to log everything the load put in the streams and to
        # replay every deferred profile change (it looks every --claim-interval, 5 s,
        # at changes at least 2 s old): only then must the counters be exact.
        while True:
            seen = check_backlog()
            rows = DeferredChange.objects.count()
            if seen.empty and rows == 0:
                break
            if time.monotonic() - load_ended > 120:
                raise RuntimeError(
                    "120 s after the load the worker has not drained the streams and "
                    f"replayed the deferred changes ({rows} rows in personalize_deferredchange;"
                    " personalize_worker --check: " + " | ".join(seen.lines) + ")"
                )
            time.sleep(0.2)
        drained_after = time.monotonic() - load_ended
        print(f"  drained and replayed {drained_after:.1f} s after the load:")
        for line in seen.lines:
            print(f"    {line}")
    finally:
        stop(worker, "personalize_worker")
        stop(server, "gunicorn")
        drained.thread.join(timeout=5)
        worker_log = drained.lines

    # Throughput over the window in which every visitor slot was busy.
    window = outcome["window"]
    start, full_until = window["measure_start"], window["measure_full_until"]
    samples = outcome["samples"]
    in_window = sum(1 for _, ended, _, _ in samples if start <= ended <= full_until)
    latencies = sorted((ended - began_) * 1000 for began_, ended, _, _ in samples)
    statuses = [s[2] for s in samples] + outcome["warmup_statuses"]
    # time.monotonic() is one clock for every process on the machine (CLOCK_MONOTONIC).
    load_from, load_to = window["warmup_start"], window["measure_end"]
    load_seconds = load_to - load_from
    drain_rate = (drained.logged_at(load_to) - drained.logged_at(load_from)) / load_seconds

    # Correctness, for every visitor the generator played (warm-up included).
    visitors = outcome["visitors"]
    notes: list[str] = []
    by_id: dict[str, dict[str, Any]] = {}
    for visitor in visitors:
        if len(visitor["ids"]) != 1:
            notes.append(f"visitor {visitor['number']} had visitor ids {visitor['ids']}")
            continue
        by_id[visitor["ids"][0]] = visitor
    logged = {
        row["visitor_id"]: row
        for row in Event.objects.filter(visitor_id__in=list(by_id))
        .values("visitor_id")
        .annotate(
            page_views=Count("id", filter=Q(name="page_view")),
            adds=Count("id", filter=Q(name="add_to_cart")),
            rows=Count("id"),
            distinct=Count("event_id", distinct=True),
        )
    }
    store = target.profile_store()
    events_exact = counters_exact = uncounted = 0
    for visitor_id, visitor in by_id.items():
        row = logged.get(visitor_id, {"page_views": 0, "adds": 0, "rows": 0, "distinct": 0})
        if (row["page_views"], row["adds"], row["rows"]) == (
            visitor["page_views"],
            visitor["adds"],
            row["distinct"],
        ):
            events_exact += 1
        elif len(notes) < 5:
            notes.append(f"events of {visitor_id}: sent {visitor}, logged {row}")
        profile = store.load(visitor_id)
        counted = profile.pageviews_total if profile is not None else 0
        uncounted += visitor["page_views"] - counted
        if counted == visitor["page_views"]:
            counters_exact += 1
        elif len(notes) < 10:
            notes.append(
                f"pageviews_total of {visitor_id}: {counted}, sent {visitor['page_views']}"
            )
    # Which shard each visitor's events went to, and which node serves that shard.
    shard_events = dict.fromkeys(store.streams, 0)
    for visitor_id in by_id:
        shard_events[store.stream_for(visitor_id)] += logged.get(visitor_id, {"rows": 0})["rows"]
    per_shard = [
        (
            stream,
            int(store.client.get_node_from_key(stream).port) if target.nodes else 0,
            count,
        )
        for stream, count in shard_events.items()
    ]
    replayed, already_applied = drained.replayed()
    server_text = server_log.read_text()
    result = Result(
        target=target.label,
        processes=processes,
        shards=target.shards,
        requests=len(samples),
        throughput=in_window / (full_until - start),
        p50_ms=statistics.median(latencies),
        p95_ms=latencies[int(len(latencies) * 0.95)],
        server_errors=sum(1 for s in statuses if s >= 500),
        failures=sum(1 for s in statuses if s == 0),
        events=drained.logged_at(time.monotonic()),
        drain_rate=drain_rate,
        max_backlog=max(backlog, default=0),
        drained_after=drained_after,
        load_cpu=outcome["cpu_seconds"] / load_seconds,
        machine_busy=busy / jiffies * (os.cpu_count() or 1),
        background=background,
        server_cpu_ms=server_cpu * 1000 / (len(samples) + len(outcome["warmup_statuses"])),
        worker_cpu_ms=worker_cpu * 1000 / max(drained.logged_at(load_to), 1),
        visitors=len(visitors),
        page_views=sum(v["page_views"] for v in visitors),
        adds=sum(v["adds"] for v in visitors),
        events_exact=events_exact,
        counters_exact=counters_exact,
        uncounted=uncounted,
        breaker_trips=server_text.count("Redis profile store unavailable"),
        replayed=replayed,
        already_applied=already_applied,
        per_shard=per_shard,
        notes=notes,
    )
    print(
        f"  {result.requests} timed requests: {result.throughput:.1f} req/s, "
        f"p50 {result.p50_ms:.1f} ms, p95 {result.p95_ms:.1f} ms, 5xx {result.server_errors}, "
        f"no answer {result.failures}"
    )
    print(
        f"  worker: {result.events} events logged, {result.drain_rate:.0f} events/s during the "
        f"load, backlog at most {result.max_backlog}"
    )
    print(
        f"  {result.visitors} visitors ({result.page_views} page views, {result.adds} adds to "
        f"cart): events exactly once {result.events_exact}, counters exact "
        f"{result.counters_exact} ({result.uncounted} page views uncounted); Redis breaker "
        f"trips {result.breaker_trips}; deferred profile changes replayed {result.replayed} "
        f"({result.already_applied} found applied already)"
    )
    print("  events per stream shard: " + shard_text(result))
    print(
        f"  CPU: {result.machine_busy:.2f} of {os.cpu_count()} busy during the load; gunicorn "
        f"{result.server_cpu_ms:.1f} ms a request, personalize_worker "
        f"{result.worker_cpu_ms:.2f} ms an event, load generator {result.load_cpu:.2f} CPUs"
    )
    for note in notes:
        print(f"  ! {note}")
    if "Traceback" in server_text:
        print(f"  ! gunicorn logged a traceback: see {server_log}")
    if any("Traceback" in line for line in worker_log):
        print("  ! personalize_worker logged a traceback:\n" + "\n".join(worker_log[-20:]))
    return result


# --- setup and report --------------------------------------------------------------------


def prepare(environ: dict[str, str]) -> dict[str, Any]:
    """Migrate and seed the scratch database; the shop's pages for the load generator."""
    for command in (["migrate"], ["seed_demo", *SEED_ARGS]):
        began = time.monotonic()
        done = subprocess.run(
            [PYTHON, "manage.py", *command, "--verbosity", "0"],
            cwd=ROOT,
            env=environ,
            capture_output=True,
            text=True,
        )
        if done.returncode:
            sys.exit(f"manage.py {' '.join(command)} failed:\n{done.stdout}{done.stderr}")
        print(f"  manage.py {' '.join(command)}: {time.monotonic() - began:.1f} s")
    from personalize.conf import settings
    from shop_demo.models import Category, Product

    return {
        "host": "127.0.0.1",
        "cookie": settings.COOKIE_NAME,
        "categories": [c.get_absolute_url() for c in Category.objects.order_by("pk")],
        "products": [p.get_absolute_url() for p in Product.objects.active().order_by("pk")],
    }


def shard_text(result: Result) -> str:
    total = sum(count for _, _, count in result.per_shard) or 1
    return ", ".join(
        f"{stream} {count} ({count / total:.0%}" + (f", node :{port})" if port else ")")
        for stream, port, count in result.per_shard
    )


def report(targets: list[Target], results: list[Result], processes: list[int]) -> None:
    rounds = len(results) // (len(processes) * len(targets))
    print(f"\n{os.cpu_count()} CPUs, {rounds} round(s). Targets:")
    for target in targets:
        print(f"* {target.label}: {target.how}")
    print(
        "\n| target | round | processes | requests/s | p50 ms | p95 ms | 5xx "
        "| gunicorn CPU ms/request | CPUs busy (before) | worker events/s | max backlog "
        "| events exactly once | counters exact (page views uncounted) | breaker trips "
        "| deferred replayed |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---|---|---:|---:|")
    for r in results:
        print(
            f"| {r.target} | {r.round} | {r.processes} | {r.throughput:.1f} | {r.p50_ms:.0f} "
            f"| {r.p95_ms:.0f} | {r.server_errors} | {r.server_cpu_ms:.1f} "
            f"| {r.machine_busy:.2f} ({r.background:.2f}) | {r.drain_rate:.0f} | {r.max_backlog} "
            f"| {r.events_exact}/{r.visitors} | {r.counters_exact}/{r.visitors} ({r.uncounted}) "
            f"| {r.breaker_trips} | {r.replayed} |"
        )

    def median(target: Target, count: int, name: str) -> float:
        return float(
            statistics.median(
                getattr(r, name)
                for r in results
                if r.target == target.label and r.processes == count
            )
        )

    one = processes[0]
    print(f"\nMedians over the rounds, ratios to {one} process(es) on the same target:\n")
    print(
        "| target | gunicorn processes | requests/s | x | p50 ms | x | p95 ms | x | 5xx "
        "| worker events/s | max backlog | events exactly once | counters exact |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|")
    for target in targets:
        for count in processes:
            row = [median(target, count, name) for name in ("throughput", "p50_ms", "p95_ms")]
            base = [median(target, one, name) for name in ("throughput", "p50_ms", "p95_ms")]
            runs = [r for r in results if r.target == target.label and r.processes == count]
            print(
                f"| {target.label} | {count} | {row[0]:.1f} | {row[0] / base[0]:.2f} "
                f"| {row[1]:.0f} | {row[1] / base[1]:.2f} | {row[2]:.0f} "
                f"| {row[2] / base[2]:.2f} | {sum(r.server_errors for r in runs)} "
                f"| {median(target, count, 'drain_rate'):.0f} "
                f"| {max(r.max_backlog for r in runs)} "
                f"| {sum(r.events_exact for r in runs)}/{sum(r.visitors for r in runs)} "
                f"| {sum(r.counters_exact for r in runs)}/{sum(r.visitors for r in runs)} |"
            )
    clustered = [t for t in targets if t.nodes]
    if clustered:
        print("\nThe worker per stream shard count on the cluster (medians over the rounds):\n")
        print(
            "| shards | gunicorn processes | worker events/s | worker CPU ms/event "
            "| max backlog | drained and replayed after the load, s | events per shard (node) |"
        )
        print("|---:|---:|---:|---:|---:|---:|---|")
        for target in clustered:
            for count in processes:
                runs = [r for r in results if r.target == target.label and r.processes == count]
                print(
                    f"| {target.shards} | {count} | {median(target, count, 'drain_rate'):.0f} "
                    f"| {median(target, count, 'worker_cpu_ms'):.2f} "
                    f"| {max(r.max_backlog for r in runs)} "
                    f"| {median(target, count, 'drained_after'):.1f} | {shard_text(runs[0])} |"
                )
    bad = [
        r
        for r in results
        if r.server_errors
        or r.failures
        or r.events_exact != r.visitors
        or r.counters_exact != r.visitors
    ]
    print(
        "\nCorrectness: "
        + ("FAILED for " + str([(r.target, r.processes) for r in bad]) if bad else "ok")
    )


def stopped(signum: int, frame: Any) -> None:
    print("SIGTERM: stopping, removing the servers and the scratch database", file=sys.stderr)
    sys.exit(128 + signum)


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "load":
        load(sys.argv[2], sys.argv[3])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--targets",
        nargs="+",
        choices=("redis", "cluster"),
        default=["redis", "cluster"],
        help="one Redis, a private 3-primary Redis Cluster, or both (default both)",
    )
    parser.add_argument(
        "--shards",
        type=int,
        nargs="+",
        default=[1, 3],
        help="PERSONALIZE_STREAM_SHARDS values to run the cluster with (default 1 3)",
    )
    parser.add_argument(
        "--processes",
        type=int,
        nargs="+",
        default=[1, 2, 4],
        help="gunicorn worker process counts (default 1 2 4)",
    )
    parser.add_argument("--concurrency", type=int, default=16, help="visitors at a time")
    parser.add_argument("--visitors", type=int, default=400, help="timed visitors per run")
    parser.add_argument("--warmup", type=int, default=48, help="untimed visitors first")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--quiet-below",
        type=float,
        default=float("inf"),
        help="before each run, wait until other work keeps fewer CPUs than this busy",
    )
    parser.add_argument(
        "--quiet-wait", type=float, default=600, help="...but no longer than this (s)"
    )
    parser.add_argument(
        "--rounds", type=int, default=1, help="repeat the process counts (medians reported)"
    )
    parser.add_argument("--port", type=int, default=0, help="gunicorn's port (default: free)")
    args = parser.parse_args()
    if any(shards < 1 for shards in args.shards):
        parser.error("--shards: every count must be 1 or more")
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    # SIGTERM unwinds like Ctrl-C, so the servers and the database are removed.
    signal.signal(signal.SIGTERM, stopped)

    with contextlib.ExitStack() as services:
        database_url = services.enter_context(scratch_database(postgres=True))
        targets: list[Target] = []
        if "redis" in args.targets:
            targets.append(services.enter_context(single_redis()))
        if "cluster" in args.targets:
            targets += services.enter_context(redis_cluster(list(dict.fromkeys(args.shards))))
        scratch = services.enter_context(tempfile.TemporaryDirectory(prefix="pzscale-"))
        common = {
            "DJANGO_SETTINGS_MODULE": "shop_demo.settings",
            "DATABASE_URL": database_url,
            "DJANGO_DEBUG": "0",
            "DJANGO_SECRET_KEY": "bench-scale-" + os.urandom(16).hex(),
            "DATABASE_CONN_MAX_AGE": "600",
            "PYTHONUNBUFFERED": "1",
        }
        # This process's settings follow each target in turn (Target.active).
        setup_django(database_url, **targets[0].environ)
        print(versions("scratch database on 127.0.0.1:5432"))
        for target in targets:
            print(f"{target.label}: {target.how}.")
        plan = prepare(os.environ | targets[0].environ | common) | {
            "concurrency": args.concurrency,
            "visitors": args.visitors,
            "warmup": args.warmup,
            "seed": args.seed,
        }
        print(f"  {len(plan['categories'])} categories, {len(plan['products'])} products")
        results = []
        for round_ in range(args.rounds):
            # Every target for one process count, then the next count: a drift in the
            # machine's load touches the targets alike. Every other round backwards, so
            # that it does not favour what always comes first.
            forward = round_ % 2 == 0
            for processes in args.processes if forward else args.processes[::-1]:
                for target in targets if forward else targets[::-1]:
                    environ = os.environ | target.environ | common
                    with target.active():
                        result = run(target, processes, args, environ, plan, Path(scratch))
                    result.round = round_ + 1
                    results.append(result)
        results.sort(
            key=lambda r: (
                [t.label for t in targets].index(r.target),
                args.processes.index(r.processes),
                r.round,
            )
        )
        report(targets, results, args.processes)


if __name__ == "__main__":
    main()
