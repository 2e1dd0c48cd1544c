"""A minimal django-oscar 4.2 shop with personalize, after Oscar's "Building your own shop".

The Oscar tests run in a pytest invocation of their own:
``python -m pytest tests/oscar --ds=tests.oscar.settings`` (the main run ignores this
folder). Only Oscar, personalize and the contrib app are installed: no demo shop.
"""

from __future__ import annotations

import os
from pathlib import Path

from oscar import INSTALLED_APPS as OSCAR_APPS
from oscar.defaults import *  # noqa: F403  (Oscar's documented way to get its settings)

from tests.settings import (  # noqa: F401
    POSTGRES_AVAILABLE,
    POSTGRES_URL,
    REDIS_CLUSTER_URL,
    REDIS_URL,
)

BASE_DIR = Path(__file__).resolve().parent.parent.parent
HERE = Path(__file__).resolve().parent

SECRET_KEY = "oscar-tests-only-secret-key"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
SITE_ID = 1

INSTALLED_APPS = [
    *OSCAR_APPS,
    "sorl.thumbnail",
    "rest_framework",
    "django_htmx",
    "personalize",
    "personalize.contrib.oscar",
    "drf_spectacular_sidecar",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "oscar.apps.basket.middleware.BasketMiddleware",
    "django.contrib.flatpages.middleware.FlatpageFallbackMiddleware",
    "personalize.middleware.VisitorMiddleware",
    "personalize.contrib.oscar.middleware.CategoryViewMiddleware",
]

ROOT_URLCONF = "tests.oscar.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [HERE / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.debug",
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.template.context_processors.i18n",
                "django.contrib.messages.context_processors.messages",
                "oscar.apps.search.context_processors.search_form",
                "oscar.apps.checkout.context_processors.checkout",
                "oscar.apps.communication.notifications.context_processors.notifications",
                "oscar.core.context_processors.metadata",
            ],
        },
    },
]

AUTHENTICATION_BACKENDS = (
    "oscar.apps.customer.auth_backends.EmailBackend",
    "django.contrib.auth.backends.ModelBackend",
)

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(BASE_DIR / "var" / "oscar.sqlite3"),
        "TEST": {"NAME": str(BASE_DIR / "var" / f"test-oscar-{os.getpid()}.sqlite3")},
        "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 30},
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"

HAYSTACK_CONNECTIONS = {"default": {"ENGINE": "haystack.backends.simple_backend.SimpleEngine"}}

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "var" / "oscar-static"
MEDIA_URL = "/media/"
MEDIA_ROOT = BASE_DIR / "var" / "oscar-media"
# Thumbnails: sorl's key-value store in the cache, so a thumbnail URL known once costs
# no query afterwards (Oscar's default thumbnailer is sorl-thumbnail).
THUMBNAIL_KVSTORE = "sorl.thumbnail.kvstores.cached_db_kvstore.KVStore"

OSCAR_SHOP_NAME = "Oscar test shop"
OSCAR_DEFAULT_CURRENCY = "GBP"
OSCAR_ALLOW_ANON_CHECKOUT = True
OSCAR_THUMBNAIL_DEBUG = False

REST_FRAMEWORK = {"DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"]}

PERSONALIZE_STORE = "personalize.profiles.database.DatabaseProfileStore"
PERSONALIZE_REDIS_URL = REDIS_URL or "redis://127.0.0.1:1/0"
PERSONALIZE_CATALOGUE = "personalize.contrib.oscar.catalogue.OscarCatalogue"
PERSONALIZE_CURRENCY = OSCAR_DEFAULT_CURRENCY
PERSONALIZE_EXCLUDED_PATHS = ["/admin/", "/dashboard/", "/static/", "/media/", "/personalize/"]

LOGGING = {"version": 1, "disable_existing_loggers": False}
