"""Shared fixtures: real Redis and PostgreSQL, store selection, a controllable clock."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from django.conf import settings
from django.test import override_settings
from redis.cluster import RedisCluster

from personalize.profiles.base import BaseProfileStore, get_store, reset_store

IN_CI = os.environ.get("CI", "").lower() == "true"
REDIS_STORE = "personalize.profiles.redis.RedisProfileStore"
DB_STORE = "personalize.profiles.database.DatabaseProfileStore"
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


# tests/oscar/ is a project of its own (Oscar's apps, its own settings): it runs in a
# separate invocation, ``pytest tests/oscar --ds=tests.oscar.settings``.
OSCAR_SETTINGS = "tests.oscar.settings"
collect_ignore = [] if os.environ.get("DJANGO_SETTINGS_MODULE") == OSCAR_SETTINGS else ["oscar"]


def pytest_report_header(config: pytest.Config) -> str:
    # pytest-django prints the Django version; this is the series tests/run asked for.
    return f"expected Django: {os.environ.get('PERSONALIZE_EXPECT_DJANGO') or 'any'}"


def pytest_sessionstart(session: pytest.Session) -> None:
    if IN_CI:
        missing = []
        if not settings.REDIS_URL:
            missing.append("Redis (PERSONALIZE_TEST_REDIS_URL unset: is redis-server installed?)")
        if not settings.REDIS_CLUSTER_URL:
            missing.append("a Redis Cluster (PERSONALIZE_TEST_REDIS_CLUSTER_URL unset)")
        if not settings.POSTGRES_AVAILABLE:
            missing.append(f"PostgreSQL at {settings.POSTGRES_URL}")
        if missing:
            pytest.exit("CI=true but required services are missing: " + "; ".join(missing), 2)


def _need(available: bool, what: str) -> None:
    if not available:
        if IN_CI:
            pytest.fail(f"{what} is required in CI")
        pytest.skip(f"{what} not available")


@pytest.fixture
def redis_url() -> str:
    _need(bool(settings.REDIS_URL), "Redis (set PERSONALIZE_TEST_REDIS_URL or use tests/run)")
    return str(settings.REDIS_URL)


@pytest.fixture
def redis_prefix(redis_url: str) -> Iterator[str]:
    """A key prefix private to one test; its keys are deleted afterwards."""
    prefix = f"pztest:{uuid.uuid4().hex[:12]}"
    yield prefix
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture
def use_redis_store(redis_url: str, redis_prefix: str) -> Iterator[BaseProfileStore]:
    with override_settings(
        PERSONALIZE_STORE=REDIS_STORE,
        PERSONALIZE_REDIS_URL=redis_url,
        PERSONALIZE_REDIS_PREFIX=redis_prefix,
    ):
        yield get_store()
    reset_store()


#: Event stream shards of the cluster store in tests: several, so every test on the
#: cluster also exercises the sharding.
CLUSTER_SHARDS = 3


@pytest.fixture
def redis_cluster_url() -> str:
    _need(
        bool(settings.REDIS_CLUSTER_URL),
        "a Redis Cluster (set PERSONALIZE_TEST_REDIS_CLUSTER_URL or use tests/run)",
    )
    return str(settings.REDIS_CLUSTER_URL)


def delete_cluster_keys(url: str, pattern: str) -> None:
    """Delete the keys matching ``pattern`` on every primary of the cluster at ``url``."""
    client = RedisCluster.from_url(url)  # type: ignore[no-untyped-call]
    try:
        keys = list(client.scan_iter(match=pattern, count=1000))  # scans every primary
        if keys:
            client.delete(*keys)  # split by slot
    finally:
        client.close()


@pytest.fixture
def use_redis_cluster_store(redis_cluster_url: str) -> Iterator[BaseProfileStore]:
    """The Redis store on a real Redis Cluster, with several event stream shards."""
    prefix = f"pztest:{uuid.uuid4().hex[:12]}"
    with override_settings(
        PERSONALIZE_STORE=REDIS_STORE,
        PERSONALIZE_REDIS_URL=redis_cluster_url,
        PERSONALIZE_REDIS_CLUSTER=True,
        PERSONALIZE_REDIS_PREFIX=prefix,
        PERSONALIZE_STREAM_SHARDS=CLUSTER_SHARDS,
    ):
        yield get_store()
    reset_store()
    delete_cluster_keys(redis_cluster_url, f"{prefix}:*")


@pytest.fixture(params=["sqlite", "postgres", "redis", "redis-cluster", "memory"])
def store(request: pytest.FixtureRequest) -> Iterator[BaseProfileStore]:
    """Each profile store, against a real server; used by the contract tests.

    ``memory`` is a third-party store implementing only the required methods
    (``tests/memory_store.py``): the contract holds for it too.
    """
    if request.param == "memory":
        reset_store()
        with override_settings(PERSONALIZE_STORE="tests.memory_store.MemoryProfileStore"):
            yield get_store()
        reset_store()
        return
    if request.param == "redis":
        yield request.getfixturevalue("use_redis_store")
        return
    if request.param == "redis-cluster":
        yield request.getfixturevalue("use_redis_cluster_store")
        return
    if request.param == "postgres":
        _need(settings.POSTGRES_AVAILABLE, "PostgreSQL")
    alias = "default" if request.param == "sqlite" else "postgres"
    with override_settings(PERSONALIZE_STORE=DB_STORE, PERSONALIZE_DATABASE_ALIAS=alias):
        yield get_store()
    reset_store()


class Clock:
    """Replaces ``time.time`` where the app reads it, so visits can time out instantly."""

    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock(1_764_000_000.0)  # 2025-11-24
    monkeypatch.setattr("personalize.identity.visitor.time.time", fake)
    return fake


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def throwaway_redis(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """A redis-server of the test's own, which the test may pause or kill."""
    binary = shutil.which("redis-server")
    _need(binary is not None, "redis-server binary")
    assert binary is not None
    port = free_port()
    proc = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp_path),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    for _ in range(100):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.05)
    yield {"url": url, "process": proc, "client": client, "port": port}
    proc.kill()
    proc.wait()


@pytest.fixture
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# A shopper's browser: headless Chromium's own User-Agent says "HeadlessChrome",
# which the app rightly treats as automation and does not track.
SHOPPER_UA = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """Debian's Chromium driven by Playwright (never a downloaded browser)."""
    _need(Path(CHROMIUM).exists(), "Chromium (apt-get install chromium)")
    # Playwright's sync API runs an event loop in this thread; Django's ORM calls
    # made by tests around it are still plain synchronous calls.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium: Any, artifacts_dir: Path, request: pytest.FixtureRequest) -> Iterator[Any]:
    context = chromium.new_context(user_agent=SHOPPER_UA, viewport={"width": 1280, "height": 800})
    page = context.new_page()
    yield page
    name = request.node.name.replace("/", "_")[:80]
    page.screenshot(path=str(artifacts_dir / f"{name}.png"), full_page=True)
    context.close()


@pytest.fixture(autouse=True)
def _fresh_configuration() -> Iterator[None]:
    """Compiled configuration never leaks between tests (their rows are rolled back)."""
    from personalize import configuration

    configuration.reset_all()
    yield
    configuration.reset_all()
