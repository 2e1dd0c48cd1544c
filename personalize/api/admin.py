"""API keys in the admin: create one (its secret shown once), list, revoke.

The secret is rendered straight into the page that answers the "Save" of a new key,
not put in a message: messages travel in the session or a cookie, and the secret
must not be stored anywhere but in the client that uses it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone

from personalize.api.keys import SCOPES
from personalize.api.models import ApiKey

if TYPE_CHECKING:
    _ApiKeyAdminBase = admin.ModelAdmin[ApiKey]
    _ApiKeyFormBase = forms.ModelForm[ApiKey]
else:
    _ApiKeyAdminBase = admin.ModelAdmin
    _ApiKeyFormBase = forms.ModelForm

__all__ = ["ApiKeyAdmin"]


class ApiKeyForm(_ApiKeyFormBase):
    scopes = forms.MultipleChoiceField(
        choices=[(scope, f"{scope}: {what}") for scope, what in SCOPES.items()],
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="Give a key only the scopes its client needs.",
    )

    class Meta:
        model = ApiKey
        fields = ["name", "scopes", "rate_limit"]

    def clean_scopes(self) -> list[str]:
        chosen = set(self.cleaned_data.get("scopes") or [])
        return [scope for scope in SCOPES if scope in chosen]  # stable order


class ApiKeyAdmin(_ApiKeyAdminBase):
    form = ApiKeyForm
    list_display = ["name", "masked", "scope_list", "rate_limit", "last_used_at", "revoked_at"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "prefix"]
    readonly_fields = ["masked", "created_by", "created_at", "last_used_at", "revoked_at"]
    actions = ["revoke"]

    @admin.display(description="key", ordering="prefix")
    def masked(self, obj: ApiKey) -> str:
        return f"pz_{obj.prefix}_…" if obj.prefix else "(shown once, after saving)"

    @admin.display(description="scopes")
    def scope_list(self, obj: ApiKey) -> str:
        return ", ".join(obj.scopes) if isinstance(obj.scopes, list) else ""

    def get_fieldsets(self, request: HttpRequest, obj: ApiKey | None = None) -> Any:
        if obj is None:
            return [(None, {"fields": ["name", "scopes", "rate_limit"]})]
        return [
            (None, {"fields": ["name", "masked", "scopes", "rate_limit"]}),
            ("Use", {"fields": ["created_by", "created_at", "last_used_at", "revoked_at"]}),
        ]

    def save_model(self, request: HttpRequest, obj: ApiKey, form: Any, change: bool) -> None:
        if not change:
            # Kept on the request only, for response_add: never saved, never in a message.
            request._personalize_new_token = obj.issue().token  # type: ignore[attr-defined]
            obj.created_by = request.user if request.user.is_authenticated else None
        super().save_model(request, obj, form, change)

    def response_add(
        self, request: HttpRequest, obj: ApiKey, post_url_continue: str | None = None
    ) -> HttpResponse:
        token = getattr(request, "_personalize_new_token", None)
        if token is None:  # pragma: no cover - save_model always sets it
            return super().response_add(request, obj, post_url_continue)
        # The admin's views send Cache-Control: no-store: the page is in no cache.
        return TemplateResponse(
            request,
            "personalize/admin/api_key_created.html",
            {
                **self.admin_site.each_context(request),
                "title": f"API key “{obj.name}” created",
                "opts": self.opts,
                "key": obj,
                "token": token,
            },
        )

    @admin.action(description="Revoke selected API keys", permissions=["change"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        count = queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
        self.message_user(
            request,
            f"Revoked {count} API key(s): clients using them now get 401.",
            messages.SUCCESS,
        )
