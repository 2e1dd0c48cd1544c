"""Tests for personalize.campaigns.tokens: the restricted, escaping token renderer."""

from __future__ import annotations

from collections import OrderedDict
from datetime import date
from decimal import Decimal, localcontext
from types import MappingProxyType
from typing import Any

import pytest

from personalize.campaigns.sanitize import sanitize_html
from personalize.campaigns.tokens import (
    MAX_DEFAULT_LENGTH,
    render_tokens,
    token_names,
    validate_tokens,
)
from tests.hang_guard import finishes

VALUES: dict[str, Any] = {
    "first_name": "Ann",
    "cart": {"value": 12.5, "count": 3, "items": {"first": {"name": "Cat food"}}},
    "empty": "",
    "nothing": None,
    "_private": "underscore",
    "x9": "nine",
}


# --- syntax -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hello {{ first_name }}!", "Hello Ann!"),
        ("{{first_name}}", "Ann"),
        ("{{   first_name   }}", "Ann"),
        ("{{\tfirst_name\n}}", "Ann"),
        ("{{ cart.value }}", "12.50"),
        ("{{ cart.items.first.name }}", "Cat food"),
        ("{{ _private }} {{ x9 }}", "underscore nine"),
        ("{{ first_name }}{{ first_name }}", "AnnAnn"),
        ('{{ missing|default:"friend" }}', "friend"),
        ("{{ missing|default:'friend' }}", "friend"),
        ('{{ missing | default : "friend" }}', "friend"),
        ('{{missing|default:"friend"}}', "friend"),
        ('{{ first_name|default:"friend" }}', "Ann"),
        ('{{ empty|default:"friend" }}', "friend"),
        ('{{ nothing|default:"friend" }}', "friend"),
        ('{{ cart.missing|default:"none" }}', "none"),
        ('{{ first_name.deeper|default:"flat" }}', "flat"),
        ('{{ missing|default:"" }}', ""),
        ("{{ missing }}", ""),
        ("{{ empty }}", ""),
        ('{{ missing|default:"it\'s" }}', "it&#x27;s"),
        ("{{ missing|default:'say \"hi\"' }}", "say &quot;hi&quot;"),
        ('{{ missing|default:"}} {{" }}', "}} {{"),
        ('{{ missing|default:"a|default:b" }}', "a|default:b"),
        ("no tokens at all", "no tokens at all"),
        ("", ""),
    ],
)
def test_tokens_are_replaced(text: str, expected: str) -> None:
    assert render_tokens(text, VALUES) == expected


@pytest.mark.parametrize(
    "text",
    [
        "{% if first_name %}yes{% endif %}",
        "{% load static %}",
        "{{ first_name|upper }}",
        "{{ first_name|default }}",
        "{{ first_name|default:friend }}",
        '{{ first_name|default:"friend"|upper }}',
        '{{ first_name|Default:"friend" }}',
        "{{ first_name.__class__ }}",
        "{{ __class__ }}",
        "{{ cart.__len__ }}",
        '{{ "x" }}',
        "{{ 'x' }}",
        "{{ 1 }}",
        "{{ 9lives }}",
        "{{ First_Name }}",
        "{{ first name }}",
        "{{ first-name }}",
        "{{ cart..value }}",
        "{{ .cart }}",
        "{{ cart. }}",
        "{{ cart[0] }}",
        "{{ cart.items() }}",
        "{{ }}",
        "{{}}",
        "{{ first_name }",
        "{ first_name }}",
        "{first_name}",
        "{{ first_name",
        "first_name }}",
        "{# comment #}",
        '{{ missing|default:"unterminated }}',
        "{{ missing|default:'mixed\" }}",
        '{{ missing|default:"' + "x" * (MAX_DEFAULT_LENGTH + 1) + '" }}',
        "{{ ﬁrst_name }}",
        "{{ first_n\u0430me }}",
    ],
)
def test_anything_else_is_left_exactly_as_written(text: str) -> None:
    assert render_tokens(text, VALUES) == text
    assert render_tokens(text, VALUES, html=False) == text
    assert token_names(text) == set()


