"""Tests for personalize.campaigns.sanitize: rich text, theme colours and CTA URLs."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from personalize.campaigns.sanitize import (
    ALLOWED_ATTRIBUTES,
    ALLOWED_TAGS,
    ALLOWED_URL_SCHEMES,
    MAX_HTML_LENGTH,
    MAX_NESTING,
    MAX_URL_LENGTH,
    sanitize_css_color,
    sanitize_html,
    sanitize_url,
)
from tests.hang_guard import finishes

# --- an HTML reading of the output, the way a browser would see it ----------------------


class _Markup(HTMLParser):
    """Collects every tag, attribute, comment and declaration in a fragment."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.other: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))

    def handle_comment(self, data: str) -> None:
        self.other.append(f"comment {data!r}")

    def handle_decl(self, decl: str) -> None:
        self.other.append(f"declaration {decl!r}")

    def handle_pi(self, data: str) -> None:
        self.other.append(f"processing instruction {data!r}")

    def unknown_decl(self, data: str) -> None:
        self.other.append(f"unknown declaration {data!r}")


ATTRIBUTES_ON_OUTPUT = {
    tag: set(ALLOWED_ATTRIBUTES.get(tag, ())) | ({"rel", "target"} if tag == "a" else set())
    for tag in ALLOWED_TAGS
}
# What browsers strip from a URL before reading its scheme.
URL_NOISE = re.compile(r"[\x00-\x20\x7f-\x9f]")
SCHEME = re.compile(r"([a-z][a-z0-9+.\-]*):")
DANGEROUS_TEXT = re.compile(
    r"<\s*/?\s*(script|style|iframe|frame|svg|math|object|embed|base|meta|link|form|input|"
    r"button|textarea|select|template|noscript|xmp|plaintext|title|applet|video|audio)\b"
    r"|<!--|<!\[CDATA\[|<!|<\?",
    re.IGNORECASE,
)


def assert_safe(output: str) -> None:
    """Fail unless ``output`` holds only allowlisted, inert markup."""
    assert not DANGEROUS_TEXT.search(output), output[:500]
    assert "<" not in re.sub(r"<(/?)([a-z0-9]+)([^<>]*)>", "", output), output[:500]
    markup = _Markup()
    markup.feed(output)
    markup.close()
    assert markup.other == [], output[:500]
    for tag, attributes in markup.tags:
        assert tag in ALLOWED_TAGS, (tag, output[:500])
        for name, value in attributes:
            assert name in ATTRIBUTES_ON_OUTPUT[tag], (tag, name, output[:500])
            assert not name.startswith("on") and name != "style"
            assert value is not None
            if name in ("href", "src"):
                scheme = SCHEME.match(URL_NOISE.sub("", value).lower())
                assert scheme is None or scheme.group(1) in ALLOWED_URL_SCHEMES, value
            if name == "class":
                assert all(re.fullmatch(r"pz-[a-z0-9-]+", part) for part in value.split())
            if name == "rel":
                assert value == "noopener noreferrer"
            if name == "target":
                assert value in ("_blank", "_self")
    if len(output) <= MAX_HTML_LENGTH:
        # A stable result cannot be re-parsed into something else (mutation XSS).
        assert sanitize_html(output) == output, output[:500]


# --- the XSS corpus -----------------------------------------------------------------------

