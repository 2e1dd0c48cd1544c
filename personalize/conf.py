"""Typed access to the ``PERSONALIZE_*`` settings.

Every property reads ``django.conf.settings`` on each access, so
``override_settings`` works in tests without any cache to clear.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings as django_settings

DEFAULT_STORE = "personalize.profiles.database.DatabaseProfileStore"

DEFAULT_AFFINITY_WEIGHTS: dict[str, float] = {
    "product_view": 1.0,
    "category_view": 0.5,
    "add_to_cart": 3.0,
    "purchase": 5.0,
}

DEFAULT_EXCLUDED_PATHS: tuple[str, ...] = (
    "/admin/",
    "/static/",
    "/media/",
    "/personalize/",
    "/favicon.ico",
    "/robots.txt",
)


class Settings:
    """The app's settings with their documented defaults."""

    def _get(self, name: str, default: Any) -> Any:
        return getattr(django_settings, f"PERSONALIZE_{name}", default)

    # Storage ---------------------------------------------------------------

    @property
    def STORE(self) -> str:
        """Dotted path of the profile store class."""
        return str(self._get("STORE", DEFAULT_STORE))

    @property
    def DATABASE_ALIAS(self) -> str:
        """Database used by the database store and the event log."""
        return str(self._get("DATABASE_ALIAS", "default"))

    @property
    def REDIS_URL(self) -> str:
        return str(self._get("REDIS_URL", "redis://127.0.0.1:6379/0"))

    @property
    def REDIS_PREFIX(self) -> str:
        """Prefix of every Redis key the app writes."""
        return str(self._get("REDIS_PREFIX", "pz"))

    @property
    def REDIS_CLUSTER(self) -> bool:
        """Whether ``PERSONALIZE_REDIS_URL`` is a node of a Redis Cluster (``RedisCluster``)."""
        return bool(self._get("REDIS_CLUSTER", False))

    @property
    def REDIS_TIMEOUT(self) -> float:
        """Socket connect/read timeout in seconds; a slow Redis degrades, never blocks."""
        return float(self._get("REDIS_TIMEOUT", 0.05))

    @property
    def REDIS_RETRY_AFTER(self) -> float:
        """Seconds to skip Redis after a failure before trying again."""
        return float(self._get("REDIS_RETRY_AFTER", 5.0))

    @property
    def STREAM_NAME(self) -> str:
        """Redis Stream (without prefix) that buffers events for the worker."""
        return str(self._get("STREAM_NAME", "events"))

    @property
    def STREAM_SHARDS(self) -> int:
        """Event streams the Redis store spreads events over (a visitor's go to one).

        With more than one they are named ``<prefix>:<STREAM_NAME>:{0}`` ... ``{n-1}``: on a
        Redis Cluster each lands in a slot of its own, so the write load and the
        workers spread over the nodes.
        """
        return int(self._get("STREAM_SHARDS", 1))  # below 1: one stream (and check E004)

    @property
    def STREAM_MAXLEN(self) -> int:
        """Entries each event stream (shard) may hold before new events go straight to the database.

        The stream is also trimmed (``XADD ... MAXLEN ~``) a little above this, so a
        worker outage can never fill Redis's memory (~250 bytes per event).
        """
        return int(self._get("STREAM_MAXLEN", 1_000_000))

    @property
    def RETENTION_DAYS(self) -> int:
        """Profiles and events older than this go (Redis TTL; ``personalize_purge``)."""
        return int(self._get("RETENTION_DAYS", 395))

    @property
    def CONFIG_POLL_SECONDS(self) -> float:
        """How often the configuration version is re-read where no request brings it along:
        the database store, and the Redis store on a Redis Cluster."""
        return float(self._get("CONFIG_POLL_SECONDS", 2.0))

    # Identity --------------------------------------------------------------

    @property
    def COOKIE_NAME(self) -> str:
        return str(self._get("COOKIE_NAME", "pz_vid"))

    @property
    def COOKIE_AGE(self) -> int:
        """Lifetime of the visitor cookie in seconds (one year)."""
        return int(self._get("COOKIE_AGE", 365 * 24 * 3600))

    @property
    def COOKIE_DOMAIN(self) -> str | None:
        value = self._get("COOKIE_DOMAIN", None)
        return None if value is None else str(value)

    @property
    def VISIT_TIMEOUT(self) -> int:
        """Seconds of inactivity after which the next request starts a new visit."""
        return int(self._get("VISIT_TIMEOUT", 1800))

    @property
    def ALLOW_HEADLESS(self) -> bool:
        """Track headless browsers (HeadlessChrome, Playwright...) as visitors."""
        return bool(self._get("ALLOW_HEADLESS", False))

    @property
    def COUNTRY_HEADER(self) -> str | None:
        """Trusted request header with an ISO country code, e.g. ``CF-IPCountry``."""
        value = self._get("COUNTRY_HEADER", None)
        return None if value is None else str(value)

    # Privacy ---------------------------------------------------------------

    @property
    def REQUIRE_CONSENT(self) -> bool:
        """When on, nothing is stored until the visitor consents."""
        return bool(self._get("REQUIRE_CONSENT", False))

    @property
    def CONSENT_COOKIE_NAME(self) -> str:
        return str(self._get("CONSENT_COOKIE_NAME", "pz_consent"))

    @property
    def HONOR_GPC(self) -> bool:
        """Treat ``Sec-GPC: 1`` as an opt-out of tracking."""
        return bool(self._get("HONOR_GPC", True))

    # Tracking --------------------------------------------------------------

    @property
    def TRACK_PAGE_VIEWS(self) -> bool:
        return bool(self._get("TRACK_PAGE_VIEWS", True))

    @property
    def EXCLUDED_PATHS(self) -> tuple[str, ...]:
        """Path prefixes that never count as page views."""
        return tuple(self._get("EXCLUDED_PATHS", DEFAULT_EXCLUDED_PATHS))

    @property
    def MAX_VIEWED_PRODUCTS(self) -> int:
        return int(self._get("MAX_VIEWED_PRODUCTS", 50))

    @property
    def MAX_VIEWED_CATEGORIES(self) -> int:
        return int(self._get("MAX_VIEWED_CATEGORIES", 20))

    @property
    def MAX_SEARCHES(self) -> int:
        return int(self._get("MAX_SEARCHES", 20))

    @property
    def MAX_PURCHASED_PRODUCTS(self) -> int:
        return int(self._get("MAX_PURCHASED_PRODUCTS", 200))

    @property
    def MAX_AFFINITY_CATEGORIES(self) -> int:
        return int(self._get("MAX_AFFINITY_CATEGORIES", 50))

    @property
    def AFFINITY_HALF_LIFE_DAYS(self) -> float:
        """Category affinity halves after this many days without new interest."""
        return float(self._get("AFFINITY_HALF_LIFE_DAYS", 30.0))

    @property
    def AFFINITY_WEIGHTS(self) -> dict[str, float]:
        """Affinity points each event adds to its category."""
        weights = dict(DEFAULT_AFFINITY_WEIGHTS)
        weights.update(self._get("AFFINITY_WEIGHTS", {}))
        return {str(k): float(v) for k, v in weights.items()}

    # Segments ----------------------------------------------------------------

    @property
    def ATTRIBUTE_HOOKS(self) -> tuple[str, ...]:
        """Dotted paths of callables ``(request, profile) -> dict`` adding shop attributes."""
        return tuple(self._get("ATTRIBUTE_HOOKS", ()))

    @property
    def LIFECYCLE_AT_RISK_DAYS(self) -> int:
        return int(self._get("LIFECYCLE_AT_RISK_DAYS", 60))

    @property
    def LIFECYCLE_LAPSED_DAYS(self) -> int:
        return int(self._get("LIFECYCLE_LAPSED_DAYS", 120))

    @property
    def LIFECYCLE_LOYAL_ORDERS(self) -> int:
        return int(self._get("LIFECYCLE_LOYAL_ORDERS", 4))

    @property
    def PREVIEW_COOKIE_NAME(self) -> str:
        return str(self._get("PREVIEW_COOKIE_NAME", "pz_preview"))

    # Campaigns ---------------------------------------------------------------

    @property
    def FREE_SHIPPING_THRESHOLD(self) -> float | None:
        """Cart value for free shipping, for the ``{{ free_shipping_remaining }}`` token."""
        value = self._get("FREE_SHIPPING_THRESHOLD", None)
        return None if value is None else float(value)

    @property
    def EVENTS_RATE_LIMIT(self) -> int:
        """Campaign events accepted per visitor per minute by the events API."""
        return int(self._get("EVENTS_RATE_LIMIT", 120))

    @property
    def CSP_NONCE_ATTRIBUTE(self) -> str:
        """Request attribute holding the CSP nonce (django-csp uses ``csp_nonce``).

        Django 6's own CSP nonce is found without it; see ``personalize.csp``.
        """
        return str(self._get("CSP_NONCE_ATTRIBUTE", "csp_nonce"))

    # Recommendations -----------------------------------------------------------

    @property
    def PRODUCT_MODEL(self) -> str:
        """The shop's product model as ``"app_label.Model"``."""
        return str(self._get("PRODUCT_MODEL", ""))

    @property
    def PRODUCT_FIELDS(self) -> dict[str, str]:
        """Attribute paths for title, url, image_url, price, category, in_stock, created_at."""
        return {str(k): str(v) for k, v in dict(self._get("PRODUCT_FIELDS", {})).items()}

    @property
    def CATALOGUE(self) -> str:
        """Dotted path of the catalogue adapter class."""
        return str(self._get("CATALOGUE", "personalize.recommendations.catalogue.ModelCatalogue"))

    @property
    def CATALOGUE_SELECT_RELATED(self) -> tuple[str, ...]:
        """Foreign keys joined into the catalogue's product query (``select_related``)."""
        return tuple(str(path) for path in self._get("CATALOGUE_SELECT_RELATED", ()))

    @property
    def CATALOGUE_PREFETCH_RELATED(self) -> tuple[str, ...]:
        """Many-valued relations loaded with the products, one query each (``prefetch_related``)."""
        return tuple(str(path) for path in self._get("CATALOGUE_PREFETCH_RELATED", ()))

    @property
    def RECS_K(self) -> int:
        """Neighbours kept per item by ``personalize_train`` (similar, viewed/bought together)."""
        return int(self._get("RECS_K", 50))

    @property
    def RECS_TRAINING_DAYS(self) -> int:
        """How far back ``personalize_train`` reads the event log."""
        return int(self._get("RECS_TRAINING_DAYS", 365))

    @property
    def RECS_BESTSELLER_DAYS(self) -> int:
        """The bestseller window, in days."""
        return int(self._get("RECS_BESTSELLER_DAYS", 30))

    @property
    def RECS_TRENDING_HALF_LIFE_DAYS(self) -> float:
        """How fast interest fades in the trending ranking (an event this old counts half)."""
        return float(self._get("RECS_TRENDING_HALF_LIFE_DAYS", 3.0))

    @property
    def RECS_HISTORY_HALF_LIFE_HOURS(self) -> float:
        """How fast a viewed product's pull fades in "recommended for you"."""
        return float(self._get("RECS_HISTORY_HALF_LIFE_HOURS", 24.0))

    @property
    def RECS_HISTORY_ITEMS(self) -> int:
        """How many of the visitor's latest products "recommended for you" starts from."""
        return int(self._get("RECS_HISTORY_ITEMS", 20))

    @property
    def CURRENCY(self) -> str:
        return str(self._get("CURRENCY", "EUR"))

    # Webhooks ---------------------------------------------------------------

    @property
    def WEBHOOK_TIMEOUT(self) -> float:
        """Seconds to connect and to wait for a receiver's answer, per attempt."""
        return float(self._get("WEBHOOK_TIMEOUT", 5.0))

    @property
    def WEBHOOK_RETRY_HOURS(self) -> float:
        """How long a delivery is retried (exponential backoff with jitter) before it fails."""
        return float(self._get("WEBHOOK_RETRY_HOURS", 24.0))

    @property
    def WEBHOOK_MAX_FAILURES(self) -> int:
        """Consecutive failed attempts after which a webhook is disabled."""
        return int(self._get("WEBHOOK_MAX_FAILURES", 50))

    @property
    def WEBHOOK_LOG_DAYS(self) -> int:
        """Days delivered and failed deliveries stay in the log (``personalize_purge``)."""
        return int(self._get("WEBHOOK_LOG_DAYS", 30))

    @property
    def WEBHOOK_BATCH_SIZE(self) -> int:
        """Deliveries a worker claims at once."""
        return int(self._get("WEBHOOK_BATCH_SIZE", 50))


settings = Settings()
