"""Who may use the staff-only tools on the shop's own pages (previews, the toolbar)."""

from __future__ import annotations

from typing import Any


def staff_with_any_perm(request: Any, *perms: str) -> bool:
    """An active staff user holding at least one of ``perms`` (``"app_label.codename"``).

    ``is_staff`` alone is not enough: a staff member without personalize's permissions
    must not see segment names or force what shoppers are shown.
    """
    user = getattr(request, "user", None)
    return bool(
        user is not None
        and user.is_authenticated
        and user.is_active
        and user.is_staff
        and any(user.has_perm(perm) for perm in perms)
    )
