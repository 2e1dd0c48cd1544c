"""Admin forms for segments: the rule builder, the raw condition JSON and static members.

The rule builder posts plain form fields (``rb-match``, ``rb-0-kind``, ``rb-0-value``,
``rb-1-type=group``, ``rb-1-0-kind``, ...), so it works without JavaScript; the
script only adds and removes rows and mirrors the condition into the JSON box.
Whichever editor the merchandiser chose (``condition_editor``), the server builds
and validates the condition: the browser is never trusted to write it.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Final, Literal

from django import forms
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile

from personalize.conditions import validate_condition
from personalize.segments import csv_import
from personalize.segments.models import Segment, SegmentMember
from personalize.segments.rule_builder import (
    GENERIC,
    GENERIC_OPERATORS,
    PRESETS,
    PRESETS_BY_KEY,
    Group,
    Match,
    Rule,
    condition_to_rules,
    format_value,
    parse_value,
    rules_to_condition,
)

if TYPE_CHECKING:
    _SegmentFormBase = forms.ModelForm[Segment]
else:
    _SegmentFormBase = forms.ModelForm

__all__ = [
    "EDITOR_FIELD",
    "MemberForm",
    "MemberUploadForm",
    "RuleBuilderWidget",
    "SegmentForm",
    "parse_condition_json",
]

Editor = Literal["builder", "json"]

#: The form field saying which editor wrote the condition: "builder" or "json".
EDITOR_FIELD: Final = "condition_editor"
PREFIX: Final = "rb"
#: Longest condition JSON the admin accepts; form-built conditions are a few hundred bytes.
MAX_JSON_LENGTH: Final = 100_000
#: Most top-level items, and most rows in one group; beyond that, the JSON editor.
MAX_ITEMS: Final = 50

_TYPE_KEY_RE = re.compile(rf"^{PREFIX}-(\d{{1,4}})(?:-(\d{{1,4}}))?-type\Z")
_ATTRIBUTE_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*(\.[A-Za-z0-9_-]+)*\Z")
_MAX_FIELD_TEXT: Final = 2000

#: Suggestions for the generic row's attribute box (see ``personalize.attributes``).
KNOWN_ATTRIBUTES: Final = (
    "avg_order_value",
    "cart.items",
    "cart.minutes_since_change",
    "cart.quantity",
    "cart.value",
    "category_affinity.<category>",
    "country",
    "days_since_first_visit",
    "days_since_last_order",
    "days_since_purchase_by_category.<category>",
    "device",
    "ever_added_to_cart",
    "first_utm.source",
    "has_abandoned_cart",
    "hour",
    "ids",
    "is_authenticated",
    "is_identified",
    "is_new",
    "is_returning",
    "landing_path",
    "lifecycle_stage",
    "orders_count",
    "pageviews_total",
    "pageviews_visit",
    "path",
    "products_viewed_before_visit",
    "purchased_categories",
    "purchased_products",
    "referrer_domain",
    "rfm.e",
    "rfm.f",
    "rfm.m",
    "rfm.r",
    "rfm.segment",
    "rfm.spend_percentile",
    "searches",
    "segments",
    "top_category",
    "total_spent",
    "utm.campaign",
    "utm.medium",
    "utm.source",
    "viewed_categories",
    "viewed_products",
    "visit_count",
    "weekday",
)


# --- what the builder template renders ----------------------------------------------------


@dataclass(frozen=True)
class ValueInput:
    """The value box a rule kind needs: its widget, choices and placeholder."""

    param: str
    choices: tuple[tuple[str, str], ...] = ()
    placeholder: str = ""


def _value_input(kind: str) -> ValueInput:
    if kind == GENERIC:
        return ValueInput("generic", placeholder="value")
    preset = PRESETS_BY_KEY.get(kind)
    if preset is None:
        return ValueInput("none")
    return ValueInput(preset.param, preset.choices, preset.placeholder)


@dataclass
class RowState:
    """One rule row as rendered: the posted (or saved) text, and its error."""

    prefix: str
    kind: str = ""
    negate: bool = False
    value: str = ""
    attribute: str = ""
    operator: str = "eq"
    error: str = ""
    is_group: bool = False

    @property
    def value_input(self) -> ValueInput:
        return _value_input(self.kind)


@dataclass
class GroupState:
    """A nested group as rendered."""

    prefix: str
    match: str = "all"
    rows: list[RowState] = field(default_factory=list)
    is_group: bool = True


@dataclass
class BuilderState:
    match: str = "all"
    items: list[RowState | GroupState] = field(default_factory=list)


@dataclass
class BuilderContext:
    """Everything the rule builder widget needs besides the JSON text."""

    available: bool = True
    editor: Editor = "builder"
    state: BuilderState = field(default_factory=BuilderState)
    rule_errors: int = 0
    slug: str = ""


def _row_state(prefix: str, rule: Rule) -> RowState:
    return RowState(
        prefix=prefix,
        kind=rule.preset,
        negate=rule.negate,
        value=format_value(rule),
        attribute=rule.attribute,
        operator=rule.operator or "eq",
    )


def state_from_tree(tree: Group) -> BuilderState:
    """The rows for a saved condition, plus one blank row to add a rule without JavaScript."""
    items: list[RowState | GroupState] = []
    for index, item in enumerate(tree.items):
        prefix = f"{PREFIX}-{index}"
        if isinstance(item, Rule):
            items.append(_row_state(prefix, item))
        else:
            rows = [
                _row_state(f"{prefix}-{row_index}", rule)
                for row_index, rule in enumerate(item.items)
                if isinstance(rule, Rule)
            ]
            items.append(GroupState(prefix, item.match, rows))
    items.append(RowState(f"{PREFIX}-{len(items)}"))
    return BuilderState(tree.match, items)


@dataclass
class BuilderPost:
    state: BuilderState
    tree: Group
    errors: int
    message: str = ""


def parse_builder_data(data: Mapping[str, Any]) -> BuilderPost:
    """Read the builder's rows from POST data: the tree, and rows annotated with errors."""
    match: Match = "any" if data.get(f"{PREFIX}-match") == "any" else "all"
    top: set[int] = set()
    nested: dict[int, set[int]] = {}
    for key in data:
        found = _TYPE_KEY_RE.match(key)
        if found is None:
            continue
        index = int(found.group(1))
        if found.group(2) is None:
            top.add(index)
        else:
            nested.setdefault(index, set()).add(int(found.group(2)))
    state = BuilderState(match)
    items: list[Rule | Group] = []
    errors = 0
    message = ""
    if len(top) > MAX_ITEMS or any(len(rows) > MAX_ITEMS for rows in nested.values()):
        message = f"At most {MAX_ITEMS} rules per group; use the JSON editor for more."
        top = set(sorted(top)[:MAX_ITEMS])
    for position, index in enumerate(sorted(top)):
        prefix = f"{PREFIX}-{position}"
        source = f"{PREFIX}-{index}"
        if data.get(f"{source}-type") == "group":
            group_match: Match = "any" if data.get(f"{source}-match") == "any" else "all"
            group = GroupState(prefix, group_match)
            rules: list[Rule | Group] = []
            for row_position, row_index in enumerate(sorted(nested.get(index, ()))[:MAX_ITEMS]):
                row, rule = _parse_row(data, f"{source}-{row_index}", f"{prefix}-{row_position}")
                group.rows.append(row)
                errors += bool(row.error)
                if rule is not None:
                    rules.append(rule)
            state.items.append(group)
            if rules:
                items.append(Group(group_match, tuple(rules)))
        else:
            row, rule = _parse_row(data, source, prefix)
            state.items.append(row)
            errors += bool(row.error)
            if rule is not None:
                items.append(rule)
    if not state.items:
        state.items.append(RowState(f"{PREFIX}-0"))
    return BuilderPost(state, Group(match, tuple(items)), errors + bool(message), message)


