"""Settings of the test suite: a project of its own, not the demo's settings.

The suite installs personalize the way a shop does (the README's install steps)
and, as one shop among others, the demo shop app whose pages the browser
journeys drive. Nothing here imports ``shop_demo.settings`` and nothing calls
``django_stubs_ext.monkeypatch()``: the app must run with only its declared
dependencies. ``tests/oscar/`` and the field-install test check the app in
projects without the demo.

``PERSONALIZE_TEST_REDIS_URL`` (set by ``tests/run`` to a private redis-server),
``PERSONALIZE_TEST_REDIS_CLUSTER_URL`` (a node of a private three-primary Redis
Cluster, also started by ``tests/run``) and ``PERSONALIZE_TEST_POSTGRES_URL``
(default: the local server, trust auth) point the contract tests at real servers.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = "tests-only-secret-key"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "django_htmx",
    "personalize",
    "drf_spectacular_sidecar",  # the API docs page's Swagger UI, as static files
    "shop_demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "shop_demo.csp.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "personalize.middleware.VisitorMiddleware",
]

ROOT_URLCONF = "shop_demo.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "shop_demo.context_processors.shop",
                "personalize.context_processors.personalize",
            ],
        },
    },
]

DATABASES: dict[str, dict[str, Any]] = {
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
    DATABASES["postgres"] = {
        **dj_database_url.parse(POSTGRES_URL),
        "TEST": {"NAME": f"test_personalize_{os.getpid()}"},
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 8},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
LOGIN_URL = "/account/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/"

LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "var" / "staticfiles"

REST_FRAMEWORK = {"DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"]}

REDIS_URL = os.environ.get("PERSONALIZE_TEST_REDIS_URL", "")
# A node of a real Redis Cluster (tests/run starts one with three primaries).
REDIS_CLUSTER_URL = os.environ.get("PERSONALIZE_TEST_REDIS_CLUSTER_URL", "")
PERSONALIZE_REDIS_URL = REDIS_URL or "redis://127.0.0.1:1/0"
PERSONALIZE_STORE = "personalize.profiles.database.DatabaseProfileStore"
PERSONALIZE_VISIT_TIMEOUT = 1800
PERSONALIZE_COUNTRY_HEADER = "CF-IPCountry"

# The demo shop app's business rules (its views read them).
SHOP_CURRENCY = "EUR"
SHOP_FREE_SHIPPING_THRESHOLD = 60
PERSONALIZE_FREE_SHIPPING_THRESHOLD = SHOP_FREE_SHIPPING_THRESHOLD
PERSONALIZE_PRODUCT_MODEL = "shop_demo.Product"

LOGGING = {"version": 1, "disable_existing_loggers": False}
