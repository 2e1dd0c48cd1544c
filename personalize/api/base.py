"""What every view of the JSON API shares, whatever the shop's ``REST_FRAMEWORK`` says.

The app's endpoints must answer the same documented shapes in every shop, so each
piece DRF would otherwise take from the shop's settings is fixed here: JSON only,
DRF's own exception handler, no versioning, and drf-spectacular's ``AutoSchema`` set
per view (a shop need not add drf-spectacular to its settings, and its own views
keep whatever schema class it chose).

* :class:`PersonalizeAPIView`: the browser endpoints (no authentication classes of
  their own: they check the origin and a signed token).
* :class:`KeyProtectedView`: the ``/personalize/api/v1/`` endpoints, for servers;
  a subclass sets ``permission_classes = [HasScope("...")]``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, NoReturn

from drf_spectacular.openapi import AutoSchema
from rest_framework import exceptions
from rest_framework.exceptions import ParseError
from rest_framework.negotiation import BaseContentNegotiation, DefaultContentNegotiation
from rest_framework.parsers import JSONParser
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.views import APIView, exception_handler

from personalize.api.auth import ApiKeyAuthentication, ApiKeyRateThrottle, request_key


class AnswersJSON:
    """Content negotiation whose answer is the view's (JSON) renderer whatever the
    Accept header says (browsers send text/html)."""

    def select_renderer(
        self,
        request: Request,
        renderers: Iterable[BaseRenderer],
        format_suffix: str | None = None,
    ) -> tuple[BaseRenderer, str]:
        renderer = next(iter(renderers))
        return renderer, renderer.media_type


class JSONOnly(AnswersJSON, BaseContentNegotiation):
    """The API speaks JSON only: the first parser reads any body (text/plain beacons)."""

    def select_parser(self, request: Request, parsers: Any) -> Any:
        return parsers[0] if parsers else None


class JSONBodiesOnly(AnswersJSON, DefaultContentNegotiation):
    """Bodies are parsed by their ``Content-Type`` (anything but JSON is a 415); the
    answer is JSON whatever the Accept header."""


class BoundedJSONParser(JSONParser):
    """JSON whose nesting a client cannot use to crash the request.

    ``json.loads`` recurses per nesting level: 16 kB of ``[`` raise ``RecursionError``,
    which is not a ``ValueError`` and would escape DRF's parser as a 500.
    """

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise ParseError("JSON parse error - nested too deeply.") from exc


class PersonalizeAPIView(APIView):
    """Base of the app's API views: JSON in and out, documented by drf-spectacular."""

    renderer_classes = [JSONRenderer]
    parser_classes = [BoundedJSONParser]
    content_negotiation_class: type[BaseContentNegotiation] = JSONOnly
    versioning_class = None
    schema = AutoSchema()

    def get_exception_handler(self) -> Callable[[Exception, dict[str, Any]], Any]:
        # DRF's own: ``{"detail": ...}`` errors as documented, whatever the shop's handler.
        return exception_handler


class KeyProtectedView(PersonalizeAPIView):
    """Base of the ``/personalize/api/v1/`` views: an API key, a scope, a rate limit.

    Errors: 401 without a key or with an unknown or revoked one, 403 naming a missing
    scope, 429 with ``Retry-After`` past the key's requests per minute.
    """

    authentication_classes = [ApiKeyAuthentication]
    throttle_classes = [ApiKeyRateThrottle]
    content_negotiation_class = JSONBodiesOnly

    def throttled(self, request: Request, wait: float) -> NoReturn:
        key = request_key(request)
        limit = key.rate_limit if key is not None else 0
        raise exceptions.Throttled(
            wait, detail=f"Too many requests: this API key may make {limit} a minute."
        )