def _text(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key, "")
    return value[:_MAX_FIELD_TEXT] if isinstance(value, str) else ""


def _parse_row(data: Mapping[str, Any], source: str, prefix: str) -> tuple[RowState, Rule | None]:
    kind = _text(data, f"{source}-kind").strip()
    row = RowState(
        prefix=prefix,
        kind=kind,
        negate=bool(data.get(f"{source}-negate")),
        value=_text(data, f"{source}-value"),
        attribute=_text(data, f"{source}-attribute").strip(),
        operator=_text(data, f"{source}-operator").strip() or "eq",
    )
    if not kind:
        return row, None  # a blank row adds nothing
    if kind != GENERIC and kind not in PRESETS_BY_KEY:
        row.kind = ""
        row.error = "Choose a rule from the list."
        return row, None
    if kind == GENERIC and not _ATTRIBUTE_RE.match(row.attribute):
        row.error = (
            "Enter an attribute name such as cart.value or utm.campaign "
            "(letters, digits, _ and -, parts separated by dots)."
        )
        return row, None
    try:
        value = parse_value(kind, row.value, row.operator)
    except ValueError as error:
        message = str(error)
        row.error = message[:1].upper() + message[1:] + "."
        return row, None
    if kind == GENERIC:
        return row, Rule(GENERIC, value, row.negate, row.attribute, row.operator)
    return row, Rule(kind, value, row.negate)


