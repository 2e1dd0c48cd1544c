"""API keys: the token format, how secrets are hashed, and the scopes a key can hold.

A token reads ``pz_<prefix>_<secret>``: the prefix (8 hex characters) is stored in
clear so a key can be found and recognised in the admin, the secret (43 URL-safe
characters, 256 random bits) only as a keyed SHA-256 (HMAC) of the whole token.
A slow password hasher protects low-entropy passwords against guessing; a 256-bit
random secret cannot be guessed, and the HMAC is cheap enough to check on every
request. The HMAC key derives from ``SECRET_KEY`` and falls back to
``SECRET_KEY_FALLBACKS``, so rotating ``SECRET_KEY`` the Django way keeps keys valid.
"""

from __future__ import annotations

import hmac
import re
import secrets
from dataclasses import dataclass

from django.conf import settings as django_settings
from django.utils.crypto import salted_hmac

#: Every scope a key can be given: ``resource:action``.
SCOPES: dict[str, str] = {
    "events:write": "send server-to-server events (POST /personalize/api/v1/events/)",
    "decisions:read": "read campaign decisions for a visitor",
    "recommendations:read": "read product recommendations for a visitor",
    "segments:read": "read segments and their members",
    "analytics:read": "read the analytics summary and campaign and widget results",
    "privacy:write": "erase and export a person's data",
}

#: Requests a key may make per minute unless its row says otherwise.
DEFAULT_RATE_LIMIT = 600

TOKEN_PREFIX = "pz_"
_TOKEN_RE = re.compile(r"^pz_([0-9a-f]{8})_([A-Za-z0-9_-]{43})$")
_SALT = "personalize.api.keys"


@dataclass(frozen=True)
class NewToken:
    """A freshly generated key: ``token`` is shown once, only ``prefix`` and ``hashed`` kept."""

    token: str
    prefix: str
    hashed: str


def hash_token(token: str, secret: str | bytes | None = None) -> str:
    """The stored form of ``token``: hex HMAC-SHA256 keyed from ``SECRET_KEY``."""
    return salted_hmac(
        _SALT, token, secret=secret or django_settings.SECRET_KEY, algorithm="sha256"
    ).hexdigest()


def generate_token() -> NewToken:
    prefix = secrets.token_hex(4)
    token = f"{TOKEN_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    return NewToken(token=token, prefix=prefix, hashed=hash_token(token))


def token_prefix(token: str) -> str | None:
    """The prefix of a well-formed token, ``None`` for anything else."""
    match = _TOKEN_RE.match(token)
    return match.group(1) if match else None


def token_matches(token: str, hashed: str) -> bool:
    """Whether ``token`` hashes to ``hashed`` under ``SECRET_KEY`` or one of its fallbacks."""
    secrets_to_try = [django_settings.SECRET_KEY, *django_settings.SECRET_KEY_FALLBACKS]
    return any(hmac.compare_digest(hash_token(token, secret), hashed) for secret in secrets_to_try)


def invalid_scopes(scopes: object) -> list[str]:
    """The entries of ``scopes`` that are not known scopes (everything, if not a list)."""
    if not isinstance(scopes, list):
        return [repr(scopes)]
    return [str(scope) for scope in scopes if scope not in SCOPES]