XSS_VECTORS = [
    # script in all its forms
    "<script>alert(1)</script>",
    "<SCRIPT SRC=https://evil.example/xss.js></SCRIPT>",
    "<script/xss src=https://evil.example/xss.js></script>",
    "<scr<script>ipt>alert(1)</scr</script>ipt>",
    "<<script>alert(1);//<</script>",
    "<script>alert(1)",
    "<script\x00>alert(1)</script>",
    '<script type="text/plain">alert(1)</script>',
    "<ScRiPt>alert(String.fromCharCode(88,83,83))</sCrIpT>",
    "</script><script>alert(1)</script>",
    # event handlers
    "<img src=x onerror=alert(1)>",
    '<img src="x" onerror="alert(1)">',
    "<img src=x OnErRoR=alert(1)>",
    "<img src=x onerror\t=\talert(1)>",
    "<img/src=x/onerror=alert(1)>",
    '<img src="x"/onerror="alert(1)">',
    "<img src=`x`onerror=alert(1)>",
    "<img src=x onerror=&#97;&#108;&#101;&#114;&#116;(1)>",
    "<body onload=alert(1)>",
    '<p onclick="alert(1)">click</p>',
    '<a href="/x" onmouseover="alert(1)">hover</a>',
    "<span onfocus=alert(1) autofocus tabindex=1>x</span>",
    "<b onpointerenter=alert(1)>x</b>",
    '<div onpointerover="alert(1)">x</div>',
    "<details open ontoggle=alert(1)>",
    "<marquee onstart=alert(1)>x</marquee>",
    "<input autofocus onfocus=alert(1)>",
    "<select onfocus=alert(1) autofocus>",
    "<video><source onerror=alert(1)></video>",
    "<audio src=x onerror=alert(1)>",
    "<isindex type=image src=1 onerror=alert(1)>",
    "<p/onclick=alert(1)>x</p>",
    '<p title="x" onclick=alert(1)//>x</p>',
    # SVG and MathML
    "<svg/onload=alert(1)>",
    "<svg><script>alert(1)</script></svg>",
    '<svg><a xlink:href="javascript:alert(1)"><text x="20" y="20">X</text></a></svg>',
    "<svg><animate onbegin=alert(1) attributeName=x dur=1s>",
    "<svg><foreignObject><img src=x onerror=alert(1)></foreignObject></svg>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    "<math><mi xlink:href=javascript:alert(1)>x</mi></math>",
    '<math><mtext><h1><a><h6></a></h6><mglyph><svg><mtext><style><a title="</style>'
    '<img src onerror=alert(1)>"></style></h1>',
    '<svg></p><style><a id="</style><img src=1 onerror=alert(1)>">',
    "<form><math><mtext></form><form><mglyph><style></math><img src onerror=alert(1)>",
    # dangerous URLs
    '<a href="javascript:alert(1)">x</a>',
    '<a href="JaVaScRiPt:alert(1)">x</a>',
    '<a href="  javascript:alert(1)">x</a>',
    '<a href="\tjavascript:alert(1)">x</a>',
    '<a href="jav&#x09;ascript:alert(1)">x</a>',
    '<a href="jav&#x0A;ascript:alert(1)">x</a>',
    '<a href="jav\nascript:alert(1)">x</a>',
    '<a href="&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1)">x</a>',
    '<a href="&#x6A;avascript:alert(1)">x</a>',
    '<a href="&#0000106avascript:alert(1)">x</a>',
    '<a href="javascript&colon;alert(1)">x</a>',
    '<a href="\x01javascript:alert(1)">x</a>',
    '<a href="java\x00script:alert(1)">x</a>',
    "<a href=javascript:alert(1)>x</a>",
    "<a href='javascript:alert(1)'>x</a>",
    '<a href="vbscript:msgbox(1)">x</a>',
    '<a href="VBSCRIPT:msgbox(1)">x</a>',
    '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">x</a>',
    '<a href="DATA:text/html,<script>alert(1)</script>">x</a>',
    '<a href="livescript:alert(1)">x</a>',
    '<a href="file:///etc/passwd">x</a>',
    '<img src="javascript:alert(1)">',
    '<img src="data:text/html,<script>alert(1)</script>">',
    '<img src="data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+">',
    '<img src=" data:image/png;base64,AAAA">',
    '<img src="vbscript:msgbox(1)">',
    "<img dynsrc=javascript:alert(1)>",
    "<img lowsrc=javascript:alert(1)>",
    '<img srcset="javascript:alert(1) 1x">',
    '<a href="/x" formaction="javascript:alert(1)">x</a>',
    '<a href="https://ok.example" xlink:href="javascript:alert(1)">x</a>',
    # styles and layout escapes
    "<style>body{display:none}</style>",
    '<style>@import "https://evil.example/x.css";</style>',
    '<p style="position:fixed;top:0;left:0;width:100%;height:100%">fake</p>',
    '<span style="background:url(javascript:alert(1))">x</span>',
    '<span style="behavior:url(xss.htc)">x</span>',
    '<p STYLE="x:expression(alert(1))">x</p>',
    '<link rel="stylesheet" href="https://evil.example/x.css">',
    # frames, objects and document-level tags
    "<iframe src=javascript:alert(1)></iframe>",
    '<iframe srcdoc="<script>alert(1)</script>"></iframe>',
    '<iframe srcdoc="&lt;img src=x onerror=alert(1)&gt;"></iframe>',
    "<frameset><frame src=javascript:alert(1)></frameset>",
    '<object data="javascript:alert(1)"></object>',
    '<embed src="javascript:alert(1)">',
    '<applet code="x.class"></applet>',
    '<base href="https://evil.example/">',
    '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    '<meta charset="x-imap4-modified-utf7">',
    '<form action="https://evil.example"><input name=card></form>',
    '<form><button formaction="javascript:alert(1)">x</button></form>',
    "<textarea><script>alert(1)</script></textarea>",
    "<title><script>alert(1)</script></title>",
    '<noscript><p title="</noscript><img src=x onerror=alert(1)>"></noscript>',
    '<noembed><img title="</noembed><img src onerror=alert(1)>"></noembed>',
    "<template><script>alert(1)</script></template>",
    "<xmp><script>alert(1)</script></xmp>",
    "<plaintext><script>alert(1)</script>",
    "<html><head><script>alert(1)</script></head><body>x</body></html>",
    # comments, declarations, CDATA
    "<!--<script>alert(1)</script>-->",
    "<!--><img src=x onerror=alert(1)>-->",
    "<!-- --!><img src=x onerror=alert(1)>",
    "<![CDATA[<script>alert(1)</script>]]>",
    "<!DOCTYPE html><b>x</b>",
    '<?xml version="1.0"?><b>x</b>',
    "<!ENTITY x SYSTEM 'file:///etc/passwd'>",
    # attributes that could break out or clobber
    '<p class="pz-ok" id="location">x</p>',
    '<img name="cookie" src="x">',
    '<span class="x" data-x="1" aria-hidden="true" hidden>x</span>',
    '<a href="/x" target="_top">x</a>',
    '<a href="/x" target="javascript:alert(1)">x</a>',
    '<a href="/x" rel="opener">x</a>',
    '<p class="pz-a x&quot; onclick=&quot;alert(1)">x</p>',
    '<img src="x" alt="&quot; onerror=&quot;alert(1)">',
    '<img src="x" alt=\'" onerror="alert(1)\'>',
    '<img src="x" width="100%" height="expression(alert(1))">',
    '<a href="/x" title="</a><script>alert(1)</script>">x</a>',
    # broken and unclosed markup
    "<img src=x onerror=alert(1)",
    "<a href='javascript:alert(1)'",
    '<p title="unterminated',
    "<<img src=x onerror=alert(1)>>",
    "<b><i><u>unclosed",
    "</p></b></a>stray closers",
    "<a\x00 href=javascript:alert(1)>x</a>",
    "<img\x0csrc=x\x0conerror=alert(1)>",
    "<img src=x onerror\x0b=alert(1)>",
    # encodings and non-UTF-8 leftovers
    "\ud800<script>alert(1)</script>\udfff",
    "<img src=x onerror=\udc80alert(1)>",
    "+ADw-script+AD4-alert(1)+ADw-/script+AD4-",
    "%3Cscript%3Ealert(1)%3C/script%3E",
    "&lt;script&gt;alert(1)&lt;/script&gt;",
    "\u003cscript\u003ealert(1)\u003c/script\u003e",
    "\uff1cscript\uff1ealert(1)\uff1c/script\uff1e",
]


