"""``VisitorMiddleware``: recognise the visitor, track page views, write once per response."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.utils.cache import patch_vary_headers

from personalize.conf import settings
from personalize.identity.bots import is_bot
from personalize.identity.consent import tracking_allowed
from personalize.identity.cookies import new_visitor_id, read_visitor_id, write_visitor_id
from personalize.identity.visitor import Visitor, attach_visitor
from personalize.segments.preview import PARAM as PREVIEW_PARAM
from personalize.segments.preview import remember_preview, requested_preview
from personalize.tracking.context import MAX_UA, header
from personalize.webhooks.segment_changes import segment_changes
from personalize.webhooks.subscriptions import enqueue

if TYPE_CHECKING:
    from django.http import HttpRequest
    from django.http.response import HttpResponseBase


class VisitorMiddleware:
    """Sets ``request.visitor``. Place it after ``AuthenticationMiddleware``."""

    sync_capable = True
    async_capable = True

    def __init__(
        self,
        get_response: Callable[[HttpRequest], HttpResponseBase]
        | Callable[[HttpRequest], Awaitable[HttpResponseBase]],
    ) -> None:
        self.get_response = get_response
        self.async_mode = iscoroutinefunction(self.get_response)
        if self.async_mode:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> HttpResponseBase | Awaitable[HttpResponseBase]:
        if self.async_mode:
            return self.__acall__(request)
        self.process_request(request)
        response = self.get_response(request)
        assert not isinstance(response, Awaitable)
        return self.process_response(request, response)

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        # Store calls are blocking I/O: run them off the event loop.
        await sync_to_async(self.process_request)(request)
        response = self.get_response(request)
        assert isinstance(response, Awaitable)
        return await sync_to_async(self.process_response)(request, await response)

    def process_request(self, request: HttpRequest) -> None:
        user_agent = header(request, "User-Agent", MAX_UA)
        if is_bot(user_agent, allow_headless=settings.ALLOW_HEADLESS):
            bot = Visitor(request, new_visitor_id(), tracked=False, cookie_is_new=True, is_bot=True)
            attach_visitor(request, bot)
            return
        tracked = tracking_allowed(request)
        visitor_id = read_visitor_id(request) if tracked else None
        visitor = Visitor(
            request,
            visitor_id or new_visitor_id(),
            tracked=tracked,
            cookie_is_new=visitor_id is None,
        )
        attach_visitor(request, visitor)
        if PREVIEW_PARAM in request.GET or settings.PREVIEW_COOKIE_NAME in request.COOKIES:
            visitor.preview_segment = requested_preview(request)
        if tracked and settings.TRACK_PAGE_VIEWS and is_page_view(request):
            visitor.track("page_view", {"path": request.path[:200]})

    def process_response(
        self, request: HttpRequest, response: HttpResponseBase
    ) -> HttpResponseBase:
        visitor = getattr(request, "visitor", None)
        if not isinstance(visitor, Visitor):
            return response
        if PREVIEW_PARAM in request.GET or settings.PREVIEW_COOKIE_NAME in request.COOKIES:
            remember_preview(request, response, visitor.preview_segment)
        if not visitor.tracked:
            return response
        if response.status_code >= 500:
            return response  # like sessions: a failed request records nothing
        # Remembered with the request's other changes; the events are queued only once
        # the profile write went through (a failed write is detected again next time).
        changes = segment_changes(visitor)
        visitor.flush()
        if changes and not visitor.degraded:
            enqueue(changes)
        if visitor.cookie_is_new or visitor.id_changed or visitor.started_new_visit:
            write_visitor_id(request, response, visitor.id)
        if visitor.attributes_accessed:
            patch_vary_headers(response, ("Cookie",))
        return response


def is_page_view(request: HttpRequest) -> bool:
    """A top-level HTML navigation: GET, not htmx, not an excluded path.

    Browsers say so with ``Sec-Fetch-Dest: document``; without that header
    (older browsers) the request must ask for HTML. Images, scripts and
    fetches accept ``*/*`` and are never page views.
    """
    if request.method != "GET" or request.headers.get("HX-Request") == "true":
        return False
    if request.path.startswith(settings.EXCLUDED_PATHS):
        return False
    destination = request.headers.get("Sec-Fetch-Dest")
    if destination is not None:
        return destination == "document"
    return "text/html" in request.headers.get("Accept", "")
