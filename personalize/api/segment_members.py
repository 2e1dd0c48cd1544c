"""``GET /personalize/api/v1/segments/<slug>/members/``: who is in a segment now.

Membership is evaluated on each stored profile, as the hourly size estimate does,
from a stream of profiles: memory stays bounded by the page size (JSON) or by one
row (CSV), whatever the number of profiles.

JSON pages are keyset-paginated on the visitor id: ``next_cursor`` is an opaque,
signed token for the page after this one. CSV (``?format=csv`` or
``Accept: text/csv``) streams every member in one response.
"""

from __future__ import annotations

import csv
import heapq
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, Final

from django.core import signing
from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from personalize.api.base import KeyProtectedView
from personalize.api.openapi import DETAIL, key_errors
from personalize.api.permissions import SEGMENT_API_AUTHENTICATION, CanReadSegments
from personalize.attributes import attributes_for_profile
from personalize.profiles.base import BaseProfileStore, get_store
from personalize.profiles.profile import Profile
from personalize.segments.registry import CompiledSegment, SegmentRegistry, get_registry

DEFAULT_LIMIT: Final = 100
MAX_LIMIT: Final = 1000
CURSOR_SALT: Final = "personalize.segment-members"
COLUMNS: Final = (
    "visitor_id",
    "user_id",
    "email",
    "last_seen",
    "visit_count",
    "orders_count",
    "total_spent",
    "days_since_last_order",
    "lifecycle_stage",
    "rfm_segment",
)


