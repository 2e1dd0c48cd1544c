"""``personalize_worker`` run the way an operator runs it: a real process, left running.

With the default settings the worker used to exit within a second on an idle
stream (its blocking read ran on the request client's 50 ms timeout), died on a
Redis restart, and left a dead worker's pending entries alone until a worker
started. These tests run ``manage.py personalize_worker`` with its defaults
against a redis-server of their own, on the PostgreSQL test database.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from django.db import connections

from personalize.models import Event
from personalize.tracking.worker import GROUP
from tests.conftest import _need, free_port
from tests.redis_process import RedisProcess, wait_for

ROOT = Path(__file__).resolve().parent.parent
PREFIX = "pzops"
STREAM = f"{PREFIX}:events"

pytestmark = [
    pytest.mark.redis,
    pytest.mark.postgres,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True, databases=["default", "postgres"]),
]


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisProcess]:
    import shutil

    _need(shutil.which("redis-server") is not None, "redis-server binary")
    server = RedisProcess(tmp_path)
    yield server
    server.kill()


@pytest.fixture
def worker_env(redis_server: RedisProcess) -> dict[str, str]:
    if "postgres" not in connections.databases:
        _need(False, "PostgreSQL")
    db = connections["postgres"].settings_dict
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "shop_demo.settings",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "PERSONALIZE_STORE": "redis",
        "PERSONALIZE_REDIS_URL": redis_server.url,
        "PERSONALIZE_REDIS_PREFIX": PREFIX,
        "PYTHONUNBUFFERED": "1",
    }


def _events(client: redis.Redis, start: int, count: int) -> list[str]:
    pipe = client.pipeline(transaction=False)
    ids = []
    for i in range(start, start + count):
        event_id = f"{i:032x}"
        ids.append(event_id)
        record = {"id": event_id, "v": "b" * 32, "n": "page_view", "p": {"path": "/"},
                  "t": 1_764_000_000 + i, "vn": 1, "u": ""}  # fmt: skip
        pipe.xadd(STREAM, {"e": json.dumps(record)})
    pipe.execute()
    return ids


def _start_worker(env: dict[str, str], log: Path, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "manage.py", "personalize_worker", *args],
        cwd=ROOT,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )


def _logged() -> int:
    return Event.objects.using("postgres").count()


def test_default_worker_survives_an_idle_stream_and_a_redis_restart(
    redis_server: RedisProcess, worker_env: dict[str, str], tmp_path: Path
) -> None:
    client = redis_server.start()
    log = tmp_path / "worker.log"
    worker = _start_worker(worker_env, log, "--status-every", "5")
    try:
        # Thirty seconds of an idle stream: fifteen blocking reads of the default 2 s.
        time.sleep(30)
        assert worker.poll() is None, log.read_text()

        first = _events(client, 0, 100)
        wait_for(lambda: _logged() == 100, 20, "the first 100 events were not drained")

        redis_server.kill()  # the stream and the consumer group die with it
        time.sleep(2)
        assert worker.poll() is None, log.read_text()
        client = redis_server.start()
        second = _events(client, 100, 200)
        wait_for(lambda: _logged() == 300, 60, "events after the restart were not drained")
        assert worker.poll() is None, log.read_text()

        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=15) == 0, log.read_text()
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()

    logged = set(Event.objects.using("postgres").values_list("event_id", flat=True))
    assert logged == set(first) | set(second)
    output = log.read_text()
    assert "retrying in" in output  # the outage was noticed, logged and survived
    assert "events/s, lag" in output  # status lines
    assert "Done: 300 events logged" in output


def test_a_surviving_worker_drains_a_dead_workers_pending_entries(
    redis_server: RedisProcess, worker_env: dict[str, str], tmp_path: Path
) -> None:
    client = redis_server.start()
    log = tmp_path / "survivor.log"
    survivor = _start_worker(worker_env, log, "--min-idle-ms", "2000")
    try:
        wait_for(lambda: _group_exists(client), 20, "the survivor did not create its group")
        # A worker that read 100 entries and died before acknowledging them. The add
        # and the read run as one transaction, so the survivor (blocked on new
        # entries) never sees them as new: only its periodic claim can recover them.
        pipe = client.pipeline(transaction=True)
        ids = []
        for i in range(100):
            ids.append(f"{i + 1000:032x}")
            record = {"id": ids[-1], "v": "c" * 32, "n": "page_view", "p": {"path": "/"},
                      "t": 1_764_000_000 + i, "vn": 1, "u": ""}  # fmt: skip
            pipe.xadd(STREAM, {"e": json.dumps(record)})
        pipe.xreadgroup(GROUP, "dead-worker", {STREAM: ">"}, count=1000)
        pipe.execute()
        pending: Any = client.xpending(STREAM, GROUP)
        assert pending["pending"] == 100

        # min-idle 2 s plus one claim interval (5 s by default), plus slack.
        waited = wait_for(lambda: _logged() == 100, 15, "the dead worker's entries stayed pending")
        assert waited <= 2 + 5 + 3
        assert survivor.poll() is None, log.read_text()
        pending = client.xpending(STREAM, GROUP)
        assert pending["pending"] == 0
    finally:
        survivor.send_signal(signal.SIGTERM)
        survivor.wait(timeout=15)
    assert set(Event.objects.using("postgres").values_list("event_id", flat=True)) == set(ids)


def _group_exists(client: redis.Redis) -> bool:
    try:
        groups: Any = client.xinfo_groups(STREAM)
    except redis.ResponseError:
        return False
    return any(group["name"] == GROUP for group in groups)


def test_check_reports_backlog_and_fails_when_nothing_drains(
    redis_server: RedisProcess, worker_env: dict[str, str]
) -> None:
    client = redis_server.start()

    def check() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "manage.py", "personalize_worker", "--check",
             "--max-drain-age", "60"],
            cwd=ROOT, env=worker_env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip

    empty = check()
    assert empty.returncode == 0, empty.stderr
    assert "0 in stream" in empty.stdout and "last drain never" in empty.stdout

    _events(client, 0, 7)
    stuck = check()
    assert stuck.returncode == 1
    assert "7 events wait" in stuck.stderr and "is a personalize_worker running?" in stuck.stderr

    drained = subprocess.run(
        [sys.executable, "manage.py", "personalize_worker", "--until-empty"],
        cwd=ROOT, env=worker_env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert drained.returncode == 0, drained.stderr
    healthy = check()
    assert healthy.returncode == 0, healthy.stderr
    assert "0 pending" in healthy.stdout and "s ago" in healthy.stdout


def test_a_worker_started_before_its_cluster_waits_for_it(
    worker_env: dict[str, str], tmp_path: Path
) -> None:
    # A cluster client asks the cluster for its slots when it is built: with nobody
    # listening, a worker left running waits (and says so); a one-shot run fails fast.
    env = {
        **worker_env,
        "PERSONALIZE_REDIS_CLUSTER": "1",
        "PERSONALIZE_REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
    }
    log = tmp_path / "waiting.log"
    worker = _start_worker(env, log)
    try:
        wait_for(lambda: log.read_text().count("retrying in") >= 2, 20, "no retry was logged")
        assert worker.poll() is None, log.read_text()
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=15) == 0, log.read_text()
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    once = subprocess.run(
        [sys.executable, "manage.py", "personalize_worker", "--until-empty"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert once.returncode == 1 and "Redis does not answer" in once.stderr


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--batch-size", "0", "--batch-size must be a positive number"),
        ("--claim-interval", "0", "--claim-interval must be a positive number"),
        ("--max-drain-age", "-5", "--max-drain-age must be a positive number"),
        ("--status-every", "-1", "--status-every must be 0 or more"),
        ("--min-idle-ms", "-1", "--min-idle-ms must be 0 or more"),
    ],
)
def test_worker_options_are_validated(option: str, value: str, message: str) -> None:
    from django.core.management import CommandError, call_command
    from django.test import override_settings

    with (
        override_settings(PERSONALIZE_STORE="personalize.profiles.redis.RedisProfileStore"),
        pytest.raises(CommandError, match=message),
    ):
        call_command("personalize_worker", f"{option}={value}")
