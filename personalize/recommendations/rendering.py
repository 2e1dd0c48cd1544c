"""Rendering a widget: ``personalize/recommendations/<slot>.html`` or the default template.

The markup carries the hooks the runtime reports from (``data-pz-widget`` on the
widget, ``data-pz-item`` and ``data-pz-position`` on each product); a shop that
overrides the template keeps them. Everything shown is escaped by the template
engine: titles and URLs come from the shop's catalogue, not from merchandisers.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from personalize.conf import settings
from personalize.identity.visitor import Visitor
from personalize.recommendations.catalogue import CatalogueItem
from personalize.recommendations.serving import Recommendations

CURRENCY_SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£", "JPY": "¥", "CHF": "CHF "}


def money(value: Any, currency: str | None = None) -> str:
    """``12.5`` -> ``€12.50`` in ``PERSONALIZE_CURRENCY``; ``""`` for no price."""
    if value is None:
        return ""
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return ""
    if not amount.is_finite():
        return ""
    code = currency or settings.CURRENCY
    symbol = CURRENCY_SYMBOLS.get(code)
    return f"{symbol}{amount:,.2f}" if symbol else f"{amount:,.2f} {code}"


def item_context(item: CatalogueItem) -> dict[str, Any]:
    return {
        "id": item.id,
        "title": item.title,
        "url": item.url,
        "image_url": item.image_url,
        "price": item.price,
        "price_display": money(item.price),
        "category": item.category,
        "in_stock": item.in_stock,
        "obj": item.obj,
    }


def render_recommendations(
    request: HttpRequest | None,
    recs: Recommendations,
    *,
    report: bool = True,
    refresh_url: str = "",
) -> SafeString:
    """The widget's HTML, or ``""`` when there is nothing to show.

    With ``refresh_url`` the widget re-fetches itself there on a ``pz:refresh`` event (the
    shop sends one when the cart changes), and an empty widget leaves a hidden
    placeholder that can still come back.
    """
    if not recs and not recs.holdout:
        return refresh_placeholder(refresh_url) if refresh_url else SafeString("")
    from personalize.campaigns.rendering import beacon_token

    visitor = getattr(request, "visitor", None)
    endpoint = token = ""
    if report and isinstance(visitor, Visitor) and visitor.tracked and not visitor.preview_segment:
        endpoint = reverse("personalize:events")
        token = beacon_token(visitor)
    if recs.holdout:
        return holdout_marker(recs.slot, endpoint, token, refresh_url)
    html = render_to_string(
        [f"personalize/recommendations/{recs.slot}.html", "personalize/recommendations/widget.html"]
        if recs.slot
        else "personalize/recommendations/widget.html",
        {
            "recs": recs,
            "items": [item_context(item) for item in recs],
            "endpoint": endpoint,
            "token": token,
            "refresh_url": refresh_url,
        },
        request=request,
    )
    return SafeString(html)


def holdout_marker(slot: str, endpoint: str, token: str, refresh_url: str = "") -> SafeString:
    """What a visitor in the widget's holdout gets: no products, an empty invisible marker.

    The runtime reports it as a ``rec_view`` with ``holdout: true`` when it scrolls into
    view, as it reports the widget itself for everyone else; with nobody to report to
    (an untracked visitor) there is nothing to render at all.
    """
    if not endpoint:
        return refresh_placeholder(refresh_url) if refresh_url else SafeString("")
    return format_html(
        '<div class="pz-recs-holdout" data-pz-widget="{}" data-pz-holdout '
        'data-pz-endpoint="{}" data-pz-token="{}" aria-hidden="true"></div>',
        slot,
        endpoint,
        token,
    )


def widget_url(
    slot: str, product_id: str | None, category: str | None, *, refresh: bool = False
) -> str:
    """Where htmx fetches the widget (``lazy=True``) or re-fetches it (``refresh=True``)."""
    query = {
        key: value
        for key, value in (
            ("product", product_id),
            ("category", category),
            ("refresh", "1" if refresh else None),
        )
        if value
    }
    url = reverse("personalize:recommendations", args=[slot])
    return url + "?" + urlencode(query) if query else url


def lazy_placeholder(url: str, slot: str) -> SafeString:
    """A placeholder that fetches the widget after the page has loaded.

    htmx loads it when the shop has htmx on the page, the runtime (``data-pz-lazy``)
    when it has not.
    """
    return format_html(
        '<div class="pz-recs-lazy" data-pz-lazy data-pz-lazy-widget="{}" hx-get="{}" '
        'hx-trigger="load" hx-swap="outerHTML"></div>',
        slot,
        url,
    )


def refresh_placeholder(url: str) -> SafeString:
    """Where an empty refreshable widget would be: hidden, waiting for ``pz:refresh``."""
    return format_html(
        '<div class="pz-recs-lazy" hidden data-pz-refresh hx-get="{}" '
        'hx-trigger="pz:refresh from:body" hx-swap="outerHTML"></div>',
        url,
    )
