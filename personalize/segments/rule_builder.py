"""The rule builder's model: rows of rules in groups, to and from condition JSON.

Merchandisers build segments from rows such as "cart value at least 30" or
"viewed category cats", combined with ALL/ANY, with at most one level of nested
groups. This module is the pure-Python half of that editor:

* :func:`rules_to_condition` turns a :class:`Group` of :class:`Rule` rows into a
  condition document in GrowthBook's language;
* :func:`condition_to_rules` reads a condition back into rows, or returns ``None``
  when the builder cannot show it faithfully (the admin then offers the JSON editor);
* :func:`parse_value` / :func:`format_value` convert between a row's text input and
  its typed value, with messages naming the rule and the fix;
* :func:`explain_condition` evaluates a condition clause by clause for the admin's
  "test against a visitor" view.

Reading is exact: every condition :func:`condition_to_rules` accepts means the same
as the condition :func:`rules_to_condition` writes back, though the spelling may be
normalised (``{"$and": [{"a": 1}, {"b": 2}]}`` is written ``{"a": 1, "b": 2}``).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Final, Literal

from personalize.conditions import evaluate_condition
from personalize.conditions.evaluate import SavedGroups, get_path, is_number, is_operator_object
from personalize.lifecycle import STAGES
from personalize.rfm import SEGMENTS as RFM_SEGMENTS

__all__ = [
    "GENERIC",
    "GENERIC_OPERATORS",
    "PRESETS",
    "PRESETS_BY_KEY",
    "ClauseResult",
    "Group",
    "Match",
    "Preset",
    "Rule",
    "condition_to_rules",
    "describe_rule",
    "explain_condition",
    "format_value",
    "parse_value",
    "rule_condition",
    "rules_to_condition",
]

Match = Literal["all", "any"]
ParamKind = Literal["none", "number", "integer", "text", "choice", "country", "group"]

#: The preset key of the generic "attribute / operator / value" row.
GENERIC: Final = "attribute"

#: Longest text a merchandiser can type into one value box.
MAX_TEXT_LENGTH: Final = 200

_ATTRIBUTE_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*(\.[A-Za-z0-9_-]+)*\Z")
_COUNTRY_RE = re.compile(r"^[A-Z]{2}\Z")
_NUMBER_RE = re.compile(r"^-?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?\Z")
_INTEGER_RE = re.compile(r"^\d{1,12}\Z")
_MISSING: Final = object()


@dataclass(frozen=True)
class Rule:
    """One row: a preset (or the generic attribute row) with its value, maybe negated.

    ``attribute`` and ``operator`` are only used by the generic row (``preset ==
    "attribute"``); ``value`` is ``None`` for presets without a parameter.
    """

    preset: str
    value: Any = None
    negate: bool = False
    attribute: str = ""
    operator: str = ""


@dataclass(frozen=True)
class Group:
    """Rows combined with ALL (every row matches) or ANY (at least one matches).

    The top-level group may hold nested groups; nested groups hold rules only.
    """

    match: Match = "all"
    items: tuple[Rule | Group, ...] = ()


@dataclass(frozen=True)
class Preset:
    """A ready-made rule: ``attribute`` tested with ``operator`` against the row's value.

    ``operator`` is ``None`` for equality, an ordering operator such as ``"$gte"``,
    ``"$elemMatch"`` (the list attribute includes the value), ``"$regex"`` (the text
    attribute contains the value) or ``"$inGroup"`` (a static member list).
    """

    key: str
    label: str
    section: str
    attribute: str
    operator: str | None = None
    param: ParamKind = "none"
    fixed: Any = None
    choices: tuple[tuple[str, str], ...] = ()
    placeholder: str = ""

    def expected(self, value: Any) -> Any:
        """The rule for the attribute, e.g. ``{"$gte": 30}`` for value 30."""
        if self.param == "none":
            value = self.fixed
        if self.operator is None:
            return value
        if self.operator == "$elemMatch":
            return {"$elemMatch": {"$eq": value}}
        if self.operator == "$regex":
            return {"$regex": re.escape(value)}
        return {self.operator: value}

    def read(self, expected: Any) -> Any:
        """The row value whose :meth:`expected` is ``expected``, or ``_MISSING``."""
        if self.operator is None:
            value = expected
        elif not (isinstance(expected, dict) and len(expected) == 1 and self.operator in expected):
            return _MISSING
        elif self.operator == "$elemMatch":
            inner = expected["$elemMatch"]
            if not (isinstance(inner, dict) and len(inner) == 1 and "$eq" in inner):
                return _MISSING
            value = inner["$eq"]
        elif self.operator == "$regex":
            value = _unescape(expected["$regex"])
            if value is None:
                return _MISSING
        else:
            value = expected[self.operator]
        if self.param == "none":
            return None if _same_json(value, self.fixed) else _MISSING
        return value if self.accepts(value) else _MISSING

    def accepts(self, value: Any) -> bool:
        """Whether ``value`` is a valid parameter of this preset."""
        if self.param in ("number", "integer"):
            if not is_number(value) or not math.isfinite(value):
                return False
            return self.param == "number" or (isinstance(value, int) and 0 <= value < 10**12)
        if not _is_clean_text(value):
            return False
        if self.param == "choice":
            return value in dict(self.choices)
        if self.param == "country":
            return _COUNTRY_RE.match(value) is not None
        return True


_DEVICES = (("mobile", "mobile"), ("tablet", "tablet"), ("desktop", "desktop"))
_LIFECYCLE = tuple((stage, stage.replace("_", " ")) for stage in STAGES)
_RFM = tuple(RFM_SEGMENTS.items())

#: Every preset, in the order the rule menu lists them.
PRESETS: Final[tuple[Preset, ...]] = (
    Preset("is_new", "is a new visitor (first visit)", "Visits", "is_new", fixed=True),
    Preset("is_returning", "is a returning visitor", "Visits", "is_returning", fixed=True),
    Preset(
        "visit_count_at_least",
        "visited at least … times",
        "Visits",
        "visit_count",
        "$gte",
        "integer",
        placeholder="3",
    ),
    Preset("is_logged_in", "is logged in", "Visits", "is_authenticated", fixed=True),
    Preset("is_identified", "is identified (email known)", "Visits", "is_identified", fixed=True),
    Preset(
        "cart_value_at_least",
        "cart value at least",
        "Cart",
        "cart.value",
        "$gte",
        "number",
        placeholder="30",
    ),
    Preset("cart_has_items", "cart has items", "Cart", "cart.items", "$gt", fixed=0),
    Preset(
        "has_abandoned_cart",
        "has an abandoned cart (from an earlier visit)",
        "Cart",
        "has_abandoned_cart",
        fixed=True,
    ),
    Preset(
        "viewed_category",
        "viewed category",
        "Interests",
        "viewed_categories",
        "$elemMatch",
        "text",
        placeholder="category slug",
    ),
    Preset(
        "top_category",
        "top category is",
        "Interests",
        "top_category",
        None,
        "text",
        placeholder="category slug",
    ),
    Preset(
        "days_since_last_order_more_than",
        "days since last order more than",
        "Orders",
        "days_since_last_order",
        "$gt",
        "integer",
        placeholder="90",
    ),
    Preset(
        "orders_at_least",
        "orders at least",
        "Orders",
        "orders_count",
        "$gte",
        "integer",
        placeholder="2",
    ),
    Preset(
        "total_spent_at_least",
        "total spent at least",
        "Orders",
        "total_spent",
        "$gte",
        "number",
        placeholder="100",
    ),
    Preset("rfm_segment", "RFM segment is", "Orders", "rfm.segment", None, "choice", choices=_RFM),
    Preset(
        "lifecycle_stage",
        "lifecycle stage is",
        "Orders",
        "lifecycle_stage",
        None,
        "choice",
        choices=_LIFECYCLE,
    ),
    Preset(
        "utm_source",
        "UTM source is",
        "Source and device",
        "utm.source",
        None,
        "text",
        placeholder="newsletter",
    ),
    Preset("device", "device is", "Source and device", "device", None, "choice", choices=_DEVICES),
    Preset(
        "country",
        "country is",
        "Source and device",
        "country",
        None,
        "country",
        placeholder="DE",
    ),
    Preset(
        "landing_page_contains",
        "landing page contains",
        "Source and device",
        "landing_path",
        "$regex",
        "text",
        placeholder="/c/cats/",
    ),
    Preset(
        "in_static_list",
        "is in the static list of segment",
        "Lists",
        "ids",
        "$inGroup",
        "group",
        placeholder="this segment",
    ),
)

PRESETS_BY_KEY: Final[Mapping[str, Preset]] = {preset.key: preset for preset in PRESETS}

#: The generic row's operators: key -> label.
GENERIC_OPERATORS: Final[Mapping[str, str]] = {
    "eq": "equals",
    "ne": "does not equal",
    "gt": ">",
    "gte": "≥",
    "lt": "<",
    "lte": "≤",
    "contains": "contains text",
    "includes": "list includes",
    "in": "is one of",
    "exists": "exists",
}
_ORDER_OPERATORS: Final = {"gt": "$gt", "gte": "$gte", "lt": "$lt", "lte": "$lte"}
_ORDER_KEYS: Final = {value: key for key, value in _ORDER_OPERATORS.items()}


# --- rules -> condition -----------------------------------------------------------------


def rule_condition(rule: Rule) -> dict[str, Any]:
    """The condition of one row, e.g. ``{"cart.value": {"$gte": 30}}``.

    A negated row wraps the attribute's rule in ``$not``
    (``{"device": {"$not": "mobile"}}``), which keeps rows on different attributes
    mergeable into one object.
    """
    if rule.preset == GENERIC:
        attribute = rule.attribute
        expected = _generic_expected(rule.operator, rule.value)
    else:
        preset = PRESETS_BY_KEY[rule.preset]
        attribute = preset.attribute
        expected = preset.expected(rule.value)
    if rule.negate:
        expected = {"$not": expected}
    return {attribute: expected}


def _generic_expected(operator_key: str, value: Any) -> Any:
    if operator_key == "eq":
        # A bare literal reads best; objects and lists need $eq to stay literals.
        return {"$eq": value} if isinstance(value, (dict, list)) else value
    if operator_key == "ne":
        return {"$ne": value}
    if operator_key in _ORDER_OPERATORS:
        return {_ORDER_OPERATORS[operator_key]: value}
    if operator_key == "contains":
        return {"$regex": re.escape(str(value))}
    if operator_key == "includes":
        return {"$elemMatch": {"$eq": value}}
    if operator_key == "in":
        return {"$in": list(value) if isinstance(value, (list, tuple)) else [value]}
    if operator_key == "exists":
        return {"$exists": True}
    raise ValueError(f"unknown operator {operator_key!r}")


def _item_condition(item: Rule | Group) -> dict[str, Any]:
    if isinstance(item, Rule):
        return rule_condition(item)
    fragments = [rule_condition(rule) for rule in item.items if isinstance(rule, Rule)]
    if not fragments:
        return {}
    # Nested groups keep their own $and/$or so that reading them back finds the group.
    return {"$or" if item.match == "any" else "$and": fragments}


def _merge_all(fragments: Sequence[dict[str, Any]]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for fragment in fragments:
        if merged.keys() & fragment.keys():
            return {"$and": list(fragments)}
        merged.update(fragment)
    return merged


def rules_to_condition(tree: Group) -> dict[str, Any]:
    """The condition document for a rule tree.

    ALL rows on different attributes merge into one object
    (``{"is_returning": true, "cart.value": {"$gte": 30}}``); rows that would repeat
    a key use ``$and``; ANY uses ``$or``. Empty groups match everyone and are left out.
    """
    fragments = [fragment for fragment in map(_item_condition, tree.items) if fragment]
    if not fragments:
        return {}
    if tree.match == "any":
        return {"$or": fragments}
    return _merge_all(fragments)


# --- condition -> rules -----------------------------------------------------------------


def condition_to_rules(condition: object) -> Group | None:
    """The rule tree for ``condition``, or ``None`` when the builder cannot show it.

    Never raises: anything that is not a condition the builder can represent exactly
    (deeper nesting, ``$nor``, unknown operators, attribute names with spaces...)
    gives ``None``.
    """
    if not isinstance(condition, dict):
        return None
    if len(condition) == 1:
        [(key, argument)] = condition.items()
        if key in ("$and", "$or"):
            if not isinstance(argument, list):
                return None
            items = _read_items(argument, allow_groups=True)
            if items is None:
                return None
            return Group("any" if key == "$or" else "all", tuple(items))
    items = _read_object(condition, allow_groups=True)
    return None if items is None else Group("all", tuple(items))


def _read_items(conditions: list[Any], *, allow_groups: bool) -> list[Rule | Group] | None:
    """Read each element of an ``$and``/``$or`` list as a row or (if allowed) a group."""
    items: list[Rule | Group] = []
    for element in conditions:
        if not isinstance(element, dict):
            return None
        rule = _read_rule(element) if len(element) == 1 else None
        if rule is not None:
            items.append(rule)
            continue
        if not allow_groups:
            return None
        group = _read_group(element)
        if group is None:
            return None
        items.append(group)
    return items


def _read_object(condition: dict[Any, Any], *, allow_groups: bool) -> list[Rule | Group] | None:
    """Read an object whose keys must all match: each key is a row (or a nested group)."""
    items: list[Rule | Group] = []
    for key, argument in condition.items():
        if key in ("$and", "$or"):
            if not allow_groups or not isinstance(argument, list):
                return None
            group = _read_group({key: argument})
            if group is None:
                return None
            items.append(group)
            continue
        rules = _read_rules_for_key(key, argument)
        if rules is None:
            return None
        items.extend(rules)
    return items


def _read_rules_for_key(key: object, argument: Any) -> list[Rule] | None:
    # Several operators on one attribute all have to match: one row each.
    if (
        isinstance(key, str)
        and not key.startswith("$")
        and isinstance(argument, dict)
        and len(argument) > 1
        and is_operator_object(argument)
    ):
        rules: list[Rule] = []
        for name, value in argument.items():
            rule = _read_rule({key: {name: value}})
            if rule is None:
                return None
            rules.append(rule)
        return rules
    rule = _read_rule({key: argument})
    return None if rule is None else [rule]


def _read_group(condition: dict[Any, Any]) -> Group | None:
    """A nested group: ``{"$or": [rows]}``, ``{"$and": [rows]}`` or an object of rows."""
    if len(condition) == 1:
        [(key, argument)] = condition.items()
        if key in ("$and", "$or"):
            if not isinstance(argument, list):
                return None
            rows = _read_items(argument, allow_groups=False)
            if rows is None:
                return None
            return Group("any" if key == "$or" else "all", tuple(rows))
    rows = _read_object(condition, allow_groups=False)
    return None if rows is None else Group("all", tuple(rows))


def _read_rule(condition: dict[Any, Any]) -> Rule | None:
    """One row from a single-key condition, or ``None``."""
    [(key, expected)] = condition.items()
    if key == "$not":
        inner = _read_rule(expected) if isinstance(expected, dict) and len(expected) == 1 else None
        return None if inner is None else replace(inner, negate=not inner.negate)
    if not isinstance(key, str) or not _ATTRIBUTE_RE.match(key):
        return None
    if isinstance(expected, dict) and len(expected) == 1 and "$not" in expected:
        inner = _read_rule({key: expected["$not"]})
        return None if inner is None else replace(inner, negate=not inner.negate)
    for preset in PRESETS:
        if preset.attribute == key:
            value = preset.read(expected)
            if value is not _MISSING:
                return Rule(preset.key, value)
    return _read_generic(key, expected)


def _read_generic(attribute: str, expected: Any) -> Rule | None:
    if not (isinstance(expected, dict) and is_operator_object(expected)):
        # A literal (also a plain object or a list) is compared for equality.
        return Rule(GENERIC, expected, attribute=attribute, operator="eq")
    if len(expected) != 1:
        return None
    [(name, value)] = expected.items()
    operator_key: str | None = None
    negate = False
    if name == "$eq":
        operator_key = "eq"
    elif name == "$ne":
        operator_key = "ne"
    elif name in _ORDER_KEYS and (is_number(value) or isinstance(value, str)):
        operator_key = _ORDER_KEYS[name]
    elif name == "$regex":
        value = _unescape(value)
        operator_key = None if value is None else "contains"
    elif name == "$elemMatch" and isinstance(value, dict) and list(value) == ["$eq"]:
        operator_key, value = "includes", value["$eq"]
    elif name == "$in" and isinstance(value, list):
        operator_key = "in"
    elif name == "$exists" and isinstance(value, bool):
        operator_key, negate, value = "exists", not value, None
    if operator_key is None:
        return None
    return Rule(GENERIC, value, negate=negate, attribute=attribute, operator=operator_key)


def _unescape(pattern: object) -> str | None:
    """The text ``t`` with ``re.escape(t) == pattern``, or ``None`` if there is none."""
    if not isinstance(pattern, str) or not pattern:
        return None
    text = re.sub(r"\\(.)", r"\1", pattern, flags=re.DOTALL)
    return text if re.escape(text) == pattern and _is_clean_text(text) else None


def _is_clean_text(value: object) -> bool:
    """Text a value box gives back unchanged: not empty, no surrounding spaces, not too long."""
    return (
        isinstance(value, str)
        and bool(value)
        and value == value.strip()
        and len(value) <= MAX_TEXT_LENGTH
    )


def _same_json(left: object, right: object) -> bool:
    # True == 1 in Python; the builder only reads back exactly what it writes.
    return type(left) is type(right) and left == right


# --- row text <-> value -----------------------------------------------------------------


def parse_value(rule_key: str, text: str, operator_key: str = "") -> Any:
    """The typed value of a row from the text its value box holds.

    Raises ``ValueError`` with a message naming the rule and the fix. For the generic
    row, ``operator_key`` selects how the text is read: numbers, ``true``/``false``,
    ``null`` and ``"quoted"`` text are JSON; anything else is text; "is one of" takes a
    comma-separated list (or a JSON list).
    """
    text = text.strip()
    if rule_key == GENERIC:
        return _parse_generic_value(operator_key, text)
    preset = PRESETS_BY_KEY[rule_key]
    label = f"“{preset.label}”"
    if preset.param == "none":
        return None
    if len(text) > MAX_TEXT_LENGTH:
        raise ValueError(f"{label}: use at most {MAX_TEXT_LENGTH} characters")
    if preset.param == "number":
        if not _NUMBER_RE.match(text):
            raise ValueError(f"{label} needs a number, e.g. {preset.placeholder}")
        value = _number(text)
        if not math.isfinite(value):
            raise ValueError(f"{label} needs a number, e.g. {preset.placeholder}")
        return value
    if preset.param == "integer":
        if not _INTEGER_RE.match(text):
            raise ValueError(
                f"{label} needs a whole number of 0 or more, e.g. {preset.placeholder}"
            )
        return int(text)
    if preset.param == "group":
        return text  # empty means "this segment"; the form fills in its slug
    if preset.param == "country":
        text = text.upper()
        if not _COUNTRY_RE.match(text):
            raise ValueError(f"{label} needs a two-letter country code such as DE or US")
        return text
    if preset.param == "choice":
        if text not in dict(preset.choices):
            names = ", ".join(key for key, _ in preset.choices)
            raise ValueError(f"{label}: choose one of {names}")
        return text
    if not text:
        raise ValueError(f"{label} needs a value, e.g. {preset.placeholder}")
    return text


def _number(text: str) -> int | float:
    return float(text) if any(mark in text for mark in ".eE") else int(text)


def _parse_generic_value(operator_key: str, text: str) -> Any:
    if operator_key not in GENERIC_OPERATORS:
        raise ValueError("choose an operator for the attribute")
    if operator_key == "exists":
        return None
    if len(text) > MAX_TEXT_LENGTH * 10:
        raise ValueError(f"the value is too long; use at most {MAX_TEXT_LENGTH * 10} characters")
    if operator_key == "in":
        value = _json_or_none(text) if text.startswith("[") else None
        if isinstance(value, list):
            return value
        return [_scalar(part.strip()) for part in text.split(",") if part.strip()]
    if operator_key == "contains":
        if not text:
            raise ValueError("“contains text” needs some text")
        if len(text) > MAX_TEXT_LENGTH:
            raise ValueError(f"“contains text”: use at most {MAX_TEXT_LENGTH} characters")
        return text
    value = _scalar(text)
    if operator_key in _ORDER_OPERATORS and not (is_number(value) or isinstance(value, str)):
        raise ValueError(f"“{GENERIC_OPERATORS[operator_key]}” needs a number or a text")
    return value


def _json_or_none(text: str) -> Any:
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        return None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed")


def _scalar(text: str) -> Any:
    """``42`` -> 42, ``true`` -> True, ``"42"`` -> "42", ``cats`` -> "cats"."""
    value = _json_or_none(text)
    if value is None and text != "null":
        return text
    if isinstance(value, float) and not math.isfinite(value):
        return text
    return value


def format_value(rule: Rule) -> str:
    """The text a row's value box shows for ``rule`` (inverse of :func:`parse_value`)."""
    value = rule.value
    if rule.preset != GENERIC:
        return "" if value is None else str(value)
    if rule.operator == "exists":
        return ""
    if rule.operator == "in" and isinstance(value, list):
        parts = [_format_scalar(item) for item in value]
        if all(isinstance(item, (str, int, float, bool)) for item in value) and not any(
            "," in part or part != part.strip() or not part for part in parts
        ):
            return ", ".join(parts)
        return json.dumps(value, ensure_ascii=False)
    if rule.operator == "contains":
        return str(value)
    return _format_scalar(value)


