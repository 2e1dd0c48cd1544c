"""Template tags: ``{% load personalize %}``.

``{% ifsegment "returning-visitors" "vip" %}…{% else %}…{% endifsegment %}``
renders the first block when the visitor is in any of the named segments.
"""

from __future__ import annotations

from typing import Any

from django import template
from django.template.base import FilterExpression, NodeList, Parser, Token
from django.template.context import Context

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
