"""The privacy page in the admin: look a person up, export them, erase them; the audit trail."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html_join
from django.utils.safestring import SafeString
from django.views.decorators.cache import never_cache

from personalize.admin_pages import model_page_context
from personalize.privacy.models import PrivacyRequest
from personalize.privacy.person import IDENTIFIER_KINDS, Identifier, InvalidIdentifier
from personalize.privacy.service import erase_person, export_person, look_up, requester
from personalize.profiles.base import StoreUnavailable

if TYPE_CHECKING:
    _PrivacyRequestAdminBase = admin.ModelAdmin[PrivacyRequest]
else:
    _PrivacyRequestAdminBase = admin.ModelAdmin

__all__ = ["PERMISSION", "PersonForm", "PrivacyRequestAdmin"]

#: Who may look people up, export and erase them (viewing the audit trail is not enough).
PERMISSION = "personalize.handle_privacy_requests"

KIND_LABELS = {"email": "Email", "user_id": "User id", "visitor_id": "Visitor id"}


class PersonForm(forms.Form):
    """Whom the request is about. Sent by POST only: identifiers stay out of URLs and logs."""

    kind = forms.ChoiceField(
        label="Find the person by", choices=[(k, KIND_LABELS[k]) for k in IDENTIFIER_KINDS]
    )
    value = forms.CharField(
        label="Their email, user id or visitor id",
        max_length=320,
        error_messages={"required": "Enter the email, user id or visitor id to look up."},
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if "kind" in cleaned and "value" in cleaned:
            try:
                cleaned["identifier"] = Identifier.parse(cleaned["kind"], cleaned["value"])
            except InvalidIdentifier as exc:
                self.add_error("value", str(exc))
        return cleaned


class PrivacyRequestAdmin(_PrivacyRequestAdminBase):
    """Read-only audit trail; its change list links to the page that makes new entries."""

    list_display = ["created_at", "kind", "requested_by", "identifier_kind", "records"]
    list_filter = ["kind", "identifier_kind"]
    readonly_fields = ["kind", "requested_by", "identifier_kind", "counts_table", "created_at"]
    fields = ["kind", "requested_by", "identifier_kind", "counts_table", "created_at"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_view_permission(self, request: HttpRequest, obj: PrivacyRequest | None = None) -> bool:
        # Whoever handles requests sees their trail (and finds the page from its list).
        return super().has_view_permission(request, obj) or request.user.has_perm(PERMISSION)

    def has_change_permission(
        self, request: HttpRequest, obj: PrivacyRequest | None = None
    ) -> bool:
        return False

    def has_delete_permission(
        self, request: HttpRequest, obj: PrivacyRequest | None = None
    ) -> bool:
        return False  # an audit trail nobody can edit, in the admin at least

    @admin.display(description="records")
    def records(self, obj: PrivacyRequest) -> int:
        return obj.total

    @admin.display(description="records by kind")
    def counts_table(self, obj: PrivacyRequest) -> SafeString:
        rows = sorted(obj.counts.items())
        return format_html_join("", "<div>{}: {}</div>", ((k, v) for k, v in rows))

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        extra = {"can_handle_requests": request.user.has_perm(PERMISSION)}
        return super().changelist_view(request, {**extra, **(extra_context or {})})

    def get_urls(self) -> list[URLPattern]:
        prefix = f"{self.opts.app_label}_{self.opts.model_name}"

        def view(function: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
            return self.admin_site.admin_view(never_cache(function))

        return [
            path("person/", view(self.person_view), name=f"{prefix}_person"),
            *super().get_urls(),
        ]

    def person_view(self, request: HttpRequest) -> HttpResponse:
        """Look up (counts), then export (a download) or erase (after a confirmation)."""
        if not request.user.has_perm(PERMISSION):
            raise PermissionDenied
        context = model_page_context(self, request, "Look up, export or erase a person")
        if request.method != "POST":
            context["form"] = PersonForm()
            return self._render(request, context)
        form = PersonForm(request.POST)
        context["form"] = form
        if not form.is_valid():
            return self._render(request, context)
        identifier: Identifier = form.cleaned_data["identifier"]
        action = request.POST.get("action", "lookup")
        try:
            if action == "export":
                return self._export(request, identifier)
            if action == "erase" and request.POST.get("confirmed") == "yes":
                return self._erase(request, identifier)
            lookup = look_up(identifier)
        except StoreUnavailable:
            context["message"] = (
                "The profile store is not reachable right now; nothing was exported or "
                "erased. Try again in a moment."
            )
            return self._render(request, context)
        context.update(
            {
                "lookup": lookup,
                "counts": sorted((k.replace("_", " "), n) for k, n in lookup.counts.items()),
                "kind_label": KIND_LABELS[identifier.kind],
                "confirming": action == "erase",
            }
        )
        return self._render(request, context)

    def _render(self, request: HttpRequest, context: dict[str, Any]) -> HttpResponse:
        return TemplateResponse(request, "personalize/admin/privacy_person.html", context)

    def _export(self, request: HttpRequest, identifier: Identifier) -> HttpResponse:
        document = export_person(identifier, requested_by=requester(request.user))
        response = HttpResponse(
            json.dumps(document, indent=2, sort_keys=True, default=str),
            content_type="application/json",
        )
        # The file name says what it is, not whom: no identifier in a download folder.
        stamp = document["generated_at"][:19].replace(":", "-")
        response["Content-Disposition"] = f'attachment; filename="personal-data-{stamp}.json"'
        return response

    def _erase(self, request: HttpRequest, identifier: Identifier) -> HttpResponse:
        erasure = erase_person(identifier, requested_by=requester(request.user))
        summary = ", ".join(f"{count} {kind}" for kind, count in erasure.counts.items() if count)
        self.message_user(
            request,
            f"Erased {erasure.total} record(s){': ' + summary if summary else ''}.",
            messages.SUCCESS,
        )
        return redirect(reverse(f"{self.admin_site.name}:personalize_privacyrequest_changelist"))
