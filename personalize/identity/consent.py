"""Whether this request may be tracked: consent mode and Global Privacy Control."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponseBase

from personalize.conf import settings

GRANTED = "granted"
DENIED = "denied"


def consent_state(request: HttpRequest) -> str:
    """``"granted"``, ``"denied"`` or ``""`` (not asked yet), from the consent cookie."""
    value = request.COOKIES.get(settings.CONSENT_COOKIE_NAME, "")
    return value if value in (GRANTED, DENIED) else ""


def gpc_opt_out(request: HttpRequest) -> bool:
    """Global Privacy Control: ``Sec-GPC: 1`` is a legally binding opt-out in some states."""
    return settings.HONOR_GPC and request.headers.get("Sec-GPC", "").strip() == "1"


def tracking_allowed(request: HttpRequest) -> bool:
    """May we set the visitor cookie and store anything for this request?"""
    state = consent_state(request)
    if state == DENIED or gpc_opt_out(request):
        return False
    if settings.REQUIRE_CONSENT:
        return state == GRANTED
    return True


def set_consent(response: HttpResponseBase, granted: bool, *, secure: bool) -> None:
    """Remember the visitor's choice (a plain cookie so the shop's banner can read it)."""
    response.set_cookie(
        settings.CONSENT_COOKIE_NAME,
        GRANTED if granted else DENIED,
        max_age=settings.COOKIE_AGE,
        domain=settings.COOKIE_DOMAIN,
        secure=secure,
        samesite="Lax",
    )
