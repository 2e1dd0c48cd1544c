"""``POST /personalize/api/v1/privacy/export/`` and ``.../erase/``: a person's data out, or gone.

For a back office or a consent platform answering access and erasure requests (GDPR
articles 15, 17 and 20) without the admin: the same service as ``manage.py
personalize_export`` / ``personalize_erase`` and the admin page (docs/privacy.md),
audited under the API key's name. Scope ``privacy:write``.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from personalize.api.auth import HasScope, request_key
from personalize.api.base import KeyProtectedView
from personalize.api.openapi import DETAIL, key_errors
from personalize.privacy.person import IDENTIFIER_KINDS, Identifier, InvalidIdentifier
from personalize.privacy.service import erase_person, export_person
from personalize.profiles.base import StoreUnavailable

SCOPE = "privacy:write"
RETRY_AFTER_UNAVAILABLE = 5
#: An identifier and a flag: anything longer is not a privacy request.
MAX_BODY = 4096


class PersonSerializer(serializers.Serializer[dict[str, Any]]):
    email = serializers.EmailField(required=False)
    user_id = serializers.CharField(required=False, max_length=64)
    visitor_id = serializers.CharField(required=False, max_length=32)
    dry_run = serializers.BooleanField(
        required=False, default=False, help_text="Erase only: count, change nothing."
    )


class ErasureSerializer(serializers.Serializer[dict[str, Any]]):
    identified_by = serializers.ChoiceField(choices=list(IDENTIFIER_KINDS))
    dry_run = serializers.BooleanField()
    counts = serializers.DictField(child=serializers.IntegerField())
    total = serializers.IntegerField()
    audit_id = serializers.IntegerField(allow_null=True)


def _identifier(data: Any) -> Identifier:
    """Exactly one of email, user_id, visitor_id, validated; 400 naming the field."""
    if not isinstance(data, dict):
        raise InvalidIdentifier('The body must be a JSON object, e.g. {"email": "…"}.')
    given = [kind for kind in IDENTIFIER_KINDS if data.get(kind) not in (None, "")]
    if len(given) != 1:
        raise InvalidIdentifier(
            f"Give exactly one of {', '.join(IDENTIFIER_KINDS)} (got {', '.join(given) or 'none'})."
        )
    value = data[given[0]]
    if not isinstance(value, (str, int)) or isinstance(value, bool):
        raise InvalidIdentifier(f"{given[0]} must be a string.")
    return Identifier.parse(given[0], str(value))


def _too_big(request: Request) -> Response | None:
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0  # DRF's parser answers a bad Content-Length
    if length > MAX_BODY:
        return Response(
            {"detail": f"The body is {length} bytes; a privacy request needs at most {MAX_BODY}."},
            status=413,
        )
    return None


def _requested_by(request: Request) -> str:
    key = request_key(request)
    return f"API key {key.name} ({key.prefix})" if key is not None else "API"


def _unavailable() -> Response:
    return Response(
        {"detail": "The profile store is unavailable: nothing was changed. Try again shortly."},
        status=503,
        headers={"Retry-After": str(RETRY_AFTER_UNAVAILABLE)},
    )


ERRORS = {
    400: OpenApiResponse(
        DETAIL,
        description="Not exactly one valid identifier.",
        examples=[
            OpenApiExample(
                "Two identifiers",
                {"detail": "Give exactly one of email, user_id, visitor_id (got email, user_id)."},
                status_codes=["400"],
            )
        ],
    ),
    413: OpenApiResponse(DETAIL, description=f"A body over {MAX_BODY} bytes."),
    415: OpenApiResponse(DETAIL, description="The body is not JSON."),
    503: OpenApiResponse(DETAIL, description="The profile store is unavailable."),
    **key_errors(SCOPE),
}


@extend_schema(
    tags=["v1"],
    summary="Export everything stored about a person",
    description=(
        "Everything an erasure would remove — profiles (merged devices included), events, "
        "leads, coupons, segment lists, deferred changes, webhook deliveries — as one JSON "
        "document. Audited (who, when, how many of each kind; never the identifier)."
    ),
    request=PersonSerializer,
    responses={
        200: OpenApiResponse(
            OpenApiTypes.OBJECT,
            examples=[
                OpenApiExample(
                    "Export",
                    {
                        "format": "personalize-export/1",
                        "identified_by": "email",
                        "counts": {"profiles": 2, "events": 41, "leads": 1},
                        "data": {"profiles": ["…"], "events": ["…"], "leads": ["…"]},
                    },
                    status_codes=["200"],
                )
            ],
        ),
        **ERRORS,
    },
)
class PrivacyRequestView(KeyProtectedView):
    """One privacy request: validate the body, run it, answer; never cached."""

    permission_classes = [HasScope(SCOPE)]

    def post(self, request: Request) -> Response:
        if (refused := _too_big(request)) is not None:
            return refused
        try:
            identifier = _identifier(request.data)
            answer = self.run(request, identifier)
        except InvalidIdentifier as exc:
            return Response({"detail": str(exc)}, status=400)
        except StoreUnavailable:
            return _unavailable()
        return Response(answer, headers={"Cache-Control": "private, no-store"})

    def run(self, request: Request, identifier: Identifier) -> dict[str, Any]:
        raise NotImplementedError


class PrivacyExportView(PrivacyRequestView):
    def run(self, request: Request, identifier: Identifier) -> dict[str, Any]:
        return export_person(identifier, requested_by=_requested_by(request))


@extend_schema(
    tags=["v1"],
    summary="Erase a person everywhere",
    description=(
        "Removes every record of the person (the same as `manage.py personalize_erase`); "
        "`dry_run: true` only counts. Audited. Send the same request again: it finds "
        "nothing more to erase."
    ),
    request=PersonSerializer,
    responses={
        200: OpenApiResponse(
            ErasureSerializer,
            examples=[
                OpenApiExample(
                    "Erased",
                    {
                        "identified_by": "email",
                        "dry_run": False,
                        "counts": {"profiles": 2, "events": 41, "leads": 1},
                        "total": 44,
                        "audit_id": 7,
                    },
                    status_codes=["200"],
                )
            ],
        ),
        **ERRORS,
    },
)
class PrivacyEraseView(KeyProtectedView):
    permission_classes = [HasScope(SCOPE)]

    def post(self, request: Request) -> Response:
        if (refused := _too_big(request)) is not None:
            return refused
        try:
            identifier = _identifier(request.data)
            dry_run = request.data.get("dry_run", False)
            if not isinstance(dry_run, bool):
                raise InvalidIdentifier("dry_run must be true or false.")
            erasure = erase_person(identifier, requested_by=_requested_by(request), dry_run=dry_run)
        except InvalidIdentifier as exc:
            return Response({"detail": str(exc)}, status=400)
        except StoreUnavailable:
            return _unavailable()
        return Response(
            {
                "identified_by": identifier.kind,
                "dry_run": erasure.dry_run,
                "counts": erasure.counts,
                "total": erasure.total,
                "audit_id": erasure.audit.pk if erasure.audit is not None else None,
            },
            headers={"Cache-Control": "private, no-store"},
        )
