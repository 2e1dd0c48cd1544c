"""Benchmark: the demo shop under gunicorn with 1, 2 and 4 processes on one Redis.

    .venv/bin/python benchmarks/bench_scale.py [--processes 1 2 4] [--concurrency 16]
        [--visitors 400] [--warmup 48] [--seed 7] [--port PORT] [--rounds 1]
        [--quiet-below CPUS] [--quiet-wait SECONDS]

Services, all of the benchmark's own and removed at the end:

* a private ``redis-server`` on a free port (``redis-server`` must be installed);
* a fresh PostgreSQL database on 127.0.0.1:5432 (user postgres, trust auth), created,
  migrated and seeded small (``manage.py seed_demo --visitors 100 --months 1
  --customers 20``), dropped at the end.

For each process count: ``gunicorn shop_demo.wsgi`` with that many sync workers
(``DJANGO_DEBUG=0``, ``PERSONALIZE_STORE=redis``, ``DATABASE_CONN_MAX_AGE`` set so each
worker keeps its connection) and one ``manage.py personalize_worker`` draining the
stream. The load comes from a separate process (this script with ``load``): a fixed
number of simulated visitors at a time, each with its own cookie jar and its own
seeded random walk: a landing page (home, a category or a product), then categories,
products and the home page (HTML GETs, tracked as page views), and now and then an
add-to-cart POST as htmx sends it (the CSRF token taken from the product page). No
think time: a visitor sends its next request when the previous one is answered.
The first ``--warmup`` visitors warm the workers up and are not timed; the next
``--visitors`` are. Every visitor's walk depends only on ``--seed`` and its number.

Reported per process count: throughput (requests/s while every visitor slot was busy),
p50/p95 latency, both as ratios to the 1-process run, the 5xx count, the worker's drain
rate (events logged per second during the load) and the largest backlog it had. Then,
once ``personalize_worker --check`` shows nothing unread and nothing pending, for every
visitor (warm-up included):

* events exactly once: the ``page_view`` rows of the visitor in the ``Event`` table
  equal the page views the load generator sent for it, with no ``event_id`` twice (and
  its ``add_to_cart`` rows equal the adds the shop accepted);
* counters exact: ``pageviews_total`` of its profile, read with
  ``RedisProfileStore.load``, equals the page views sent. A Redis call slower than
  ``PERSONALIZE_REDIS_TIMEOUT`` opens the store's breaker (counted from the servers'
  ``Redis profile store unavailable`` lines): the events of the requests it skips still
  reach the log, their profile changes do not (a known limit, docs/deployment.md).

The machine's CPUs are shared with whatever else runs on it: before each run the
script measures how many CPUs other work keeps busy (``--quiet-below`` waits, up to
``--quiet-wait`` seconds, for that to drop), and reports the CPU time gunicorn spent per
request, the figure least moved by other work. ``--rounds`` repeats the process
counts, every other round in reverse order, and reports medians.

Structure: a ``Target`` is where the app servers keep profiles and events (one column
of the results); today there is one, a single Redis. A Redis Cluster target (a
``--cluster-url`` option) is meant to be added beside ``single_redis()``.
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

    def profile_store(self) -> Any:
        """A store to read profiles back with, built from ``environ`` like the servers'."""
        from django.utils.module_loading import import_string

        from shop_demo.settings import _STORES

        store = self.environ["PERSONALIZE_STORE"]
        cls = import_string(_STORES.get(store, store))
        return cls(url=self.environ["PERSONALIZE_REDIS_URL"])


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
    processes: int
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
    notes: list[str] = field(default_factory=list)
    round: int = 1


class WorkerOutput:
    """Reads ``personalize_worker``'s batch lines: (time, events logged so far)."""

    LINE = re.compile(r"logged (\d+) events")

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


def check_line() -> tuple[str, int, int | None, int]:
    """``personalize_worker --check``'s line and its numbers: (line, length, lag, pending)."""
    from django.core.management import call_command

    out = io.StringIO()
    with contextlib.suppress(Exception):  # exits 1 (CommandError) while events wait
        call_command("personalize_worker", check=True, stdout=out, stderr=io.StringIO())
    line = out.getvalue().splitlines()[0] if out.getvalue() else ""
    match = re.search(r"(\d+) in stream, (\d+|unknown) not yet read, (\d+) pending", line)
    if not match:
        raise RuntimeError(f"unexpected personalize_worker --check output: {out.getvalue()!r}")
    lag = None if match.group(2) == "unknown" else int(match.group(2))
    return line, int(match.group(1)), lag, int(match.group(3))