class BadRequest(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def member_row(profile: Profile, attributes: dict[str, Any]) -> dict[str, Any]:
    rfm = attributes.get("rfm")
    return {
        "visitor_id": profile.visitor_id,
        "user_id": profile.user_id or None,
        "email": profile.email or None,
        "last_seen": (
            datetime.fromtimestamp(profile.last_seen, tz=UTC).isoformat().replace("+00:00", "Z")
            if profile.last_seen
            else None
        ),
        "visit_count": profile.visit_count,
        "orders_count": attributes["orders_count"],
        "total_spent": attributes["total_spent"],
        "days_since_last_order": attributes["days_since_last_order"],
        "lifecycle_stage": attributes["lifecycle_stage"],
        "rfm_segment": rfm.get("segment") if isinstance(rfm, dict) else None,
    }


def iter_members(
    profiles: Iterator[Profile], registry: SegmentRegistry, slug: str, now: float
) -> Iterator[dict[str, Any]]:
    """The members among ``profiles``, one at a time."""
    for profile in profiles:
        attributes = attributes_for_profile(profile, now)
        if slug in registry.evaluate(attributes):
            yield member_row(profile, attributes)


def _cursor(after: str) -> str:
    return signing.dumps({"after": after}, salt=CURSOR_SALT, compress=True)


def _read_cursor(raw: str) -> str:
    try:
        value = signing.loads(raw, salt=CURSOR_SALT)
    except signing.BadSignature:
        value = None
    if not isinstance(value, dict) or not isinstance(value.get("after"), str):
        raise BadRequest(
            "cursor",
            "This cursor is not one this API issued (or it was cut short): pass the "
            "next_cursor of the previous page unchanged, or leave cursor out to start over.",
        )
    return str(value["after"])


def _read_limit(raw: str | None) -> int:
    if raw is None or raw == "":
        return DEFAULT_LIMIT
    try:
        limit = int(raw)
    except ValueError:
        limit = 0
    if not 1 <= limit <= MAX_LIMIT:
        raise BadRequest(
            "limit", f"limit must be a whole number from 1 to {MAX_LIMIT}, not {raw[:20]!r}."
        )
    return limit


def _wants_csv(request: Request) -> bool:
    fmt = request.query_params.get("format")
    if fmt is not None:
        if fmt not in ("json", "csv"):
            raise BadRequest("format", f"format must be json or csv, not {fmt[:20]!r}.")
        return fmt == "csv"
    return "text/csv" in request.META.get("HTTP_ACCEPT", "")


class _Echo:
    """A file-like object whose write returns the line: csv.writer without a buffer."""

    def write(self, value: str) -> str:
        return value


def csv_lines(members: Iterator[dict[str, Any]]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(COLUMNS)
    for member in members:
        yield writer.writerow(["" if member[c] is None else member[c] for c in COLUMNS])


class MemberSerializer(serializers.Serializer[dict[str, Any]]):
    visitor_id = serializers.CharField()
    user_id = serializers.CharField(allow_null=True)
    email = serializers.CharField(allow_null=True)
    last_seen = serializers.DateTimeField(allow_null=True)
    visit_count = serializers.IntegerField()
    orders_count = serializers.IntegerField()
    total_spent = serializers.FloatField()
    days_since_last_order = serializers.IntegerField(allow_null=True)
    lifecycle_stage = serializers.CharField()
    rfm_segment = serializers.CharField(allow_null=True)


class SegmentRefSerializer(serializers.Serializer[dict[str, Any]]):
    slug = serializers.CharField()
    name = serializers.CharField()


class MembersPageSerializer(serializers.Serializer[dict[str, Any]]):
    segment = SegmentRefSerializer()
    count = serializers.IntegerField()
    members = MemberSerializer(many=True)
    next_cursor = serializers.CharField(allow_null=True)


class FieldErrorSerializer(serializers.Serializer[dict[str, Any]]):
    detail = serializers.CharField()
    field = serializers.CharField()


@extend_schema(
    tags=["v1"],
    summary="The members of a segment (JSON pages or a CSV file)",
    description=(
        "Who is in the segment now, evaluated on every stored profile. JSON pages are "
        "ordered by visitor id; pass `next_cursor` back as `cursor` for the next page "
        "(`null` on the last). `?format=csv` (or `Accept: text/csv`) streams every "
        "member in one CSV file instead. Needs an API key with `segments:read`, or an "
        "admin session of staff allowed to view segments."
    ),
    parameters=[
        OpenApiParameter("limit", OpenApiTypes.INT, description="Members a page, 1 to 1000 (100)."),
        OpenApiParameter("cursor", OpenApiTypes.STR, description="`next_cursor` of the last page."),
        OpenApiParameter("format", OpenApiTypes.STR, enum=["json", "csv"]),
    ],
    responses={
        (200, "application/json"): MembersPageSerializer,
        (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="Every member."),
        400: OpenApiResponse(
            FieldErrorSerializer,
            examples=[
                OpenApiExample(
                    "Bad limit",
                    {"detail": "limit must be a whole number from 1 to 1000.", "field": "limit"},
                    status_codes=["400"],
                )
            ],
        ),
        404: OpenApiResponse(DETAIL, description="No such segment, or it is disabled."),
        **key_errors("segments:read"),
    },
)
class SegmentMembersView(KeyProtectedView):
    """The members of one segment, as JSON pages or one streamed CSV file."""

    authentication_classes = SEGMENT_API_AUTHENTICATION
    permission_classes = [CanReadSegments]

    def get(self, request: Request, slug: str) -> Response | StreamingHttpResponse:
        registry = get_registry()
        segment = _segment(registry, slug)
        if segment is None:
            if slug in registry.known_slugs:
                detail = f"Segment {slug!r} is disabled: enable it in the admin to list members."
            else:
                detail = (
                    f"There is no segment {slug!r}: check the slug in the admin's segment list."
                )
            return Response({"detail": detail}, status=404)
        try:
            wants_csv = _wants_csv(request)
            limit = _read_limit(request.query_params.get("limit"))
            raw_cursor = request.query_params.get("cursor")
            after = _read_cursor(raw_cursor) if raw_cursor else ""
        except BadRequest as exc:
            return Response({"detail": exc.message, "field": exc.field}, status=400)
        store = get_store()
        now = time.time()
        if wants_csv:
            members = iter_members(store.iter_profiles(), registry, slug, now)
            response = StreamingHttpResponse(csv_lines(members), content_type="text/csv")
            response["Content-Disposition"] = f'attachment; filename="segment-{slug}.csv"'
            response["Cache-Control"] = "private, no-store"
            return response
        page = _page(store.iter_profiles_by_id(after=after), store, registry, slug, after, limit)
        more = len(page) > limit
        page = page[:limit]
        next_cursor = _cursor(page[-1]["visitor_id"]) if more else None
        return Response(
            {
                "segment": {"slug": slug, "name": segment.name},
                "count": len(page),
                "members": page,
                "next_cursor": next_cursor,
            },
            headers={"Cache-Control": "private, no-store"},
        )


def _segment(registry: SegmentRegistry, slug: str) -> CompiledSegment | None:
    return next((s for s in registry.segments if s.slug == slug), None)


def _page(
    ordered: Iterator[Profile] | None,
    store: BaseProfileStore,
    registry: SegmentRegistry,
    slug: str,
    after: str,
    limit: int,
) -> list[dict[str, Any]]:
    """Up to ``limit + 1`` members after ``after``, in visitor-id order."""
    now = time.time()
    if ordered is not None:
        page = []
        for member in iter_members(ordered, registry, slug, now):
            page.append(member)
            if len(page) > limit:
                break
        return page
    # The store scans in no order: keep only the smallest ids seen (bounded by limit).
    candidates = (p for p in store.iter_profiles() if p.visitor_id > after)
    members = iter_members(candidates, registry, slug, now)
    return heapq.nsmallest(limit + 1, members, key=lambda m: str(m["visitor_id"]))
