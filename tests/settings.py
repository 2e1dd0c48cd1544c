"""Test settings: the demo shop's, plus a PostgreSQL alias for the store contract tests.

``PERSONALIZE_TEST_REDIS_URL`` (set by ``tests/run`` to a private redis-server)
and ``PERSONALIZE_TEST_POSTGRES_URL`` (default: the local server, trust auth)
point the contract tests at real servers.
"""

from __future__ import annotations

import os
import socket
from urllib.parse import urlsplit

import dj_database_url

from shop_demo.settings import *  # noqa: F403
from shop_demo.settings import BASE_DIR

SECRET_KEY = "tests-only-secret-key"
DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(BASE_DIR / "var" / "tests.sqlite3"),
        # A file test database (not :memory:) so threads in concurrency tests share it.
        # Per process, so two test runs in one checkout never share a database.
        "TEST": {"NAME": str(BASE_DIR / "var" / f"test-db-{os.getpid()}.sqlite3")},
        "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 30},
    }
}

POSTGRES_URL = os.environ.get(
    "PERSONALIZE_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/personalize"
)


def _reachable(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 5432), 0.5):
            return True
    except OSError:
        return False


POSTGRES_AVAILABLE = _reachable(POSTGRES_URL)
if POSTGRES_AVAILABLE:
    DATABASES["postgres"] = dj_database_url.parse(POSTGRES_URL)
    DATABASES["postgres"]["TEST"] = {"NAME": f"test_personalize_{os.getpid()}"}

REDIS_URL = os.environ.get("PERSONALIZE_TEST_REDIS_URL", "")
PERSONALIZE_REDIS_URL = REDIS_URL or "redis://127.0.0.1:1/0"
PERSONALIZE_STORE = "personalize.profiles.database.DatabaseProfileStore"
PERSONALIZE_VISIT_TIMEOUT = 1800
PERSONALIZE_COUNTRY_HEADER = "CF-IPCountry"

LOGGING = {"version": 1, "disable_existing_loggers": False}
