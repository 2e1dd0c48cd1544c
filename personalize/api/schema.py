"""``/personalize/api/schema/`` (OpenAPI 3) and ``/personalize/api/docs/`` (Swagger UI).

The schema is generated from the app's own views only, with settings given here, so
neither the shop's ``REST_FRAMEWORK`` nor its ``SPECTACULAR_SETTINGS`` has to know
about personalize, and the shop's own API stays out of this document. The docs page
loads Swagger UI from Django's static files (``drf_spectacular_sidecar``, no CDN) and
runs no inline script, so it works under a strict Content-Security-Policy.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.decorators.http import require_safe
from drf_spectacular.views import SpectacularAPIView
from rest_framework.permissions import AllowAny

import personalize
from personalize.api.base import PersonalizeAPIView
from personalize.csp import request_nonce

Endpoint = tuple[str, str, str, Any]

DESCRIPTION = """\
The JSON API of personalize; `docs/api.md` in its repository explains keys, scopes
and limits with examples.

* **Browser endpoints** (`/personalize/api/visitor/`, `/personalize/api/events/`) are
  called by the shop's pages: the visitor's cookie identifies them, no key is needed.
* **Server endpoints** (`/personalize/api/v1/…`) need an API key, created in the admin
  (*Personalization > API keys*) with the scopes the client needs, sent as
  `Authorization: Bearer pz_…`.

Errors are JSON: `{"detail": "..."}`, or for an invalid batch
`{"errors": [{"index": 3, "field": "props.value", "message": "..."}]}`.
401: no key, or an unknown or revoked one; 403: the key lacks the scope named in the
message; 429: over the key's requests per minute, `Retry-After` says when to retry.
"""


def personalize_endpoints_only(endpoints: list[Endpoint]) -> list[Endpoint]:
    """Preprocessing hook: the app's own API views, wherever the shop mounted them."""
    return [
        endpoint
        for endpoint in endpoints
        if issubclass(getattr(endpoint[3], "cls", object), PersonalizeAPIView)
    ]


SCHEMA_SETTINGS: dict[str, Any] = {
    "TITLE": "personalize API",
    "DESCRIPTION": DESCRIPTION,
    "VERSION": personalize.__version__,
    "PREPROCESSING_HOOKS": ["personalize.api.schema.personalize_endpoints_only"],
    "SCHEMA_PATH_PREFIX": None,
    "COMPONENT_SPLIT_REQUEST": True,
    "TAGS": [
        {"name": "browser", "description": "Called by the shop's pages; no key."},
        {"name": "v1", "description": "Server to server; an API key with a scope."},
    ],
}


class SchemaView(SpectacularAPIView):
    """The OpenAPI 3 document (YAML by default; JSON with ``?format=json`` or
    ``Accept: application/vnd.oai.openapi+json``)."""

    permission_classes = [AllowAny]
    authentication_classes: list[Any] = []
    throttle_classes: list[Any] = []
    custom_settings = SCHEMA_SETTINGS
    serve_public = True
    urlconf = None


@require_safe
def docs(request: HttpRequest) -> HttpResponse:
    """Swagger UI over :class:`SchemaView`."""
    response = TemplateResponse(
        request,
        "personalize/api/docs.html",
        {
            "schema_url": reverse("personalize:api-schema") + "?format=json",
            "nonce": request_nonce(request),
        },
    )
    return response
