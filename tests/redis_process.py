"""A ``redis-server`` process of a test's own, which the test may kill and start again."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import redis

from tests.conftest import free_port


class RedisProcess:
    """A redis-server on a fixed port and directory.

    ``aof=True`` persists every write before answering it (``appendonly yes``,
    ``appendfsync always``), so a SIGKILL loses no acknowledged write and a restart
    on the same directory reloads the data; otherwise nothing is kept.
    """

    def __init__(self, directory: Path, *, aof: bool = False) -> None:
        self.port = free_port()
        self.directory = directory
        self.aof = aof
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> redis.Redis:
        persistence = ["--appendonly", "yes", "--appendfsync", "always"] if self.aof else [
            "--appendonly", "no"]  # fmt: skip
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             *persistence, "--dir", str(self.directory)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        client = redis.Redis.from_url(self.url, decode_responses=True)
        wait_for(lambda: pings(client), 20, "redis-server did not start")
        return client

    def kill(self) -> None:
        """SIGKILL: no shutdown save; only what the AOF holds survives."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None


def pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False  # refused, or still loading its data


def wait_for(predicate: Callable[[], bool], seconds: float, message: str) -> float:
    """Poll until ``predicate`` holds (failing the test after ``seconds``); how long it took."""
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > seconds:
            pytest.fail(message)
        time.sleep(0.05)
    return time.monotonic() - start
