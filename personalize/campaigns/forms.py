"""Admin forms for campaigns: page rules, devices, variants, coupon uploads.

Everything a merchandiser types is checked here, with errors that name the field
and say what to type instead; nothing they can send makes the admin fail. Variant
text is shown to every shopper, so it is treated as untrusted: the body is cleaned
with :func:`~personalize.campaigns.sanitize.sanitize_html` before it is saved (and
the merchandiser is told what was removed), links must be ``https://`` URLs or site
paths, colours hex, and personalization tokens known names.

Page rules are edited as rows ("show on pages whose path starts with /p/") posted
as plain form fields (``pr-0-side``, ``pr-0-match``, ``pr-0-value``), so they work
without JavaScript; the script only adds and removes rows and mirrors them into the
JSON box, which stays available as the fallback editor (``page_rules_editor``).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from html.parser import HTMLParser
from typing import TYPE_CHECKING, Any, Final, Literal

from django import forms
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.core.validators import MaxLengthValidator, MaxValueValidator, MinValueValidator
from django.utils import timezone

from personalize.campaigns import coupons
from personalize.campaigns.models import DEVICES, PAGE_RULE_MATCHES, Campaign, Variant
from personalize.campaigns.rendering import TOKEN_NAMES
from personalize.campaigns.sanitize import sanitize_css_color, sanitize_html, sanitize_url
from personalize.campaigns.tokens import validate_tokens

if TYPE_CHECKING:
    _CampaignFormBase = forms.ModelForm[Campaign]
    _VariantFormBase = forms.ModelForm[Variant]
    _VariantFormSetBase = forms.BaseInlineFormSet[Variant, Campaign, forms.ModelForm[Variant]]
else:
    _CampaignFormBase = forms.ModelForm
    _VariantFormBase = forms.ModelForm
    _VariantFormSetBase = forms.BaseInlineFormSet

__all__ = [
    "EDITOR_FIELD",
    "CampaignForm",
    "CouponUploadForm",
    "PageRulesWidget",
    "ResultsFilterForm",
    "SegmentChoiceField",
    "VariantForm",
    "VariantFormSet",
    "parse_page_rules_json",
    "removed_markup",
]

Editor = Literal["rows", "json"]

#: The form field saying which editor wrote the page rules: "rows" or "json".
EDITOR_FIELD: Final = "page_rules_editor"
PREFIX: Final = "pr"
#: Most page rules the rows editor takes; beyond that, the JSON editor.
MAX_RULES: Final = 50
MAX_RULE_VALUE: Final = 300
MAX_JSON_LENGTH: Final = 20_000
#: The longest custom period the results page accepts, in days.
MAX_RESULTS_DAYS: Final = 366
#: Longest variant body; a popup's text is a few hundred characters.
MAX_BODY_LENGTH: Final = 20_000
#: Blank rows rendered for adding rules without JavaScript.
SPARE_ROWS: Final = 2

URL_FIX: Final = "Use an https:// URL or a path starting with /, e.g. /c/cat-food/."
COLOR_FIX: Final = "Use a hex colour like #e8613c."
COLOR_FIELDS: Final = ("accent_color", "background_color", "text_color")

MATCH_LABELS: Final = {
    "prefix": "starts with",
    "equals": "is exactly",
    "contains": "contains",
    "regex": "matches the regular expression",
}
SIDE_LABELS: Final = {
    "include": "Show on pages whose path",
    "exclude": "Never show on pages whose path",
}
DEVICE_LABELS: Final = {"mobile": "Phones", "tablet": "Tablets", "desktop": "Desktops"}

_SIDE_KEY_RE: Final = re.compile(rf"^{PREFIX}-(\d{{1,4}})-side\Z")
# A repeated group that itself repeats, e.g. (a+)+ or (\w*)*: such patterns can take
# exponential time on a path that almost matches, and page rules run on every request.
_NESTED_QUANTIFIER_RE: Final = re.compile(r"\((?:[^()\\]|\\.)*[+*}](?:[^()\\]|\\.)*\)[+*{]")
_MAX_FIELD_TEXT: Final = 2000


# --- page rules -------------------------------------------------------------------------


@dataclass
class RuleRow:
    """One page-rule row as rendered (with its error, after a post)."""

    prefix: str
    side: str = "include"
    match: str = "prefix"
    value: str = ""
    error: str = ""


@dataclass
class PageRulesState:
    """Everything the page-rules widget needs besides the JSON text."""

    available: bool = True
    editor: Editor = "rows"
    rows: list[RuleRow] = field(default_factory=list)
    message: str = ""


def rule_problem(match: str, value: str) -> str | None:
    """Why a rule with this match type and value would not work, or ``None``."""
    if len(value) > MAX_RULE_VALUE:
        return f"Keep the value under {MAX_RULE_VALUE} characters."
    if match in ("equals", "prefix") and not value.startswith("/"):
        return 'Paths start with /, for example /p/ (or choose "contains").'
    if match == "regex":
        try:
            re.compile(value)
        except (re.error, RecursionError, OverflowError) as error:
            return f"Not a valid regular expression ({error}); check brackets and escapes."
        if _NESTED_QUANTIFIER_RE.search(value):
            return (
                "This pattern repeats a repeated group, which can make pages slow; "
                'simplify it or use "starts with" / "contains".'
            )
    return None


def _rows_from_rules(rules: Any) -> list[RuleRow] | None:
    """Rows for a saved rules document, or ``None`` if it cannot be shown as rows."""
    if rules in (None, {}, []):
        return []
    if not isinstance(rules, dict) or set(rules) - {"include", "exclude"}:
        return None
    rows: list[RuleRow] = []
    for side in ("include", "exclude"):
        items = rules.get(side, [])
        if not isinstance(items, list):
            return None
        for item in items:
            if (
                not isinstance(item, dict)
                or set(item) != {"match", "value"}
                or item["match"] not in PAGE_RULE_MATCHES
                or not isinstance(item["value"], str)
            ):
                return None
            rows.append(RuleRow(f"{PREFIX}-{len(rows)}", side, item["match"], item["value"]))
    return rows


def _with_spare_rows(rows: list[RuleRow]) -> list[RuleRow]:
    return rows + [RuleRow(f"{PREFIX}-{len(rows) + n}") for n in range(SPARE_ROWS)]


def _rules_document(rules: list[tuple[str, str, str]]) -> dict[str, list[dict[str, str]]]:
    document: dict[str, list[dict[str, str]]] = {}
    for side, match, value in rules:
        document.setdefault(side, []).append({"match": match, "value": value})
    return document


def _text(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key, "")
    return value[:_MAX_FIELD_TEXT] if isinstance(value, str) else ""


def parse_page_rule_rows(
    data: Mapping[str, Any],
) -> tuple[dict[str, list[dict[str, str]]], PageRulesState]:
    """Read the rows from POST data: the rules document, and the rows with their errors."""
    indexes = sorted(
        int(found.group(1)) for key in data if (found := _SIDE_KEY_RE.match(key)) is not None
    )
    state = PageRulesState(editor="rows")
    if len(indexes) > MAX_RULES:
        state.message = f"At most {MAX_RULES} page rules; use the JSON editor for more."
        indexes = indexes[:MAX_RULES]
    rules: list[tuple[str, str, str]] = []
    for position, index in enumerate(indexes):
        source = f"{PREFIX}-{index}"
        row = RuleRow(
            prefix=f"{PREFIX}-{position}",
            side=_text(data, f"{source}-side"),
            match=_text(data, f"{source}-match"),
            value=_text(data, f"{source}-value").strip(),
        )
        state.rows.append(row)
        if not row.value:
            continue  # a blank row adds nothing
        if row.side not in SIDE_LABELS:
            row.side = "include"
            row.error = "Choose whether to show or never show the campaign on these pages."
        elif row.match not in MATCH_LABELS:
            row.match = "prefix"
            row.error = "Choose how to match the path: starts with, is exactly, contains or regex."
        else:
            row.error = rule_problem(row.match, row.value) or ""
        if not row.error:
            rules.append((row.side, row.match, row.value))
    return _rules_document(rules), state


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed in JSON")


def parse_page_rules_json(text: str) -> dict[str, Any]:
    """Page rules typed as JSON; raise ``ValidationError`` naming the problem and the fix."""
    if len(text) > MAX_JSON_LENGTH:
        raise ValidationError(
            f"The page rules JSON is too long ({len(text):,} characters); the limit is "
            f"{MAX_JSON_LENGTH:,}. Use fewer rules, or a regular expression."
        )
    if not text.strip():
        return {}
    try:
        document = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as error:
        raise ValidationError(
            f"The page rules are not valid JSON: {error.msg} (line {error.lineno}, column "
            f'{error.colno}). Expected {{"include": [{{"match": "prefix", "value": "/p/"}}]}}.'
        ) from None
    except (ValueError, RecursionError):
        raise ValidationError(
            'The page rules are not valid JSON. Expected {"include": [{"match": "prefix", '
            '"value": "/p/"}], "exclude": [...]}.'
        ) from None
    return check_page_rules(document)


def check_page_rules(document: Any) -> dict[str, Any]:
    """``document`` if it is a usable rules document, else ``ValidationError`` listing why."""
    from personalize.campaigns.models import validate_page_rules

    if document in (None, [], {}):
        return {}
    problems = validate_page_rules(document)
    if problems:
        raise ValidationError(problems)
    assert isinstance(document, dict)
    count = sum(len(document.get(side, [])) for side in ("include", "exclude"))
    if count > MAX_RULES:
        raise ValidationError(f"At most {MAX_RULES} page rules; combine them with a regex.")
    for side in ("include", "exclude"):
        for index, rule in enumerate(document.get(side, [])):
            extra = set(rule) - {"match", "value"}
            if extra:
                problems.append(
                    f"{side}[{index}]: unknown key {sorted(extra)[0]!r}; a rule has only "
                    '"match" and "value".'
                )
                continue
            problem = rule_problem(rule["match"], rule["value"])
            if problem:
                problems.append(f"{side}[{index}]: {problem}")
    if problems:
        raise ValidationError(problems)
    return {side: document[side] for side in ("include", "exclude") if document.get(side)}


class PageRulesWidget(forms.Textarea):
    """Page-rule rows with the rules JSON below them (the textarea is the field's input)."""

    template_name = "personalize/admin/campaign_page_rules.html"

    class Media:
        css = {"all": ["personalize/admin/campaign-admin.css"]}
        js = ["personalize/admin/campaign-page-rules.js"]

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(
            {
                "rows": 6,
                "cols": 80,
                "spellcheck": "false",
                "class": "pz-pr-json-input",
                **(attrs or {}),
            }
        )
        self.state = PageRulesState()

    def get_context(self, name: str, value: Any, attrs: dict[str, Any] | None) -> dict[str, Any]:
        context = super().get_context(name, value, attrs)
        context["rules"] = self.state
        context["editor_field"] = EDITOR_FIELD
        context["sides"] = list(SIDE_LABELS.items())
        context["matches"] = list(MATCH_LABELS.items())
        context["blank_row"] = RuleRow("__prefix__")
        return context


class PageRulesField(forms.CharField):
    """The rules JSON text; the form decides whether it or the rows are used."""

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, (dict, list)):
            return json.dumps(value, indent=2, ensure_ascii=False)
        return value

    def has_changed(self, initial: Any, data: Any) -> bool:
        try:
            return bool(json.loads(data or "{}") != (initial or {}))
        except (ValueError, RecursionError):
            return True


