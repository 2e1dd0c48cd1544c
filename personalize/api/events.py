"""``POST /personalize/api/events/``: what the runtime reports.

Campaign events (impressions, clicks, closes, control exposures) and recommendation
widget events (``rec_view``, ``rec_click``) arrive in one payload; each item is
validated by the serializer its ``type`` names.

Beacons (``navigator.sendBeacon``) cannot carry a CSRF header, so the endpoint
protects itself instead: the request must come from our own origin (or one in
``CSRF_TRUSTED_ORIGINS``, for a headless storefront on a sibling subdomain) and
carry the signed token the page was rendered with, bound to the visitor's cookie.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast
from urllib.parse import urlsplit

from django.conf import settings as django_settings
from django.core import signing
from django.utils.http import is_same_domain
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from personalize.api.base import BoundedJSONParser, PersonalizeAPIView
from personalize.api.openapi import (
    DETAIL,
    BeaconAcceptedSerializer,
    BeaconRefusedSerializer,
)
from personalize.api.openapi import BeaconSerializer as BeaconDocSerializer
from personalize.campaigns.registry import get_campaign_registry
from personalize.campaigns.rendering import BEACON_SALT
from personalize.conf import settings
from personalize.identity.visitor import get_visitor
from personalize.ratelimit import WINDOW, allow_events
from personalize.recommendations.beacon import active_widget_slots
from personalize.recommendations.models import Strategy
from personalize.tracking.events import validate_event

MAX_BODY = 16 * 1024
MAX_EVENTS = 20
TOKEN_MAX_AGE = 2 * 86400
REPORTABLE = ("exposure", "impression", "click", "close")
WIDGET_EVENTS = ("rec_view", "rec_click")


class BeaconParser(BoundedJSONParser):
    """sendBeacon posts JSON as text/plain to avoid a CORS preflight."""

    media_type = "text/plain"


class CampaignEventSerializer(serializers.Serializer[dict[str, Any]]):
    type = serializers.ChoiceField(choices=REPORTABLE)
    campaign = serializers.SlugField(max_length=80)
    variant = serializers.SlugField(max_length=20)
    kind = serializers.CharField(max_length=10, required=False)
    path = serializers.CharField(max_length=300, required=False, allow_blank=True)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        campaign = get_campaign_registry().by_slug.get(attrs["campaign"])
        if campaign is None:
            raise serializers.ValidationError({"campaign": "Not an active campaign."})
        if attrs["variant"] != "control" and campaign.variant(attrs["variant"]) is None:
            raise serializers.ValidationError({"variant": f"Not a variant of {campaign.slug}."})
        attrs["kind"] = campaign.kind
        return attrs


class WidgetEventSerializer(serializers.Serializer[dict[str, Any]]):
    """A recommendation widget's event; validates to ``{"name", "props"}`` as logged."""

    type = serializers.ChoiceField(choices=WIDGET_EVENTS)
    widget = serializers.SlugField(max_length=64)  # Widget.slot
    strategy = serializers.ChoiceField(choices=Strategy.choices, required=False, allow_blank=True)
    path = serializers.CharField(max_length=300, required=False, allow_blank=True)

    def validate_widget(self, value: str) -> str:
        if value not in active_widget_slots():
            raise serializers.ValidationError(
                f"Not an active widget: {value!r}. Use the slot of an active widget."
            )
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        name = attrs.pop("type")
        props = {key: value for key, value in attrs.items() if value not in ("", None)}
        try:
            props = validate_event(name, props)
        except ValueError as exc:  # a slot too long for the log, say: the report's fault
            raise serializers.ValidationError(str(exc)) from None
        return {"name": name, "props": props}


