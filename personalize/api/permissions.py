"""Who may call the integrator endpoints of the API.

One place decides: the views name these classes and nothing else, so adding API
keys (an authentication class and a ``segments:read`` scope) changes this module only.
"""

from __future__ import annotations

from typing import Any

from rest_framework.authentication import BaseAuthentication, SessionAuthentication
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from personalize.permissions import staff_with_any_perm

#: How callers of the segment endpoints authenticate: the admin's session for now.
SEGMENT_API_AUTHENTICATION: list[type[BaseAuthentication]] = [SessionAuthentication]


class CanReadSegments(BasePermission):
    """Active staff allowed to view (or change) segments."""

    message = (
        "Reading segment members needs a staff account with the “Can view segment” "
        "permission: log in to the admin first."
    )

    def has_permission(self, request: Request, view: Any) -> bool:
        return staff_with_any_perm(
            request, "personalize.view_segment", "personalize.change_segment"
        )