def run(
    target: Target,
    processes: int,
    args: argparse.Namespace,
    environ: dict[str, str],
    plan: dict[str, Any],
    scratch: Path,
) -> Result:
    from django.db.models import Count, Q

    from personalize.models import Event

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
            f"bench-{processes}",
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
            while not sampling.wait(0.5):
                with contextlib.suppress(RuntimeError):
                    _, length, lag, pending = check_line()
                    backlog.append((length if lag is None else lag) + pending)

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

        # Wait for the worker to log everything the load put in the stream.
        while True:
            line, length, lag, pending = check_line()
            if (lag if lag is not None else length) == 0 and pending == 0:
                break
            if time.monotonic() - load_ended > 120:
                raise RuntimeError(f"the worker did not drain the stream in 120 s: {line}")
            time.sleep(0.2)
        drained_after = time.monotonic() - load_ended
        print(f"  drained {drained_after:.1f} s after the load: {line}")
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
    server_text = server_log.read_text()
    result = Result(
        processes=processes,
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
        f"trips {result.breaker_trips}"
    )
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


def report(target: Target, results: list[Result], processes: list[int]) -> None:
    rounds = len(results) // len(processes)
    print(f"\n{target.label} ({target.how}), {os.cpu_count()} CPUs, {rounds} round(s):\n")
    print(
        "| round | processes | requests/s | p50 ms | p95 ms | 5xx | gunicorn CPU ms/request "
        "| CPUs busy (before) | worker events/s | max backlog | events exactly once "
        "| counters exact (page views uncounted) |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---|---|")
    for r in results:
        print(
            f"| {r.round} | {r.processes} | {r.throughput:.1f} | {r.p50_ms:.0f} "
            f"| {r.p95_ms:.0f} | {r.server_errors} | {r.server_cpu_ms:.1f} "
            f"| {r.machine_busy:.2f} ({r.background:.2f}) | {r.drain_rate:.0f} | {r.max_backlog} "
            f"| {r.events_exact}/{r.visitors} | {r.counters_exact}/{r.visitors} ({r.uncounted}) |"
        )

    def median(count: int, name: str) -> float:
        return statistics.median(getattr(r, name) for r in results if r.processes == count)

    one = processes[0]
    print(f"\nMedians over the rounds, ratios to {one} process(es):\n")
    print(
        "| gunicorn processes | requests/s | x | p50 ms | x | p95 ms | x | 5xx | worker events/s |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for count in processes:
        row = [median(count, name) for name in ("throughput", "p50_ms", "p95_ms")]
        base = [median(one, name) for name in ("throughput", "p50_ms", "p95_ms")]
        errors = sum(r.server_errors for r in results if r.processes == count)
        print(
            f"| {count} | {row[0]:.1f} | {row[0] / base[0]:.2f} | {row[1]:.0f} "
            f"| {row[1] / base[1]:.2f} | {row[2]:.0f} | {row[2] / base[2]:.2f} | {errors} "
            f"| {median(count, 'drain_rate'):.0f} |"
        )
    bad = [
        r
        for r in results
        if r.server_errors
        or r.failures
        or r.events_exact != r.visitors
        or r.counters_exact != r.visitors
    ]
    print("\nCorrectness: " + ("FAILED for " + str([r.processes for r in bad]) if bad else "ok"))


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "load":
        load(sys.argv[2], sys.argv[3])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2, 4])
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
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]

    with (
        scratch_database(postgres=True) as database_url,
        single_redis() as target,
        tempfile.TemporaryDirectory(prefix="pzscale-") as scratch,
    ):
        environ = os.environ | target.environ
        environ |= {
            "DJANGO_SETTINGS_MODULE": "shop_demo.settings",
            "DATABASE_URL": database_url,
            "DJANGO_DEBUG": "0",
            "DJANGO_SECRET_KEY": "bench-scale-" + os.urandom(16).hex(),
            "DATABASE_CONN_MAX_AGE": "600",
            "PYTHONUNBUFFERED": "1",
        }
        setup_django(database_url, **{k: environ[k] for k in target.environ})
        print(versions("scratch database on 127.0.0.1:5432"))
        print(f"Redis: {target.how}.")
        plan = prepare(environ) | {
            "concurrency": args.concurrency,
            "visitors": args.visitors,
            "warmup": args.warmup,
            "seed": args.seed,
        }
        print(f"  {len(plan['categories'])} categories, {len(plan['products'])} products")
        results = []
        for round_ in range(args.rounds):
            # Every other round backwards, so that a drift in the machine's load does not
            # favour the process counts that always come first.
            order = args.processes if round_ % 2 == 0 else args.processes[::-1]
            for processes in order:
                result = run(target, processes, args, environ, plan, Path(scratch))
                result.round = round_ + 1
                results.append(result)
        results.sort(key=lambda r: (args.processes.index(r.processes), r.round))
        report(target, results, args.processes)


if __name__ == "__main__":
    main()
