"""The segment admin: rule builder, size estimates, testing against a visitor, static members."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.contrib import admin, messages
from django.contrib.admin.actions import delete_selected as django_delete_selected
from django.contrib.auth import get_user_model
from django.contrib.humanize.templatetags.humanize import naturaltime
from django.core.paginator import Paginator
from django.db import connections, transaction
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from personalize import configuration
from personalize.admin_pages import page_context, page_object
from personalize.attributes import attributes_for_profile
from personalize.conditions import validate_condition
from personalize.conf import settings
from personalize.identity.cookies import is_valid_visitor_id
from personalize.profiles.base import StoreUnavailable, get_store
from personalize.profiles.profile import Profile
from personalize.segments import csv_import
from personalize.segments.forms import MemberForm, MemberUploadForm, SegmentForm
from personalize.segments.models import Segment, SegmentMember
from personalize.segments.registry import build_registry
from personalize.segments.rule_builder import explain_condition

if TYPE_CHECKING:
    _SegmentAdminBase = admin.ModelAdmin[Segment]
else:
    _SegmentAdminBase = admin.ModelAdmin

__all__ = ["SegmentAdmin", "duplicate_segment", "find_profile"]

MEMBERS_PER_PAGE = 100


def _plain(queryset: QuerySet[Segment]) -> QuerySet[Segment]:
    """The selected rows without the changelist's member-count annotation (for updates)."""
    return Segment.objects.using(queryset.db).filter(
        pk__in=list(queryset.values_list("pk", flat=True))
    )


def _rename_group(condition: Any, old: str, new: str) -> Any:
    """``condition`` with ``{"$inGroup": old}`` (and ``$notInGroup``) pointing at ``new``."""
    if isinstance(condition, list):
        return [_rename_group(item, old, new) for item in condition]
    if not isinstance(condition, dict):
        return condition
    return {
        key: new
        if key in ("$inGroup", "$notInGroup") and value == old
        else _rename_group(value, old, new)
        for key, value in condition.items()
    }


def duplicate_segment(segment: Segment) -> Segment:
    """A disabled copy of ``segment`` with its static members, under a free slug."""
    using = settings.DATABASE_ALIAS
    base = f"{segment.slug}-copy"[:74]
    taken = set(
        Segment.objects.using(using).filter(slug__startswith=base).values_list("slug", flat=True)
    )
    slug = base
    number = 2
    while slug in taken:
        slug = f"{base}-{number}"
        number += 1
    with transaction.atomic(using=using):
        copy = Segment.objects.using(using).create(
            name=f"Copy of {segment.name}"[:100],
            slug=slug,
            description=segment.description,
            enabled=False,
            condition=_rename_group(segment.condition, segment.slug, slug),
            position=segment.position,
        )
        members = SegmentMember.objects.using(using).filter(segment=segment)
        SegmentMember.objects.using(using).bulk_create(
            SegmentMember(segment=copy, kind=member.kind, value=member.value)
            for member in members.iterator(chunk_size=2000)
        )
    return copy


def find_profile(query: str) -> Profile | None:
    """The stored profile for a visitor id, a user id or an email, or ``None``.

    Raises :class:`~personalize.profiles.base.StoreUnavailable` when the store is down.
    """
    store = get_store()
    query = query.strip()
    visitor_id: str | None = None
    if is_valid_visitor_id(query.lower()):
        visitor_id = query.lower()
    elif query.isdigit():
        visitor_id = store.visitor_for_user(query)
    elif "@" in query:
        visitor_id = _visitor_for_email(query)
    return store.load(visitor_id) if visitor_id else None


def _visitor_for_email(email: str) -> str | None:
    store = get_store()
    user_model = get_user_model()
    email_field = user_model.get_email_field_name()
    user = user_model._default_manager.filter(**{f"{email_field}__iexact": email}).first()
    if user is not None:
        visitor_id = store.visitor_for_user(str(user.pk))
        if visitor_id:
            return visitor_id
    # Identified visitors without an account: only stores that index emails find them.
    return store.visitor_for_email(email)