@pytest.mark.parametrize("vector", XSS_VECTORS)
def test_xss_vector_is_neutralised(vector: str) -> None:
    assert_safe(sanitize_html(vector))


@pytest.mark.parametrize("vector", XSS_VECTORS)
def test_xss_vector_inside_legitimate_content_is_neutralised(vector: str) -> None:
    output = sanitize_html(f"<p>Hello <strong>there</strong></p>{vector}<p>bye</p>")
    assert_safe(output)
    assert output.startswith("<p>Hello <strong>there</strong></p>")


def test_no_executable_markup_survives_as_markup() -> None:
    output = sanitize_html("".join(XSS_VECTORS))
    assert_safe(output)
    lowered = output.lower()
    assert "<script" not in lowered
    assert "javascript:" not in lowered
    assert "vbscript:" not in lowered
    assert "data:" not in lowered
    assert "style=" not in lowered
    assert not re.search(r"<[^>]*\son\w+\s*=", lowered)


# --- what survives ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ("plain text", "plain text"),
        ("<p>Hello <strong>there</strong></p>", "<p>Hello <strong>there</strong></p>"),
        (
            "<p><b>b</b> <i>i</i> <em>em</em> <u>u</u> <s>s</s> <small>s</small> "
            "<mark>m</mark></p>",
            "<p><b>b</b> <i>i</i> <em>em</em> <u>u</u> <s>s</s> <small>s</small> "
            "<mark>m</mark></p>",
        ),
        ("<h2>A</h2><h3>B</h3><h4>C</h4>", "<h2>A</h2><h3>B</h3><h4>C</h4>"),
        ("<h1>Big</h1><h5>x</h5><h6>y</h6>", "Bigxy"),
        ("<ul><li>one</li><li>two</li></ul>", "<ul><li>one</li><li>two</li></ul>"),
        ("<ol><li>first</li></ol>", "<ol><li>first</li></ol>"),
        ("<blockquote>quote</blockquote><hr>", "<blockquote>quote</blockquote><hr>"),
        ("line<br>break<br/>again", "line<br>break<br>again"),
        (
            '<a href="https://shop.example/sale" title="Sale">Shop</a>',
            '<a href="https://shop.example/sale" title="Sale" rel="noopener noreferrer">Shop</a>',
        ),
        (
            '<a href="/cart/" target="_blank" rel="nofollow">cart</a>',
            '<a href="/cart/" target="_blank" rel="noopener noreferrer">cart</a>',
        ),
        (
            '<a href="/x" target="_self">x</a>',
            '<a href="/x" target="_self" rel="noopener noreferrer">x</a>',
        ),
        ('<a href="/x" target="_top">x</a>', '<a href="/x" rel="noopener noreferrer">x</a>'),
        (
            '<a href="mailto:help@shop.example">mail</a> <a href="tel:+33123">call</a>',
            '<a href="mailto:help@shop.example" rel="noopener noreferrer">mail</a> '
            '<a href="tel:+33123" rel="noopener noreferrer">call</a>',
        ),
        (
            '<a href="relative/page?x=1&amp;y=2#top">r</a>',
            '<a href="relative/page?x=1&amp;y=2#top" rel="noopener noreferrer">r</a>',
        ),
        ('<a href="ftp://files.example/">f</a>', '<a rel="noopener noreferrer">f</a>'),
        (
            '<img src="https://cdn.example/a.png" alt="A cat" width="120" height="80">',
            '<img src="https://cdn.example/a.png" alt="A cat" width="120" height="80">',
        ),
        (
            '<img src="/media/a.png" width="100%" height="12345" title="t">',
            '<img src="/media/a.png">',
        ),
        (
            '<p class="pz-lead pz-big-2">x</p><span class="pz-note">y</span>',
            '<p class="pz-lead pz-big-2">x</p><span class="pz-note">y</span>',
        ),
        ('<p class="lead pz-ok PZ-NO pz-">x</p>', '<p class="pz-ok">x</p>'),
        ('<p class="pz-a pz-a">x</p>', '<p class="pz-a">x</p>'),
        ('<p class="evil">x</p>', "<p>x</p>"),
        ('<b class="pz-ok">x</b>', "<b>x</b>"),
        ("<div>block</div><section>s</section>", "blocks"),
        ("<button>Buy now</button>", "Buy now"),
        ("<table><tr><td>cell</td></tr></table>", "cell"),
        ("a <!-- hidden --> b", "a  b"),
        ("<p>unclosed", "<p>unclosed</p>"),
        ("<b><i>mis</b>nested</i>", "<b><i>mis</i></b><i>nested</i>"),
        ("Tom &amp; Jerry &lt;3 &copy; 5 > 4", "Tom &amp; Jerry &lt;3 © 5 &gt; 4"),
        (
            "€12.50 — “quotes” \u2018single\u2019 café 日本 🐈",
            "€12.50 — “quotes” \u2018single\u2019 café 日本 🐈",
        ),
        ("Say \"hi\" and 'bye'", "Say \"hi\" and 'bye'"),
        ('<p>{{ first_name|default:"there" }}</p>', '<p>{{ first_name|default:"there" }}</p>'),
        (
            '<a href="/x" title="{{ name }}">x</a>',
            '<a href="/x" title="{{ name }}" rel="noopener noreferrer">x</a>',
        ),
        ("", ""),
    ],
)
def test_legitimate_formatting_survives(html: str, expected: str) -> None:
    assert sanitize_html(html) == expected
    assert_safe(sanitize_html(html))


