"""Template tags: ``{% load personalize %}``.

``{% ifsegment "returning-visitors" "vip" %}…{% else %}…{% endifsegment %}``
renders the first block when the visitor is in any of the named segments.
"""

from __future__ import annotations

from typing import Any

from django import template
from django.template.base import FilterExpression, NodeList, Parser, Token
from django.template.context import Context

from personalize.csp import request_nonce
from personalize.identity.visitor import Visitor

register = template.Library()


class IfSegmentNode(template.Node):
    def __init__(
        self, slugs: list[FilterExpression], nodelist_true: NodeList, nodelist_false: NodeList
    ) -> None:
        self.slugs = slugs
        self.nodelist_true = nodelist_true
        self.nodelist_false = nodelist_false

    def render(self, context: Context) -> str:
        request = context.get("request")
        visitor = getattr(request, "visitor", None)
        slugs = [str(slug.resolve(context)) for slug in self.slugs]
        matched = isinstance(visitor, Visitor) and visitor.in_segment(*slugs)
        return (self.nodelist_true if matched else self.nodelist_false).render(context)


@register.tag("ifsegment")
def do_ifsegment(parser: Parser, token: Token) -> IfSegmentNode:
    bits = token.split_contents()
    if len(bits) < 2:
        raise template.TemplateSyntaxError(
            f"'{bits[0]}' needs at least one segment slug, e.g. "
            '{% ifsegment "returning-visitors" %}.'
        )
    slugs = [parser.compile_filter(bit) for bit in bits[1:]]
    nodelist_true = parser.parse(("else", "endifsegment"))
    token = parser.next_token()
    if token.contents == "else":
        nodelist_false = parser.parse(("endifsegment",))
        parser.delete_first_token()
    else:
        nodelist_false = NodeList()
    return IfSegmentNode(slugs, nodelist_true, nodelist_false)


@register.inclusion_tag("personalize/preview_toolbar.html", takes_context=True)
def personalize_toolbar(context: Context) -> dict[str, Any]:
    """The staff preview toolbar; renders nothing unless a preview is active."""
    request = context.get("request")
    visitor = getattr(request, "visitor", None)
    if not isinstance(visitor, Visitor) or visitor.preview_segment is None:
        return {"active": False}
    from personalize.segments.registry import get_registry

    registry = get_registry()
    names = {segment.slug: segment.name for segment in registry.segments}
    forced = visitor.preview_segment
    return {
        "active": True,
        "forced": forced,
        "forced_name": names.get(forced, forced),
        "forced_known": forced in registry.known_slugs,
        "real_segments": [(slug, names.get(slug, slug)) for slug in visitor.real_segments],
        "choices": sorted(names.items(), key=lambda item: item[1]),
        "path": request.path if request is not None else "/",
    }


@register.simple_tag(takes_context=True)
def visitor_attribute(context: Context, path: str, default: Any = "") -> Any:
    """A value from the attribute document by dotted path.

    ``{% visitor_attribute "cart.value" %}``; ``default`` when the path is missing.
    """
    request = context.get("request")
    visitor = getattr(request, "visitor", None)
    if not isinstance(visitor, Visitor):
        return default
    value: Any = visitor.attributes
    for part in str(path).split("."):
        if not isinstance(value, dict) or part not in value:
            return default
        value = value[part]
    return default if value is None else value


@register.inclusion_tag("personalize/head.html", takes_context=True)
def personalize_head(context: Context) -> dict[str, Any]:
    """The runtime's CSS and JS (deferred, CSP nonce supported). Put it in ``<head>``."""
    return {"nonce": request_nonce(context.get("request"))}


@register.simple_tag(takes_context=True)
def personalize_overlays(context: Context) -> str:
    """The popups, bars and slide-ins for this visitor, as inert HTML. Put it before ``</body>``."""
    from django.template.loader import render_to_string
    from django.urls import reverse

    from personalize.campaigns.rendering import beacon_token, placement_context
    from personalize.campaigns.selection import select_campaigns

    request = context.get("request")
    visitor = getattr(request, "visitor", None)
    if not isinstance(visitor, Visitor) or not visitor.tracked:
        return ""
    selection = select_campaigns(visitor)
    placements, themes = [], []
    for placement in selection.overlays:
        item = placement_context(request, visitor, placement)  # type: ignore[arg-type]
        if placement.campaign.kind == "bar":
            item["refresh_url"] = reverse(
                "personalize:render_campaign", args=[placement.campaign.slug]
            )
        if item.get("theme"):
            themes.append({"class": item["theme_class"], **item["theme"]})
        placements.append(render_to_string("personalize/overlay.html", item, request=request))
    return render_to_string(
        "personalize/overlays.html",
        {
            "placements": placements,
            "themes": themes,
            # Read only when used: reading a lazy nonce puts it in the policy header.
            "nonce": request_nonce(request) if themes else "",
            # A staff preview reports nothing, so previews never count in the results.
            "endpoint": "" if selection.preview else reverse("personalize:events"),
            "token": beacon_token(visitor),
        },
        request=request,
    )


