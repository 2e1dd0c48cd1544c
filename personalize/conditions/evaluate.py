"""Evaluate targeting conditions written in GrowthBook's condition language.

A condition is a Mongo-style document such as::

    {"visit_count": {"$gte": 2}, "$or": [{"utm.source": "newsletter"}, {"device": "mobile"}]}

Keys are dotted attribute paths (``cart.value`` reads ``attributes["cart"]["value"]``) or
the logical operators ``$and``, ``$or``, ``$nor`` and ``$not``. Values are either literal
values compared for equality or objects whose keys are all operators.

The behaviour follows GrowthBook's SDKs and passes every ``evalCondition`` case of their
shared test suite (spec 0.8.0, vendored in ``tests/conformance/``). Where the JavaScript
and Python SDKs disagree on a case the suite does not pin down, this module takes the
choice that keeps Python semantics predictable and never raises:

* a missing attribute, or a path through something that is not an object, reads as ``None``;
* literal values and ``$in``-style membership use Python ``==`` (so ``1 == 1.0 == True``),
  as the Python SDK does;
* ordering operators coerce like JavaScript's ``<``: a number compared with a numeric
  string or ``None`` compares as a number (``None`` as 0); values that cannot be compared
  match neither ``$lt`` nor ``$gte`` nor ``$eq``, and do match ``$ne``;
* ``$regex`` only matches strings; an invalid pattern matches nothing;
* ``$elemMatch`` considers every element (the JavaScript SDK skips falsy ones);
* ``list`` and ``tuple`` both count as arrays, ``int``/``float``/``Decimal`` as numbers;
* malformed parts (``$or`` that is not a list, ``$in`` without a list, an unknown
  operator, a part nested deeper than :data:`MAX_DEPTH`) match nothing, so a typo
  cannot widen a segment; :func:`~personalize.conditions.validate_condition` reports
  them with a fix.

This module owns those semantics; :mod:`personalize.conditions.compile` builds fast
closures out of the same primitives.
"""

from __future__ import annotations

import functools
import operator
import re
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any, Final

__all__ = [
    "ARRAY_TYPES",
    "LOGICAL_OPERATORS",
    "MAX_DEPTH",
    "NUMBER_TYPES",
    "ORDER_OUTCOMES",
    "TYPE_NAMES",
    "VALUE_OPERATORS",
    "VERSION_TESTS",
    "SavedGroups",
    "compare_values",
    "compile_pattern",
    "evaluate_condition",
    "get_path",
    "is_in",
    "is_number",
    "is_operator_object",
    "padded_version_string",
    "value_type",
]

#: Saved groups: group id -> the values that belong to it (a list, tuple or set).
SavedGroups = Mapping[str, Any]

#: Operators allowed where an attribute path is expected.
LOGICAL_OPERATORS: Final = ("$and", "$or", "$nor", "$not")

#: Operators allowed inside the rule for one attribute, in the order error messages list them.
VALUE_OPERATORS: Final = (
    "$eq",
    "$ne",
    "$gt",
    "$gte",
    "$lt",
    "$lte",
    "$in",
    "$nin",
    "$ini",
    "$nini",
    "$all",
    "$alli",
    "$elemMatch",
    "$size",
    "$exists",
    "$type",
    "$regex",
    "$regexi",
    "$not",
    "$veq",
    "$vne",
    "$vgt",
    "$vgte",
    "$vlt",
    "$vlte",
    "$inGroup",
    "$notInGroup",
)

#: The names ``$type`` accepts.
TYPE_NAMES: Final = ("string", "number", "boolean", "array", "object", "null")

#: A part of a condition nested deeper than this matches nothing. Form-built segments are
#: a few levels deep; the limit keeps hostile or corrupted documents far from Python's
#: recursion limit.
MAX_DEPTH: Final = 64

#: Outcomes of compare_values() that satisfy each comparison operator. None (incomparable)
#: satisfies only $ne, as in JavaScript where NaN comparisons are false and !== is true.
ORDER_OUTCOMES: Final[Mapping[str, frozenset[int | None]]] = {
    "$eq": frozenset({0}),
    "$ne": frozenset({-1, 1, None}),
    "$gt": frozenset({1}),
    "$gte": frozenset({0, 1}),
    "$lt": frozenset({-1}),
    "$lte": frozenset({-1, 0}),
}

