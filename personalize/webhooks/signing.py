"""Signing webhook bodies: HMAC-SHA256 over ``timestamp + "." + body``.

The header is ``X-Personalize-Signature: t=<unix seconds>,v1=<hex digest>``. A
receiver recomputes the digest with the webhook's secret over the raw body it
received, compares in constant time and rejects old timestamps (replays);
docs/webhooks.md has the snippet.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

SIGNATURE_HEADER = "X-Personalize-Signature"
#: Receivers should refuse signatures older than this (seconds).
DEFAULT_TOLERANCE = 300


def encode_body(payload: Any) -> bytes:
    """The exact bytes sent (and signed): compact JSON, keys sorted, so retries are identical."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def signature(secret: str, timestamp: int, body: bytes) -> str:
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_header(secret: str, timestamp: int, body: bytes) -> str:
    return f"t={timestamp},v1={signature(secret, timestamp, body)}"


def verify_signature(
    secret: str, header: str, body: bytes, *, now: float, tolerance: int = DEFAULT_TOLERANCE
) -> bool:
    """What a receiver does (in Python); used by the tests' receiver."""
    try:
        fields = dict(part.split("=", 1) for part in header.split(","))
        timestamp = int(fields["t"])
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > tolerance:
        return False
    return hmac.compare_digest(signature(secret, timestamp, body), fields.get("v1", ""))
