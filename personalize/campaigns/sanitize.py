"""Clean what merchandisers write before it reaches a shopper's page.

Campaign text is written in the admin by staff, yet it is shown to every shopper, so it
is treated as untrusted: a pasted snippet, a careless edit or a stolen staff account must
not be able to run script in the shop, steal cookies or draw a fake checkout over it.

* :func:`sanitize_html` keeps the formatting a popup, bar or content slot needs and
  removes everything else; see :data:`ALLOWED_TAGS` and :data:`ALLOWED_ATTRIBUTES`.
* :func:`sanitize_css_color` accepts only hex colours for theme settings.
* :func:`sanitize_url` accepts only ``http(s)`` URLs and site-relative paths for
  call-to-action buttons.

HTML is cleaned by `nh3 <https://nh3.readthedocs.io>`_, the binding of the Rust
ammonia sanitizer, which parses with html5ever (the HTML standard's parsing algorithm,
as browsers run it) and serialises only what an explicit allowlist keeps.
"""

from __future__ import annotations

import html as html_module
import re
import unicodedata
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final
from urllib.parse import urlsplit

import nh3

__all__ = [
    "ALLOWED_ATTRIBUTES",
    "ALLOWED_TAGS",
    "ALLOWED_URL_SCHEMES",
    "MAX_HTML_LENGTH",
    "MAX_NESTING",
    "MAX_URL_LENGTH",
    "sanitize_css_color",
    "sanitize_html",
    "sanitize_url",
]

#: Tags kept by :func:`sanitize_html`; any other tag is removed and its text kept.
ALLOWED_TAGS: Final = frozenset(
    {
        "a",
        "b",
        "blockquote",
        "br",
        "em",
        "h2",
        "h3",
        "h4",
        "hr",
        "i",
        "img",
        "li",
        "mark",
        "ol",
        "p",
        "s",
        "small",
        "span",
        "strong",
        "u",
        "ul",
    }
)

#: Attributes kept per tag. There is no ``style`` (so nothing can be positioned outside
#: the overlay's box), no ``id`` (so nothing can shadow the page's own elements) and no
#: event handler. ``a`` also keeps ``target`` when it is ``_blank`` or ``_self``, and
#: always gets ``rel="noopener noreferrer"``; ``class`` keeps only ``pz-*`` names.
ALLOWED_ATTRIBUTES: Final[Mapping[str, frozenset[str]]] = MappingProxyType(
    {
        "a": frozenset({"href", "title"}),
        "img": frozenset({"src", "alt", "width", "height"}),
        "p": frozenset({"class"}),
        "span": frozenset({"class"}),
    }
)

#: URL schemes allowed in ``href`` and ``src``; relative URLs are allowed too.
ALLOWED_URL_SCHEMES: Final = frozenset({"http", "https", "mailto", "tel"})

#: Longer input is cut to this many characters before cleaning. Campaign text is a few
#: kilobytes; the cap bounds the work an absurd paste can cause.
MAX_HTML_LENGTH: Final = 100_000

#: Deepest element nesting :func:`sanitize_html` will build; see :func:`_too_deeply_nested`.
MAX_NESTING: Final = 200

#: Longest URL :func:`sanitize_url` accepts.
MAX_URL_LENGTH: Final = 2048

# Removed together with their content: what they contain is code, form controls or
# fallback text that makes no sense once the element is gone.
_CLEAN_CONTENT_TAGS: Final = frozenset(
    {
        "applet",
        "audio",
        "canvas",
        "embed",
        "frame",
        "frameset",
        "iframe",
        "math",
        "noembed",
        "noframes",
        "noscript",
        "object",
        "script",
        "select",
        "style",
        "svg",
        "template",
        "textarea",
        "title",
        "video",
        "xmp",
    }
)
_CLASS_NAME: Final = re.compile(r"pz-[a-z0-9-]+")
_DIMENSION: Final = re.compile(r"[0-9]{1,4}")


def _filter_attribute(tag: str, attribute: str, value: str) -> str | None:
    """Narrow attribute values nh3 has already allowed by name and URL scheme."""
    if attribute == "class":
        names = dict.fromkeys(name for name in value.split() if _CLASS_NAME.fullmatch(name))
        return " ".join(names) or None
    if attribute in ("width", "height"):
        return value if _DIMENSION.fullmatch(value) else None
    if attribute in ("href", "src") and ("{{" in value or "{%" in value):
        # Personalization tokens are filled in after cleaning; inside a URL a value
        # such as "javascript:..." would become the link itself.
        return None
    return value


# Built once: nh3 compiles the options into a Rust sanitizer. It wants a plain dict, and
# without a "*" entry it would allow ammonia's default ``lang`` and ``title`` everywhere.
_CLEANER: Final = nh3.Cleaner(
    tags=ALLOWED_TAGS,
    clean_content_tags=_CLEAN_CONTENT_TAGS,
    attributes={"*": frozenset(), **ALLOWED_ATTRIBUTES},
    attribute_filter=_filter_attribute,
    strip_comments=True,
    link_rel="noopener noreferrer",
    tag_attribute_values={"a": {"target": frozenset({"_blank", "_self"})}},
    url_schemes=ALLOWED_URL_SCHEMES,
)


