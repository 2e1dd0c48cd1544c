"""API views."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rest_framework.authentication import SessionAuthentication
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.permissions import AllowAny
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from personalize.attributes import without_personal
from personalize.identity.visitor import Visitor, get_visitor


class JSONOnly(BaseContentNegotiation):
    """The API speaks JSON only, whatever the Accept header (browsers send text/html)."""

    def select_parser(self, request: Request, parsers: Any) -> Any:
        return parsers[0] if parsers else None

    def select_renderer(
        self,
        request: Request,
        renderers: Iterable[BaseRenderer],
        format_suffix: str | None = None,
    ) -> tuple[BaseRenderer, str]:
        renderer = next(iter(renderers))
        return renderer, renderer.media_type


class VisitorView(APIView):
    """``GET /personalize/api/visitor/``: the current visitor and their attribute document."""

    permission_classes = [AllowAny]
    renderer_classes = [JSONRenderer]
    content_negotiation_class = JSONOnly
    # Django's session user (no other scheme): who may see the profile's personal fields.
    authentication_classes = [SessionAuthentication]

    def get(self, request: Request) -> Response:
        visitor = get_visitor(request._request)
        attributes = visitor.attributes
        personal = _is_owner(request, visitor)
        return Response(
            {
                "id": visitor.id if visitor.tracked else None,
                "tracked": visitor.tracked,
                "is_new": visitor.is_new,
                "is_returning": visitor.is_returning,
                "visit_count": visitor.visit_count,
                "degraded": visitor.degraded,
                "personal": personal,
                "segments": attributes["segments"],
                "attributes": attributes if personal else without_personal(attributes),
            }
        )


def _is_owner(request: Request, visitor: Visitor) -> bool:
    """Whether the signed-in user is the profile's user: only then are personal fields sent.

    A cookie is not an identity: a shared computer, a copied cookie or an expired
    session must not show who the profile belongs to, what they bought or searched.
    """
    user = request.user
    profile = visitor.profile
    return bool(
        user is not None
        and user.is_authenticated
        and profile is not None
        and profile.user_id
        and profile.user_id == str(user.pk)
    )