@pytest.mark.parametrize(
    "html",
    [
        '<a href="{{ url }}">x</a>',
        '<a href="{{url}}:alert(1)">x</a>',
        '<a href="https://shop.example/?q={{ query }}">x</a>',
        "<img src=\"{% static 'x.png' %}\">",
    ],
)
def test_urls_containing_tokens_are_dropped(html: str) -> None:
    # Tokens are filled in after cleaning; a value must never become a link target.
    output = sanitize_html(html)
    assert "{" not in output
    assert_safe(output)


def test_lone_surrogates_become_replacement_characters() -> None:
    assert sanitize_html("a\ud800b\udfffc") == "a\ufffdb\ufffdc"
    assert sanitize_html("split pair \ud83d\ude00") == "split pair 😀"


def test_nul_characters_are_dropped() -> None:
    assert sanitize_html("a\x00b<b>\x00</b>") == "ab<b></b>"


# --- size and nesting limits --------------------------------------------------------------


def test_one_megabyte_of_mixed_markup_finishes_safe() -> None:
    chunk = (
        '<p class="pz-x">Hello <b>world</b> <img src=x onerror=alert(1)> '
        '<a href="javascript:alert(1)">x</a><script>alert(1)</script></p>'
    )
    html = chunk * (1_000_000 // len(chunk) + 1)
    assert len(html) > 1_000_000
    output = finishes(lambda: sanitize_html(html))
    assert_safe(output)
    assert output.startswith('<p class="pz-x">Hello <b>world</b> <img src="x"> ')


@pytest.mark.parametrize(
    "html",
    [
        "<div>" * 1_000_000,
        "<ul><li>" * 200_000,
        "<blockquote>" * 200_000,
        "<span>" * 200_000,
        "<a" * 500_000,
        "<" * 1_000_000,
        "<!--" * 250_000,
        "<div><!--</div>-->" * 60_000,
        '<div title="</div>">' * 60_000,
        "<p>" * 250_000,
        "x" * 1_000_000,
        "&amp;" * 200_000,
        "\ud800" * 1_000_000,
    ],
)
def test_pathological_megabyte_inputs_finish(html: str) -> None:
    output = finishes(lambda: sanitize_html(html))
    assert len(output) <= 6 * MAX_HTML_LENGTH
    assert_safe(output)


def test_input_is_cut_at_the_length_limit() -> None:
    output = sanitize_html("a" * (MAX_HTML_LENGTH + 10) + "<b>tail</b>")
    assert output == "a" * MAX_HTML_LENGTH


def test_nesting_up_to_the_limit_is_kept() -> None:
    html = "<span>" * MAX_NESTING + "deep" + "</span>" * MAX_NESTING
    assert sanitize_html(html) == html


def test_closed_elements_do_not_count_towards_nesting() -> None:
    html = "<span><b>x</b></span>" * (MAX_NESTING * 3)
    assert sanitize_html(html) == html


def test_close_tags_close_inner_unclosed_elements() -> None:
    html = "<blockquote><span><span>x</blockquote>" * (MAX_NESTING * 2) + "<b>end</b>"
    expected = "<blockquote><span><span>x</span></span></blockquote>" * (MAX_NESTING * 2)
    assert sanitize_html(html) == expected + "<b>end</b>"


def test_stray_close_tags_do_not_hide_nesting() -> None:
    html = "<span></em></strong>" * (MAX_NESTING + 1) + "<b>x</b>"
    assert sanitize_html(html) == "x"


def test_too_deep_nesting_becomes_escaped_text() -> None:
    html = "<div>" * (MAX_NESTING + 1) + 'Tom &amp; Jerry <b>"bold"</b> 5 &lt; 6<script>'
    assert sanitize_html(html) == 'Tom &amp; Jerry "bold" 5 &lt; 6'


def test_elements_closed_by_their_siblings_do_not_count() -> None:
    html = "<ul>" + "<li>item" * (MAX_NESTING * 5) + "</ul>"
    assert sanitize_html(html).count("<li>") == MAX_NESTING * 5


# --- colours ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("#fff", "#fff"),
        ("#FFF", "#fff"),
        ("#1a2B3c", "#1a2b3c"),
        ("#1a2b3c80", "#1a2b3c80"),
        ("  #abc\n", "#abc"),
        ("#ab", None),
        ("#abcd", None),
        ("#abcde", None),
        ("#abcdeff", None),
        ("#abcdef012", None),
        ("#ggg", None),
        ("fff", None),
        ("red", None),
        ("rgb(0,0,0)", None),
        ("var(--x)", None),
        ("#fff;position:fixed", None),
        ("#fff}body{display:none", None),
        ("#fff\n;", None),
        ("url(javascript:alert(1))", None),
        ("expression(alert(1))", None),
        ("#\uff46\uff46\uff46", None),
        ("#١٢٣", None),
        ("", None),
        (None, None),
        (0xFFFFFF, None),
        (["#fff"], None),
    ],
)
def test_sanitize_css_color(value: object, expected: str | None) -> None:
    assert sanitize_css_color(value) == expected


