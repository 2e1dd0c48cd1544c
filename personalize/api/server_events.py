"""``POST /personalize/api/v1/events/``: events from the shop's servers, with an API key.

The view only reads the body and maps outcomes to HTTP; the batch is checked and
recorded by :mod:`personalize.tracking.server`.
"""

from __future__ import annotations

import logging

from django.core.exceptions import RequestDataTooBig
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework.exceptions import ParseError
from rest_framework.request import Request
from rest_framework.response import Response

from personalize.api.auth import HasScope
from personalize.api.base import KeyProtectedView
from personalize.api.openapi import (
    DETAIL,
    BatchErrorsSerializer,
    EventBatchResultSerializer,
    EventBatchSerializer,
    key_errors,
)
from personalize.profiles.base import StoreUnavailable
from personalize.tracking.server import MAX_EVENTS, BatchInvalid, parse_batch, record_events

logger = logging.getLogger("personalize")

#: Bytes of one batch (500 purchases of a few items each fit).
MAX_BODY = 1024 * 1024
RETRY_AFTER_UNAVAILABLE = 5

EXAMPLE_BATCH = {
    "user_id": "42",
    "events": [
        {
            "event_id": "order-1001",
            "name": "purchase",
            "timestamp": "2026-12-01T09:30:00Z",
            "props": {
                "order_id": "1001",
                "value": 37.5,
                "currency": "EUR",
                "items": [{"product_id": "7", "price": 12.5, "quantity": 3, "category": "cats"}],
            },
        },
        {
            "event_id": "4b8e0c52-1f9a-4f0e-9a57-1d2c3b4a5e6f",
            "name": "search",
            "props": {"query": "cat tree"},
        },
    ],
}


def _errors(index: int | None, field: str, message: str, status: int) -> Response:
    return Response({"errors": [{"index": index, "field": field, "message": message}]}, status)


@extend_schema(
    tags=["v1"],
    summary="Send a batch of events for one person (server to server)",
    description=(
        f"Up to {MAX_EVENTS} events (and {MAX_BODY} bytes) for **one person**, named "
        "once for the whole batch by exactly one of `visitor_id`, `user_id` or `email`; "
        "the profile is created (and linked) when there is none. Each event is "
        "validated as `personalize.track()` validates it, and changes the profile and "
        "the event log as the same event on the site would.\n\n"
        "**All or nothing**: one invalid event refuses the whole batch (400, every "
        "problem listed by `index` and `field`), and nothing is recorded.\n\n"
        "**Idempotent**: `event_id` identifies an event for good; a batch sent again "
        "(after a timeout, say) records only the events not seen before, and "
        "`duplicates` counts the others."
    ),
    request=EventBatchSerializer,
    responses={
        200: EventBatchResultSerializer,
        400: OpenApiResponse(
            BatchErrorsSerializer,
            description="The batch was refused whole; nothing was recorded.",
            examples=[
                OpenApiExample(
                    "Invalid prop",
                    {
                        "errors": [
                            {
                                "index": 3,
                                "field": "props.value",
                                "message": "Invalid props for event 'purchase': 'value' "
                                "must be a number, got str.",
                            }
                        ]
                    },
                    status_codes=["400"],
                )
            ],
        ),
        **key_errors("events:write"),
        413: OpenApiResponse(DETAIL, description=f"Body over {MAX_BODY} bytes: split it."),
        415: OpenApiResponse(DETAIL, description="Not `application/json`."),
        503: OpenApiResponse(
            DETAIL,
            description="The profile store did not answer; nothing was recorded. "
            "Send the same batch again after `Retry-After` seconds.",
        ),
    },
    examples=[OpenApiExample("Order and search", EXAMPLE_BATCH, request_only=True)],
)
class ServerEventsView(KeyProtectedView):
    permission_classes = [HasScope("events:write")]

    def post(self, request: Request) -> Response:
        declared = request.headers.get("Content-Length") or "0"
        if declared.isdigit() and int(declared) > MAX_BODY:
            return Response({"detail": f"Body too large: at most {MAX_BODY} bytes."}, status=413)
        try:
            size = len(request._request.body)  # chunked bodies declare no length
        except RequestDataTooBig:
            size = MAX_BODY + 1
        if size > MAX_BODY:
            return Response({"detail": f"Body too large: at most {MAX_BODY} bytes."}, status=413)
        try:
            data = request.data
        except ParseError as exc:
            return _errors(None, "", f"{exc.detail} Send a JSON object.", 400)
        try:
            identity, events = parse_batch(data)
        except BatchInvalid as exc:
            return Response({"errors": [error.to_json() for error in exc.errors]}, status=400)
        try:
            result = record_events(identity, events)
        except Exception as exc:
            # The log's transaction rolled back, so the batch can be sent again as it is:
            # say so with a 503 rather than a 500, whatever the store raised.
            if not isinstance(exc, StoreUnavailable):
                logger.exception("Could not record a batch of %d events", len(events))
            return Response(
                {"detail": "The profile store is unavailable: nothing was recorded. Retry."},
                status=503,
                headers={"Retry-After": str(RETRY_AFTER_UNAVAILABLE)},
            )
        return Response(
            {
                "visitor_id": result.visitor_id,
                "received": result.received,
                "recorded": result.recorded,
                "duplicates": result.duplicates,
            }
        )