# --- the widget -------------------------------------------------------------------------


def _presets_by_section() -> list[tuple[str, list[tuple[str, str]]]]:
    sections: dict[str, list[tuple[str, str]]] = {}
    for preset in PRESETS:
        sections.setdefault(preset.section, []).append((preset.key, preset.label))
    sections["Advanced"] = [(GENERIC, "attribute … operator … value")]
    return list(sections.items())


def _presets_for_script() -> dict[str, dict[str, Any]]:
    """What rule-builder.js needs to mirror the condition into the JSON box."""
    data: dict[str, dict[str, Any]] = {
        preset.key: {
            "attribute": preset.attribute,
            "operator": preset.operator,
            "param": preset.param,
            "fixed": preset.fixed,
        }
        for preset in PRESETS
    }
    data[GENERIC] = {"attribute": "", "operator": None, "param": "generic", "fixed": None}
    return data


class RuleBuilderWidget(forms.Textarea):
    """The rule builder rows with the condition JSON box below them.

    The textarea is the field's own input; the rows are plain form fields the form
    reads itself (see :func:`parse_builder_data`).
    """

    template_name = "personalize/admin/rule_builder.html"

    class Media:
        css = {"all": ["personalize/admin/rule-builder.css"]}
        js = ["personalize/admin/rule-builder.js"]

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(
            {
                "rows": 12,
                "cols": 80,
                "spellcheck": "false",
                "class": "pz-rb-json-input",
                **(attrs or {}),
            }
        )
        self.builder = BuilderContext()

    def get_context(self, name: str, value: Any, attrs: dict[str, Any] | None) -> dict[str, Any]:
        context = super().get_context(name, value, attrs)
        builder = self.builder
        context["builder"] = builder
        context["editor_field"] = EDITOR_FIELD
        context["sections"] = _presets_by_section()
        context["operators"] = list(GENERIC_OPERATORS.items())
        context["attributes"] = KNOWN_ATTRIBUTES
        context["presets_json"] = _presets_for_script()
        context["blank_row"] = RowState("__prefix__")
        context["blank_group"] = GroupState("__prefix__", rows=[RowState("__prefix__-0")])
        context["value_templates"] = [
            RowState("__prefix__", kind=preset.key) for preset in PRESETS
        ] + [RowState("__prefix__", kind=GENERIC)]
        return context


class ConditionField(forms.CharField):
    """The condition JSON text; the form decides whether it or the rows are used."""

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, (dict, list)):
            return json.dumps(value, indent=2, ensure_ascii=False)
        return value

    def has_changed(self, initial: Any, data: Any) -> bool:
        try:
            return bool(json.loads(data or "{}") != initial)
        except (ValueError, RecursionError):
            return True


# --- the segment form -------------------------------------------------------------------


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number; use a finite number")


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"the number {text[:20]} is too large")
    return number


def parse_condition_json(text: str) -> Any:
    """Parse condition JSON typed by a person; raise ``ValueError`` with a readable message."""
    if len(text) > MAX_JSON_LENGTH:
        raise ValueError(
            f"The condition JSON is too long ({len(text):,} characters); "
            f"the limit is {MAX_JSON_LENGTH:,}. Split the segment or use static members."
        )
    if not text.strip():
        return {}
    try:
        return json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)
    except json.JSONDecodeError as error:
        raise ValueError(
            f"The condition is not valid JSON: {error.msg} (line {error.lineno}, "
            f"column {error.colno}). Check for a missing comma, quote or bracket."
        ) from None
    except RecursionError:
        raise ValueError("The condition is nested too deeply to read; simplify it.") from None
    except ValueError as error:
        raise ValueError(f"The condition is not valid JSON: {error}.") from None