def test_default_may_be_as_long_as_the_limit() -> None:
    fallback = "x" * MAX_DEFAULT_LENGTH
    assert render_tokens(f'{{{{ missing|default:"{fallback}" }}}}', {}) == fallback


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{{{ first_name }}}", "{Ann}"),
        ("{{{{ first_name }}}}", "{{Ann}}"),
        ("{{ {{ first_name }} }}", "{{ Ann }}"),
        ("{{ a {{ first_name }}", "{{ a Ann"),
        ("}}{{ first_name }}{{", "}}Ann{{"),
        ("{% {{ first_name }} %}", "{% Ann %}"),
    ],
)
def test_nested_and_unbalanced_braces(text: str, expected: str) -> None:
    assert render_tokens(text, VALUES) == expected


def test_surrounding_text_is_not_escaped() -> None:
    text = '<p class="pz-x">Hi <b>{{ first_name }}</b> &amp; {{ x|upper }} "q"</p>'
    assert render_tokens(text, VALUES) == (
        '<p class="pz-x">Hi <b>Ann</b> &amp; {{ x|upper }} "q"</p>'
    )


# --- values -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, "0"),
        (3, "3"),
        (-7, "-7"),
        (10**20, "100000000000000000000"),
        (12.5, "12.50"),
        (12.0, "12"),
        (12.345, "12.35"),
        (2.675, "2.68"),
        (0.1 + 0.2, "0.30"),
        (12.001, "12"),
        (12.999, "13"),
        (-3.5, "-3.50"),
        (-0.001, "0"),
        (-0.0, "0"),
        (0.005, "0.01"),
        (1e15, "1000000000000000.0"),
        (1e20, "1E+20"),
        (Decimal("12.50"), "12.50"),
        (Decimal("12.00"), "12"),
        (Decimal("12"), "12"),
        (Decimal("0.125"), "0.13"),
        (Decimal("-0.004"), "0"),
        (Decimal("1E+3"), "1000"),
        (Decimal("123456789012345.678"), "123456789012345.68"),
        (Decimal("1234567890123456789.5"), "1234567890123456789.5"),
        (Decimal("1E+999999"), "1E+999999"),
        (True, "True"),
        (False, "False"),
        ("text", "text"),
        (" ", " "),
        ("0", "0"),
        (date(2025, 12, 24), "2025-12-24"),
    ],
)
def test_values_are_formatted(value: object, expected: str) -> None:
    assert render_tokens("{{ v }}", {"v": value}) == expected


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        float("nan"),
        float("inf"),
        float("-inf"),
        Decimal("NaN"),
        Decimal("sNaN"),
        Decimal("Infinity"),
        {"a": 1},
        [1, 2],
        (1,),
        {1},
        frozenset({1}),
        b"bytes",
    ],
)
def test_missing_and_unshowable_values_use_the_default(value: object) -> None:
    assert render_tokens('{{ v|default:"fallback" }}', {"v": value}) == "fallback"
    assert render_tokens("{{ v }}", {"v": value}) == ""


def test_integer_too_long_to_show_counts_as_missing() -> None:
    huge = 10**5000  # More digits than Python converts to text by default.
    assert render_tokens('{{ v|default:"a lot" }}', {"v": huge}) == "a lot"


def test_broken_str_counts_as_missing() -> None:
    class Broken:
        def __str__(self) -> str:
            raise RuntimeError("boom")

    assert render_tokens('{{ v|default:"ok" }}', {"v": Broken()}) == "ok"


def test_cents_survive_a_low_precision_decimal_context() -> None:
    with localcontext(prec=3):
        assert render_tokens("{{ v }}", {"v": Decimal("123456.789")}) == "123456.789"


def test_lookups_only_read_mappings() -> None:
    class Secretive:
        first_name = "attribute"

        def __getitem__(self, key: str) -> str:
            return "item"

    values: dict[str, Any] = {
        "obj": Secretive(),
        "items": ["a", "b"],
        "proxy": MappingProxyType({"name": "proxied"}),
        "ordered": OrderedDict(name="ordered"),
    }
    assert render_tokens("{{ obj.first_name }}|{{ items.0 }}", values) == "|{{ items.0 }}"
    assert render_tokens("{{ items.first }}", values) == ""
    assert render_tokens("{{ proxy.name }} {{ ordered.name }}", values) == "proxied ordered"
    assert render_tokens("{{ cart }}", {"cart": {"value": 1}}) == ""