_VERSION_STRIP = re.compile(r"^v|\+.*\Z")
_VERSION_SPLIT = re.compile(r"[-.]")
#: The Python types that count as JSON arrays and numbers.
ARRAY_TYPES: Final = (list, tuple)
NUMBER_TYPES: Final = (int, float, Decimal)


def evaluate_condition(
    condition: dict[str, Any],
    attributes: dict[str, Any],
    saved_groups: SavedGroups | None = None,
) -> bool:
    """Return whether ``attributes`` satisfy ``condition``.

    ``saved_groups`` maps a group id to its members for ``$inGroup``/``$notInGroup``.
    Never raises on JSON input: malformed parts simply do not match (see the module
    docstring). To evaluate one condition many times, use
    :func:`~personalize.conditions.compile_condition`, which is several times faster.
    """
    return _eval_condition(condition, attributes, saved_groups, 0)


def _eval_condition(
    condition: object, document: object, groups: SavedGroups | None, depth: int
) -> bool:
    if depth > MAX_DEPTH or not isinstance(condition, dict):
        return False
    for key, argument in condition.items():
        if key == "$or":
            if not _eval_any(argument, document, groups, depth):
                return False
        elif key == "$nor":
            if not isinstance(argument, list) or _eval_any(argument, document, groups, depth):
                return False
        elif key == "$and":
            if not isinstance(argument, list):
                return False
            for sub_condition in argument:
                if not _eval_condition(sub_condition, document, groups, depth + 1):
                    return False
        elif key == "$not":
            if _eval_condition(argument, document, groups, depth + 1):
                return False
        elif not _eval_value(argument, get_path(document, key), groups, depth + 1):
            return False
    return True


def _eval_any(argument: object, document: object, groups: SavedGroups | None, depth: int) -> bool:
    if not isinstance(argument, list):
        return False
    # GrowthBook treats an empty $or as "no restriction".
    if not argument:
        return True
    for sub_condition in argument:
        if _eval_condition(sub_condition, document, groups, depth + 1):
            return True
    return False


def _eval_value(
    expected: object,
    actual: object,
    groups: SavedGroups | None,
    depth: int,
    insensitive: bool = False,
) -> bool:
    if depth > MAX_DEPTH:
        return False
    if isinstance(expected, dict) and is_operator_object(expected):
        for operator_name, argument in expected.items():
            handler = _OPERATOR_HANDLERS.get(operator_name)
            # An unknown operator never matches, so a typo cannot widen a segment.
            if handler is None or not handler(argument, actual, groups, depth):
                return False
        return True
    if insensitive and isinstance(expected, str):
        return isinstance(actual, str) and actual.lower() == expected.lower()
    return bool(actual == expected)


# Operator handlers: (operator argument, attribute value, saved groups, depth) -> matched.
_Handler = Callable[[Any, Any, "SavedGroups | None", int], bool]


def _order_handler(operator_name: str) -> _Handler:
    outcomes = ORDER_OUTCOMES[operator_name]

    def handler(expected: Any, actual: Any, groups: SavedGroups | None, depth: int) -> bool:
        return compare_values(actual, expected) in outcomes

    return handler


def _version_handler(operator_name: str) -> _Handler:
    version_test = VERSION_TESTS[operator_name]

    def handler(expected: Any, actual: Any, groups: SavedGroups | None, depth: int) -> bool:
        return version_test(padded_version_string(actual), padded_version_string(expected))

    return handler


def _membership_handler(insensitive: bool, wanted: bool) -> _Handler:
    def handler(expected: Any, actual: Any, groups: SavedGroups | None, depth: int) -> bool:
        if not isinstance(expected, list):
            return False
        return is_in(actual, expected, insensitive) is wanted

    return handler


def _all_handler(insensitive: bool) -> _Handler:
    def handler(expected: Any, actual: Any, groups: SavedGroups | None, depth: int) -> bool:
        if not isinstance(expected, list) or not isinstance(actual, ARRAY_TYPES):
            return False
        return all(
            any(_eval_value(item, element, groups, depth + 1, insensitive) for element in actual)
            for item in expected
        )

    return handler


