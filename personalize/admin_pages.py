"""What the app's extra admin pages (results, preview, members...) share."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import Http404, HttpRequest

if TYPE_CHECKING:
    from django.contrib import admin

M = TypeVar("M", bound=models.Model)


class ReadOnlyAdmin:
    """Mixed into a ``ModelAdmin`` whose pages only show (a report, an audit trail):
    nobody adds, changes or deletes its rows from the admin."""

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def page_object(
    model_admin: admin.ModelAdmin[M], request: HttpRequest, object_id: str, *, change: bool = False
) -> M:
    """The object a page is about: 404 if missing, 403 without view (or ``change``) rights."""
    obj = model_admin.get_object(request, unquote(object_id))
    if obj is None:
        raise Http404(f"No {model_admin.opts.verbose_name} with this id.")
    allowed = (
        model_admin.has_change_permission(request, obj)
        if change
        else model_admin.has_view_or_change_permission(request, obj)
    )
    if not allowed:
        raise PermissionDenied
    return obj


def page_context(
    model_admin: admin.ModelAdmin[M], request: HttpRequest, obj: M, title: str
) -> dict[str, Any]:
    """The admin's own context for a page about ``obj`` (breadcrumbs, object tools)."""
    return {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.opts,
        "original": obj,
        "title": title,
        "subtitle": str(getattr(obj, "name", obj)),
        "has_change_permission": model_admin.has_change_permission(request, obj),
        "has_view_permission": model_admin.has_view_or_change_permission(request, obj),
    }


def model_page_context(
    model_admin: admin.ModelAdmin[M], request: HttpRequest, title: str
) -> dict[str, Any]:
    """The admin's own context for a page about the model as a whole (no one object)."""
    return {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.opts,
        "title": title,
        "has_view_permission": model_admin.has_view_permission(request),
    }