def test_values_mapping_can_be_any_mapping() -> None:
    assert render_tokens("{{ a.b }}", MappingProxyType({"a": {"b": "c"}})) == "c"


# --- escaping -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "escaped"),
    [
        ("<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"),
        ("<img src=x onerror=alert(1)>", "&lt;img src=x onerror=alert(1)&gt;"),
        ('" onmouseover="alert(1)', "&quot; onmouseover=&quot;alert(1)"),
        ("' onfocus='alert(1)", "&#x27; onfocus=&#x27;alert(1)"),
        ("Tom & Jerry", "Tom &amp; Jerry"),
        ("&amp;", "&amp;amp;"),
        ("{{ first_name }}", "{{ first_name }}"),
        ("{% debug %}", "{% debug %}"),
    ],
)
def test_values_are_html_escaped(value: str, escaped: str) -> None:
    assert render_tokens("{{ v }}", {"v": value, "first_name": "Ann"}) == escaped
    assert render_tokens("{{ v }}", {"v": value, "first_name": "Ann"}, html=False) == value


def test_substituted_values_are_not_rendered_again() -> None:
    values = {"a": "{{ b }}", "b": "<b>"}
    assert render_tokens("{{ a }}{{ b }}", values) == "{{ b }}&lt;b&gt;"


def test_value_inside_an_attribute_cannot_break_out() -> None:
    text = '<a href="/x" title="{{ v }}">x</a>'
    output = render_tokens(text, {"v": '"><script>alert(1)</script>'})
    assert output == '<a href="/x" title="&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;">x</a>'


@pytest.mark.parametrize(
    ("default", "html_output", "text_output"),
    [
        ("<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;", None),
        ("<b>bold</b>", "&lt;b&gt;bold&lt;/b&gt;", None),
        ("Tom &amp; Jerry", "Tom &amp; Jerry", None),
        ("&lt;3", "&lt;3", None),
        ("Tom & Jerry", "Tom &amp; Jerry", None),
        ("&quot;quoted&quot;", "&quot;quoted&quot;", None),
        ("it's", "it&#x27;s", None),
        ("{{ first_name }}", "{{ first_name }}", None),
    ],
)
def test_defaults_are_escaped_once(default: str, html_output: str, text_output: str | None) -> None:
    text = f'{{{{ missing|default:"{default}" }}}}'
    assert render_tokens(text, VALUES) == html_output
    assert render_tokens(text, VALUES, html=False) == (text_output or default)


def test_html_false_leaves_everything_unescaped() -> None:
    values = {"name": "<Ann & Bob>"}
    text = '<b>{{ name }}</b> {{ x|default:"<i>" }}'
    assert render_tokens(text, values, html=False) == "<b><Ann & Bob></b> <i>"


# --- unicode ------------------------------------------------------------------------------


def test_unicode_text_and_values() -> None:
    values = {"first_name": "Zoë 🐈", "city": "東京"}
    text = 'Bonjour {{ first_name }} — {{ city }} · {{ pays|default:"España" }} €'
    assert render_tokens(text, values) == "Bonjour Zoë 🐈 — 東京 · España €"


def test_unicode_whitespace_inside_braces() -> None:
    assert render_tokens("{{\u00a0first_name\u2003}}", VALUES) == "Ann"


# --- performance --------------------------------------------------------------------------