class SegmentForm(_SegmentFormBase):
    """The segment change form: name, slug, ... and the condition from either editor."""

    condition = ConditionField(
        required=False,
        strip=False,
        widget=RuleBuilderWidget,
        label="Condition",
    )

    class Meta:
        model = Segment
        fields = ["name", "slug", "description", "enabled", "position", "condition"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.original_slug = self.instance.slug
        self.builder = BuilderContext(slug=self.instance.slug)
        self.built: BuilderPost | None = None
        if self.is_bound:
            self._init_bound()
        else:
            self._init_unbound()
        widget = self.fields["condition"].widget
        assert isinstance(widget, RuleBuilderWidget)
        widget.builder = self.builder

    def _init_unbound(self) -> None:
        condition = self.instance.condition if self.instance.pk else {}
        tree = condition_to_rules(condition)
        if tree is None:
            self.builder.available = False
            self.builder.editor = "json"
        else:
            self.builder.state = state_from_tree(tree)

    def _init_bound(self) -> None:
        editor = self.data.get(EDITOR_FIELD)
        if editor == "builder":
            self.built = parse_builder_data(self.data)
            self.builder.state = self.built.state
            self.builder.rule_errors = self.built.errors
            return
        # Without an explicit choice the JSON box is what was sent.
        self.builder.editor = "json"
        try:
            posted = parse_condition_json(str(self.data.get("condition", "")))
        except ValueError:
            posted = None
        tree = condition_to_rules(posted)
        if tree is None:
            tree = condition_to_rules(self.instance.condition if self.instance.pk else {})
        if tree is None:
            self.builder.available = False
        else:
            self.builder.state = state_from_tree(tree)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.built is not None:
            if self.built.errors:
                self.add_error(
                    "condition",
                    self.built.message
                    or f"Fix the rule{'s' if self.built.errors > 1 else ''} marked below.",
                )
                return cleaned
            slug = cleaned.get("slug")
            if not slug:
                return cleaned  # the slug's own error says what to do
            condition: Any = rules_to_condition(_fill_static_lists(self.built.tree, slug, self))
        else:
            try:
                condition = parse_condition_json(str(cleaned.get("condition") or ""))
            except ValueError as error:
                self.add_error("condition", str(error))
                return cleaned
        problems = validate_condition(condition)
        if problems:
            self.add_error("condition", ValidationError(problems))
        else:
            cleaned["condition"] = condition
        return cleaned


def _fill_static_lists(tree: Group, slug: str, form: SegmentForm) -> Group:
    """Point "in the static list" rows left blank (or at the old slug) at this segment."""

    def fill(item: Rule | Group) -> Rule | Group:
        if isinstance(item, Group):
            return replace(item, items=tuple(fill(rule) for rule in item.items))
        if item.preset == "in_static_list" and item.value in ("", form.original_slug):
            return replace(item, value=slug)
        return item

    filled = fill(tree)
    assert isinstance(filled, Group)
    return filled


# --- static members ---------------------------------------------------------------------


class MemberForm(forms.Form):
    """Add one static member by hand."""

    kind = forms.ChoiceField(choices=SegmentMember.Kind.choices)
    value = forms.CharField(max_length=320, strip=True)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        kind, value = cleaned.get("kind"), cleaned.get("value")
        if kind and value:
            try:
                cleaned["value"] = csv_import.validate_member(kind, value)
            except ValueError as error:
                self.add_error("value", str(error))
        return cleaned


class MemberUploadForm(forms.Form):
    """A CSV file of static members."""

    file = forms.FileField(
        label="CSV file",
        help_text="UTF-8 CSV with a header row naming a column visitor_id, user_id or email "
        f"(or value and kind). At most {csv_import.MAX_ROWS:,} rows and "
        f"{csv_import.MAX_BYTES // (1024 * 1024)} MB.",
    )

    def clean_file(self) -> csv_import.ParsedMembers:
        upload = self.cleaned_data["file"]
        assert isinstance(upload, UploadedFile)
        try:
            return csv_import.read_members(upload)
        except csv_import.CSVFileError as error:
            raise ValidationError(str(error)) from None
