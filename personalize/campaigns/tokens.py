"""Fill personalization tokens such as ``{{ first_name|default:"there" }}`` into campaign text.

Merchandisers write text like ``Welcome back, {{ first_name|default:"friend" }}!`` or
``Add {{ free_shipping.remaining }} € more for free shipping``. This module is the whole
token language, on purpose much smaller than a template engine:

* ``{{ name }}`` — the value of ``name``; a dotted path (``cart.value``) reads nested
  mappings. Names are lower-case letters, digits and ``_``, not starting with a digit or
  with ``__``;
* ``{{ name|default:"fallback" }}`` (or ``'fallback'``) — the fallback, at most
  :data:`MAX_DEFAULT_LENGTH` characters, when the value is missing, ``None`` or ``""``.

Spaces inside the braces are optional. Anything else — ``{% if %}``, other filters,
attribute access such as ``{{ a.__class__ }}``, string literals, unbalanced braces — is
not a token and stays in the text exactly as written: nothing is ever evaluated, and
nothing raises. :func:`validate_tokens` tells the merchandiser about such text before
it is saved.

Django's template engine is deliberately not used: campaign text is written in the
admin, and template syntax would give its authors loops, includes and method calls.
"""

from __future__ import annotations

import difflib
import html as html_module
import math
import re
from collections.abc import Iterator, Mapping
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Final

__all__ = ["MAX_DEFAULT_LENGTH", "render_tokens", "token_names", "validate_tokens"]

#: Longest fallback text a ``default`` may hold.
MAX_DEFAULT_LENGTH: Final = 200

_NAME: Final = r"(?!__)[a-z_][a-z0-9_]*+"
# Possessive quantifiers and the bounded fallback keep matching linear: a failed match
# never backtracks, and never reads more than a few hundred characters past "{{".
_TOKEN: Final = re.compile(
    r"\{\{\s*+"
    rf"(?P<name>{_NAME}(?:\.{_NAME})*+)\s*+"
    r"(?:\|\s*+default\s*+:\s*+"
    rf"(?:\"(?P<double>[^\"]{{0,{MAX_DEFAULT_LENGTH}}})\""
    rf"|'(?P<single>[^']{{0,{MAX_DEFAULT_LENGTH}}})')\s*+)?"
    r"\}\}"
)
_OPENING: Final = re.compile(r"\{[{%]")
_CLOSING: Final = re.compile(r"[}%]\}")
_CENT: Final = Decimal("0.01")
# Beyond this many digits a number is shown as Python prints it rather than in full.
_MAX_DIGITS: Final = 15


def render_tokens(text: str, values: Mapping[str, object], *, html: bool = True) -> str:
    """Replace each token in ``text`` with its value from ``values``.

    A value is looked up by its dotted path through nested mappings. A missing value,
    ``None`` or ``""`` gives the token's default, or ``""`` without one. Collections
    (mappings, lists, sets, bytes) and non-finite numbers count as missing too, so a
    typo never dumps internal data onto the page. Numbers are shown plainly: integers as
    they are, other numbers rounded half-up to cents and shown with two decimals unless
    they are whole (``12.5`` → ``12.50``, ``12.0`` → ``12``). Anything else is shown as
    ``str(value)``; if that raises, the value counts as missing.

    With ``html=True`` the substituted values and defaults are HTML-escaped (quotes
    included, so a token is safe inside an attribute value too); the text around them
    is left untouched, as it is already sanitised HTML. A default is read as HTML text
    — entities such as ``&amp;`` are decoded first — so it is never escaped twice.

    With ``html=False`` nothing is escaped: use it for plain text only. A plain-text
    field shown in HTML (a title, a button label) must be escaped as a whole instead:
    ``django.utils.html.escape(render_tokens(title, values, html=False))``.
    """

    def substitute(match: re.Match[str]) -> str:
        value = _format(_lookup(values, match["name"]))
        if value is None:
            fallback = match["double"] if match["double"] is not None else match["single"]
            value = fallback or ""
            if html:
                value = html_module.unescape(value)
        return html_module.escape(value) if html else value

    return _TOKEN.sub(substitute, text)


def token_names(text: str) -> set[str]:
    """Return the names (dotted paths) of the tokens used in ``text``."""
    return {match["name"] for match in _TOKEN.finditer(text)}


def validate_tokens(text: str, allowed: set[str]) -> list[str]:
    """Return a message for each problem with the tokens in ``text``; empty when fine.

    Reported, in the order they appear: tokens whose name is not in ``allowed`` (for
    example ``"Unknown token {{ frist_name }}: use one of cart.value, first_name; did
    you mean first_name?"``), and text that looks like a token but is not one, which
    :func:`render_tokens` would show as written (``{{ name|upper }}``, ``{% if %}``,
    ``{{ name }``). Each problem is reported once.
    """
    problems: list[str] = []
    choices = ", ".join(sorted(allowed))
    position = 0
    for match in _TOKEN.finditer(text):
        problems.extend(_untokenized(text[position : match.start()]))
        position = match.end()
        name = match["name"]
        if name in allowed:
            continue
        if not allowed:
            problems.append(f"Unknown token {{{{ {name} }}}}: no tokens can be used here")
            continue
        message = f"Unknown token {{{{ {name} }}}}: use one of {choices}"
        close = difflib.get_close_matches(name, allowed, n=1)
        problems.append(f"{message}; did you mean {close[0]}?" if close else message)
    problems.extend(_untokenized(text[position:]))
    return list(dict.fromkeys(problems))


def _untokenized(literal: str) -> Iterator[str]:
    """Messages for token-like text in a stretch of ``literal`` text with no tokens."""
    for opening in _OPENING.finditer(literal):
        closing = _CLOSING.search(literal, opening.end(), opening.end() + 80)
        if closing:
            snippet = literal[opening.start() : closing.end()]
        else:  # Unclosed: show where it starts.
            snippet = literal[opening.start() : opening.end() + 30]
            snippet += "…" if opening.end() + 30 < len(literal) else ""
        snippet = " ".join(snippet.split())
        yield (
            f"{snippet} is not a token and would be shown as written; write "
            f'{{{{ name }}}} or {{{{ name|default:"text" }}}} with a lower-case name'
        )


def _lookup(values: Mapping[str, object], path: str) -> object:
    current: object = values
    for part in path.split("."):
        if not isinstance(current, Mapping):
            return None
        current = current.get(part)
    return current


def _format(value: object) -> str | None:
    """Show ``value`` as text, or return ``None`` when it counts as missing."""
    if value is None or isinstance(value, Mapping | list | tuple | set | frozenset | bytes):
        return None
    if isinstance(value, str):
        return value or None
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return _format_integer(value)
    if isinstance(value, float):
        return _format_decimal(Decimal(repr(value))) if math.isfinite(value) else None
    if isinstance(value, Decimal):
        return _format_decimal(value) if value.is_finite() else None
    try:
        return str(value)
    except Exception:  # A shop's broken __str__ must not break the page.
        return None


def _format_integer(value: int) -> str | None:
    try:
        return str(value)
    except ValueError:  # More digits than sys.get_int_max_str_digits() allows.
        return None


def _format_decimal(value: Decimal) -> str:
    if value.adjusted() >= _MAX_DIGITS:
        return str(value)
    try:
        cents = value.quantize(_CENT, rounding=ROUND_HALF_UP)
    except InvalidOperation:  # Only under a caller's low-precision decimal context.
        return str(value)
    if not cents:
        return "0"  # Also for -0.001, which would otherwise read "-0".
    return f"{cents:.0f}" if cents == cents.to_integral_value() else f"{cents:.2f}"