def sanitize_html(html: str) -> str:
    """Return ``html`` with everything but simple formatting and safe links removed.

    Kept: paragraphs, line breaks, bold/italic/underline/strike, small and marked
    text, ``h2``-``h4`` headings, lists, block quotes, rules, ``span``, links and
    images (see :data:`ALLOWED_TAGS` and :data:`ALLOWED_ATTRIBUTES`). Links and images
    may point to ``http``, ``https``, ``mailto`` and ``tel`` URLs and to relative URLs,
    but not to a URL containing a personalization token. Disallowed tags are removed and
    their text kept, except for scripts, styles, frames, form controls, SVG and MathML,
    whose content goes too. Comments are removed. The result is well-formed, so it
    cannot change meaning when it is put inside other markup.

    Accepts any string, including lone surrogates (replaced by U+FFFD), and never
    raises. Input longer than :data:`MAX_HTML_LENGTH` is cut; input nested deeper than
    :data:`MAX_NESTING` elements is shown as escaped plain text with its tags removed.
    """
    text = _replace_lone_surrogates(html[:MAX_HTML_LENGTH])
    if _too_deeply_nested(text):
        return html_module.escape(html_module.unescape(_TAG.sub("", text)), quote=False)
    return _CLEANER.clean(text)


def _replace_lone_surrogates(text: str) -> str:
    # nh3 takes UTF-8, which cannot hold a lone surrogate (what "\udcff"-style escapes
    # from a broken decoder produce). Round-tripping through UTF-16 joins split pairs.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text


# Start and end tags as a browser's tokenizer first sees them. ``[^<>]*`` stops at the
# next bracket, so scanning stays linear however the tags are broken.
_TAG: Final = re.compile(r"</?([a-zA-Z][^\s/<>]*)[^<>]*>?")
# Elements that never hold others, or that the parser closes when a sibling opens.
_NOT_NESTING: Final = frozenset(
    {
        "area",
        "base",
        "br",
        "col",
        "dd",
        "dt",
        "embed",
        "hr",
        "img",
        "input",
        "li",
        "link",
        "meta",
        "option",
        "p",
        "param",
        "source",
        "td",
        "th",
        "tr",
        "track",
        "wbr",
    }
)


def _too_deeply_nested(text: str) -> bool:
    """Whether ``text`` opens more than :data:`MAX_NESTING` elements inside each other.

    The HTML tree builder checks the stack of open elements for most start tags, so its
    time grows with nesting depth times the number of tags: 200,000 nested ``<div>`` take
    minutes. This linear pre-scan estimates the depth from the tags alone, closing an
    element when its end tag appears; it can be fooled by tags hidden in comments or
    attribute values, which :data:`MAX_HTML_LENGTH` bounds.
    """
    open_elements: list[str] = []
    open_counts: dict[str, int] = {}
    for match in _TAG.finditer(text):
        name = match.group(1).lower()
        if name in _NOT_NESTING:
            continue
        if match.group(0)[1] != "/":
            open_elements.append(name)
            open_counts[name] = open_counts.get(name, 0) + 1
            if len(open_elements) > MAX_NESTING:
                return True
        elif open_counts.get(name):
            while True:  # Close up to the innermost element of that name, as parsers do.
                closed = open_elements.pop()
                open_counts[closed] -= 1
                if closed == name:
                    break
    return False


_HEX_COLOR: Final = re.compile(r"#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})")


def sanitize_css_color(value: object) -> str | None:
    """Return ``value`` as a lower-case ``#rgb``, ``#rrggbb`` or ``#rrggbbaa`` colour.

    Returns ``None`` for anything else — named colours, ``rgb()``, ``var()``,
    ``url()``, a trailing ``;`` or ``}`` — so a theme colour can be put in a style
    sheet without being able to end the declaration. Surrounding whitespace is ignored.
    """
    if not isinstance(value, str):
        return None
    color = value.strip()
    return color.lower() if _HEX_COLOR.fullmatch(color) else None


def sanitize_url(value: object, *, allow_relative: bool = True) -> str | None:
    """Return ``value`` if it is safe as a call-to-action link, else ``None``.

    Accepted: absolute ``http``/``https`` URLs with a host name (without ``user@``
    credentials, which can disguise the real host), and — when ``allow_relative`` —
    site-relative paths starting with a single ``/``. Rejected: every other scheme
    (``javascript:``, ``data:``, ...), protocol-relative ``//host`` URLs, paths without a
    leading ``/``, backslashes (browsers read ``/\\host`` as ``//host``), whitespace or
    control and formatting characters inside the URL, and URLs longer than
    :data:`MAX_URL_LENGTH`. Whitespace around the URL is ignored.
    """
    if not isinstance(value, str):
        return None
    url = value.strip()
    if not url or len(url) > MAX_URL_LENGTH or any(_is_unsafe_character(char) for char in url):
        return None
    if url.startswith("/"):
        return url if allow_relative and not url.startswith("//") else None
    try:
        parts = urlsplit(url)
        _ = parts.port  # Raises ValueError unless the port is a number from 0 to 65535.
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return None if "@" in parts.netloc else url


def _is_unsafe_character(char: str) -> bool:
    # Categories C* (control, format, surrogate, private, unassigned) and Z* (spaces and
    # line separators) can hide a scheme or make a URL look like another one.
    return char == "\\" or unicodedata.category(char)[0] in "CZ"
