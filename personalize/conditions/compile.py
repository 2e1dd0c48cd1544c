"""Compile a targeting condition once into nested closures for fast repeated evaluation.

Segments are evaluated on every request, so the work that does not depend on the
visitor is done once here: dotted paths are split, regular expressions compiled,
version bounds padded, ``$in`` lists turned into sets, and each operator picked
ahead of time. The result agrees with
:func:`~personalize.conditions.evaluate_condition` on every input (the tests check
both against GrowthBook's conformance suite and against each other on random
conditions); the semantics live in :mod:`personalize.conditions.evaluate`.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any, Protocol, cast

from personalize.conditions.evaluate import (
    ARRAY_TYPES,
    MAX_DEPTH,
    ORDER_OUTCOMES,
    VERSION_TESTS,
    SavedGroups,
    compare_values,
    compile_pattern,
    is_in,
    is_operator_object,
    padded_version_string,
    value_type,
)

__all__ = ["CompiledCondition", "compile_condition"]

# A compiled node: (the document or attribute value it tests, saved groups) -> matched.
# Nodes that test a document (conditions) default ``groups`` to None; see compile_condition.
_Matcher = Callable[[Any, SavedGroups | None], bool]

_ORDER_FUNCTIONS: dict[str, Callable[[Any, Any], bool]] = {
    "$eq": operator.eq,
    "$ne": operator.ne,
    "$gt": operator.gt,
    "$gte": operator.ge,
    "$lt": operator.lt,
    "$lte": operator.le,
}


class CompiledCondition(Protocol):
    """A condition compiled by :func:`compile_condition`."""

    def __call__(
        self, attributes: dict[str, Any], saved_groups: SavedGroups | None = None, /
    ) -> bool:
        """Return whether ``attributes`` satisfy the condition."""


def compile_condition(condition: dict[str, Any]) -> CompiledCondition:
    """Compile ``condition`` into a function ``(attributes, saved_groups=None) -> bool``.

    Compiling never raises: parts that :func:`~personalize.conditions.validate_condition`
    would reject compile to matchers that never match, exactly as
    :func:`~personalize.conditions.evaluate_condition` treats them.

    >>> is_returning_mobile = compile_condition({"visit_count": {"$gt": 1}, "device": "mobile"})
    >>> is_returning_mobile({"visit_count": 3, "device": "mobile"})
    True
    """
    # Every condition-level matcher takes ``groups=None`` by default, so the top one is
    # returned as is: a wrapper function would add ~10% to each evaluation.
    return cast(CompiledCondition, _compile_condition(condition, 0))


def _never(value: object, groups: SavedGroups | None = None) -> bool:
    return False


def _always(value: object, groups: SavedGroups | None = None) -> bool:
    return True


def _all_of(matchers: list[_Matcher]) -> _Matcher:
    if not matchers:
        return _always
    if len(matchers) == 1:
        return matchers[0]
    if len(matchers) == 2:
        first, second = matchers

        def both(value: object, groups: SavedGroups | None = None) -> bool:
            return first(value, groups) and second(value, groups)

        return both
    all_matchers = tuple(matchers)

    # Plain loops rather than all()/any() over a generator, here and below: they cost
    # ~35% less per call, and these closures run for every segment on every request.
    def every(value: object, groups: SavedGroups | None = None) -> bool:
        for matcher in all_matchers:  # noqa: SIM110
            if not matcher(value, groups):
                return False
        return True

    return every


def _any_of(matchers: list[_Matcher]) -> _Matcher:
    # GrowthBook treats an empty $or as "no restriction".
    if not matchers:
        return _always
    if len(matchers) == 1:
        return matchers[0]
    any_matchers = tuple(matchers)

    def some(value: object, groups: SavedGroups | None = None) -> bool:
        for matcher in any_matchers:  # noqa: SIM110
            if matcher(value, groups):
                return True
        return False

    return some


def _negate(matcher: _Matcher) -> _Matcher:
    def negated(value: object, groups: SavedGroups | None = None) -> bool:
        return not matcher(value, groups)

    return negated


def _compile_condition(condition: object, depth: int) -> _Matcher:
    if depth > MAX_DEPTH or not isinstance(condition, dict):
        return _never
    clauses: list[_Matcher] = []
    for key, argument in condition.items():
        if key in ("$or", "$nor", "$and"):
            if not isinstance(argument, list):
                clauses.append(_never)
                continue
            branches = [_compile_condition(branch, depth + 1) for branch in argument]
            if key == "$and":
                clauses.append(_all_of(branches))
            elif key == "$or":
                clauses.append(_any_of(branches))
            else:
                clauses.append(_negate(_any_of(branches)))
        elif key == "$not":
            clauses.append(_negate(_compile_condition(argument, depth + 1)))
        else:
            clauses.append(_compile_path(key, _compile_value(argument, depth + 1)))
    return _all_of(clauses)


def _compile_path(path: object, test: _Matcher) -> _Matcher:
    """Apply ``test`` to the value at a dotted ``path`` of the document."""
    if not isinstance(path, str):

        def at_no_path(document: object, groups: SavedGroups | None = None) -> bool:
            return test(None, groups)

        return at_no_path
    parts = tuple(path.split("."))
    # Most attribute paths have one or two parts; unrolled lookups avoid a loop per call.
    if len(parts) == 1:
        (name,) = parts

        def at_name(document: object, groups: SavedGroups | None = None) -> bool:
            return test(document.get(name) if isinstance(document, dict) else None, groups)

        return at_name
    if len(parts) == 2:
        outer, inner = parts

        def at_nested(document: object, groups: SavedGroups | None = None) -> bool:
            value = document.get(outer) if isinstance(document, dict) else None
            return test(value.get(inner) if isinstance(value, dict) else None, groups)

        return at_nested

    def at_path(document: object, groups: SavedGroups | None = None) -> bool:
        value: Any = document
        for part in parts:
            if not isinstance(value, dict):
                return test(None, groups)
            value = value.get(part)
        return test(value, groups)

    return at_path


def _compile_value(expected: object, depth: int, insensitive: bool = False) -> _Matcher:
    if depth > MAX_DEPTH:
        return _never
    if isinstance(expected, dict) and is_operator_object(expected):
        return _all_of(
            [
                _compile_operator(operator_name, argument, depth)
                for operator_name, argument in expected.items()
            ]
        )
    if insensitive and isinstance(expected, str):
        folded = expected.lower()
        return lambda actual, groups: isinstance(actual, str) and actual.lower() == folded
    return lambda actual, groups: bool(actual == expected)


def _compile_operator(operator_name: str, expected: object, depth: int) -> _Matcher:
    if operator_name in ORDER_OUTCOMES:
        return _compile_order(operator_name, expected)
    if operator_name in VERSION_TESTS:
        return _compile_version(operator_name, expected)
    if operator_name in ("$in", "$nin", "$ini", "$nini"):
        if not isinstance(expected, list):
            return _never
        membership = _compile_membership(expected, operator_name in ("$ini", "$nini"))
        return membership if operator_name in ("$in", "$ini") else _negate(membership)
    if operator_name in ("$all", "$alli"):
        if not isinstance(expected, list):
            return _never
        return _compile_all(expected, depth, operator_name == "$alli")
    if operator_name == "$elemMatch":
        return _compile_elem_match(expected, depth)
    if operator_name == "$size":
        size_test = _compile_value(expected, depth + 1)
        return lambda actual, groups: isinstance(actual, ARRAY_TYPES) and size_test(
            len(actual), groups
        )
    if operator_name == "$exists":
        if expected:
            return lambda actual, groups: actual is not None
        return lambda actual, groups: actual is None
    if operator_name == "$type":
        return lambda actual, groups: value_type(actual) == expected
    if operator_name in ("$regex", "$regexi"):
        pattern = compile_pattern(expected, operator_name == "$regexi")
        if pattern is None:
            return _never
        search = pattern.search
        return lambda actual, groups: isinstance(actual, str) and search(actual) is not None
    if operator_name == "$not":
        return _negate(_compile_value(expected, depth + 1))
    if operator_name in ("$inGroup", "$notInGroup"):
        return _compile_group(operator_name, expected)
    return _never


def _compile_order(operator_name: str, expected: object) -> _Matcher:
    outcomes = ORDER_OUTCOMES[operator_name]
    compare = _ORDER_FUNCTIONS[operator_name]

    def general(actual: object, groups: SavedGroups | None) -> bool:
        return compare_values(actual, expected) in outcomes

    # Fast paths for the overwhelmingly common same-type comparisons. They agree with
    # compare_values(): plain int/float comparison is what it does for two numbers, and a
    # NaN on either side is false for every operator except $ne in both.
    if type(expected) is int or type(expected) is float:

        def numeric(actual: object, groups: SavedGroups | None) -> bool:
            if type(actual) is int or type(actual) is float:
                return compare(actual, expected)
            return compare_values(actual, expected) in outcomes

        return numeric
    if type(expected) is str:

        def textual(actual: object, groups: SavedGroups | None) -> bool:
            if type(actual) is str:
                return compare(actual, expected)
            return compare_values(actual, expected) in outcomes

        return textual
    return general


def _compile_version(operator_name: str, expected: object) -> _Matcher:
    version_test = VERSION_TESTS[operator_name]
    padded_expected = padded_version_string(expected)
    return lambda actual, groups: version_test(padded_version_string(actual), padded_expected)


def _compile_membership(members: list[Any], insensitive: bool) -> _Matcher:
    """Test whether a value, or any element of an array value, is one of ``members``."""
    if insensitive:
        members = [member.lower() if isinstance(member, str) else member for member in members]
    # Hashable members go in a set for O(1) lookups. Python's invariant that equal values
    # hash equally (1 == 1.0 == True) keeps this identical to a list scan; an unhashable
    # value (a list or dict) can only equal an unhashable member.
    hashable_members: set[Any] = set()
    unhashable_members: list[Any] = []
    for member in members:
        try:
            hashable_members.add(member)
        except TypeError:
            unhashable_members.append(member)

    def contains(candidate: object) -> bool:
        if insensitive and isinstance(candidate, str):
            candidate = candidate.lower()
        try:
            return candidate in hashable_members
        except TypeError:
            return candidate in unhashable_members

    def membership(actual: object, groups: SavedGroups | None) -> bool:
        if type(actual) is str and not insensitive:
            return actual in hashable_members
        if isinstance(actual, ARRAY_TYPES):
            for element in actual:  # noqa: SIM110
                if contains(element):
                    return True
            return False
        return contains(actual)

    return membership


def _compile_all(items: list[Any], depth: int, insensitive: bool) -> _Matcher:
    item_tests = tuple(_compile_value(item, depth + 1, insensitive) for item in items)

    def contains_all(actual: object, groups: SavedGroups | None) -> bool:
        if not isinstance(actual, ARRAY_TYPES):
            return False
        for item_test in item_tests:
            for element in actual:
                if item_test(element, groups):
                    break
            else:
                return False
        return True

    return contains_all


def _compile_elem_match(expected: object, depth: int) -> _Matcher:
    if not isinstance(expected, dict):
        return _never
    if is_operator_object(expected):
        element_test = _compile_value(expected, depth + 1)
    else:
        element_test = _compile_condition(expected, depth + 1)

    def any_element(actual: object, groups: SavedGroups | None) -> bool:
        if not isinstance(actual, ARRAY_TYPES):
            return False
        for element in actual:  # noqa: SIM110
            if element_test(element, groups):
                return True
        return False

    return any_element


def _compile_group(operator_name: str, group_id: object) -> _Matcher:
    if not isinstance(group_id, str):
        return _never
    wanted = operator_name == "$inGroup"

    def group_membership(actual: object, groups: SavedGroups | None) -> bool:
        members = groups.get(group_id) if groups is not None else None
        found = members is not None and is_in(actual, members)
        return found is wanted

    return group_membership
