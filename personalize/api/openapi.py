"""What the OpenAPI schema says about the API: shapes of bodies and errors, examples,
the API-key security scheme. Documentation only: the views validate on their own.

Colleagues documenting a new endpoint reuse :func:`key_errors` and :data:`DETAIL`.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    inline_serializer,
)
from rest_framework import serializers

from personalize.api.keys import SCOPES
from personalize.tracking.events import EVENTS
from personalize.tracking.server import MAX_EVENT_ID, MAX_EVENTS


class ApiKeyScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    """``Authorization: Bearer pz_…`` in the schema (registered by being defined)."""

    target_class = "personalize.api.auth.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "pz_<prefix>_<secret>",
            "description": "An API key from the admin (Personalization > API keys). "
            "Scopes: " + "; ".join(f"`{scope}`: {what}" for scope, what in SCOPES.items()),
        }


class DetailSerializer(serializers.Serializer[dict[str, Any]]):
    detail = serializers.CharField(help_text="What went wrong and how to fix it.")


DETAIL = DetailSerializer


def key_errors(scope: str) -> dict[int, OpenApiResponse]:
    """The 401, 403 and 429 answers of a view protected by an API key with ``scope``."""
    return {
        401: OpenApiResponse(
            DETAIL,
            description="No API key, or an unknown or revoked one.",
            examples=[
                OpenApiExample(
                    "Revoked key",
                    {"detail": "This API key was revoked: create a new one in the admin."},
                    status_codes=["401"],
                )
            ],
        ),
        403: OpenApiResponse(
            DETAIL,
            description=f"The key lacks the scope `{scope}`.",
            examples=[
                OpenApiExample(
                    "Missing scope",
                    {
                        "detail": f"This API key lacks the scope '{scope}': add it to the key "
                        "in the admin, or use a key that has it."
                    },
                    status_codes=["403"],
                )
            ],
        ),
        429: OpenApiResponse(
            DETAIL,
            description="More requests than the key's rate limit (per minute, across every "
            "app server). The `Retry-After` header says how many seconds to wait.",
        ),
    }


# Browser endpoints -------------------------------------------------------------------


class VisitorSerializer(serializers.Serializer[dict[str, Any]]):
    id = serializers.CharField(
        allow_null=True, help_text="The visitor id; null when not tracked (bots, no consent)."
    )
    tracked = serializers.BooleanField()
    is_new = serializers.BooleanField(help_text="In their first visit.")
    is_returning = serializers.BooleanField(help_text="In their second visit or later.")
    visit_count = serializers.IntegerField(min_value=0)
    degraded = serializers.BooleanField(help_text="The profile store did not answer in time.")
    personal = serializers.BooleanField(
        help_text="Whether the personal attributes (email, ids, orders, spend, searches...) "
        "are included: only for the signed-in user who owns the profile (docs/privacy.md)."
    )
    segments = serializers.ListField(child=serializers.CharField())
    attributes = serializers.DictField(help_text="The attribute document (docs/attributes.md).")


class BeaconEventSerializer(serializers.Serializer[dict[str, Any]]):
    type = serializers.ChoiceField(
        choices=["exposure", "impression", "click", "close", "rec_view", "rec_click"],
        help_text="Campaign events carry campaign and variant; widget events widget, "
        "strategy, and count (rec_view) or product_id and position (rec_click); a "
        "visitor in a widget's holdout sends rec_view with holdout: true instead.",
    )


class BeaconSerializer(serializers.Serializer[dict[str, Any]]):
    token = serializers.CharField(
        max_length=500, help_text="The signed token the page was rendered with."
    )
    events = serializers.ListField(child=BeaconEventSerializer(), min_length=1, max_length=20)


class BeaconAcceptedSerializer(serializers.Serializer[dict[str, Any]]):
    accepted = serializers.IntegerField(min_value=0)
    tracked = serializers.BooleanField(
        required=False, help_text="Present and false when the visitor is not tracked."
    )


class BeaconRefusedSerializer(serializers.Serializer[dict[str, Any]]):
    detail = serializers.CharField(required=False)
    token = serializers.ListField(child=serializers.CharField(), required=False)


# Server-to-server events ---------------------------------------------------------------


@extend_schema_field(
    {
        "oneOf": [
            {"type": "string", "format": "date-time", "example": "2026-12-01T09:30:00Z"},
            {"type": "number", "minimum": 0, "example": 1796117400},
        ],
        "description": "When it happened: ISO 8601 with a timezone, or seconds since the "
        "epoch. Within PERSONALIZE_RETENTION_DAYS, at most 5 minutes ahead. Default: now.",
    }
)
class TimestampField(serializers.Field[Any, Any, Any, Any]):
    pass


class ServerEventSerializer(serializers.Serializer[dict[str, Any]]):
    event_id = serializers.CharField(
        max_length=MAX_EVENT_ID,
        help_text="Unique to this event across everything the shop sends (a UUID, "
        "'order-1001'): sending it again never counts it twice.",
    )
    name = serializers.ChoiceField(choices=sorted(EVENTS))
    props = serializers.DictField(
        required=False, help_text="The event's props, as for personalize.track()."
    )
    timestamp = TimestampField(required=False)


class EventBatchSerializer(serializers.Serializer[dict[str, Any]]):
    visitor_id = serializers.RegexField(
        r"^[0-9a-f]{32}$", required=False, help_text="The pz_vid cookie's visitor id."
    )
    user_id = serializers.CharField(
        max_length=64, required=False, help_text="Your user's primary key (as on login)."
    )
    email = serializers.EmailField(required=False)
    events = serializers.ListField(
        child=ServerEventSerializer(), min_length=1, max_length=MAX_EVENTS
    )


class EventBatchResultSerializer(serializers.Serializer[dict[str, Any]]):
    visitor_id = serializers.CharField(help_text="The profile the events went to.")
    received = serializers.IntegerField(min_value=0)
    recorded = serializers.IntegerField(min_value=0, help_text="New events, applied now.")
    duplicates = serializers.IntegerField(
        min_value=0, help_text="Events sent before: not applied again."
    )


class EventFieldErrorSerializer(serializers.Serializer[dict[str, Any]]):
    # Not "FieldError": that component is the {detail, field} answer of the GET endpoints.
    index = serializers.IntegerField(
        allow_null=True, help_text="The event's position in events; null: the batch itself."
    )
    field = serializers.CharField(help_text="The field's path, e.g. props.items[0].price.")
    message = serializers.CharField()


# Built with inline_serializer: a field named ``errors`` would shadow Serializer.errors.
BatchErrorsSerializer = inline_serializer(
    "BatchErrors", fields={"errors": EventFieldErrorSerializer(many=True)}
)


def headless_schema(
    *, summary: str, description: str, parameters: list[Any], example: dict[str, Any]
) -> Any:
    """The schema of a headless GET endpoint (``/v1/decisions/``, ``/v1/recommendations/``):
    the current visitor by cookie, or another person with a key holding the scope."""
    person = [
        OpenApiParameter(
            name,
            OpenApiTypes.STR,
            description=f"Answer about this person ({what}) instead of the cookie's visitor: "
            "needs an API key with the endpoint's scope. At most one of the three.",
        )
        for name, what in (
            ("visitor_id", "32 hex characters"),
            ("user_id", "the shop's user id"),
            ("email", "an identified email"),
        )
    ]
    return extend_schema(
        tags=["v1"],
        summary=summary,
        description=description,
        parameters=[*parameters, *person],
        responses={
            200: OpenApiResponse(
                OpenApiTypes.OBJECT,
                examples=[OpenApiExample("Answer", example, status_codes=["200"])],
            ),
            400: OpenApiResponse(
                OpenApiTypes.OBJECT,
                description='A bad parameter: `{"<parameter>": ["<what to fix>"]}`.',
                examples=[
                    OpenApiExample(
                        "Bad parameter",
                        {"limit": ["A whole number from 1 to 50."]},
                        status_codes=["400"],
                    )
                ],
            ),
            401: OpenApiResponse(DETAIL, description="An unknown or revoked API key."),
            403: OpenApiResponse(
                DETAIL, description="A person parameter without a key holding the scope."
            ),
            404: OpenApiResponse(DETAIL, description="No such slot, product or stored person."),
            429: OpenApiResponse(DETAIL, description="Past the key's requests per minute."),
            503: OpenApiResponse(DETAIL, description="The profile store is unavailable."),
        },
    )