def _format_scalar(value: Any) -> str:
    if isinstance(value, str) and value == value.strip() and _scalar(value) == value:
        return value
    return json.dumps(value, ensure_ascii=False)


# --- explaining ------------------------------------------------------------------------


def describe_rule(rule: Rule) -> str:
    """A row as a merchandiser reads it: ``"cart value at least 30"``."""
    prefix = "NOT " if rule.negate else ""
    if rule.preset == GENERIC:
        operator_label = GENERIC_OPERATORS.get(rule.operator, rule.operator)
        if rule.operator == "exists":
            return f"{prefix}{rule.attribute} exists"
        return f"{prefix}{rule.attribute} {operator_label} {format_value(rule)}"
    preset = PRESETS_BY_KEY[rule.preset]
    if preset.param == "none":
        return f"{prefix}{preset.label}"
    label = preset.label.replace(" … ", f" {rule.value} ")
    if label != preset.label:
        return f"{prefix}{label}"
    return f"{prefix}{preset.label} {rule.value}"


@dataclass
class ClauseResult:
    """How one top-level clause (a row, a group or a raw JSON clause) evaluated."""

    label: str
    matched: bool
    checks: list[str] = field(default_factory=list)
    children: list[ClauseResult] = field(default_factory=list)


_SYMBOLS: Final = {
    "$gt": ">",
    "$gte": "≥",
    "$lt": "<",
    "$lte": "≤",
    "$ne": "≠",
    "$eq": "=",
    "$in": "in",
    "$regex": "contains",
    "$elemMatch": "includes",
    "$inGroup": "in static list",
    "$exists": "exists:",
}
_SHORT_JSON: Final = 120