def _eval_elem_match(expected: Any, actual: Any, groups: SavedGroups | None, depth: int) -> bool:
    if not isinstance(expected, dict) or not isinstance(actual, ARRAY_TYPES):
        return False
    if is_operator_object(expected):
        return any(_eval_value(expected, element, groups, depth + 1) for element in actual)
    return any(_eval_condition(expected, element, groups, depth + 1) for element in actual)


def _eval_size(expected: Any, actual: Any, groups: SavedGroups | None, depth: int) -> bool:
    return isinstance(actual, ARRAY_TYPES) and _eval_value(expected, len(actual), groups, depth + 1)


def _eval_exists(expected: Any, actual: Any, groups: SavedGroups | None, depth: int) -> bool:
    return (actual is not None) if expected else (actual is None)


def _eval_type(expected: Any, actual: Any, groups: SavedGroups | None, depth: int) -> bool:
    return bool(value_type(actual) == expected)


def _regex_handler(ignore_case: bool) -> _Handler:
    def handler(expected: Any, actual: Any, groups: SavedGroups | None, depth: int) -> bool:
        pattern = compile_pattern(expected, ignore_case)
        return pattern is not None and isinstance(actual, str) and bool(pattern.search(actual))

    return handler


def _eval_not(expected: Any, actual: Any, groups: SavedGroups | None, depth: int) -> bool:
    return not _eval_value(expected, actual, groups, depth + 1)


def _group_handler(wanted: bool) -> _Handler:
    def handler(expected: Any, actual: Any, groups: SavedGroups | None, depth: int) -> bool:
        if not isinstance(expected, str):
            return False
        members = groups.get(expected) if groups is not None else None
        found = members is not None and is_in(actual, members)
        return found is wanted

    return handler


def get_path(document: object, path: object) -> Any:
    """Return the value at a dotted ``path`` in ``document``, or ``None`` when absent."""
    if not isinstance(path, str):
        return None
    current: Any = document
    for part in path.split("."):
        if not isinstance(current, dict):
            return None
        current = current.get(part)
    return current


def is_operator_object(value: dict[Any, Any]) -> bool:
    """Return whether every key of a non-empty dict is an operator (starts with ``$``)."""
    if not value:
        return False
    # A plain loop: all(<generator>) costs ~50% more on this hot path.
    for key in value:  # noqa: SIM110
        if not (isinstance(key, str) and key.startswith("$")):
            return False
    return True


def value_type(value: object) -> str:
    """Return the JSON type name ``$type`` compares against."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, NUMBER_TYPES):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, ARRAY_TYPES):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "unknown"


def is_number(value: object) -> bool:
    """Return whether ``value`` is a JSON number (``bool`` is not)."""
    return isinstance(value, NUMBER_TYPES) and not isinstance(value, bool)


def _as_number(value: object) -> int | float | Decimal | None:
    """Coerce the other side of a numeric comparison the way JavaScript's ``<`` does."""
    if value is None:
        return 0
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, (float, Decimal)):
        # NaN compares false with everything; returning None says "incomparable".
        return None if value != value else value
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return None
        return None if number != number else number
    return None


def compare_values(actual: object, expected: object) -> int | None:
    """Order two attribute values: -1, 0 or 1, or ``None`` when they cannot be compared.

    When either side is a number the other is coerced to a number (``None`` -> 0, numeric
    strings parsed); two strings compare by code point; two booleans as 0/1; other values
    compare equal (0) only when they are equal and of the same type.
    """
    # Fast path for the common case, identical to the general one below.
    if (type(actual) is int or type(actual) is float) and (
        type(expected) is int or type(expected) is float
    ):
        if actual > expected:
            return 1
        if actual < expected:
            return -1
        return 0 if actual == expected else None  # NaN is incomparable
    if is_number(actual) or is_number(expected):
        left = _as_number(actual)
        right = _as_number(expected)
        if left is None or right is None:
            return None
        return (left > right) - (left < right)
    if (isinstance(actual, str) and isinstance(expected, str)) or (
        isinstance(actual, bool) and isinstance(expected, bool)
    ):
        return (actual > expected) - (actual < expected)  # type: ignore[operator]
    if type(actual) is type(expected) and actual == expected:
        return 0
    return None


