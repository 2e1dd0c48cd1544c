"""System checks (``manage.py check``) for a correct installation."""

from __future__ import annotations

import contextlib
import re
from typing import Any

from django.apps import apps
from django.conf import settings as django_settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register
from django.core.exceptions import FieldDoesNotExist
from django.utils.module_loading import import_string

from personalize.conf import settings
from personalize.recommendations.catalogue import DEFAULT_FIELDS, ModelCatalogue

MIDDLEWARE_PATH = "personalize.middleware.VisitorMiddleware"
AUTH_MIDDLEWARE = "django.contrib.auth.middleware.AuthenticationMiddleware"
SESSION_MIDDLEWARE = "django.contrib.sessions.middleware.SessionMiddleware"
_COOKIE_NAME_RE = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")


@register(Tags.compatibility)
def check_middleware(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    middleware = list(django_settings.MIDDLEWARE)
    if MIDDLEWARE_PATH not in middleware:
        return [
            Warning(
                "VisitorMiddleware is not installed, so no visitor is recognised.",
                hint=f"Add '{MIDDLEWARE_PATH}' to MIDDLEWARE after AuthenticationMiddleware.",
                id="personalize.W001",
            )
        ]
    errors: list[CheckMessage] = []
    position = middleware.index(MIDDLEWARE_PATH)
    if AUTH_MIDDLEWARE not in middleware:
        errors.append(
            Warning(
                "AuthenticationMiddleware is not installed: logged-in customers will not be "
                "recognised across devices and 'is_authenticated' is always false.",
                hint=f"Add '{AUTH_MIDDLEWARE}' (and '{SESSION_MIDDLEWARE}') to MIDDLEWARE.",
                id="personalize.W002",
            )
        )
    elif middleware.index(AUTH_MIDDLEWARE) > position:
        errors.append(
            Error(
                "VisitorMiddleware must come after AuthenticationMiddleware.",
                hint=f"Move '{MIDDLEWARE_PATH}' below '{AUTH_MIDDLEWARE}' in MIDDLEWARE.",
                id="personalize.E002",
            )
        )
    if SESSION_MIDDLEWARE in middleware and middleware.index(SESSION_MIDDLEWARE) > position:
        errors.append(
            Error(
                "VisitorMiddleware must come after SessionMiddleware.",
                hint=f"Move '{MIDDLEWARE_PATH}' below '{SESSION_MIDDLEWARE}' in MIDDLEWARE.",
                id="personalize.E003",
            )
        )
    return errors


@register(Tags.compatibility)
def check_store(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    from personalize.profiles.base import BaseProfileStore

    path = settings.STORE
    try:
        cls = import_string(path)
    except ImportError as exc:
        return [
            Error(
                f"PERSONALIZE_STORE = {path!r} cannot be imported: {exc}.",
                hint="Use 'personalize.profiles.database.DatabaseProfileStore', "
                "'personalize.profiles.redis.RedisProfileStore' or your own subclass "
                "of BaseProfileStore.",
                id="personalize.E001",
            )
        ]
    if not (isinstance(cls, type) and issubclass(cls, BaseProfileStore)):
        return [
            Error(
                f"PERSONALIZE_STORE = {path!r} is not a subclass of BaseProfileStore.",
                hint="Point PERSONALIZE_STORE at a class deriving from "
                "personalize.profiles.base.BaseProfileStore.",
                id="personalize.E001",
            )
        ]
    try:
        store = cls()  # a fresh instance: the check sees the settings as they are now
    except Exception as exc:  # any failure to build the store is what this check reports
        return [
            Error(
                f"PERSONALIZE_STORE = {path!r} cannot be created: {exc}.",
                hint="Fix the store's settings (e.g. PERSONALIZE_REDIS_URL).",
                id="personalize.E001",
            )
        ]
    return _check_database_alias() + store.check()


def _check_database_alias() -> list[CheckMessage]:
    # Every store writes the durable event log there, not only the database store.
    if settings.DATABASE_ALIAS not in django_settings.DATABASES:
        return [
            Error(
                f"PERSONALIZE_DATABASE_ALIAS = {settings.DATABASE_ALIAS!r} is not in DATABASES.",
                hint="Set PERSONALIZE_DATABASE_ALIAS to one of: "
                + ", ".join(django_settings.DATABASES),
                id="personalize.E005",
            )
        ]
    return []


@register(Tags.compatibility)
def check_time_zone_support(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    # Events, visits, schedules and training windows are UTC instants. With USE_TZ = False
    # SQLite and MySQL refuse them, so every event write fails while pages look fine:
    # better a failed check than a silently empty event log.
    if django_settings.USE_TZ:
        return []
    return [
        Error(
            "personalize records times as UTC instants and needs USE_TZ = True; with "
            "USE_TZ = False the database rejects the event log's timestamps and events are lost.",
            hint="Set USE_TZ = True in your settings (the default of new Django projects).",
            id="personalize.E009",
        )
    ]


@register(Tags.compatibility)
def check_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    # setting -> (type, smallest valid value, what to set it to)
    numeric: dict[str, tuple[type[int] | type[float], float, str]] = {
        "VISIT_TIMEOUT": (int, 60, "at least 60 seconds, e.g. 1800"),
        "COOKIE_AGE": (int, 60, "a number of seconds, e.g. 31536000 for a year"),
        "RETENTION_DAYS": (int, 1, "a number of days, e.g. 395"),
        "STREAM_MAXLEN": (int, 1000, "the events a stream may buffer, e.g. 1000000"),
        "STREAM_SHARDS": (int, 1, "the number of event streams, e.g. 1 (or 2-3 per primary)"),
        "RECS_K": (int, 1, "the neighbours kept per item, e.g. 50"),
        "RECS_TRAINING_DAYS": (int, 1, "a number of days, e.g. 365"),
        "RECS_BESTSELLER_DAYS": (int, 1, "a number of days, e.g. 30"),
        "RECS_HISTORY_ITEMS": (int, 1, "a number of products, e.g. 20"),
        "RECS_TRENDING_HALF_LIFE_DAYS": (float, 1e-6, "a positive number of days, e.g. 3"),
        "RECS_HISTORY_HALF_LIFE_HOURS": (float, 1e-6, "a positive number of hours, e.g. 24"),
        "WEBHOOK_TIMEOUT": (float, 0.1, "the seconds to wait for a receiver, e.g. 5"),
        "WEBHOOK_RETRY_HOURS": (float, 0.01, "the hours a delivery is retried, e.g. 24"),
        "WEBHOOK_MAX_FAILURES": (int, 1, "the failures in a row that disable a webhook, e.g. 50"),
        "WEBHOOK_BATCH_SIZE": (int, 1, "the deliveries a worker claims at once, e.g. 50"),
        "WEBHOOK_LOG_DAYS": (int, 1, "the days finished deliveries are kept, e.g. 30"),
    }
    for name, (kind, minimum, fix) in numeric.items():
        try:
            ok = kind(getattr(settings, name)) >= minimum
        except (TypeError, ValueError):
            ok = False
        if not ok:
            errors.append(
                Error(
                    f"PERSONALIZE_{name} is invalid.",
                    hint=f"Set PERSONALIZE_{name} to {fix}.",
                    id="personalize.E004",
                )
            )
    try:
        timeout = settings.REDIS_TIMEOUT
    except (TypeError, ValueError):
        timeout = -1.0
    if not 0 < timeout <= 5:
        errors.append(
            Error(
                "PERSONALIZE_REDIS_TIMEOUT is invalid.",
                hint="Set it to a number of seconds above 0, e.g. 0.05.",
                id="personalize.E004",
            )
        )
    for name in ("COOKIE_NAME", "CONSENT_COOKIE_NAME"):
        if not _COOKIE_NAME_RE.match(str(getattr(settings, name))):
            errors.append(
                Error(
                    f"PERSONALIZE_{name} is not a valid cookie name.",
                    hint="Use letters, digits, '_' and '-' only, e.g. 'pz_vid'.",
                    id="personalize.E004",
                )
            )
    return errors


@register(Tags.models)
def check_product_model(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    label = settings.PRODUCT_MODEL
    if not label:
        return []
    try:
        apps.get_model(label)
    except (LookupError, ValueError) as exc:
        return [
            Error(
                f"PERSONALIZE_PRODUCT_MODEL = {label!r} is not an installed model ({exc}).",
                hint='Use "app_label.ModelName", e.g. "shop.Product".',
                id="personalize.E006",
            )
        ]
    try:
        unknown = sorted(set(settings.PRODUCT_FIELDS) - set(DEFAULT_FIELDS))
    except (TypeError, ValueError):
        unknown = ["(not a dict)"]
    if unknown:
        return [
            Error(
                f"PERSONALIZE_PRODUCT_FIELDS has unknown keys: {', '.join(unknown)}.",
                hint=f"Map only {', '.join(DEFAULT_FIELDS)} to attribute paths on your product, "
                'e.g. {"title": "name", "category": "category.slug"}.',
                id="personalize.E007",
            )
        ]
    return _check_product_field_paths()


def _check_product_field_paths() -> list[CheckMessage]:
    # A path the model cannot have is not an error at run time (the widget shows the item
    # without a title or picture), so it would otherwise go unnoticed until a shopper sees it.
    try:
        catalogue = import_string(settings.CATALOGUE)
    except ImportError:
        return []
    if not (isinstance(catalogue, type) and issubclass(catalogue, ModelCatalogue)):
        return []  # a catalogue of the shop's own does not read PERSONALIZE_PRODUCT_FIELDS
    model = apps.get_model(settings.PRODUCT_MODEL)
    messages: list[CheckMessage] = []
    for key, path in {**DEFAULT_FIELDS, **settings.PRODUCT_FIELDS}.items():
        missing = _unresolvable_part(model, str(path))
        if missing is not None:
            messages.append(
                Warning(
                    f"PERSONALIZE_PRODUCT_FIELDS[{key!r}] = {path!r}: {missing!r} is not an "
                    f"attribute of {model._meta.label}, so recommendations show no {key}.",
                    hint=f'Map "{key}" to a field, property or method path of '
                    f'{model._meta.label} in PERSONALIZE_PRODUCT_FIELDS, e.g. {{"{key}": ...}}.',
                    id="personalize.W005",
                )
            )
    return messages


def _unresolvable_part(model: type[Any], path: str) -> str | None:
    """The first part of ``path`` that ``model`` cannot have, or ``None``.

    Relations are followed; a property or method ends the walk, since what it
    returns is only known at run time.
    """
    current = model
    for part in path.split("."):
        if not hasattr(current, part):
            return part
        try:
            field = current._meta.get_field(part)
        except FieldDoesNotExist:
            return None
        if not (field.is_relation and field.related_model and not field.many_to_many):
            return None
        current = field.related_model
    return None


@register(Tags.models)
def check_catalogue_relations(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """``PERSONALIZE_CATALOGUE_SELECT_RELATED`` / ``_PREFETCH_RELATED`` name real relations."""
    from django.apps import apps
    from django.conf import settings as project

    errors: list[CheckMessage] = []
    model = None
    with contextlib.suppress(LookupError, ValueError):  # personalize.E006 reports it
        model = apps.get_model(settings.PRODUCT_MODEL) if settings.PRODUCT_MODEL else None
    for name, forward_only in (("SELECT_RELATED", True), ("PREFETCH_RELATED", False)):
        setting = f"PERSONALIZE_CATALOGUE_{name}"
        value = getattr(project, setting, ())
        if not isinstance(value, (list, tuple)) or not all(isinstance(p, str) for p in value):
            errors.append(
                Error(
                    f"{setting} must be a list of relation paths, got {value!r}.",
                    hint=f'E.g. {setting} = ["category"] (paths use "__", as in Django '
                    f"{name.lower()}()).",
                    id="personalize.E008",
                )
            )
            continue
        if model is None:
            continue
        for path in value:
            problem = _relation_problem(model, path, forward_only=forward_only)
            if problem:
                errors.append(
                    Error(
                        f"{setting} has {path!r}: {problem}.",
                        hint="Name foreign keys or one-to-one fields for SELECT_RELATED, any "
                        "relation (many-to-many, reverse foreign key) for PREFETCH_RELATED, "
                        'joined with "__".',
                        id="personalize.E008",
                    )
                )
    return errors


def _relation_problem(model: Any, path: str, *, forward_only: bool) -> str:
    """Why ``path`` is not a relation path on ``model`` ("" when it is)."""
    for part in path.split("__"):
        # Reverse relations are named by their accessor (``related_name`` or ``x_set``),
        # as prefetch_related() and select_related() spell them.
        field = next(
            (
                f
                for f in model._meta.get_fields()
                if (f.get_accessor_name() if f.auto_created and not f.concrete else f.name) == part
            ),
            None,
        )
        if field is None or not field.is_relation:
            return f"{model._meta.label} has no relation {part!r}"
        if forward_only and not (field.many_to_one or field.one_to_one):
            return f"{part!r} is many-valued: name it in PERSONALIZE_CATALOGUE_PREFETCH_RELATED"
        model = field.related_model
    return ""


@register(Tags.caches, deploy=True)
def check_shared_rate_limit(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """W007 (``check --deploy``): the events limit must be shared by every app server."""
    from personalize.profiles.base import get_store
    from personalize.ratelimit import is_process_local

    try:
        limiter = get_store().rate_limiter()
    except Exception:  # a store that cannot be built: personalize.E001 says why
        return []
    if limiter is not None or not is_process_local():
        return []
    return [
        Warning(
            "PERSONALIZE_EVENTS_RATE_LIMIT is counted per process: the default cache is local "
            "to each process, so N app servers accept N times the limit.",
            hint="Configure a shared cache in CACHES (Redis or Memcached), or use the Redis "
            "profile store, which counts in Redis.",
            id="personalize.W007",
        )
    ]


@register(Tags.staticfiles)
def check_api_docs_assets(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """The API docs page loads Swagger UI from ``drf_spectacular_sidecar``'s static files."""
    if apps.is_installed("drf_spectacular_sidecar"):
        return []
    return [
        Warning(
            "The API docs page (/personalize/api/docs/) cannot load Swagger UI: its files "
            "come from drf_spectacular_sidecar, which is not in INSTALLED_APPS.",
            hint="Add 'drf_spectacular_sidecar' to INSTALLED_APPS (it is installed with "
            "personalize); the schema at /personalize/api/schema/ works without it.",
            id="personalize.W008",
        )
    ]
