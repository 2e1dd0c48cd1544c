"""``GET /personalize/api/visitor/``: the current visitor, for the browser."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from personalize.api.base import PersonalizeAPIView
from personalize.api.openapi import VisitorSerializer
from personalize.attributes import without_personal
from personalize.identity.visitor import Visitor, get_visitor


@extend_schema(
    tags=["browser"],
    summary="The current visitor (browser)",
    description="The visitor of the `pz_vid` cookie: what targeting knows about them. "
    "Called by the shop's own pages; needs no key. A request without the cookie is a "
    "new visitor (the response sets the cookie).",
    responses={200: VisitorSerializer},
    examples=[
        OpenApiExample(
            "Returning visitor",
            {
                "id": "3f1c0a9b8e7d6c5b4a3f2e1d0c9b8a7f",
                "tracked": True,
                "is_new": False,
                "is_returning": True,
                "visit_count": 3,
                "degraded": False,
                "personal": False,
                "segments": ["returning-visitors"],
                "attributes": {"visit_count": 3, "device": "desktop"},
            },
            response_only=True,
        )
    ],
)
class VisitorView(PersonalizeAPIView):
    """``GET /personalize/api/visitor/``: the current visitor and their attribute document."""

    permission_classes = [AllowAny]
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