def _short_json(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str, sort_keys=True)
    return text if len(text) <= _SHORT_JSON else text[: _SHORT_JSON - 1] + "…"


def _rule_check(rule: Rule, attributes: dict[str, Any]) -> str:
    """``cart.value = 42.5 ≥ 30``: the value looked at, and what it was tested against."""
    [(attribute, expected)] = rule_condition(replace(rule, negate=False)).items()
    actual = get_path(attributes, attribute)
    if isinstance(expected, dict) and is_operator_object(expected) and len(expected) == 1:
        [(name, argument)] = expected.items()
        if name == "$regex":
            argument = _unescape(argument)
        elif name == "$elemMatch":
            argument = argument["$eq"]
        test = f"{_SYMBOLS.get(name, name)} {_short_json(argument)}"
    else:
        test = f"(wanted {_short_json(expected)})"
    check = f"{attribute} = {_short_json(actual)} {test}"
    return f"NOT ({check})" if rule.negate else check


def _paths(condition: Any, found: list[str], depth: int = 0) -> None:
    """The attribute paths a raw condition reads, in order, each once."""
    if not isinstance(condition, dict) or depth > 8:
        return
    for key, argument in condition.items():
        if key in ("$and", "$or", "$nor") and isinstance(argument, list):
            for element in argument:
                _paths(element, found, depth + 1)
        elif key == "$not":
            _paths(argument, found, depth + 1)
        elif isinstance(key, str) and not key.startswith("$") and key not in found:
            found.append(key)