# --- the campaign form ------------------------------------------------------------------


class SegmentChoiceField(forms.ModelMultipleChoiceField):  # type: ignore[type-arg]
    """Segments by id; an id no database column can hold is a form error, not a crash."""

    def clean(self, value: Any) -> Any:
        for pk in value if isinstance(value, list | tuple) else ():
            text = str(pk)
            if not (text.isdigit() and len(text) <= 18):
                raise ValidationError(
                    self.error_messages["invalid_pk_value"],
                    code="invalid_pk_value",
                    params={"pk": text[:40]},
                )
        return super().clean(value)


_POSITIONS_FOR_KIND: Final = {
    Campaign.Kind.POPUP: ({Campaign.Position.CENTER}, "A popup sits in the centre: choose Centre."),
    Campaign.Kind.BAR: (
        {Campaign.Position.TOP, Campaign.Position.BOTTOM},
        "A message bar sits at the top or bottom of the page: choose Top or Bottom.",
    ),
    Campaign.Kind.SLIDEIN: (
        {Campaign.Position.BOTTOM_RIGHT, Campaign.Position.BOTTOM_LEFT},
        "A slide-in sits in a bottom corner: choose Bottom right or Bottom left.",
    ),
}

#: (low, high, what the number is) for the campaign's number fields.
_NUMBER_BOUNDS: Final = {
    "priority": (-1000, 1000, "a priority"),
    "trigger_value": (0, 86_400, "seconds, percent or a page view number"),
    "frequency_days": (1, 3650, "days"),
    "max_impressions": (1, 1_000_000, "impressions (leave empty for no limit)"),
    "control_percent": (0, 90, "percent of visitors held out"),
    "attribution_days": (1, 90, "days"),
    "countdown_minutes": (1, 10_080, "minutes (at most a week)"),
}


