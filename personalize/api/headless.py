"""What the headless endpoints (``/personalize/api/v1/``) share: whom they answer about,
how they validate the query string, and the headers that keep answers out of caches.

Without an API key they answer about the current visitor (the ``pz_vid`` cookie), like
``/personalize/api/visitor/``: a GET that reads the visitor's own data, with no CORS
headers of its own, so another site's page can neither read the answer nor send the
cookie (it is ``SameSite=Lax``). The parameters that address another person are
honoured only for a key with the endpoint's scope (:func:`key_has_scope`).
"""

from __future__ import annotations

import re
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.http import HttpRequest
from django.utils.cache import patch_vary_headers
from rest_framework.exceptions import APIException, NotFound, PermissionDenied, ValidationError
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from personalize.api.access import key_has_scope
from personalize.api.auth import ApiKeyAuthentication, ApiKeyRateThrottle
from personalize.api.base import PersonalizeAPIView
from personalize.identity.cookies import is_valid_visitor_id
from personalize.identity.visitor import StoredVisitor, Visitor, get_visitor
from personalize.profiles.base import StoreUnavailable, get_store

#: Query parameters that address someone other than the visitor whose cookie came along.
PERSON_PARAMS = ("visitor_id", "user_id", "email")

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
SLUG = re.compile(r"^[-a-zA-Z0-9_]+$")


class ServiceUnavailable(APIException):
    status_code = 503
    default_detail = "The visitor store is unavailable: try again shortly."


class HeadlessView(PersonalizeAPIView):
    """A JSON-only GET endpoint about one person, never cached by anyone in between.

    No key: the visitor of the cookie. A key (``Authorization: Bearer``) may address
    another person when it holds the endpoint's scope, and is rate-limited per key;
    an unknown or revoked key is a 401. No session authentication: nothing here
    needs CSRF.
    """

    permission_classes = [AllowAny]
    authentication_classes = [ApiKeyAuthentication]
    throttle_classes = [ApiKeyRateThrottle]

    def finalize_response(
        self, request: Request, response: Response, *args: Any, **kwargs: Any
    ) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)
        # Errors too: a 403 or 404 for one visitor is no answer for the next.
        response["Cache-Control"] = "private, no-store"
        patch_vary_headers(response, ("Cookie", "Authorization"))
        return response


def query_value(request: Request, name: str, *, limit: int) -> str | None:
    """A query parameter, stripped; ``None`` when absent or empty; 400 when too long
    or carrying control characters."""
    raw = request.query_params.get(name)
    if raw is None or not raw.strip():
        return None
    value = str(raw).strip()
    if len(value) > limit:
        raise ValidationError({name: [f"At most {limit} characters."]})
    if _CONTROL.search(value):
        raise ValidationError({name: ["Control characters are not allowed."]})
    return value


def slug_value(request: Request, name: str, what: str, *, limit: int = 64) -> str | None:
    """A slug parameter (a slot, a strategy...), or ``None`` when absent; 400 when malformed."""
    value = query_value(request, name, limit=limit)
    if value is not None and not SLUG.match(value):
        raise ValidationError({name: [f"Must be {what}: letters, digits, hyphens or underscores."]})
    return value


def subject(request: Request, scope: str) -> Visitor:
    """The person the request is about: the current visitor, or, for an API key granted
    ``scope``, the one ``visitor_id``, ``user_id`` or ``email`` names.

    Raises 403 when a person parameter comes without such a key, 400 when it is
    malformed or several are given, 404 when nobody matches, 503 when the store is down.
    """
    named = [name for name in PERSON_PARAMS if name in request.query_params]
    if not named:
        return get_visitor(request._request)
    if not key_has_scope(request, scope):
        raise PermissionDenied(
            f"'{named[0]}' addresses another person: it needs an API key with the "
            f"'{scope}' scope (header 'Authorization: Bearer <key>'). Without one, "
            "leave it out: the answer is about the visitor whose cookie comes along."
        )
    if len(named) > 1:
        raise ValidationError(
            {named[1]: [f"Give only one of {', '.join(PERSON_PARAMS)} (got {', '.join(named)})."]}
        )
    visitor_id = _visitor_id_of(named[0], request)
    visitor = StoredVisitor(request._request, visitor_id)
    if visitor.profile is None:
        if visitor.degraded:
            raise ServiceUnavailable()
        raise NotFound(f"No stored visitor {visitor_id!r}.")
    return visitor


def _visitor_id_of(param: str, request: Request) -> str:
    value = query_value(request, param, limit=320)
    if value is None:
        raise ValidationError({param: ["This parameter may not be blank."]})
    if param == "visitor_id":
        if not is_valid_visitor_id(value):
            raise ValidationError({param: ["Must be a visitor id: 32 lower-case hex digits."]})
        return value
    store = get_store()
    try:
        if param == "user_id":
            if len(value) > 150:
                raise ValidationError({param: ["At most 150 characters."]})
            found = store.visitor_for_user(value)
        else:
            try:
                validate_email(value)
            except DjangoValidationError:
                raise ValidationError(
                    {param: ["Enter a valid email address, like name@example.com."]}
                ) from None
            found = store.visitor_for_email(value.lower())
    except StoreUnavailable:
        raise ServiceUnavailable() from None
    if found is None:
        raise NotFound(f"No stored visitor for {param} {value!r}.")
    return found


def absolute(request: HttpRequest, url: str) -> str:
    """``url`` made absolute against the request (``""`` stays ``""``)."""
    return request.build_absolute_uri(url) if url else ""