def explain_condition(
    condition: dict[str, Any],
    attributes: dict[str, Any],
    groups: SavedGroups | None = None,
) -> tuple[bool, list[ClauseResult]]:
    """Whether ``attributes`` match, and the result of each top-level clause.

    Conditions the builder can show are explained row by row (and group by group);
    others clause by clause, listing the attribute values each clause reads.
    """
    matched = evaluate_condition(condition, attributes, groups)
    tree = condition_to_rules(condition)
    if tree is not None:
        return matched, [_explain_item(item, attributes, groups) for item in tree.items]
    if len(condition) == 1 and next(iter(condition)) in ("$and", "$or"):
        [argument] = condition.values()
        clauses = list(argument) if isinstance(argument, list) else [condition]
    else:
        clauses = [{key: argument} for key, argument in condition.items()]
    results = []
    for clause in clauses:
        paths: list[str] = []
        _paths(clause, paths)
        results.append(
            ClauseResult(
                label=_short_json(clause),
                matched=evaluate_condition(clause, attributes, groups)
                if isinstance(clause, dict)
                else False,
                checks=[f"{path} = {_short_json(get_path(attributes, path))}" for path in paths],
            )
        )
    return matched, results


def _explain_item(
    item: Rule | Group, attributes: dict[str, Any], groups: SavedGroups | None
) -> ClauseResult:
    if isinstance(item, Rule):
        return ClauseResult(
            label=describe_rule(item),
            matched=evaluate_condition(rule_condition(item), attributes, groups),
            checks=[_rule_check(item, attributes)],
        )
    children = [_explain_item(rule, attributes, groups) for rule in item.items]
    return ClauseResult(
        label="ANY of these" if item.match == "any" else "ALL of these",
        matched=evaluate_condition(_item_condition(item), attributes, groups),
        children=children,
    )