def _bound_numbers(form: forms.BaseForm, bounds: Mapping[str, tuple[int, int, str]]) -> None:
    for name, (low, high, what) in bounds.items():
        form_field = form.fields.get(name)
        if not isinstance(form_field, forms.IntegerField):
            continue
        message = f"Enter a whole number from {low:,} to {high:,} ({what})."
        form_field.error_messages["invalid"] = message
        form_field.validators = [
            v
            for v in form_field.validators
            if not isinstance(v, MinValueValidator | MaxValueValidator)
        ]
        form_field.validators += [
            MinValueValidator(low, message=message),
            MaxValueValidator(high, message=message),
        ]
        form_field.widget.attrs.update({"min": str(low), "max": str(high)})


class CampaignForm(_CampaignFormBase):
    """The campaign change form: page rules from either editor, devices as checkboxes."""

    page_rules = PageRulesField(
        required=False,
        strip=False,
        widget=PageRulesWidget,
        label="Pages",
        help_text="No “show on” rule: every page. The path is what follows the domain, "
        "e.g. /p/catnip-mouse/.",
    )
    devices = forms.MultipleChoiceField(
        required=False,
        choices=[(device, DEVICE_LABELS[device]) for device in DEVICES],
        widget=forms.CheckboxSelectMultiple,
        label="Devices",
        help_text="None ticked: every device.",
    )

    class Meta:
        model = Campaign
        fields = [
            "name",
            "slug",
            "kind",
            "slot_name",
            "position",
            "status",
            "priority",
            "starts_at",
            "ends_at",
            "include_segments",
            "include_mode",
            "exclude_segments",
            "page_rules",
            "devices",
            "trigger",
            "trigger_value",
            "frequency",
            "frequency_days",
            "stop_after_close",
            "stop_after_conversion",
            "max_impressions",
            "control_percent",
            "attribution_days",
            "coupon_mode",
            "coupon_code",
            "countdown_mode",
            "countdown_ends_at",
            "countdown_minutes",
            "capture_email",
            "capture_consent_text",
        ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _bound_numbers(self, _NUMBER_BOUNDS)
        self.rules_state = PageRulesState()
        self.built_rules: dict[str, Any] | None = None
        if self.is_bound:
            self._init_bound()
        else:
            self._init_unbound()
        widget = self.fields["page_rules"].widget
        assert isinstance(widget, PageRulesWidget)
        widget.state = self.rules_state

    def _init_unbound(self) -> None:
        rows = _rows_from_rules(self.instance.page_rules if self.instance.pk else {})
        if rows is None:
            self.rules_state.available = False
            self.rules_state.editor = "json"
        else:
            self.rules_state.rows = _with_spare_rows(rows)

    def _init_bound(self) -> None:
        if self.data.get(EDITOR_FIELD) == "rows":
            self.built_rules, self.rules_state = parse_page_rule_rows(self.data)
            if not self.rules_state.rows:
                self.rules_state.rows = _with_spare_rows([])
            return
        self.rules_state.editor = "json"
        saved = self.instance.page_rules if self.instance.pk else {}
        try:
            posted: Any = parse_page_rules_json(str(self.data.get("page_rules", "")))
        except ValidationError:
            posted = saved  # show the saved rules as rows while the JSON is fixed
        rows = _rows_from_rules(posted)
        if rows is None:
            rows = _rows_from_rules(saved)
        if rows is None:
            self.rules_state.available = False
        else:
            self.rules_state.rows = _with_spare_rows(rows)

    def clean_page_rules(self) -> dict[str, Any]:
        if self.built_rules is not None:
            errors = sum(bool(row.error) for row in self.rules_state.rows)
            if self.rules_state.message:
                raise ValidationError(self.rules_state.message)
            if errors:
                raise ValidationError(f"Fix the page rule{'s' if errors > 1 else ''} marked below.")
            return self.built_rules
        return parse_page_rules_json(str(self.cleaned_data.get("page_rules") or ""))

    def clean_coupon_code(self) -> str:
        code = str(self.cleaned_data.get("coupon_code") or "").strip()
        if not code:
            return ""
        try:
            return coupons.validate_code(code)
        except ValueError as error:
            raise ValidationError(f"The code {error}, e.g. WELCOME10.") from None

    def clean_capture_consent_text(self) -> str:
        text = str(self.cleaned_data.get("capture_consent_text") or "").strip()
        problems = validate_tokens(text, set())
        if problems:
            raise ValidationError([f"{problem}." for problem in problems])
        return text

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        kind, position = cleaned.get("kind"), cleaned.get("position")
        allowed = _POSITIONS_FOR_KIND.get(kind) if kind else None
        if allowed is not None and position and position not in allowed[0]:
            self.add_error("position", allowed[1])
        trigger = cleaned.get("trigger")
        value = cleaned.get("trigger_value")
        if (
            trigger in (Campaign.Trigger.DELAY, Campaign.Trigger.INACTIVITY)
            and value is not None
            and value < 1
        ):
            self.add_error("trigger_value", "Enter the number of seconds to wait, from 1.")
        fixed = cleaned.get("coupon_mode") == Campaign.CouponMode.FIXED
        if fixed and not cleaned.get("coupon_code") and "coupon_code" not in self.errors:
            self.add_error("coupon_code", "Enter the code to show, or choose another coupon mode.")
        if kind == Campaign.Kind.SLOT and cleaned.get("trigger") not in (
            None,
            Campaign.Trigger.IMMEDIATE,
        ):
            self.add_error(
                "trigger",
                "Inline slots are part of the page and show at once: choose Immediately.",
            )
        return cleaned


# --- variants ---------------------------------------------------------------------------


class _Markup(HTMLParser):
    """Counts tags, attributes and comments, to tell what sanitising removed."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: Counter[str] = Counter()
        self.attributes: Counter[tuple[str, str]] = Counter()
        self.comments = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags[tag] += 1
        for name, _ in attrs:
            self.attributes[(tag, name)] += 1

    def handle_comment(self, data: str) -> None:
        self.comments += 1


def _markup(html: str) -> _Markup:
    parser = _Markup()
    parser.feed(html)
    parser.close()
    return parser


def removed_markup(original: str, cleaned: str) -> list[str]:
    """What cleaning took out of ``original``: ``["<script>", "onclick on <a>", ...]``."""
    before, after = _markup(original), _markup(cleaned)
    removed = [f"<{tag}>" for tag, count in before.tags.items() if after.tags[tag] < count]
    removed += [
        f"{name} on <{tag}>"
        for (tag, name), count in before.attributes.items()
        if after.tags[tag] and after.attributes[(tag, name)] < count
    ]
    if before.comments > after.comments:
        removed.append("comments")
    return removed


def _token_errors(text: str, allowed: set[str]) -> list[str]:
    return [f"{problem}." for problem in validate_tokens(text, allowed)]


TOKEN_HELP: Final = "Tokens: " + ", ".join(f"{{{{ {name} }}}}" for name in sorted(TOKEN_NAMES))


class VariantForm(_VariantFormBase):
    """One variant: text checked for tokens, body cleaned, links and colours checked."""

    class Meta:
        model = Variant
        fields = [
            "key",
            "weight",
            "title",
            "body",
            "image_url",
            "cta_label",
            "cta_url",
            "products",
            "dismiss_label",
            "accent_color",
            "background_color",
            "text_color",
        ]
        widgets = {
            "body": forms.Textarea(attrs={"rows": 4, "cols": 60}),
            "accent_color": forms.TextInput(attrs={"size": 9, "placeholder": "#e8613c"}),
            "background_color": forms.TextInput(attrs={"size": 9, "placeholder": "#ffffff"}),
            "text_color": forms.TextInput(attrs={"size": 9, "placeholder": "#1f2937"}),
        }
        help_texts = {
            "title": f"Plain text. {TOKEN_HELP}.",
            "body": "Rich text: paragraphs, bold, italics, lists, links and images are kept; "
            "scripts, styles and event handlers are removed on save. Tokens as in the title.",
            "cta_label": "The button text; tokens as in the title.",
            "cta_url": "Where the button goes: https://… or a path such as /c/cat-food/.",
            "image_url": "Optional: https://… or a path such as /static/img/offer.png.",
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _bound_numbers(self, {"weight": (0, 1_000_000, "a share of traffic; 0 switches it off")})
        for name in COLOR_FIELDS:
            # The hex check below says what to type; a length error would not.
            color = self.fields[name]
            assert isinstance(color, forms.CharField)
            color.max_length = None
            color.validators = [
                v for v in color.validators if not isinstance(v, MaxLengthValidator)
            ]
            color.widget.attrs.pop("maxlength", None)
        #: What cleaning removed from the body, for the admin to tell the merchandiser.
        self.removed: list[str] = []

    def clean_key(self) -> str:
        key = str(self.cleaned_data.get("key") or "")
        if key.lower() == "control":
            raise ValidationError(
                "“control” is the name of the hold-out group; name variants a, b, c…"
            )
        return key

    def clean_title(self) -> str:
        return self._plain_text("title")

    def clean_cta_label(self) -> str:
        return self._plain_text("cta_label")

    def clean_dismiss_label(self) -> str:
        text = str(self.cleaned_data.get("dismiss_label") or "").strip()
        errors = _token_errors(text, set())
        if errors:
            raise ValidationError(errors)
        return text

    def _plain_text(self, name: str) -> str:
        text = str(self.cleaned_data.get(name) or "").strip()
        errors = _token_errors(text, set(TOKEN_NAMES))
        if errors:
            raise ValidationError(errors)
        return text

    def clean_body(self) -> str:
        body = str(self.cleaned_data.get("body") or "").strip()
        if len(body) > MAX_BODY_LENGTH:
            raise ValidationError(
                f"The body is too long ({len(body):,} characters); keep it under "
                f"{MAX_BODY_LENGTH:,} and link to a page for the details."
            )
        errors = _token_errors(body, set(TOKEN_NAMES))
        if errors:
            raise ValidationError(errors)
        cleaned = sanitize_html(body)
        if cleaned != body:
            self.removed = removed_markup(body, cleaned)
        return cleaned

    def clean_cta_url(self) -> str:
        return self._url("cta_url", "The button link")

    def clean_image_url(self) -> str:
        return self._url("image_url", "The image address")

    def _url(self, name: str, what: str) -> str:
        value = str(self.cleaned_data.get(name) or "").strip()
        if not value:
            return ""
        url = sanitize_url(value)
        if url is None:
            raise ValidationError(f"{what} is not a safe link. {URL_FIX}")
        return url

    def clean_accent_color(self) -> str:
        return self._color("accent_color")

    def clean_background_color(self) -> str:
        return self._color("background_color")

    def clean_text_color(self) -> str:
        return self._color("text_color")

    def _color(self, name: str) -> str:
        value = str(self.cleaned_data.get(name) or "").strip()
        if not value:
            return ""
        color = sanitize_css_color(value)
        if color is None:
            raise ValidationError(f"This is not a colour the shop can use. {COLOR_FIX}")
        return color

    def clean_products(self) -> str:
        from personalize.models import Widget

        slot = str(self.cleaned_data.get("products") or "").strip()
        if slot and not Widget.objects.filter(slot=slot).exists():
            known = ", ".join(Widget.objects.order_by("slot").values_list("slot", flat=True)[:12])
            raise ValidationError(
                f"No recommendation widget has the slot “{slot}”. "
                + (f"Use one of: {known}." if known else "Create the widget first.")
            )
        return slot

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        label, url = cleaned.get("cta_label"), cleaned.get("cta_url")
        if label and not url and "cta_url" not in self.errors:
            self.add_error("cta_url", f"The button needs a link. {URL_FIX}")
        if url and not label and "cta_label" not in self.errors:
            self.add_error("cta_label", "Enter the button text, or clear the button link.")
        return cleaned


class VariantFormSet(_VariantFormSetBase):
    """Variant keys unique; an active campaign needs a variant that gets traffic."""

    def clean(self) -> None:
        if any(self.errors):
            return
        seen: dict[str, str] = {}
        live = 0
        for form in self.forms:
            if not hasattr(form, "cleaned_data") or not form.cleaned_data:
                continue  # an untouched extra form
            if self.can_delete and form.cleaned_data.get("DELETE"):
                continue
            key = str(form.cleaned_data.get("key") or "")
            if key.lower() in seen:
                raise ValidationError(
                    f"Two variants are called “{key}”: give each variant its own key "
                    "(a, b, c…); the key names the variant in the results."
                )
            seen[key.lower()] = key
            weight = form.cleaned_data.get("weight") or 0
            live += weight > 0
        if self.instance.pk:
            # Rows not in this formset (a tampered or stale form) still hold their keys.
            edited = [form.instance.pk for form in self.initial_forms if form.instance.pk]
            taken = (
                Variant.objects.using(self.instance._state.db or "default")
                .filter(campaign=self.instance)
                .exclude(pk__in=edited)
                .values_list("key", flat=True)
            )
            clash = next((key for key in taken if key.lower() in seen), None)
            if clash is not None:
                raise ValidationError(
                    f"This campaign already has a variant called “{clash}”: reload the page "
                    "and edit that variant, or give the new one another key."
                )
        if self.instance.status == Campaign.Status.ACTIVE and not live:
            raise ValidationError(
                "An active campaign needs at least one variant with a weight above 0: "
                "add a variant below, or save the campaign as a draft."
            )
        super().clean()


# --- coupon pool ------------------------------------------------------------------------


class CouponUploadForm(forms.Form):
    """A CSV file of unique coupon codes."""

    file = forms.FileField(
        label="CSV file",
        help_text=f"UTF-8 CSV with a column headed “code” (or a single column of codes). "
        f"At most {coupons.MAX_CODES:,} codes and {coupons.MAX_BYTES // (1024 * 1024)} MB; "
        f"codes have {coupons.MIN_LENGTH} to {coupons.MAX_LENGTH} letters, digits, _ or -.",
        error_messages={
            "required": "Choose a CSV file to upload.",
            "empty": "The file is empty: put one code per row, under a header “code”.",
        },
    )

    def clean_file(self) -> coupons.ParsedCodes:
        upload = self.cleaned_data["file"]
        assert isinstance(upload, UploadedFile)
        try:
            return coupons.read_codes(upload)
        except coupons.CSVFileError as error:
            raise ValidationError(str(error)) from None


class ResultsFilterForm(forms.Form):
    """The results page's period and analysis, read from the query string.

    The period counts visitors exposed in it (and their purchases up to its end);
    "all" is the whole experiment. A custom period needs a start and an end, in order,
    not in the future and at most :data:`MAX_RESULTS_DAYS` days long. Dates given
    with another period choose the custom period: they are the more specific ask.
    """

    PERIODS: Final = (
        ("all", "Whole experiment"),
        ("7", "Last 7 days"),
        ("30", "Last 30 days"),
        ("90", "Last 90 days"),
        ("custom", "Custom"),
    )
    ANALYSES: Final = (
        ("sequential", "Sequential (safe to check daily)"),
        ("fixed", "Fixed horizon (one planned look)"),
    )

    period = forms.ChoiceField(choices=PERIODS, required=False)
    start = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    analysis = forms.ChoiceField(choices=ANALYSES, required=False)

    def __init__(self, data: Mapping[str, Any] | None = None, **kwargs: Any) -> None:
        if data is not None and (data.get("start") or data.get("end")):
            data = {**{key: data.get(key) for key in data}, "period": "custom"}
        super().__init__(data, **kwargs)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        data["period"] = data.get("period") or "all"
        data["analysis"] = data.get("analysis") or "sequential"
        if data["period"] != "custom":
            return data
        start, end = data.get("start"), data.get("end")
        if start is None and "start" not in self.errors:
            self.add_error("start", "Enter the first day of the custom period.")
        if end is None and "end" not in self.errors:
            self.add_error("end", "Enter the last day of the custom period.")
        if start is None or end is None:
            return data
        today = timezone.localdate()
        if end > today:
            self.add_error(
                "end", f"The end cannot be in the future: use {today:%Y-%m-%d} or earlier."
            )
        if start > end:
            self.add_error("start", "The start must be on or before the end.")
        elif (end - start).days + 1 > MAX_RESULTS_DAYS:
            self.add_error(
                "start",
                f"A custom period can be at most {MAX_RESULTS_DAYS} days long: move the start "
                "later or choose “Whole experiment”.",
            )
        return data

    def bounds(self, now: datetime | None = None) -> tuple[datetime | None, datetime | None]:
        """``(since, until)`` for the cleaned period: ``None`` for an open end."""
        now = now or timezone.now()
        zone = timezone.get_current_timezone()
        period = self.cleaned_data.get("period", "all")
        if period == "all":
            return None, None
        if period == "custom":
            start, end = self.cleaned_data["start"], self.cleaned_data["end"]
            until = datetime.combine(end + timedelta(days=1), time.min, tzinfo=zone)
            return datetime.combine(start, time.min, tzinfo=zone), min(
                now, until - timedelta(microseconds=1)
            )
        first = timezone.localdate(now, zone) - timedelta(days=int(period) - 1)
        return datetime.combine(first, time.min, tzinfo=zone), now

    @property
    def sequential(self) -> bool:
        return bool(self.cleaned_data.get("analysis", "sequential") != "fixed")