class ContentSlotNode(template.Node):
    def __init__(
        self, name: FilterExpression, lazy: FilterExpression | None, nodelist: NodeList
    ) -> None:
        self.name = name
        self.lazy = lazy
        self.nodelist = nodelist

    def render(self, context: Context) -> str:
        from django.urls import reverse
        from django.utils.html import format_html

        from personalize.campaigns.rendering import render_placement
        from personalize.campaigns.selection import select_campaigns

        name = str(self.name.resolve(context))
        default = self.nodelist.render(context)
        request = context.get("request")
        visitor = getattr(request, "visitor", None)
        if self.lazy is not None and self.lazy.resolve(context):
            url = reverse("personalize:slot", args=[name])
            path = getattr(request, "path", "/")
            return format_html(
                '<div class="pz-slot-lazy" data-pz-lazy hx-get="{}?path={}" hx-trigger="load" '
                'hx-swap="outerHTML">{}</div>',
                url,
                path,
                default,
            )
        if not isinstance(visitor, Visitor) or not visitor.tracked:
            return default
        placement = select_campaigns(visitor).slots.get(name)
        if placement is None:
            return default
        if placement.is_control:
            # The control group sees the default content, wrapped to report exposure.
            from django.template.loader import render_to_string

            return render_to_string(
                "personalize/slot.html",
                {"is_control": True, "campaign": placement.campaign, "default": default},
            )
        return render_placement(
            visitor.request, visitor, placement, template="personalize/slot.html"
        )


@register.tag("content_slot")
def do_content_slot(parser: Parser, token: Token) -> ContentSlotNode:
    """``{% content_slot "home-hero" [lazy=True] %}default{% endcontent_slot %}``."""
    bits = token.split_contents()
    if len(bits) < 2:
        raise template.TemplateSyntaxError(
            "'content_slot' needs a slot name: {% content_slot \"home-hero\" %}."
        )
    lazy = None
    for bit in bits[2:]:
        if not bit.startswith("lazy="):
            raise template.TemplateSyntaxError(
                f"'content_slot' got {bit!r}; the only option is lazy=True."
            )
        lazy = parser.compile_filter(bit.removeprefix("lazy="))
    nodelist = parser.parse(("endcontent_slot",))
    parser.delete_first_token()
    return ContentSlotNode(parser.compile_filter(bits[1]), lazy, nodelist)


@register.simple_tag(takes_context=True)
def recommendations(
    context: Context,
    slot: str,
    product: Any = None,
    category: str | None = None,
    lazy: bool = False,
    refresh: bool = False,
) -> str:
    """``{% recommendations "product-detail" product=product %}``: a widget from the admin.

    Renders nothing when the widget is inactive or has too few products to show, and
    never repeats a product another widget above it on the page already shows.
    ``category`` names the category page being shown; ``lazy=True`` renders a
    placeholder that fetches the widget after the page (for cached pages; htmx loads it
    when the page has htmx, the runtime when it has not);
    ``refresh=True`` re-fetches it on a ``pz:refresh`` event (e.g. after a cart change).
    """
    from personalize.recommendations.catalogue import get_catalogue
    from personalize.recommendations.rendering import (
        lazy_placeholder,
        render_recommendations,
        widget_url,
    )
    from personalize.recommendations.serving import get_widgets, product_ref, recommend

    slot = str(slot)
    if slot not in get_widgets():
        return ""
    request = context.get("request")
    catalogue = get_catalogue()
    product_id, product_category = product_ref(product, catalogue)
    page_category = category or product_category
    if lazy:
        url = widget_url(slot, product_id, page_category, refresh=refresh)
        return lazy_placeholder(url, slot)
    # Widgets lower on the page skip products a widget above already shows.
    shown: set[str] = getattr(request, "_pz_recommended", set())
    recs = recommend(
        request,
        slot,
        product=product_id,  # resolved once, above
        category=page_category,
        catalogue=catalogue,
        exclude=shown,
    )
    if request is not None:
        request._pz_recommended = shown | {item.id for item in recs}
    refresh_url = widget_url(slot, product_id, page_category, refresh=True) if refresh else ""
    return render_recommendations(request, recs, refresh_url=refresh_url)