# --- URLs ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://shop.example/",
        "http://shop.example",
        "HTTPS://Shop.Example/Sale?x=1&y=2#top",
        "https://shop.example:8443/path",
        "https://127.0.0.1/x",
        "https://[::1]:8000/x",
        "https://café.example/été",
        "https://shop.example/a%20b",
        "/",
        "/cart/",
        "/products/cat-food?utm_source=popup#reviews",
        "/a:b",
    ],
)
def test_sanitize_url_accepts(url: str) -> None:
    assert sanitize_url(url) == url


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JavaScript:alert(1)",
        " javascript:alert(1)",
        "java\tscript:alert(1)",
        "java\nscript:alert(1)",
        "java\x00script:alert(1)",
        "jav&#x09;ascript:alert(1)",
        "vbscript:msgbox(1)",
        "data:text/html,<script>alert(1)</script>",
        "file:///etc/passwd",
        "mailto:x@example.com",
        "tel:+331",
        "ftp://files.example/",
        "//evil.example/",
        "///evil.example/",
        "/\\evil.example/",
        "\\\\evil.example",
        "https:\\\\evil.example",
        "https://",
        "https:///path",
        "https:evil.example",
        "http:/evil.example",
        "https://:443/",
        "https://user:pass@evil.example/",
        "https://shop.example@evil.example/",
        "https://shop.example:99999/",
        "https://shop.example:port/",
        "https://[::1/",
        "https://shop.example/a b",
        "https://shop.example/a\u00a0b",
        "https://shop.example/\u202egnp.exe",
        "https://shop.example/\u200b",
        "https://shop.example/\x7f",
        "https://shop.example/\ud800",
        "cart/",
        "?page=2",
        "#top",
        "",
        "   ",
        "https://shop.example/" + "a" * MAX_URL_LENGTH,
        None,
        42,
        b"https://shop.example/",
    ],
)
def test_sanitize_url_rejects(url: object) -> None:
    assert sanitize_url(url) is None


def test_sanitize_url_trims_surrounding_whitespace() -> None:
    assert sanitize_url("  https://shop.example/x \n") == "https://shop.example/x"
    assert sanitize_url("\t/cart/ ") == "/cart/"


def test_sanitize_url_can_require_absolute_urls() -> None:
    assert sanitize_url("/cart/", allow_relative=False) is None
    assert sanitize_url("https://shop.example/", allow_relative=False) == "https://shop.example/"


def test_sanitize_url_length_limit() -> None:
    url = "https://shop.example/" + "a" * (MAX_URL_LENGTH - len("https://shop.example/"))
    assert len(url) == MAX_URL_LENGTH
    assert sanitize_url(url) == url
