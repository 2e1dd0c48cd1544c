"""Who may address someone other than the current visitor: one question, one answer."""

from __future__ import annotations

from rest_framework.request import Request

from personalize.api.auth import request_key


def key_has_scope(request: Request, scope: str) -> bool:
    """Whether ``request`` carries an API key granted ``scope`` (``"decisions:read"``...).

    The headless endpoints serve the visitor whose cookie comes with the request; the
    parameters that address another person (``visitor_id``, ``user_id``, ``email``) are
    honoured only when this says yes. ``ApiKeyAuthentication`` has set ``request.auth``
    to the key (an unknown or revoked key never gets this far: 401).
    """
    key = request_key(request)
    return key is not None and key.has_scope(scope)
