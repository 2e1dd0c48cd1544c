"""Settings of the demo shop.

Environment variables (all optional):

``DATABASE_URL``                 default ``sqlite:///db.sqlite3`` (e.g. ``postgres://postgres@127.0.0.1/shop``)
``PERSONALIZE_STORE``            ``database`` (default), ``redis`` or a dotted class path
``PERSONALIZE_REDIS_URL``        default ``redis://127.0.0.1:6379/0``
``PERSONALIZE_REDIS_PREFIX``     default ``pz`` (prefix of every Redis key)
``PERSONALIZE_REDIS_CLUSTER``    ``1``: ``PERSONALIZE_REDIS_URL`` is a node of a Redis Cluster
``PERSONALIZE_STREAM_SHARDS``    event streams to spread events over (default 1)
``PERSONALIZE_VISIT_TIMEOUT``    seconds of inactivity that end a visit (default 1800)
``DATABASE_CONN_MAX_AGE``        default ``0`` (close after each request; see below)
``DJANGO_DEBUG``                 ``1`` (default) or ``0``
``DJANGO_SECRET_KEY``            required when ``DJANGO_DEBUG=0``
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = os.environ.get("DJANGO_DEBUG", "1") == "1"
SECRET_KEY = os.environ.get(
    "DJANGO_SECRET_KEY", "demo-only-insecure-key-change-me" if DEBUG else ""
)
ALLOWED_HOSTS = [
    "127.0.0.1",
    "localhost",
    "testserver",
    *filter(None, os.environ.get("DJANGO_ALLOWED_HOSTS", "").split(",")),
]

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
WSGI_APPLICATION = "shop_demo.wsgi.application"

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

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
        # Persistent connections are per thread, and runserver starts a thread per
        # request: with conn_max_age > 0 every thread keeps its PostgreSQL connection
        # open until the server's max_connections is exhausted. Under a production
        # server with a fixed number of workers, set DATABASE_CONN_MAX_AGE (seconds).
        conn_max_age=int(os.environ.get("DATABASE_CONN_MAX_AGE", "0")),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Writers queue on the database lock instead of failing with "database is locked".
    # WAL + synchronous=NORMAL: readers never wait for the writer and a commit is
    # not an fsync, which is what makes SQLite fine for the database profile store.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Sessions live in signed cookies: no database query just to read the cart.
SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
SESSION_COOKIE_HTTPONLY = True

AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 8},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "/account/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/"

LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"

REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
}

_STORES = {
    "database": "personalize.profiles.database.DatabaseProfileStore",
    "redis": "personalize.profiles.redis.RedisProfileStore",
}
PERSONALIZE_STORE = _STORES.get(
    os.environ.get("PERSONALIZE_STORE", "database"), os.environ.get("PERSONALIZE_STORE", "")
)
PERSONALIZE_REDIS_URL = os.environ.get("PERSONALIZE_REDIS_URL", "redis://127.0.0.1:6379/0")
PERSONALIZE_REDIS_PREFIX = os.environ.get("PERSONALIZE_REDIS_PREFIX", "pz")
PERSONALIZE_REDIS_CLUSTER = os.environ.get("PERSONALIZE_REDIS_CLUSTER", "0") == "1"
PERSONALIZE_STREAM_SHARDS = int(os.environ.get("PERSONALIZE_STREAM_SHARDS", "1"))
PERSONALIZE_VISIT_TIMEOUT = int(os.environ.get("PERSONALIZE_VISIT_TIMEOUT", "1800"))
PERSONALIZE_COUNTRY_HEADER = os.environ.get("PERSONALIZE_COUNTRY_HEADER") or None

# Demo shop business rules.
SHOP_CURRENCY = "EUR"
SHOP_FREE_SHIPPING_THRESHOLD = 60
PERSONALIZE_FREE_SHIPPING_THRESHOLD = SHOP_FREE_SHIPPING_THRESHOLD
# The demo's Product has name, price, created_at, category.slug, get_absolute_url(),
# image_url and in_stock: exactly personalize's default field names.
PERSONALIZE_PRODUCT_MODEL = "shop_demo.Product"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"personalize": {"handlers": ["console"], "level": "WARNING"}},
}
