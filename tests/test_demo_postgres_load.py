"""The demo shop on PostgreSQL under ``runserver`` survives a burst of parallel shoppers.

``runserver`` serves each request on a new thread, and Django's connections are
per thread: with ``conn_max_age > 0`` every finished thread left its connection
open, and 800 parallel requests exhausted PostgreSQL's 100 connections (160
answered 500). The demo now closes connections after each request by default;
this test runs the demo the way its README does (a real ``runserver`` process on
a fresh PostgreSQL database) and sends 200 requests from 40 threads.
"""

from __future__ import annotations

import http.cookiejar
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest
from django.conf import settings

from tests.conftest import _need, free_port

ROOT = Path(__file__).resolve().parent.parent
REQUESTS = 200
THREADS = 40

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def _admin_dsn() -> str:
    parts = urlsplit(settings.POSTGRES_URL)
    return parts._replace(path="/postgres").geturl()


@pytest.fixture
def demo_database() -> Iterator[str]:
    _need(settings.POSTGRES_AVAILABLE, f"PostgreSQL at {settings.POSTGRES_URL}")
    name = f"pz_demo_load_{os.getpid()}"
    with psycopg.connect(_admin_dsn(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        with psycopg.connect(_admin_dsn(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _manage(env: dict[str, str], *args: str) -> None:
    completed = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr


def _fetch(url: str) -> int:
    # A fresh cookie jar per request: every request is a new visitor, so each one
    # writes a profile and an event (the database store's worst case).
    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
    )
    request = urllib.request.Request(
        url, headers={"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/130.0 Safari/537.36"}
    )
    try:
        with opener.open(request, timeout=60) as response:
            response.read()
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def test_two_hundred_parallel_requests_on_postgres(demo_database: str) -> None:
    url = urlsplit(settings.POSTGRES_URL)._replace(path=f"/{demo_database}").geturl()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "shop_demo.settings",
        "DATABASE_URL": url,
        "PERSONALIZE_STORE": "database",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("DATABASE_CONN_MAX_AGE", None)
    _manage(env, "migrate", "--no-input")
    _manage(env, "seed_demo", "--visitors", "40", "--months", "1", "--customers", "10")

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    peak = 0
    stop = threading.Event()

    def sample_connections() -> None:
        nonlocal peak
        with psycopg.connect(_admin_dsn(), autocommit=True) as conn:
            while not stop.is_set():
                row = conn.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = %s", [demo_database]
                ).fetchone()
                peak = max(peak, int(row[0]) if row else 0)
                time.sleep(0.02)

    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(200):
            try:
                if _fetch(base + "/personalize/api/visitor/") == 200:
                    break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail(
                "runserver did not start: " + (server.stderr.read() if server.stderr else "")
            )

        with psycopg.connect(url) as conn:
            rows = conn.execute(
                "SELECT p.slug, c.slug FROM shop_demo_product p "
                "JOIN shop_demo_category c ON c.id = p.category_id ORDER BY p.id LIMIT 20"
            ).fetchall()
        paths = ["/", "/search/?q=cat", "/cart/", "/personalize/api/visitor/"]
        paths += [f"/p/{product}/" for product, _ in rows]
        paths += sorted({f"/c/{category}/" for _, category in rows})
        urls = [base + paths[i % len(paths)] for i in range(REQUESTS)]

        sampler = threading.Thread(target=sample_connections, daemon=True)
        sampler.start()
        with ThreadPoolExecutor(max_workers=THREADS) as pool:
            statuses = Counter(pool.map(_fetch, urls))
        time.sleep(0.5)  # let the sampler see connections left behind, if any
        stop.set()
        sampler.join(timeout=5)
    finally:
        stop.set()
        server.terminate()
        server.wait(timeout=10)

    assert statuses == Counter({200: REQUESTS}), statuses
    # Connections are bounded by the requests in flight (plus Django's own
    # housekeeping), not by the number of requests served.
    assert peak <= THREADS + 5, f"peak of {peak} connections for {THREADS} parallel requests"
