"""``category_view`` for Oscar's category pages.

Oscar sends no signal for a category page, but its ``ProductCategoryView`` answers
with a ``TemplateResponse`` whose context holds the category: this middleware
reads it there, before the page is rendered, so the visit's category interest
counts on the very page that shows it. Only successful pages of Oscar's category
view (or a fork's subclass of it) count; redirects to the canonical URL do not.
"""

from __future__ import annotations

import logging

from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils.deprecation import MiddlewareMixin
from oscar.core.loading import get_class

import personalize

logger = logging.getLogger(__name__)


class CategoryViewMiddleware(MiddlewareMixin):
    """Tracks ``category_view`` on Oscar's category pages. Anywhere in ``MIDDLEWARE``.

    Only a template-response hook: Django's ``MiddlewareMixin`` makes it sync- and
    async-capable.
    """

    def process_template_response(
        self, request: HttpRequest, response: TemplateResponse
    ) -> TemplateResponse:
        view = (response.context_data or {}).get("view")
        category = (response.context_data or {}).get("category")
        if (
            response.status_code == 200
            and category is not None
            and isinstance(view, get_class("catalogue.views", "ProductCategoryView"))
        ):
            try:
                personalize.track(request, "category_view", category=str(category.slug))
            except ValueError as exc:  # the visitor is fine; only this event is lost
                logger.warning("category_view not tracked: %s", exc)
        return response
