"""Authentication, scopes and throttling of the key-protected API (``/personalize/api/v1/``).

Any view of the app (or of a shop) protected by an API key uses the three classes::

    class SegmentMembersView(KeyProtectedView):
        permission_classes = [HasScope("segments:read")]

``request.auth`` is then the :class:`~personalize.api.models.ApiKey`; ``request.user``
is anonymous (a key acts for an integration, not for a person). The browser endpoints
(``/personalize/api/visitor/``, ``/personalize/api/events/``) do not use keys: they
keep their same-origin and signed-token checks.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AnonymousUser
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from personalize.api.keys import SCOPES, token_matches, token_prefix
from personalize.api.models import ApiKey
from personalize.ratelimit import WINDOW, allow

KEYWORD = "Bearer"
MISSING_KEY = (
    "An API key is required: send 'Authorization: Bearer pz_…' with a key created in "
    "the admin (Personalization > API keys)."
)
BAD_KEY = "Unknown API key: check that the whole key was copied, or create a new one."
REVOKED_KEY = "This API key was revoked: create a new one in the admin."


class ApiKeyAuthentication(BaseAuthentication):
    """``Authorization: Bearer pz_<prefix>_<secret>`` → ``request.auth`` is the ApiKey.

    No header: not authenticated (the permission answers 401). A header naming an
    unknown, malformed or revoked key: 401 at once.
    """

    def authenticate(self, request: Request) -> tuple[AnonymousUser, ApiKey] | None:
        header = get_authorization_header(request).split()
        if not header:
            return None
        if header[0].lower() != KEYWORD.lower().encode() or len(header) != 2:
            raise exceptions.AuthenticationFailed(
                "Malformed Authorization header: use 'Authorization: Bearer <key>'."
            )
        try:
            token = header[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed(BAD_KEY) from None
        prefix = token_prefix(token)
        key = ApiKey.objects.filter(prefix=prefix).first() if prefix else None
        if key is None or not token_matches(token, key.secret_hash):
            raise exceptions.AuthenticationFailed(BAD_KEY)
        if not key.is_active:
            raise exceptions.AuthenticationFailed(REVOKED_KEY)
        key.mark_used()
        return AnonymousUser(), key

    def authenticate_header(self, request: Request) -> str:
        # Present, so DRF answers 401 (with this challenge), not 403.
        return f'{KEYWORD} realm="personalize"'


def request_key(request: Request) -> ApiKey | None:
    """The API key the request authenticated with, if any."""
    auth = request.auth
    return auth if isinstance(auth, ApiKey) else None


class _ScopePermission(BasePermission):
    scope: str = ""

    def has_permission(self, request: Request, view: Any) -> bool:
        key = request_key(request)
        if key is None:
            raise exceptions.NotAuthenticated(MISSING_KEY)
        if not key.has_scope(self.scope):
            raise exceptions.PermissionDenied(
                f"This API key lacks the scope '{self.scope}': add it to the key in the "
                "admin, or use a key that has it."
            )
        return True


def HasScope(scope: str) -> type[BasePermission]:  # reads as a class in permission_classes
    """A permission class requiring an API key with ``scope``.

    ``permission_classes = [HasScope("segments:read")]``. An unknown scope is a
    programming error, caught when the view module is imported.
    """
    if scope not in SCOPES:
        raise ValueError(f"Unknown scope {scope!r}; use one of {', '.join(SCOPES)}.")
    return type(f"HasScope[{scope}]", (_ScopePermission,), {"scope": scope})


class ApiKeyRateThrottle(BaseThrottle):
    """At most ``ApiKey.rate_limit`` requests a minute per key, counted by every process.

    Counted by the same limiter as the browser events (``personalize.ratelimit``): the
    store's own (an exact sliding window in Redis) or Django's cache.
    """

    def allow_request(self, request: Request, view: Any) -> bool:
        key = request_key(request)
        if key is None:
            return True  # the permission has refused it already
        return allow(f"apikey-{key.prefix}", 1, key.rate_limit)

    def wait(self) -> float:
        return float(WINDOW)
