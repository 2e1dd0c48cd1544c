"""Who may address someone other than the current visitor: one question, one answer."""

from __future__ import annotations

from rest_framework.request import Request


def key_has_scope(request: Request, scope: str) -> bool:
    """Whether ``request`` carries an API key granted ``scope`` (``"decisions:read"``...).

    The headless endpoints serve the visitor whose cookie comes with the request; the
    parameters that address another person (``visitor_id``, ``user_id``, ``email``) are
    honoured only when this says yes. The API-key branch implements it (an
    ``Authorization: Bearer <key>`` authentication class sets ``request.auth`` to the
    key, whose scopes this checks). Until then no request has a key: always ``False``.
    """
    return False
