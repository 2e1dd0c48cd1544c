"""API views."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from personalize.identity.visitor import get_visitor


class VisitorView(APIView):
    """``GET /personalize/api/visitor/``: the current visitor and their attribute document."""

    permission_classes = [AllowAny]
    authentication_classes: list[Any] = []

    def get(self, request: Request) -> Response:
        visitor = get_visitor(request._request)
        attributes = visitor.attributes
        return Response({
            "id": visitor.id if visitor.tracked else None,
            "tracked": visitor.tracked,
            "is_new": visitor.is_new,
            "is_returning": visitor.is_returning,
            "visit_count": visitor.visit_count,
            "degraded": visitor.degraded,
            "attributes": attributes,
        })
