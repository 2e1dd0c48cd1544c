"""What a request tells us about the visit: path, referrer, UTM, device, country."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from django.http import HttpRequest

from personalize.conf import settings
from personalize.identity.device import device_class

MAX_PATH = 300
MAX_UA = 512
UTM_KEYS = ("source", "medium", "campaign", "term", "content")
_UTM_VALUE_RE = re.compile(r"[^\w .:/@+-]", re.UNICODE)
_COUNTRY_RE = re.compile(r"^[A-Z]{2}$")


def header(request: HttpRequest, name: str, limit: int = MAX_PATH) -> str:
    """A request header, bounded and safe to encode (shoppers can send any bytes)."""
    value = request.headers.get(name, "")[:limit]
    return value.encode("utf-8", "replace").decode("utf-8")


def clean_utm_value(value: str) -> str:
    """UTM values are shopper-controlled: lower-case, strip odd characters, bound length."""
    return _UTM_VALUE_RE.sub("", value.strip().lower())[:80]


def referrer_domain(referrer: str) -> str:
    try:
        host = urlsplit(referrer).hostname or ""
    except ValueError:
        return ""
    return host.removeprefix("www.")[:100]


@dataclass(frozen=True)
class VisitContext:
    """The request facts a visit records, already validated and bounded."""

    now: float
    path: str = "/"
    referrer: str = ""
    utm: dict[str, str] = field(default_factory=dict)
    device: str = "desktop"
    country: str = ""
    user_agent: str = ""

    @classmethod
    def from_request(cls, request: HttpRequest, now: float) -> VisitContext:
        user_agent = header(request, "User-Agent", MAX_UA)
        referrer = header(request, "Referer")
        own_host = request.get_host() if _host_is_valid(request) else ""
        if referrer and referrer_domain(referrer) == own_host.split(":")[0].removeprefix("www."):
            referrer = ""  # internal navigation is not a referrer
        utm = {}
        for key in UTM_KEYS:
            raw = request.GET.get(f"utm_{key}")
            if raw:
                value = clean_utm_value(raw)
                if value:
                    utm[key] = value
        country = ""
        country_header = settings.COUNTRY_HEADER
        if country_header:
            candidate = request.headers.get(country_header, "").strip().upper()
            country = candidate if _COUNTRY_RE.match(candidate) else ""
        return cls(
            now=now,
            path=request.path[:MAX_PATH],
            referrer=referrer,
            utm=utm,
            device=device_class(user_agent),
            country=country,
            user_agent=user_agent,
        )


def _host_is_valid(request: HttpRequest) -> bool:
    try:
        request.get_host()
    except Exception:  # DisallowedHost: not ours to raise from tracking code
        return False
    return True