class WidgetViewSerializer(WidgetEventSerializer):
    """``rec_view``: half the widget came into view, showing ``count`` items; or, with
    ``holdout: true``, the invisible marker of a visitor in the widget's holdout did."""

    count = serializers.IntegerField(
        min_value=1,
        max_value=100,
        required=False,
        error_messages={
            "min_value": "The number of items shown must be from 1 to 100.",
            "max_value": "The number of items shown must be from 1 to 100.",
        },
    )
    holdout = serializers.BooleanField(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs.get("holdout"):
            attrs.pop("holdout", None)  # only the holdout arm is flagged in the log
        elif attrs.get("count") or attrs.get("strategy"):
            raise serializers.ValidationError(
                {"holdout": "A held-out visitor sees no products: send no count or strategy."}
            )
        return super().validate(attrs)


class WidgetClickSerializer(WidgetEventSerializer):
    """``rec_click``: the link of the item at ``position`` (1 = first) was clicked."""

    product_id = serializers.CharField(max_length=64)
    position = serializers.IntegerField(
        min_value=1,
        max_value=100,
        error_messages={
            "min_value": "The item's position must be from 1 (the first item) to 100.",
            "max_value": "The item's position must be from 1 (the first item) to 100.",
        },
    )


EVENT_SERIALIZERS: dict[str, type[serializers.Serializer[dict[str, Any]]]] = {
    **dict.fromkeys(REPORTABLE, CampaignEventSerializer),
    "rec_view": WidgetViewSerializer,
    "rec_click": WidgetClickSerializer,
}


class ReportedEventListSerializer(serializers.ListSerializer[list[dict[str, Any]]]):
    """``events``: the errors are one entry per reported event, ``{}`` for the valid ones.

    DRF 3.18 reports a list's errors as ``{index: errors}`` for the invalid items
    only, unless ``REST_FRAMEWORK["LIST_SERIALIZER_ERRORS_AS_DICT"]`` is False;
    the endpoint's documented shape must not change with the shop's DRF version
    or settings.
    """

    def to_internal_value(self, data: Any) -> list[dict[str, Any]]:
        try:
            return list(super().to_internal_value(data))
        except serializers.ValidationError as exc:
            detail = exc.detail
            if isinstance(detail, dict) and detail and all(isinstance(k, int) for k in detail):
                by_index = cast("dict[int, Any]", detail)  # the stubs know only str keys
                raise serializers.ValidationError(
                    [by_index.get(index, {}) for index in range(len(data))]
                ) from exc
            raise


class ReportedEventSerializer(serializers.Serializer[dict[str, Any]]):
    """One item of ``events``: validated by the serializer its ``type`` names."""

    class Meta:
        list_serializer_class = ReportedEventListSerializer

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        if not isinstance(data, Mapping):
            raise serializers.ValidationError(
                {"non_field_errors": ["Each event must be an object with a type."]}
            )
        kind = data.get("type")
        serializer_class = EVENT_SERIALIZERS.get(kind) if isinstance(kind, str) else None
        if serializer_class is None:
            raise serializers.ValidationError(
                {
                    "type": [
                        f"Unknown event type {str(kind)[:40]!r}: "
                        f"use one of {', '.join(EVENT_SERIALIZERS)}."
                    ]
                }
            )
        serializer = serializer_class(data=data)
        if not serializer.is_valid():
            raise serializers.ValidationError(serializer.errors)
        return dict(serializer.validated_data)


class BeaconSerializer(serializers.Serializer[dict[str, Any]]):
    token = serializers.CharField(max_length=500)
    events = ReportedEventSerializer(many=True, allow_empty=False)

    def validate_events(self, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if len(value) > MAX_EVENTS:
            raise serializers.ValidationError(f"At most {MAX_EVENTS} events per report.")
        return value


def same_origin(request: Request) -> bool:
    """Whether the report comes from our own origin, or from one Django trusts for unsafe
    requests (``CSRF_TRUSTED_ORIGINS``: a headless storefront on a sibling subdomain)."""
    source = request.headers.get("Origin") or request.headers.get("Referer") or ""
    try:
        parts = urlsplit(source)
        host = parts.netloc
        if not host:
            return False
        if host == request._request.get_host():
            return True
    except Exception:  # malformed URL or a host Django refuses: not our origin
        return False
    return trusted_origin(parts.scheme, host)


def trusted_origin(scheme: str, host: str) -> bool:
    """``scheme://host`` is in ``CSRF_TRUSTED_ORIGINS`` (``*.`` wildcards as Django reads them)."""
    for origin in django_settings.CSRF_TRUSTED_ORIGINS:
        trusted = urlsplit(origin)
        if trusted.scheme != scheme:
            continue
        if "*" in trusted.netloc:
            if is_same_domain(host, trusted.netloc.lstrip("*")):
                return True
        elif trusted.netloc == host:
            return True
    return False


@extend_schema(
    tags=["browser"],
    summary="Report what the shopper saw and clicked (browser)",
    description="Sent by the runtime (`navigator.sendBeacon`, JSON as `text/plain`): "
    "campaign impressions, clicks and closes, recommendation widget views and clicks. "
    "Accepted only from the shop's own origin (`Origin` or `Referer`) with the signed "
    f"token of the visitor's page; at most {MAX_EVENTS} events and {MAX_BODY} bytes per "
    "report, `PERSONALIZE_EVENTS_RATE_LIMIT` events a minute per visitor. Not for "
    "servers: they use `POST /personalize/api/v1/events/` with an API key.",
    request={"application/json": BeaconDocSerializer, "text/plain": BeaconDocSerializer},
    examples=[
        OpenApiExample(
            "Impression and widget click",
            {
                "token": "ImFiYWIuLi4i:1vQx2k:…",
                "events": [
                    {
                        "type": "impression",
                        "campaign": "welcome-popup",
                        "variant": "a",
                        "path": "/",
                    },
                    {
                        "type": "rec_click",
                        "widget": "product-similar",
                        "strategy": "similar",
                        "product_id": "7",
                        "position": 2,
                        "path": "/p/7/",
                    },
                ],
            },
            request_only=True,
        ),
        OpenApiExample("Accepted", {"accepted": 2}, response_only=True, status_codes=["200"]),
        OpenApiExample(
            "Stale page",
            {"token": ["Invalid or expired: reload the page."]},
            response_only=True,
            status_codes=["403"],
        ),
    ],
    responses={
        200: BeaconAcceptedSerializer,
        400: OpenApiResponse(
            OpenApiTypes.OBJECT,
            description="Invalid report: DRF's errors by field "
            '(`{"events": [{}, {"type": ["Unknown event type ..."]}]}`) '
            'or `{"detail": ...}`.',
        ),
        403: OpenApiResponse(
            BeaconRefusedSerializer,
            description="Cross-origin, or the token is invalid, expired or another visitor's.",
        ),
        413: OpenApiResponse(DETAIL, description=f"Body over {MAX_BODY} bytes."),
        415: OpenApiResponse(DETAIL, description="Not JSON."),
        429: OpenApiResponse(DETAIL, description="Over the visitor's events per minute."),
    },
)
class EventsView(PersonalizeAPIView):
    permission_classes = [AllowAny]
    authentication_classes: list[Any] = []  # no session auth: no CSRF header on beacons
    parser_classes = [BeaconParser, BoundedJSONParser]

    def post(self, request: Request) -> Response:
        if not same_origin(request):
            return Response({"detail": "Cross-origin event reports are not accepted."}, status=403)
        declared = request.headers.get("Content-Length") or "0"
        if not declared.isdigit():
            return Response(
                {"detail": "Content-Length must be the body's size in bytes."}, status=400
            )
        # The header can be absent (chunked) or lie: the body itself is measured too.
        if int(declared) > MAX_BODY or len(request._request.body) > MAX_BODY:
            return Response({"detail": f"Body too large: at most {MAX_BODY} bytes."}, status=413)
        serializer = BeaconSerializer(data=request.data)
        if not serializer.is_valid():
            return Response(serializer.errors, status=400)
        visitor = get_visitor(request._request)
        if not visitor.tracked:
            return Response({"accepted": 0, "tracked": False})
        try:
            owner = signing.loads(
                serializer.validated_data["token"], salt=BEACON_SALT, max_age=TOKEN_MAX_AGE
            )
        except signing.BadSignature:
            return Response({"token": ["Invalid or expired: reload the page."]}, status=403)
        if owner != visitor.id:
            return Response({"token": ["Belongs to another visitor."]}, status=403)
        events = serializer.validated_data["events"]
        if not allow_events(visitor.id, len(events)):
            return Response(
                {
                    "detail": f"Too many events: at most {settings.EVENTS_RATE_LIMIT} a minute "
                    "per visitor. Report them again later."
                },
                status=429,
                headers={"Retry-After": str(WINDOW)},
            )
        for event in events:
            if "name" in event:  # a widget event, validated as it will be logged
                visitor.track(event["name"], event["props"])
                continue
            visitor.track(
                f"campaign_{event['type']}",
                {
                    "campaign": event["campaign"],
                    "variant": event["variant"],
                    "kind": event["kind"],
                    "path": event.get("path", ""),
                },
            )
        return Response({"accepted": len(events)})