def is_in(actual: object, members: object, insensitive: bool = False) -> bool:
    """Return whether ``actual`` (or, for an array, any of its elements) is in ``members``.

    ``insensitive`` lower-cases strings on both sides (``$ini``/``$nini``). ``members`` that
    is not a list, tuple or set holds nothing.
    """
    if not isinstance(members, (list, tuple, set, frozenset)):
        return False
    if insensitive:
        members = [_fold_case(member) for member in members]
    candidates = actual if isinstance(actual, ARRAY_TYPES) else (actual,)
    for candidate in candidates:
        if insensitive:
            candidate = _fold_case(candidate)
        try:
            if candidate in members:
                return True
        except TypeError:
            # An unhashable candidate (a list or dict) tested against a set: it cannot
            # equal any of the set's hashable members.
            continue
    return False


def _fold_case(value: object) -> object:
    return value.lower() if isinstance(value, str) else value


@functools.lru_cache(maxsize=1024)
def _compile_pattern_cached(pattern: str, ignore_case: bool) -> re.Pattern[str] | None:
    try:
        return re.compile(pattern, re.IGNORECASE if ignore_case else 0)
    except (re.error, RecursionError, OverflowError, ValueError):
        return None


def compile_pattern(pattern: object, ignore_case: bool = False) -> re.Pattern[str] | None:
    """Compile a ``$regex`` pattern (cached), or return ``None`` when it is not valid."""
    if not isinstance(pattern, str):
        return None
    return _compile_pattern_cached(pattern, ignore_case)


@functools.lru_cache(maxsize=1024)
def _pad_version_text(text: str) -> str:
    # Drop a leading "v" and any "+build" suffix; they never affect ordering.
    parts = _VERSION_SPLIT.split(_VERSION_STRIP.sub("", text))
    # A release without a pre-release tag sorts after its pre-releases: "~" is the
    # largest printable ASCII character, so "1.0.0" > "1.0.0-beta".
    if len(parts) == 3:
        parts.append("~")
    # Left-pad numeric parts so that plain string comparison orders them numerically.
    return "-".join(
        part.rjust(5, " ") if part.isascii() and part.isdigit() else part for part in parts
    )


def padded_version_string(value: object) -> str:
    """Return GrowthBook's comparable form of a version such as ``"v1.2.3-rc.1+build5"``.

    Comparing two results as plain strings orders versions the way SemVer does for the
    cases GrowthBook's test suite covers. Numbers are formatted like JavaScript does;
    anything that is neither a number nor a non-empty string counts as ``"0"``.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    elif isinstance(value, (float, Decimal)):
        number = float(value)
        value = str(int(number)) if number.is_integer() and abs(number) < 1e21 else str(number)
    if not isinstance(value, str) or not value:
        value = "0"
    return _pad_version_text(value)


#: Version operators -> the test applied to the two padded version strings.
VERSION_TESTS: Final[Mapping[str, Callable[[str, str], bool]]] = {
    "$veq": operator.eq,
    "$vne": operator.ne,
    "$vgt": operator.gt,
    "$vgte": operator.ge,
    "$vlt": operator.lt,
    "$vlte": operator.le,
}


_OPERATOR_HANDLERS: Final[Mapping[str, _Handler]] = {
    **{name: _order_handler(name) for name in ORDER_OUTCOMES},
    **{name: _version_handler(name) for name in VERSION_TESTS},
    "$in": _membership_handler(insensitive=False, wanted=True),
    "$nin": _membership_handler(insensitive=False, wanted=False),
    "$ini": _membership_handler(insensitive=True, wanted=True),
    "$nini": _membership_handler(insensitive=True, wanted=False),
    "$all": _all_handler(insensitive=False),
    "$alli": _all_handler(insensitive=True),
    "$elemMatch": _eval_elem_match,
    "$size": _eval_size,
    "$exists": _eval_exists,
    "$type": _eval_type,
    "$regex": _regex_handler(ignore_case=False),
    "$regexi": _regex_handler(ignore_case=True),
    "$not": _eval_not,
    "$inGroup": _group_handler(wanted=True),
    "$notInGroup": _group_handler(wanted=False),
}
