"""The signed first-party visitor cookie."""

from __future__ import annotations

import re
import secrets

from django.http import HttpRequest, HttpResponseBase

from personalize.conf import settings

SALT = "personalize.visitor"
VISITOR_ID_RE = re.compile(r"^[0-9a-f]{32}$")


def new_visitor_id() -> str:
    """A random, unguessable visitor id (128 bits, hex)."""
    return secrets.token_hex(16)


def is_valid_visitor_id(value: object) -> bool:
    return isinstance(value, str) and VISITOR_ID_RE.match(value) is not None


def read_visitor_id(request: HttpRequest) -> str | None:
    """The visitor id from the cookie, or None when absent, tampered or malformed."""
    raw = request.COOKIES.get(settings.COOKIE_NAME)
    if not raw or len(raw) > 200:
        return None
    value = request.get_signed_cookie(settings.COOKIE_NAME, default=None, salt=SALT)
    return value if is_valid_visitor_id(value) else None


def write_visitor_id(request: HttpRequest, response: HttpResponseBase, visitor_id: str) -> None:
    response.set_signed_cookie(
        settings.COOKIE_NAME,
        visitor_id,
        salt=SALT,
        max_age=settings.COOKIE_AGE,
        domain=settings.COOKIE_DOMAIN,
        secure=request.is_secure(),
        httponly=True,
        samesite="Lax",
    )


def delete_visitor_cookie(response: HttpResponseBase) -> None:
    response.delete_cookie(settings.COOKIE_NAME, domain=settings.COOKIE_DOMAIN, samesite="Lax")