def test_a_hundred_thousand_tokens_render() -> None:
    # Linear time is measured in benchmarks/bench_untrusted_input.py.
    chunk = 'Hi {{ first_name }}, {{ cart.value }} {{ missing|default:"x" }}. '
    text = chunk * (100_000 // 3)
    output = finishes(lambda: render_tokens(text, VALUES))
    assert output == "Hi Ann, 12.50 x. " * (100_000 // 3)


# About 100 kB each, the most campaign text sanitize_html lets through.
@pytest.mark.parametrize(
    "text",
    [
        '{{ a|default:"' * 7_000,
        "{{ a|default:'" * 7_000,
        "{{" + " " * 100_000,
        "{{ " + "a." * 50_000,
        "{{ a" + " " * 100_000 + "x",
        "{{ a |" + " " * 100_000,
        "{" * 100_000,
        "{{ a }" * 16_000,
        "{%" * 50_000,
    ],
)
def test_pathological_text_finishes(text: str) -> None:
    assert finishes(lambda: render_tokens(text, VALUES)) == text
    finishes(lambda: validate_tokens(text, {"a"}))


# --- token_names and validate_tokens --------------------------------------------------------


def test_token_names() -> None:
    text = (
        'Hi {{ first_name }}, {{ cart.value|default:"0" }} {{ first_name }} '
        "{{ x|upper }} {% if y %} {{ a.__class__ }}"
    )
    assert token_names(text) == {"first_name", "cart.value"}
    assert token_names("") == set()


ALLOWED = {"first_name", "cart_value", "cart.value", "visit_count"}
CHOICES = "cart.value, cart_value, first_name, visit_count"
NOT_A_TOKEN = (
    " is not a token and would be shown as written; write {{ name }} or "
    '{{ name|default:"text" }} with a lower-case name'
)


def test_valid_text_has_no_problems() -> None:
    text = 'Hi {{ first_name|default:"there" }}, you have {{ cart.value }}. {{{ visit_count }}}'
    assert validate_tokens(text, ALLOWED) == []
    assert validate_tokens("plain text", set()) == []


def test_unknown_tokens_are_named_with_the_allowed_ones() -> None:
    assert validate_tokens("Hi {{ frist_name }}!", ALLOWED) == [
        f"Unknown token {{{{ frist_name }}}}: use one of {CHOICES}; did you mean first_name?"
    ]
    assert validate_tokens('{{ zzz|default:"x" }}', ALLOWED) == [
        f"Unknown token {{{{ zzz }}}}: use one of {CHOICES}"
    ]


def test_unknown_tokens_without_any_allowed() -> None:
    assert validate_tokens("{{ a }}", set()) == [
        "Unknown token {{ a }}: no tokens can be used here"
    ]


def test_each_problem_is_reported_once_in_order() -> None:
    text = "{{ b }} {{ a }} {{ b }} {{ x|upper }} {{ x|upper }}"
    assert validate_tokens(text, {"c"}) == [
        "Unknown token {{ b }}: use one of c",
        "Unknown token {{ a }}: use one of c",
        "{{ x|upper }}" + NOT_A_TOKEN,
    ]


@pytest.mark.parametrize(
    ("text", "snippet"),
    [
        ("{{ first_name|upper }}", "{{ first_name|upper }}"),
        ("before {% if visit_count %} after", "{% if visit_count %}"),
        ("{{ First_Name }}", "{{ First_Name }}"),
        ("{{ a.__class__ }}", "{{ a.__class__ }}"),
        ('{{ "x" }}', '{{ "x" }}'),
        ("Hi {{ first_name } and more text here, and more", "{{ first_name } and more text he…"),
        ("ends with {{", "{{"),
        ("{{ first\n   name }}", "{{ first name }}"),
    ],
)
def test_text_that_is_not_a_token_is_reported(text: str, snippet: str) -> None:
    assert validate_tokens(text, ALLOWED) == [snippet + NOT_A_TOKEN]


def test_problems_before_between_and_after_tokens() -> None:
    text = "{% a %} {{ first_name }} {{ b|x }} {{ visit_count }} {{ c"
    assert validate_tokens(text, ALLOWED) == [
        "{% a %}" + NOT_A_TOKEN,
        "{{ b|x }}" + NOT_A_TOKEN,
        "{{ c" + NOT_A_TOKEN,
    ]


def test_sanitised_rich_text_with_tokens_stays_safe() -> None:
    # The intended pipeline: sanitize_html when saving, render_tokens when showing.
    body = sanitize_html(
        '<p>Hi {{ name|default:"you & yours" }}, <a href="{{ url }}" title="{{ name }}">go</a>'
        '<img src=x onerror="{{ name }}"></p>'
    )
    values = {"name": '"><img src=x onerror=alert(1)>', "url": "javascript:alert(1)"}
    assert render_tokens(body, values) == (
        "<p>Hi &quot;&gt;&lt;img src=x onerror=alert(1)&gt;, "
        '<a rel="noopener noreferrer" title="&quot;&gt;&lt;img src=x onerror=alert(1)&gt;">'
        'go</a><img src="x"></p>'
    )
    assert render_tokens(body, {}) == (
        '<p>Hi you &amp; yours, <a rel="noopener noreferrer" title="">go</a><img src="x"></p>'
    )