class SegmentAdmin(_SegmentAdminBase):
    form = SegmentForm
    list_display = ["name", "slug", "enabled", "builtin", "size_estimate", "member_count"]
    list_display_links = ["name"]
    list_filter = ["enabled", "builtin"]
    search_fields = ["name", "slug", "description"]
    prepopulated_fields = {"slug": ["name"]}
    list_per_page = 50
    actions = ["enable_segments", "disable_segments", "duplicate_segments", "delete_selected"]
    fieldsets = [
        (None, {"fields": ["name", "slug", "description", "enabled", "position"]}),
        ("Who is in this segment", {"fields": ["condition"]}),
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Segment]:
        return super().get_queryset(request).annotate(_member_count=Count("members"))

    # --- changelist -----------------------------------------------------------------

    @admin.display(description="estimated size", ordering="estimated_size")
    def size_estimate(self, obj: Segment) -> SafeString:
        if obj.estimated_at is None:
            return format_html(
                "not estimated yet — run <code>{}</code>", "manage.py personalize_segment_sizes"
            )
        when = naturaltime(obj.estimated_at)
        if obj.estimated_size is None:
            return format_html("not estimated: disabled at the time<br><small>{}</small>", when)
        population = obj.estimated_population or 0
        share = f"{100 * obj.estimated_size / population:.1f}%" if population else "n/a"
        return format_html(
            "{} of {} visitors ({})<br><small>{}</small>",
            f"{obj.estimated_size:,}",
            f"{population:,}",
            share,
            when,
        )

    @admin.display(description="static members", ordering="_member_count")
    def member_count(self, obj: Segment) -> int:
        return int(getattr(obj, "_member_count", 0))

    # --- actions ------------------------------------------------------------------

    @admin.action(description="Enable selected segments", permissions=["change"])
    def enable_segments(self, request: HttpRequest, queryset: QuerySet[Segment]) -> None:
        count = _plain(queryset).update(enabled=True)
        configuration.bump_on_commit()
        self.message_user(request, f"Enabled {count} segment(s).", messages.SUCCESS)

    @admin.action(description="Disable selected segments", permissions=["change"])
    def disable_segments(self, request: HttpRequest, queryset: QuerySet[Segment]) -> None:
        count = _plain(queryset).update(enabled=False)
        configuration.bump_on_commit()
        self.message_user(request, f"Disabled {count} segment(s).", messages.SUCCESS)

    # Duplicating creates rows, so it needs the add permission, not just change.
    @admin.action(
        description="Duplicate selected segments (as disabled copies)", permissions=["add"]
    )
    def duplicate_segments(self, request: HttpRequest, queryset: QuerySet[Segment]) -> None:
        copies = [duplicate_segment(segment) for segment in queryset.order_by("position", "pk")]
        names = ", ".join(copy.name for copy in copies)
        self.message_user(
            request,
            f"Created {len(copies)} disabled cop{'ies' if len(copies) != 1 else 'y'}: {names}. "
            "Edit and enable them when ready.",
            messages.SUCCESS,
        )

    @admin.action(description="Delete selected segments", permissions=["delete"])
    def delete_selected(
        self, request: HttpRequest, queryset: QuerySet[Segment]
    ) -> HttpResponse | None:
        builtin = list(queryset.filter(builtin=True).values_list("name", flat=True))
        if builtin:
            self.message_user(
                request,
                f"Built-in segments cannot be deleted (disable them instead); skipped: "
                f"{', '.join(builtin)}.",
                messages.WARNING,
            )
        deletable = queryset.filter(builtin=False)
        if not deletable.exists():
            return None
        return django_delete_selected(self, request, deletable)

    def has_delete_permission(self, request: HttpRequest, obj: Segment | None = None) -> bool:
        if obj is not None and obj.builtin:
            return False
        return super().has_delete_permission(request, obj)

    # --- change form --------------------------------------------------------------

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: Segment | None = None,
    ) -> HttpResponse:
        if obj is not None and obj.pk:
            context["member_count"] = SegmentMember.objects.filter(segment=obj).count()
        return super().render_change_form(request, context, add, change, form_url, obj)

    # --- extra views --------------------------------------------------------------

    def get_urls(self) -> list[URLPattern]:
        prefix = f"{self.opts.app_label}_{self.opts.model_name}"

        def view(function: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
            return self.admin_site.admin_view(function)

        return [
            path("<path:object_id>/test/", view(self.test_view), name=f"{prefix}_test"),
            path(
                "<path:object_id>/members/",
                view(self.members_view),
                name=f"{prefix}_members",
            ),
            path(
                "<path:object_id>/members/upload/",
                view(self.members_upload_view),
                name=f"{prefix}_members_upload",
            ),
            path(
                "<path:object_id>/members/clear/",
                view(self.members_clear_view),
                name=f"{prefix}_members_clear",
            ),
            path(
                "<path:object_id>/members/<int:member_id>/remove/",
                view(self.member_remove_view),
                name=f"{prefix}_member_remove",
            ),
            *super().get_urls(),
        ]

    def _segment(self, request: HttpRequest, object_id: str, *, change: bool = False) -> Segment:
        return page_object(self, request, object_id, change=change)

    def _context(self, request: HttpRequest, segment: Segment, title: str) -> dict[str, Any]:
        return {**page_context(self, request, segment, title), "segment": segment}

    def test_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Read-only: would this visitor be in the segment right now, and why (not)?"""
        segment = self._segment(request, object_id)
        query = request.GET.get("visitor", "").strip()[:320]
        context = self._context(request, segment, "Test against a visitor")
        context["query"] = query
        if query:
            try:
                profile = find_profile(query)
            except StoreUnavailable:
                context["message"] = (
                    "The profile store is not reachable right now; try again in a moment."
                )
            else:
                if profile is None:
                    context["message"] = (
                        f"No visitor profile found for “{query}”. Enter a visitor id "
                        "(32 hex characters, from the visitor cookie or the event log), "
                        "a user id, or the email of a customer."
                    )
                else:
                    context.update(_test_result(segment, profile))
        return TemplateResponse(request, "personalize/admin/segment_test.html", context)

    def members_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        segment = self._segment(request, object_id, change=request.method == "POST")
        add_form = MemberForm(request.POST if request.method == "POST" else None)
        if request.method == "POST" and add_form.is_valid():
            _, created = SegmentMember.objects.get_or_create(
                segment=segment,
                kind=add_form.cleaned_data["kind"],
                value=add_form.cleaned_data["value"],
            )
            if created:
                self.message_user(request, "Member added.", messages.SUCCESS)
            else:
                self.message_user(request, "Already a member.", messages.INFO)
            return redirect(request.path)
        return self._render_members(request, segment, add_form, MemberUploadForm())

    def members_upload_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        segment = self._segment(request, object_id, change=True)
        if request.method != "POST":
            return redirect(self._members_url(segment))
        form = MemberUploadForm(request.POST, request.FILES)
        report = None
        if form.is_valid():
            report = csv_import.import_members(segment, form.cleaned_data["file"])
            self.message_user(
                request,
                f"Imported {report.imported:,} member(s); {report.duplicates:,} duplicate(s) "
                f"skipped; {report.error_count:,} row error(s).",
                messages.SUCCESS if not report.error_count else messages.WARNING,
            )
            form = MemberUploadForm()
        return self._render_members(request, segment, MemberForm(), form, report)

    def members_clear_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        segment = self._segment(request, object_id, change=True)
        count = SegmentMember.objects.filter(segment=segment).count()
        if request.method == "POST":
            using = settings.DATABASE_ALIAS
            table = connections[using].ops.quote_name(SegmentMember._meta.db_table)
            # One statement, no per-row signals: a list can hold 100,000 members.
            with transaction.atomic(using=using), connections[using].cursor() as cursor:
                cursor.execute(f"DELETE FROM {table} WHERE segment_id = %s", [segment.pk])  # noqa: S608
            configuration.bump_on_commit()
            self.message_user(request, f"Removed all {count:,} member(s).", messages.SUCCESS)
            return redirect(self._members_url(segment))
        context = self._context(request, segment, "Remove all static members")
        context["count"] = count
        return TemplateResponse(request, "personalize/admin/segment_members_clear.html", context)

    def member_remove_view(
        self, request: HttpRequest, object_id: str, member_id: int
    ) -> HttpResponse:
        segment = self._segment(request, object_id, change=True)
        if request.method == "POST":
            deleted = SegmentMember.objects.filter(segment=segment, pk=member_id).first()
            if deleted is not None:
                deleted.delete()
                self.message_user(request, f"Removed {deleted.value}.", messages.SUCCESS)
        return redirect(self._members_url(segment))

    def _members_url(self, segment: Segment) -> str:
        name = f"{self.admin_site.name}:{self.opts.app_label}_{self.opts.model_name}_members"
        return reverse(name, args=[segment.pk])

    def _render_members(
        self,
        request: HttpRequest,
        segment: Segment,
        add_form: MemberForm,
        upload_form: MemberUploadForm,
        report: csv_import.ImportResult | None = None,
    ) -> HttpResponse:
        query = request.GET.get("q", "").strip()[:320]
        members = SegmentMember.objects.filter(segment=segment).order_by("-added_at", "-pk")
        if query:
            members = members.filter(value__icontains=query)
        page = Paginator(members, MEMBERS_PER_PAGE).get_page(request.GET.get("page"))
        context = self._context(request, segment, "Static members")
        context.update(
            {
                "page": page,
                "query": query,
                "total": SegmentMember.objects.filter(segment=segment).count(),
                "add_form": add_form,
                "upload_form": upload_form,
                "report": report,
                "uses_list": f'"$inGroup": "{segment.slug}"' in json.dumps(segment.condition),
            }
        )
        return TemplateResponse(request, "personalize/admin/segment_members.html", context)


def _test_result(segment: Segment, profile: Profile) -> dict[str, Any]:
    attributes = attributes_for_profile(profile, time.time())
    registry = build_registry()
    in_segments = registry.evaluate(attributes)
    condition = segment.condition if isinstance(segment.condition, dict) else {}
    problems = validate_condition(segment.condition)
    matched, clauses = explain_condition(condition, attributes, registry.groups)
    return {
        "profile": profile,
        "matched": matched and not problems,
        "clauses": clauses,
        "problems": problems,
        "in_segments": in_segments,
        "attributes_json": json.dumps(
            attributes, indent=2, sort_keys=True, default=str, ensure_ascii=False
        ),
    }
