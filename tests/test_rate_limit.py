"""The events API's limit counts events, per visitor, across every app server.

It used to be a DRF throttle in each process's local cache, counting requests:
three servers let 300 of 300 requests through against a 120/minute limit, and a
report of 20 events counted once.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import redis
from django.core.cache import cache
from django.db import connections
from django.test import Client, override_settings

from personalize.campaigns.models import Campaign, Variant
from personalize.checks import check_shared_rate_limit
from personalize.profiles.base import BaseProfileStore
from personalize.ratelimit import CacheRateLimiter, allow_events
from tests.conftest import REDIS_STORE, _need, free_port

ROOT = Path(__file__).resolve().parent.parent
UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36"


def shopper() -> Client:
    return Client(headers={"User-Agent": UA, "Accept": "text/html", "Sec-Fetch-Dest": "document"})


def make_campaign(slug: str, using: str = "default") -> None:
    campaign = Campaign.objects.using(using).create(
        name=slug.title(), slug=slug, kind="popup", status="active"
    )
    Variant.objects.using(using).create(
        campaign=campaign, key="a", weight=1, title="Hi", body="<p>Hello</p>", cta_label="Go",
        cta_url="/c/cats/",
    )  # fmt: skip


def report(client: Client, count: int) -> Any:
    html = client.get("/shop/").content.decode()
    token = re.search(r'data-pz-token="([^"]+)"', html)
    assert token is not None
    events = [{"type": "click", "campaign": "limited", "variant": "a"}] * count
    return client.post(
        "/personalize/api/events/",
        json.dumps({"token": token.group(1), "events": events}),
        content_type="text/plain",
        headers={"Origin": "http://testserver"},
    )


@pytest.fixture
def fresh_cache() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()


@pytest.mark.urls("tests.urls")
@pytest.mark.django_db
@override_settings(PERSONALIZE_EVENTS_RATE_LIMIT=5)
def test_the_limit_counts_events_not_requests(fresh_cache: None) -> None:
    make_campaign("limited")
    client = shopper()
    assert report(client, 3).status_code == 200
    refused = report(client, 3)  # 6 > 5: refused whole, and not counted
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "60"
    assert "at most 5 a minute" in refused.json()["detail"]
    assert report(client, 2).status_code == 200  # exactly 5
    assert report(client, 1).status_code == 429
    assert report(shopper(), 5).status_code == 200  # another visitor has their own


@pytest.mark.redis
@pytest.mark.urls("tests.urls")
@pytest.mark.django_db
@override_settings(PERSONALIZE_EVENTS_RATE_LIMIT=5)
def test_the_redis_store_counts_in_redis(
    use_redis_store: BaseProfileStore, fresh_cache: None
) -> None:
    make_campaign("limited")
    client = shopper()
    assert [report(client, n).status_code for n in (3, 3, 2, 1)] == [200, 429, 200, 429]
    assert cache.get(f"pz-events:{client.cookies['pz_vid'].value}") is None  # not the cache


@pytest.mark.redis
def test_the_redis_window_slides(
    use_redis_store: BaseProfileStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("personalize.profiles.redis.WINDOW", 1)
    visitor = "c" * 32
    limiter = use_redis_store.rate_limiter()
    assert limiter is not None
    assert limiter.allow(visitor, 4, 5) and not limiter.allow(visitor, 2, 5)
    time.sleep(0.6)
    assert limiter.allow(visitor, 1, 5) and not limiter.allow(visitor, 1, 5)
    time.sleep(0.6)  # the first 4 left the window, the last 1 has not
    assert limiter.allow(visitor, 4, 5) and not limiter.allow(visitor, 1, 5)


@pytest.mark.redis
def test_a_redis_outage_falls_back_to_the_cache(
    throwaway_redis: dict[str, Any], fresh_cache: None
) -> None:
    with override_settings(
        PERSONALIZE_STORE=REDIS_STORE,
        PERSONALIZE_REDIS_URL=throwaway_redis["url"],
        PERSONALIZE_EVENTS_RATE_LIMIT=3,
    ):
        throwaway_redis["process"].kill()
        throwaway_redis["process"].wait()
        assert [allow_events("d" * 32, 2) for _ in range(3)] == [True, False, False]


def test_cache_windows_are_shared_by_the_cache(fresh_cache: None) -> None:
    first, second = CacheRateLimiter(), CacheRateLimiter()  # two "processes"
    assert first.allow("e" * 32, 3, 4)
    assert not second.allow("e" * 32, 2, 4)
    assert second.allow("e" * 32, 1, 4)


def test_w007_a_process_local_cache_under_check_deploy() -> None:
    assert [m.id for m in check_shared_rate_limit()] == ["personalize.W007"]
    shared = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                          "LOCATION": "redis://127.0.0.1:1/0"}}  # fmt: skip
    with override_settings(CACHES=shared):
        assert check_shared_rate_limit() == []
    with override_settings(
        PERSONALIZE_STORE=REDIS_STORE, PERSONALIZE_REDIS_URL="redis://127.0.0.1:1/0"
    ):
        assert check_shared_rate_limit() == []


@pytest.mark.redis
@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.django_db(transaction=True, databases=["default", "postgres"])
def test_three_app_servers_accept_no_more_than_the_limit(redis_url: str, tmp_path: Path) -> None:
    if "postgres" not in connections.databases:
        _need(False, "PostgreSQL")
    db = connections["postgres"].settings_dict
    make_campaign("limited", using="postgres")
    prefix = f"pzrl{os.getpid()}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "shop_demo.settings",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "PERSONALIZE_STORE": "redis",
        "PERSONALIZE_REDIS_URL": redis_url,
        "PERSONALIZE_REDIS_PREFIX": prefix,
    }
    ports = [free_port() for _ in range(3)]
    servers = [
        subprocess.Popen(
            [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=(tmp_path / f"{port}.log").open("w"),
        )
        for port in ports
    ]
    try:
        for port in ports:
            _wait_for(f"http://127.0.0.1:{port}/personalize/api/visitor/")
        # One shopper: a page from the first server gives the cookie and the token.
        page = urllib.request.Request(
            f"http://127.0.0.1:{ports[0]}/", headers={"User-Agent": UA, "Accept": "text/html"}
        )
        with urllib.request.urlopen(page, timeout=30) as response:
            cookie = response.headers["Set-Cookie"].split(";")[0]
            html = response.read().decode()
        token = re.search(r'data-pz-token="([^"]+)"', html)
        assert token is not None, html[:500]
        body = json.dumps(
            {"token": token.group(1),
             "events": [{"type": "click", "campaign": "limited", "variant": "a"}] * 5}
        ).encode()  # fmt: skip

        def post(i: int) -> int:
            port = ports[i % 3]
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/personalize/api/events/",
                data=body,
                headers={"User-Agent": UA, "Cookie": cookie, "Content-Type": "text/plain",
                         "Origin": f"http://127.0.0.1:{port}"},
            )  # fmt: skip
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    return int(response.status)
            except urllib.error.HTTPError as error:
                return int(error.code)

        with ThreadPoolExecutor(max_workers=12) as pool:
            statuses = Counter(pool.map(post, range(60)))  # 300 events, 20 per server thread
    finally:
        for server in servers:
            server.terminate()
            server.wait(timeout=10)
    # 120 events a minute (the default) = 24 reports of 5, whichever servers took them.
    assert statuses == Counter({200: 24, 429: 36}), statuses
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    clicks = [e for _, e in client.xrange(f"{prefix}:events") if '"campaign_click"' in e["e"]]
    assert len(clicks) == 120
    keys = list(client.scan_iter(match=f"{prefix}:*"))
    if keys:
        client.delete(*keys)


def _wait_for(url: str) -> None:
    for _ in range(300):
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.1)
    pytest.fail(f"{url} did not answer")
