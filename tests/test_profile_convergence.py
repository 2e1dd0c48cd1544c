"""Redis killed and restarted under load: no 5xx, every event once, profiles equal to the log.

Run the way an operator runs the shop: two ``runserver`` processes of the demo on
PostgreSQL and the Redis store with its default 50 ms timeout, one
``personalize_worker``, and shoppers browsing and adding to their carts from a
thread pool. Mid-run the test SIGKILLs Redis (started with ``appendonly yes``,
``appendfsync always``, the settings docs/deployment.md recommends when no
acknowledged write may be lost) and starts it again on the same data.

Requests in the outage, and the many that time out under load on two cores, are
served without a profile; their changes are deferred and the worker replays them
exactly once. Afterwards every visitor's counters must equal what the ``Event``
log implies.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.client import HTTPConnection
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import psycopg
import pytest
import redis
from django.conf import settings

from tests.conftest import _need, free_port
from tests.redis_process import RedisProcess, wait_for
from tests.test_demo_postgres_load import _manage, demo_database  # noqa: F401 (fixture)

ROOT = Path(__file__).resolve().parent.parent
USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36"
CSRF_RE = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
PRODUCT_ID_RE = re.compile(r'name="product_id" value="(\d+)"')
PREFIX = "pzconv"
SHOPPERS = 24
PAGES_EACH = 14

pytestmark = [pytest.mark.redis, pytest.mark.postgres, pytest.mark.slow]


@dataclass
class Shopper:
    """One browser: its own cookies, and what the shop confirmed it did."""

    port: int
    jar: dict[str, str] = field(default_factory=dict)
    statuses: list[int] = field(default_factory=list)
    page_views: int = 0
    adds: int = 0

    @property
    def visitor_id(self) -> str:
        return self.jar.get("pz_vid", "").split(":", 1)[0]

    def request(self, method: str, path: str, form: dict[str, str] | None = None) -> str:
        origin = f"http://127.0.0.1:{self.port}"
        headers = {"User-Agent": USER_AGENT, "Accept": "text/html", "Sec-Fetch-Dest": "document"}
        if self.jar:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.jar.items())
        body = None
        if form is not None:  # an add to cart, as htmx sends it
            body = urlencode(form)
            headers |= {
                "Accept": "*/*",
                "Sec-Fetch-Dest": "empty",
                "Content-Type": "application/x-www-form-urlencoded",
                "Origin": origin,
                "HX-Request": "true",
                "HX-Target": "toast",
                "HX-Current-URL": origin + form.get("next", "/"),
            }
        connection = HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            text = response.read().decode("utf-8", "replace")
            for raw in response.headers.get_all("Set-Cookie") or []:
                cookie: SimpleCookie = SimpleCookie()
                cookie.load(raw)
                for name, morsel in cookie.items():
                    self.jar[name] = morsel.value
            status = response.status
            trigger = response.getheader("HX-Trigger", "")
        finally:
            connection.close()
        self.statuses.append(status)
        if method == "GET" and status < 500:
            self.page_views += 1  # the middleware tracks a page view per answered GET
        if form is not None and status == 200 and "pz:refresh" in trigger:
            self.adds += 1  # the shop confirms an add that went through
        return text


def _shop(shopper: Shopper, products: list[str], number: int) -> None:
    for page in range(PAGES_EACH):
        path = f"/p/{products[(number * 7 + page * 3) % len(products)]}/"
        text = shopper.request("GET", path)
        token, product = CSRF_RE.search(text), PRODUCT_ID_RE.search(text)
        if page % 3 == 1 and token and product:
            shopper.request(
                "POST",
                "/cart/add/",
                {"csrfmiddlewaretoken": token.group(1), "product_id": product.group(1),
                 "quantity": "1", "next": path},
            )  # fmt: skip


def test_profiles_converge_after_redis_is_killed_under_load(
    demo_database: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    import shutil

    _need(shutil.which("redis-server") is not None, "redis-server binary")
    server = RedisProcess(tmp_path / "redis", aof=True)
    server.directory.mkdir()
    server.start()
    db_url = urlsplit(settings.POSTGRES_URL)._replace(path=f"/{demo_database}").geturl()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "shop_demo.settings",
        "DATABASE_URL": db_url,
        "PERSONALIZE_STORE": "redis",
        "PERSONALIZE_REDIS_URL": server.url,
        "PERSONALIZE_REDIS_PREFIX": PREFIX,
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("DATABASE_CONN_MAX_AGE", None)
    _manage(env, "migrate", "--no-input")
    _manage(env, "seed_demo", "--visitors", "5", "--months", "1", "--customers", "3")
    with psycopg.connect(db_url) as conn:
        rows = conn.execute(
            "SELECT p.slug FROM shop_demo_product p WHERE p.stock > 0 ORDER BY p.id LIMIT 12"
        ).fetchall()
        seeded = {r[0] for r in conn.execute("SELECT DISTINCT visitor_id FROM personalize_event")}
    products = [slug for (slug,) in rows]
    assert products

    ports = [free_port(), free_port()]
    logs = [(tmp_path / f"server-{port}.log").open("w") for port in ports]
    processes = [
        subprocess.Popen(
            [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        for port, log in zip(ports, logs, strict=True)
    ]
    worker_log = (tmp_path / "worker.log").open("w")
    processes.append(
        subprocess.Popen(
            [
                sys.executable,
                "manage.py",
                "personalize_worker",
                "--claim-interval",
                "1",
                "--status-every",
                "5",
            ],
            cwd=ROOT,
            env=env,
            stdout=worker_log,
            stderr=subprocess.STDOUT,
        )
    )
    shoppers = [Shopper(ports[n % 2]) for n in range(SHOPPERS)]
    outage = threading.Event()
    try:
        for port in ports:
            wait_for(lambda port=port: _answers(port), 60, f"runserver on {port} did not start")

        def chaos() -> None:
            time.sleep(3)
            server.kill()  # SIGKILL: no shutdown save, the AOF is all there is
            outage.set()
            time.sleep(2)
            server.start()

        killer = threading.Thread(target=chaos)
        killer.start()
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(lambda n: _shop(shoppers[n], products, n), range(SHOPPERS)))
        killer.join()
        assert outage.is_set()

        client = redis.Redis.from_url(server.url, decode_responses=True)

        def converged() -> bool:
            with psycopg.connect(db_url) as conn:
                row = conn.execute("SELECT count(*) FROM personalize_deferredchange").fetchone()
            if row is None or row[0]:
                return False
            group = client.xinfo_groups(f"{PREFIX}:events")
            return all(int(g["pending"]) == 0 and int(g.get("lag") or 0) == 0 for g in group)

        wait_for(converged, 90, "the worker did not drain the stream and the deferred changes")
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=20)
        server.kill()
    worker_text = (tmp_path / "worker.log").read_text()

    statuses = Counter(s for shopper in shoppers for s in shopper.statuses)
    assert not [s for s in statuses if s >= 500], statuses
    # The outage really cost profiles: requests were served without one and deferred.
    assert "replayed" in worker_text, worker_text[-2000:]

    server.start()
    store = redis.Redis.from_url(server.url, decode_responses=True)
    mismatches: list[str] = []
    with psycopg.connect(db_url) as conn:
        logged = {
            visitor: (views, adds, rows, distinct)
            for visitor, views, adds, rows, distinct in conn.execute(
                "SELECT visitor_id, count(*) FILTER (WHERE name = 'page_view'), "
                "coalesce(sum((props->>'quantity')::int) FILTER (WHERE name = 'add_to_cart'), 0), "
                "count(*), count(DISTINCT event_id) FROM personalize_event GROUP BY visitor_id"
            )
        }
    for shopper in shoppers:
        vid = shopper.visitor_id
        assert vid and vid not in seeded
        views, adds, rows, distinct = logged.get(vid, (0, 0, 0, 0))
        # Every event the shop confirmed is in the log, once.
        if (views, adds, rows) != (shopper.page_views, shopper.adds, distinct):
            mismatches.append(f"log of {vid}: {views} views, {adds} adds; sent {shopper}")
        main = store.hgetall(f"{PREFIX}:v:{{{vid}}}:m")
        cart = store.hgetall(f"{PREFIX}:v:{{{vid}}}:cart")
        in_cart = sum(int(v) for k, v in cart.items() if k.startswith("q:"))
        counted = int(main.get("pvt", 0))
        # The profile says what the log says.
        if (counted, in_cart) != (views, adds):
            mismatches.append(
                f"profile of {vid}: {counted} views, {in_cart} in cart; log {views}/{adds}"
            )
    server.kill()
    assert mismatches == [], "\n".join(mismatches[:10])


def _answers(port: int) -> bool:
    try:
        connection = HTTPConnection("127.0.0.1", port, timeout=5)
        connection.request("GET", "/personalize/api/visitor/", headers={"User-Agent": USER_AGENT})
        ok = connection.getresponse().status == 200
        connection.close()
        return ok
    except OSError:
        return False
