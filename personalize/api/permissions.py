"""Who may call the integrator endpoints of the API: a server with an API key, or a
merchandiser signed in to the admin.

One place decides: the views name these classes and nothing else.
"""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, SessionAuthentication
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from personalize.api.auth import ApiKeyAuthentication, HasScope, request_key
from personalize.permissions import staff_with_any_perm

#: How callers of the segment endpoints authenticate: an API key (``Authorization:
#: Bearer``), else the admin's session (a merchandiser downloading a CSV).
SEGMENT_API_AUTHENTICATION: list[type[BaseAuthentication]] = [
    ApiKeyAuthentication,
    SessionAuthentication,
]


class KeyOrStaff(BasePermission):
    """An API key with :attr:`scope`, or active staff with one of :attr:`perms`."""

    scope: str = ""
    perms: tuple[str, ...] = ()
    staff_message: str = ""

    def has_permission(self, request: Request, view: Any) -> bool:
        if request_key(request) is not None:
            return bool(HasScope(self.scope)().has_permission(request, view))
        if staff_with_any_perm(request, *self.perms):
            return True
        fix = (
            f"Send an API key with the scope '{self.scope}' (Authorization: Bearer <key>), "
            f"or {self.staff_message}"
        )
        if request.user and request.user.is_authenticated:
            raise exceptions.PermissionDenied(fix)
        raise exceptions.NotAuthenticated(fix)


class CanReadSegments(KeyOrStaff):
    """An API key with ``segments:read``, or staff allowed to view (or change) segments."""

    scope = "segments:read"
    perms = ("personalize.view_segment", "personalize.change_segment")
    staff_message = "sign in to the admin as staff with the “Can view segment” permission."


class CanReadAnalytics(KeyOrStaff):
    """An API key with ``analytics:read``, or staff allowed to view the dashboard."""

    scope = "analytics:read"
    perms = ("personalize.view_dashboard",)
    staff_message = "sign in to the admin as staff with the “Can view dashboard” permission."
