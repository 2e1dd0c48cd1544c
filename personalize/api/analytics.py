"""``GET /personalize/api/analytics/summary/``: the dashboard's numbers as JSON or CSV."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from personalize.analytics.export import TABLES, csv_response, summary_json
from personalize.analytics.summary import MAX_DAYS, RangeError, parse_range, summarize
from personalize.api.base import KeyProtectedView
from personalize.api.openapi import key_errors
from personalize.api.permissions import SEGMENT_API_AUTHENTICATION, CanReadAnalytics
from personalize.api.segment_members import FieldErrorSerializer


class KpisSerializer(serializers.Serializer[dict[str, Any]]):
    visitors = serializers.IntegerField(help_text="Distinct visitor ids with an event.")
    visits = serializers.IntegerField(help_text="Distinct (visitor, visit number) pairs.")
    orders = serializers.IntegerField(help_text="`purchase` events.")
    revenue = serializers.FloatField(help_text="Sum of the purchases' `value`.")
    conversion_rate = serializers.FloatField(
        allow_null=True, help_text="Visits with an order ÷ visits (0-1)."
    )
    aov = serializers.FloatField(allow_null=True, help_text="Revenue ÷ orders.")
    revenue_per_visitor = serializers.FloatField(allow_null=True)
    email_captures = serializers.IntegerField(help_text="Visitors with an `identify` event.")
    capture_rate = serializers.FloatField(allow_null=True, help_text="Captures ÷ visitors.")


class PeriodSerializer(KpisSerializer):
    start = serializers.DateField()
    end = serializers.DateField()


class InfluenceSerializer(serializers.Serializer[dict[str, Any]]):
    orders = serializers.IntegerField()
    revenue = serializers.FloatField()


class InfluencedSerializer(serializers.Serializer[dict[str, Any]]):
    campaigns = InfluenceSerializer()
    widgets = InfluenceSerializer()


class SegmentRowSerializer(serializers.Serializer[dict[str, Any]]):
    dimension = serializers.ChoiceField(
        choices=["visitor_type", "lifecycle", "rfm", "device", "utm_source"]
    )
    segment = serializers.CharField()
    visitors = serializers.IntegerField()
    visits = serializers.IntegerField()
    orders = serializers.IntegerField()
    revenue = serializers.FloatField()
    conversion_rate = serializers.FloatField(allow_null=True)
    aov = serializers.FloatField(allow_null=True)


class DaySerializer(serializers.Serializer[dict[str, Any]]):
    date = serializers.DateField()
    visitors = serializers.IntegerField()
    visits = serializers.IntegerField()
    orders = serializers.IntegerField()
    revenue = serializers.FloatField()
    conversion_rate = serializers.FloatField(allow_null=True)


class SummarySerializer(PeriodSerializer):
    currency = serializers.CharField()
    influenced = InfluencedSerializer(help_text="Orders attributed to campaigns and widgets.")
    previous = PeriodSerializer(help_text="The period of equal length just before.")
    segments = SegmentRowSerializer(many=True)
    daily = DaySerializer(many=True)
    rolled_at = serializers.DateTimeField(allow_null=True)
    missing_days = serializers.ListField(
        child=serializers.DateField(),
        help_text="Days never rolled up (counted as empty): run personalize_rollup.",
    )


EXAMPLE = {
    "start": "2026-11-01",
    "end": "2026-11-30",
    "currency": "EUR",
    "visitors": 1200,
    "visits": 1800,
    "orders": 54,
    "revenue": 3240.5,
    "conversion_rate": 0.03,
    "aov": 60.01,
    "revenue_per_visitor": 2.7,
    "email_captures": 96,
    "capture_rate": 0.08,
    "influenced": {
        "campaigns": {"orders": 12, "revenue": 810.0},
        "widgets": {"orders": 9, "revenue": 240.5},
    },
    "previous": {"start": "2026-10-02", "end": "2026-10-31", "visitors": 1100, "...": "..."},
    "segments": [
        {
            "dimension": "visitor_type",
            "segment": "returning",
            "visitors": 500,
            "visits": 900,
            "orders": 40,
            "revenue": 2600.0,
            "conversion_rate": 0.044,
            "aov": 65.0,
        }
    ],
    "daily": [
        {
            "date": "2026-11-01",
            "visitors": 40,
            "visits": 60,
            "orders": 2,
            "revenue": 120.0,
            "conversion_rate": 0.033,
        }
    ],
    "rolled_at": "2026-11-30T10:05:00Z",
    "missing_days": [],
}


@extend_schema(
    tags=["v1"],
    summary="The analytics summary of a date range (JSON, or CSV tables)",
    description=(
        "The dashboard's numbers for `start` to `end` (UTC days, both included, at most "
        f"{MAX_DAYS} days), and for the period of equal length before it: visitors, visits, "
        "orders and revenue (`purchase` events and their `value`), conversion rate, AOV, "
        "email captures, revenue influenced by campaigns and widgets, a breakdown by "
        "segment dimension and a daily series. Read from the daily rollups; up to 7 days "
        "never rolled up are rolled up first, and any others are listed in `missing_days`. "
        "`?format=csv&table=kpis|segments|daily|campaigns|widgets` downloads one table. "
        "Needs an API key with `analytics:read`, or an admin "
        "session of staff with the “Can view dashboard” permission. docs/analytics.md "
        "defines every figure."
    ),
    parameters=[
        OpenApiParameter("start", OpenApiTypes.DATE, required=True, description="First day."),
        OpenApiParameter("end", OpenApiTypes.DATE, required=True, description="Last day."),
        OpenApiParameter("format", OpenApiTypes.STR, enum=["json", "csv"]),
        OpenApiParameter("table", OpenApiTypes.STR, enum=list(TABLES), description="With CSV."),
    ],
    responses={
        (200, "application/json"): OpenApiResponse(
            SummarySerializer,
            examples=[OpenApiExample("November", EXAMPLE, status_codes=["200"])],
        ),
        (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="One table."),
        400: OpenApiResponse(
            FieldErrorSerializer,
            examples=[
                OpenApiExample(
                    "Bad date",
                    {
                        "detail": "start must be a date like 2026-01-31 (YYYY-MM-DD), not '1/2'.",
                        "field": "start",
                    },
                    status_codes=["400"],
                ),
                OpenApiExample(
                    "Too long",
                    {
                        "detail": "start to end is 400 days; ask for 366 at most "
                        "(an earlier end or a later start).",
                        "field": "end",
                    },
                    status_codes=["400"],
                ),
            ],
        ),
        **key_errors("analytics:read"),
    },
)
class AnalyticsSummaryView(KeyProtectedView):
    """The analytics summary of one date range."""

    authentication_classes = SEGMENT_API_AUTHENTICATION
    permission_classes = [CanReadAnalytics]

    def get(self, request: Request) -> Response | HttpResponse:
        params = request.query_params
        fmt = params.get("format") or "json"
        table = params.get("table") or "kpis"
        try:
            period = parse_range(params.get("start"), params.get("end"))
            if fmt not in ("json", "csv"):
                raise RangeError("format", f"format must be json or csv, not {fmt[:20]!r}.")
            if fmt == "csv" and table not in TABLES:
                raise RangeError(
                    "table", f"table must be one of {', '.join(TABLES)}, not {table[:20]!r}."
                )
        except RangeError as exc:
            return Response({"detail": exc.message, "field": exc.field}, status=400)
        summary = summarize(period)
        if fmt == "csv":
            return csv_response(summary, table)
        return Response(summary_json(summary), headers={"Cache-Control": "private, no-store"})
