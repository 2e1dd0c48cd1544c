"""Admin for webhooks (configuration, the secret, disable notices) and the delivery log."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from personalize.webhooks.models import (
    DeliveryStatus,
    EventType,
    Webhook,
    WebhookDelivery,
    new_secret,
)

if TYPE_CHECKING:
    from django.contrib.admin import AdminSite

    _WebhookFormBase = forms.ModelForm[Webhook]
    _WebhookAdminBase = admin.ModelAdmin[Webhook]
    _DeliveryAdminBase = admin.ModelAdmin[WebhookDelivery]
else:
    _WebhookFormBase = forms.ModelForm
    _WebhookAdminBase = admin.ModelAdmin
    _DeliveryAdminBase = admin.ModelAdmin


class WebhookForm(_WebhookFormBase):
    url = forms.URLField(
        label="URL",
        max_length=500,
        assume_scheme="https",
        help_text="Where events are POSTed, e.g. https://crm.example.com/hooks/personalize.",
    )
    events = forms.MultipleChoiceField(
        choices=EventType.choices,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Choose at least one event to send."},
        help_text="segment.entered / segment.left can be limited to some segments below.",
    )

    class Meta:
        model = Webhook
        fields = ["name", "url", "events", "segments", "is_active"]


class WebhookAdmin(_WebhookAdminBase):
    form = WebhookForm
    list_display = ["name", "url", "event_list", "is_active", "consecutive_failures"]
    list_filter = ["is_active"]
    search_fields = ["name", "url"]
    filter_horizontal = ["segments"]
    actions = ["rotate_secret"]
    readonly_fields = ["secret_display", "consecutive_failures", "disabled_reason", "disabled_at"]
    fieldsets = [
        (None, {"fields": ["name", "url", "events", "segments", "is_active"]}),
        (
            "Signing secret and health",
            {
                "fields": [
                    "secret_display",
                    "consecutive_failures",
                    "disabled_reason",
                    "disabled_at",
                ]
            },
        ),
    ]

    @admin.display(description="events")
    def event_list(self, obj: Webhook) -> str:
        return ", ".join(str(e) for e in obj.events)

    @admin.display(description="signing secret")
    def secret_display(self, obj: Webhook) -> str:
        if not obj.pk:
            return "Generated when you save; shown here afterwards."
        return format_html(
            "<code>{}</code><br><span class='help'>Give it to the receiver: it checks "
            "X-Personalize-Signature with it (docs/webhooks.md).</span>",
            obj.secret,
        )

    def save_model(self, request: HttpRequest, obj: Webhook, form: Any, change: bool) -> None:
        if obj.is_active:
            # Re-activated by hand: start counting failures afresh.
            obj.consecutive_failures = 0
            obj.disabled_reason = ""
            obj.disabled_at = None
        super().save_model(request, obj, form, change)

    @admin.action(description="Generate a new signing secret", permissions=["change"])
    def rotate_secret(self, request: HttpRequest, queryset: QuerySet[Webhook]) -> None:
        # One row at a time: each webhook gets a secret of its own.
        names = []
        for webhook in queryset.order_by("name"):
            webhook.secret = new_secret()
            webhook.save(update_fields=["secret", "updated_at"])
            names.append(webhook.name)
        self.message_user(
            request,
            f"New signing secret for {', '.join(names)}: requests are signed with it from "
            "now on (retries too), so update the receiver now.",
            messages.SUCCESS,
        )

    def _notify_disabled(self, request: HttpRequest, webhooks: QuerySet[Webhook]) -> None:
        for webhook in webhooks.filter(is_active=False).exclude(disabled_reason=""):
            messages.warning(
                request, f"Webhook “{webhook.name}” is disabled. {webhook.disabled_reason}"
            )

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        if request.method == "GET":
            self._notify_disabled(request, self.get_queryset(request))
        return super().changelist_view(request, extra_context)

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        if request.method == "GET":
            self._notify_disabled(request, self.get_queryset(request).filter(pk=object_id))
        return super().change_view(request, object_id, form_url, extra_context)


class WebhookDeliveryAdmin(_DeliveryAdminBase):
    """The delivery log: read-only, with a "retry now" action."""

    list_display = [
        "created_at",
        "webhook",
        "event_type",
        "status",
        "attempts",
        "last_response_code",
        "next_attempt_at",
        "delivered_at",
    ]
    list_filter = ["status", "event_type", "webhook"]
    list_select_related = ["webhook"]
    date_hierarchy = "created_at"
    actions = ["retry_now"]
    readonly_fields = (
        "webhook",
        "event_type",
        "status",
        "attempts",
        "next_attempt_at",
        "last_response_code",
        "last_error",
        "created_at",
        "delivered_at",
        "attempts_table",
        "body_display",
    )
    fields = readonly_fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        # The change permission is there for the retry action; the page itself is a record.
        context = {
            **(extra_context or {}),
            "show_save": False,
            "show_save_and_continue": False,
            "show_save_and_add_another": False,
        }
        return super().change_view(request, object_id, form_url, context)

    @admin.display(description="body")
    def body_display(self, obj: WebhookDelivery) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.body, indent=2, sort_keys=True))

    @admin.display(description="attempts log")
    def attempts_table(self, obj: WebhookDelivery) -> str:
        if not obj.attempt_log:
            return "No attempt yet."
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    entry.get("attempt"),
                    entry.get("at"),
                    entry.get("status") or "—",
                    entry.get("ms"),
                    entry.get("error") or "OK",
                )
                for entry in obj.attempt_log
                if isinstance(entry, dict)
            ),
        )
        return format_html(
            "<table><tr><th>#</th><th>at</th><th>HTTP</th><th>ms</th><th>result</th></tr>{}"
            "</table>",
            rows,
        )

    @admin.action(description="Retry selected deliveries now", permissions=["change"])
    def retry_now(self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]) -> None:
        selected = WebhookDelivery.objects.using(queryset.db).filter(
            pk__in=list(queryset.values_list("pk", flat=True))
        )
        count = selected.filter(status__in=[DeliveryStatus.PENDING, DeliveryStatus.FAILED]).update(
            status=DeliveryStatus.PENDING, next_attempt_at=timezone.now(), claim_token=""
        )
        skipped = selected.count() - count
        self.message_user(
            request,
            f"{count} deliveries will be sent on the worker's next pass.",
            messages.SUCCESS,
        )
        if skipped:
            self.message_user(
                request,
                f"{skipped} selected deliveries were left alone: already delivered or being "
                "sent right now.",
                messages.WARNING,
            )
        inactive = selected.filter(webhook__is_active=False).values_list("webhook__name", flat=True)
        names = sorted(set(inactive))
        if names:
            self.message_user(
                request,
                f"Webhook(s) {', '.join(names)} are disabled: their deliveries wait until you "
                "tick “active” on the webhook again.",
                messages.WARNING,
            )


def register(site: AdminSite) -> None:
    """Register the webhook admin and the delivery log on ``site``."""
    site.register(Webhook, WebhookAdmin)
    site.register(WebhookDelivery, WebhookDeliveryAdmin)
