"""Signal receivers: recognise a customer across devices when they log in."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpRequest

from personalize.identity.visitor import Visitor


@receiver(user_logged_in, dispatch_uid="personalize.merge_visitor_on_login")
def merge_visitor_on_login(
    sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any
) -> None:
    """Fold this browser's anonymous profile into the user's profile (or adopt it)."""
    visitor = getattr(request, "visitor", None)
    if isinstance(visitor, Visitor):
        visitor.login(str(user.pk))


@receiver(setting_changed, dispatch_uid="personalize.reset_store_on_setting_change")
def reset_store_on_setting_change(setting: str, **kwargs: Any) -> None:
    """``override_settings(PERSONALIZE_STORE=...)`` in tests gets a fresh store instance."""
    if setting.startswith("PERSONALIZE_"):
        from personalize.profiles.base import reset_store

        reset_store()
