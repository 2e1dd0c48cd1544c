"""A strict Content-Security-Policy for the shop's pages, with a fresh nonce per request.

personalize's tags read ``request.csp_nonce`` (the attribute django-csp uses) and put
it on the scripts and styles they emit, so the policy needs no 'unsafe-inline'.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

EXEMPT_PREFIXES = ("/admin/",)  # Django's admin is outside the shop's policy


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        nonce = secrets.token_urlsafe(16)
        request.csp_nonce = nonce  # type: ignore[attr-defined]
        response = self.get_response(request)
        if request.path.startswith(EXEMPT_PREFIXES):
            return response
        response.headers.setdefault(
            "Content-Security-Policy",
            "; ".join(
                [
                    "default-src 'self'",
                    f"script-src 'self' 'nonce-{nonce}'",
                    f"style-src 'self' 'nonce-{nonce}'",
                    "img-src 'self' data:",
                    "connect-src 'self'",
                    "form-action 'self'",
                    "frame-ancestors 'self'",
                    "base-uri 'self'",
                    "object-src 'none'",
                ]
            ),
        )
        return response
