"""Staff preview: view the site as a segment with ``?pz_preview=<slug>``.

The choice is remembered in a signed browser-session cookie, so only requests
that carry it (staff) ever look up the user; everyone else pays nothing.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponseBase

from personalize.conf import settings
from personalize.permissions import staff_with_any_perm

PARAM = "pz_preview"
SALT = "personalize.preview"
EXIT_VALUES = ("", "off", "0", "exit")


def _may_preview(request: HttpRequest) -> bool:
    return staff_with_any_perm(request, "personalize.view_segment", "personalize.change_segment")


def requested_preview(request: HttpRequest) -> str | None:
    """The slug a staff member asked to preview, or None.

    Ignored unless the user is active staff with permission to view segments.
    """
    if PARAM in request.GET:
        value = request.GET.get(PARAM, "").strip()[:80]
        if value in EXIT_VALUES or not _may_preview(request):
            return None
        return value
    raw = request.COOKIES.get(settings.PREVIEW_COOKIE_NAME)
    if not raw:
        return None
    signed = request.get_signed_cookie(settings.PREVIEW_COOKIE_NAME, default=None, salt=SALT)
    if not signed or not _may_preview(request):
        return None
    return str(signed)[:80]


def remember_preview(request: HttpRequest, response: HttpResponseBase, slug: str | None) -> None:
    """Set or clear the preview cookie when the query parameter changed it."""
    if PARAM not in request.GET:
        if slug is None and settings.PREVIEW_COOKIE_NAME in request.COOKIES:
            response.delete_cookie(settings.PREVIEW_COOKIE_NAME)
        return
    if slug is None:
        response.delete_cookie(settings.PREVIEW_COOKIE_NAME)
    else:
        response.set_signed_cookie(
            settings.PREVIEW_COOKIE_NAME,
            slug,
            salt=SALT,
            httponly=True,
            samesite="Lax",
            secure=request.is_secure(),
        )
