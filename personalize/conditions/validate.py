"""Check a targeting condition before it is saved, with messages a merchandiser can act on.

Evaluation is forgiving (a malformed part just never matches), so a typo would
silently shrink a segment to nobody. The admin and the API call
:func:`validate_condition` instead and show its messages next to the rule.

``$regex`` patterns also run on every request, so :func:`regex_problem` rejects those
that are too long or can backtrack catastrophically, before they are saved.
"""

from __future__ import annotations

import difflib
import importlib
import re
import reprlib
from collections.abc import Iterable
from typing import Any, Final

from personalize.conditions.evaluate import (
    MAX_DEPTH,
    TYPE_NAMES,
    VALUE_OPERATORS,
    is_number,
    is_operator_object,
    value_type,
)

__all__ = ["MAX_PATTERN_LENGTH", "regex_problem", "validate_condition"]

#: The longest ``$regex``/``$regexi`` pattern a condition may use.
MAX_PATTERN_LENGTH: Final = 500

_LIST_OPERATORS = ("$in", "$nin", "$ini", "$nini")
_ORDER_OPERATORS = ("$gt", "$gte", "$lt", "$lte")
_VERSION_OPERATORS = ("$veq", "$vne", "$vgt", "$vgte", "$vlt", "$vlte")
_GROUP_OPERATORS = ("$inGroup", "$notInGroup")

# Long literals would drown the message; the location already says where to look.
_short_repr = reprlib.Repr()
_short_repr.maxstring = 60
_short_repr.maxother = 60


def validate_condition(condition: object) -> list[str]:
    """Return a list of problems with ``condition``; an empty list means it is valid.

    Each message names where the problem is (a dotted attribute path, with ``$or[1]``
    style steps through logical operators) and how to fix it, for example
    ``"cart.value: unknown operator '$gtx' (did you mean '$gt'?); use one of $eq, ..."``.
    Accepts any input and never raises.
    """
    problems: list[str] = []
    if not isinstance(condition, dict):
        problems.append(
            "the condition must be an object mapping attribute paths to rules, "
            f"got {_describe_type(condition)}"
        )
        return problems
    _check_condition(condition, "", 0, problems)
    return problems


def _join(location: str, step: str) -> str:
    return f"{location}.{step}" if location else step


def _describe_type(value: object) -> str:
    kind = value_type(value)
    return (
        "an unsupported value"
        if kind == "unknown"
        else f"{'an' if kind[0] in 'ao' else 'a'} {kind}"
    )


def _too_deep(location: str, depth: int, problems: list[str]) -> bool:
    if depth <= MAX_DEPTH:
        return False
    problems.append(
        f"{location or 'the condition'}: nested more than {MAX_DEPTH} levels deep; "
        "simplify the condition"
    )
    return True


def _check_condition(
    condition: dict[Any, Any], location: str, depth: int, problems: list[str]
) -> None:
    if _too_deep(location, depth, problems):
        return
    for key, argument in condition.items():
        if not isinstance(key, str):
            problems.append(
                f"{location or 'the condition'}: key {_short_repr.repr(key)} must be a string "
                "attribute path"
            )
            continue
        here = _join(location, key)
        if key in ("$and", "$or", "$nor"):
            _check_condition_list(argument, here, depth, problems)
        elif key == "$not":
            if isinstance(argument, dict):
                _check_condition(argument, here, depth + 1, problems)
            else:
                problems.append(
                    f"{here} must be a condition object, got {_describe_type(argument)}"
                )
        elif key in VALUE_OPERATORS:
            problems.append(
                f"{here}: {key} must be applied to an attribute, "
                f'e.g. {{"visit_count": {{"{key}": ...}}}}'
            )
        elif not key:
            problems.append(
                f"{location or 'the condition'}: empty attribute path; "
                "name an attribute such as 'visit_count'"
            )
        else:
            _check_value(argument, here, depth + 1, problems)


def _check_condition_list(argument: object, location: str, depth: int, problems: list[str]) -> None:
    if not isinstance(argument, list):
        problems.append(f"{location} must be a list of conditions")
        return
    for index, item in enumerate(argument):
        where = f"{location}[{index}]"
        if isinstance(item, dict):
            _check_condition(item, where, depth + 1, problems)
        else:
            problems.append(f"{where} must be a condition object, got {_describe_type(item)}")


def _check_value(expected: object, location: str, depth: int, problems: list[str]) -> None:
    """Check the rule for one attribute: a literal to compare, or an operator object."""
    if _too_deep(location, depth, problems) or not isinstance(expected, dict):
        return
    operator_keys = [key for key in expected if isinstance(key, str) and key.startswith("$")]
    if not operator_keys:
        return  # A plain object is compared for equality; any object is valid.
    if not is_operator_object(expected):
        plain_keys = [_short_repr.repr(key) for key in expected if key not in operator_keys]
        problems.append(
            f"{location}: mixes operators ({', '.join(operator_keys)}) with plain keys "
            f"({', '.join(plain_keys)}); use only operators, or only a literal object to "
            "compare for equality"
        )
        return
    for operator_name, argument in expected.items():
        _check_operator(operator_name, argument, location, depth, problems)


def _check_operator(
    operator_name: str, argument: object, location: str, depth: int, problems: list[str]
) -> None:
    if operator_name in ("$eq", "$ne"):
        return  # Any value can be compared for equality.
    if operator_name in _ORDER_OPERATORS:
        if not (is_number(argument) or isinstance(argument, str)):
            problems.append(f"{location}: {operator_name} needs a number or a string")
    elif operator_name in _LIST_OPERATORS:
        if not isinstance(argument, list):
            problems.append(f"{location}: {operator_name} needs a list")
    elif operator_name in ("$all", "$alli"):
        if not isinstance(argument, list):
            problems.append(f"{location}: {operator_name} needs a list")
            return
        for index, item in enumerate(argument):
            _check_value(item, f"{location}.{operator_name}[{index}]", depth + 1, problems)
    elif operator_name == "$elemMatch":
        _check_elem_match(argument, location, depth, problems)
    elif operator_name == "$size":
        if isinstance(argument, dict):
            _check_value(argument, _join(location, "$size"), depth + 1, problems)
        elif not is_number(argument):
            problems.append(f"{location}: $size needs a number or a condition")
    elif operator_name == "$exists":
        if not isinstance(argument, bool):
            problems.append(f"{location}: $exists needs true or false")
    elif operator_name == "$type":
        if argument not in TYPE_NAMES:
            names = ", ".join(f"'{name}'" for name in TYPE_NAMES)
            problems.append(
                f"{location}: $type needs one of {names}, got {_short_repr.repr(argument)}"
            )
    elif operator_name in ("$regex", "$regexi"):
        _check_pattern(operator_name, argument, location, problems)
    elif operator_name == "$not":
        _check_value(argument, _join(location, "$not"), depth + 1, problems)
    elif operator_name in _VERSION_OPERATORS:
        if not (isinstance(argument, str) and argument) and not is_number(argument):
            problems.append(f"{location}: {operator_name} needs a version string such as '1.2.3'")
    elif operator_name in _GROUP_OPERATORS:
        if not (isinstance(argument, str) and argument):
            problems.append(f"{location}: {operator_name} needs a saved group id (a string)")
    else:
        close = difflib.get_close_matches(operator_name, VALUE_OPERATORS, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        problems.append(
            f"{location}: unknown operator {_short_repr.repr(operator_name)}{hint}; "
            f"use one of {', '.join(VALUE_OPERATORS)}"
        )


def _check_elem_match(argument: object, location: str, depth: int, problems: list[str]) -> None:
    if not isinstance(argument, dict):
        problems.append(f"{location}: $elemMatch needs a condition object")
        return
    where = _join(location, "$elemMatch")
    # Mirror evaluation: operators apply to each element itself ({"$gt": 10}); attribute
    # paths apply to object elements ({"name": "x"}).
    if is_operator_object(argument):
        _check_value(argument, where, depth + 1, problems)
    else:
        _check_condition(argument, where, depth + 1, problems)


def _check_pattern(
    operator_name: str, argument: object, location: str, problems: list[str]
) -> None:
    if not isinstance(argument, str):
        problems.append(f"{location}: {operator_name} needs a string pattern")
        return
    problem = regex_problem(argument, ignore_case=operator_name == "$regexi")
    if problem:
        problems.append(f"{location}: {problem}")


def regex_problem(pattern: str, *, ignore_case: bool = False) -> str | None:
    """Say why ``pattern`` should not be saved as a targeting regex, or return ``None``.

    The reasons, in the order they are checked: longer than :data:`MAX_PATTERN_LENGTH`
    characters; not valid Python ``re`` syntax; able to backtrack catastrophically (see
    below). :func:`validate_condition` uses it for ``$regex``/``$regexi``; other
    merchandiser-written patterns, such as URL rules, should use it too.
    """
    if len(pattern) > MAX_PATTERN_LENGTH:
        # Checked first: compiling or analysing a huge pattern is itself slow.
        return (
            f"the pattern is {len(pattern)} characters long; "
            f"keep it to at most {MAX_PATTERN_LENGTH} characters"
        )
    flags = re.IGNORECASE if ignore_case else 0
    try:
        re.compile(pattern, flags)
    except re.error as error:
        reason = str(error)
    except (RecursionError, OverflowError, ValueError):
        reason = "too complex to compile"
    else:
        hint = _backtracking_hint(pattern, flags)
        if hint:
            return f"this regular expression can take exponential time on some inputs; {hint}"
        return None
    return (
        f"invalid regular expression {_short_repr.repr(pattern)}: {reason}; "
        "fix the pattern (Python re syntax)"
    )


# --- catastrophic backtracking ----------------------------------------------------------
#
# Patterns run against attribute values on every request, so one that backtracks
# exponentially (``(a+)+`` against "aaaa…!") would stall the worker. Timing a pattern
# proves nothing about the input that will hit it, so the check is structural, on the
# parse tree ``re`` itself builds (``re._parser``, private but stable since 3.11). Only
# backtracking repeats (greedy or lazy, allowing more than one iteration) are
# considered; possessive repeats and atomic groups are never re-entered once matched,
# so only their insides are checked, as patterns of their own. Inside a backtracking
# repeat the pattern is rejected when
#
# * the body contains another repeat of variable length (``(a+)+``, ``(a*)*``,
#   ``(\w+\s?)+``, ``(.*a){20}``): the input can be split between the two in
#   exponentially many ways;
# * the body contains an alternation whose branches can start the same way: with the
#   same character (``(a|ab|b)*``), or both empty (``(a|a)*``, which the parser turns
#   into ``a(?:|)``), or one empty where the next iteration starts like the other
#   (``(a|aa)*``, parsed as ``a(?:|a)``). This is the LL(1) conflict test on first and
#   follow sets; character classes are compared on a probe alphabet.
#
# The check is deliberately conservative: ``(\d+\.)+`` is safe but rejected, and the
# message suggests the unambiguous rewrite. It does not try to catch polynomial blow-ups
# such as ``\d+\d+\d+x`` (bounded by the 500-character limit and the attribute length).

_sre_parser: Any = importlib.import_module("re._parser")
_sre: Any = importlib.import_module("re._constants")

_NESTED_HINT = "avoid nested quantifiers like (a+)+"
_OVERLAP_HINT = (
    "avoid repeating alternatives that can match the same text, like (a|aa)*; "
    "make each alternative start differently"
)

# Characters tried when comparing what two alternatives can start with: Latin-1 plus a
# few letters, digits and spaces from other scripts. The literals and range ends of the
# pattern itself are added, which makes literal and range overlaps exact.
_PROBE_CHARACTERS: Final = frozenset(
    [chr(code) for code in range(256)]
    + list("\u0100\u0394\u0416\u05d0\u0660\u2003\u2028\u4e2d\uff10")
)
_CATEGORIES: Final = {
    "CATEGORY_DIGIT": re.compile(r"\d"),
    "CATEGORY_NOT_DIGIT": re.compile(r"\D"),
    "CATEGORY_SPACE": re.compile(r"\s"),
    "CATEGORY_NOT_SPACE": re.compile(r"\S"),
    "CATEGORY_WORD": re.compile(r"\w"),
    "CATEGORY_NOT_WORD": re.compile(r"\W"),
}


def _backtracking_hint(pattern: str, flags: int) -> str | None:
    """Say how ``pattern`` can backtrack catastrophically, or return ``None``."""
    # The pattern compiled, so it parses; at most 500 characters bound the recursion.
    parsed = _sre_parser.parse(pattern, flags)
    analysis = _PatternAnalysis(parsed.state.flags, _pattern_characters(parsed))
    return analysis.hint(parsed, inside_repeat=False, follow=frozenset())


def _pattern_characters(items: Iterable[Any]) -> set[str]:
    """Every literal character and range end in the parse tree."""
    found: set[str] = set()
    for op, argument in items:
        if op in (_sre.LITERAL, _sre.NOT_LITERAL):
            found.add(chr(argument))
        elif op == _sre.RANGE:
            found.update((chr(argument[0]), chr(argument[1])))
        elif op == _sre.IN:
            found |= _pattern_characters(argument)
        else:
            for child in _children(op, argument):
                found |= _pattern_characters(child)
    return found


def _children(op: Any, argument: Any) -> list[Any]:
    """The sub-sequences of one parse-tree node."""
    if op in (_sre.MAX_REPEAT, _sre.MIN_REPEAT, _sre.POSSESSIVE_REPEAT):
        return [argument[2]]
    if op == _sre.SUBPATTERN:
        return [argument[3]]
    if op == _sre.BRANCH:
        return list(argument[1])
    if op in (_sre.ASSERT, _sre.ASSERT_NOT):
        return [argument[1]]
    if op == _sre.ATOMIC_GROUP:
        return [argument]
    if op == _sre.GROUPREF_EXISTS:
        return [branch for branch in argument[1:] if branch is not None]
    return []


class _PatternAnalysis:
    """The first/follow character analysis of one parsed pattern."""

    def __init__(self, flags: int, pattern_characters: set[str]) -> None:
        self.ignore_case = bool(flags & re.IGNORECASE)
        self.dot_all = bool(flags & re.DOTALL)
        characters = _PROBE_CHARACTERS | pattern_characters
        if self.ignore_case:
            characters |= {
                variant
                for char in characters
                for variant in (char.lower(), char.upper())
                if len(variant) == 1
            }
        self.alphabet = frozenset(characters)
        self._matching_cache: dict[tuple[Any, str], frozenset[str]] = {}

    def hint(self, items: Any, *, inside_repeat: bool, follow: frozenset[str]) -> str | None:
        """Return the fix for the first risky construct in ``items``, if any.

        ``follow`` holds the characters that can come right after ``items`` within the
        innermost backtracking repeat (the next iteration's first characters).
        """
        follows = self._follows(items, follow) if inside_repeat else [follow] * len(items)
        for (op, argument), after in zip(items, follows, strict=True):
            if op in (_sre.MAX_REPEAT, _sre.MIN_REPEAT):
                low, high, body = argument
                if inside_repeat and high > 1 and low != high:
                    return _NESTED_HINT
                if high > 1:
                    # An iteration that consumed something can be followed by another.
                    body_first, body_nullable = self._start(body)
                    after = after if body_nullable else after | body_first
                found = self.hint(body, inside_repeat=inside_repeat or high > 1, follow=after)
            elif op in (_sre.POSSESSIVE_REPEAT, _sre.ATOMIC_GROUP):
                # Never re-entered once matched, so only what happens inside counts.
                found = None
                for child in _children(op, argument):
                    found = found or self.hint(child, inside_repeat=False, follow=frozenset())
            elif op == _sre.BRANCH and inside_repeat and self._ambiguous(argument[1], after):
                return _OVERLAP_HINT
            else:
                found = None
                for child in _children(op, argument):
                    found = found or self.hint(child, inside_repeat=inside_repeat, follow=after)
            if found:
                return found
        return None

    def _follows(self, items: Any, follow: frozenset[str]) -> list[frozenset[str]]:
        """For each item of a sequence, the characters that can come right after it."""
        result = []
        for item in reversed(items):
            result.append(follow)
            first, nullable = self._start([item])
            follow = first | follow if nullable else first
        result.reverse()
        return result

    def _ambiguous(self, branches: list[Any], follow: frozenset[str]) -> bool:
        """Whether two alternatives can start the same way (an LL(1) conflict)."""
        starts = []
        for branch in branches:
            first, nullable = self._start(branch)
            starts.append((first | follow if nullable else first, nullable))
        for index, (first, nullable) in enumerate(starts):
            for other_first, other_nullable in starts[index + 1 :]:
                if (nullable and other_nullable) or first & other_first:
                    return True
        return False

    def _start(self, items: Any) -> tuple[frozenset[str], bool]:
        """The characters a sequence can start with, and whether it can match ``""``."""
        first: set[str] = set()
        for op, argument in items:
            if op in (_sre.LITERAL, _sre.NOT_LITERAL, _sre.ANY, _sre.IN):
                return frozenset(first | self._matching(op, argument)), False
            if op in (_sre.MAX_REPEAT, _sre.MIN_REPEAT, _sre.POSSESSIVE_REPEAT):
                body_first, body_nullable = self._start(argument[2])
                first |= body_first
                if argument[0] > 0 and not body_nullable:
                    return frozenset(first), False
            elif op in (_sre.SUBPATTERN, _sre.ATOMIC_GROUP, _sre.BRANCH, _sre.GROUPREF_EXISTS):
                nullable = op == _sre.GROUPREF_EXISTS and argument[2] is None
                for child in _children(op, argument):
                    child_first, child_nullable = self._start(child)
                    first |= child_first
                    nullable = nullable or child_nullable
                if not nullable:
                    return frozenset(first), False
            elif op == _sre.GROUPREF:
                # A backreference can repeat anything, including the empty string.
                first |= self.alphabet
            # Anchors and lookarounds match the empty string and consume nothing.
        return frozenset(first), True

    def _matching(self, op: Any, argument: Any) -> frozenset[str]:
        """The characters of :attr:`alphabet` one character-matching node accepts."""
        if op == _sre.LITERAL and not self.ignore_case:
            return frozenset(chr(argument))
        key = (op, repr(argument))
        if key not in self._matching_cache:
            self._matching_cache[key] = frozenset(
                char for char in self.alphabet if self._matches(op, argument, char)
            )
        return self._matching_cache[key]

    def _matches(self, op: Any, argument: Any, char: str) -> bool:
        if self.ignore_case:
            return any(
                self._matches_exactly(op, argument, variant)
                for variant in {char, char.lower(), char.upper()}
                if len(variant) == 1
            )
        return self._matches_exactly(op, argument, char)

    def _matches_exactly(self, op: Any, argument: Any, char: str) -> bool:
        if op == _sre.LITERAL:
            return char == chr(argument)
        if op == _sre.NOT_LITERAL:
            return char != chr(argument)
        if op == _sre.ANY:
            return self.dot_all or char != "\n"
        # A character class: a list of members, possibly starting with NEGATE.
        negate = bool(argument) and argument[0][0] == _sre.NEGATE
        members = argument[1:] if negate else argument
        return negate is not any(self._in_member(kind, value, char) for kind, value in members)

    @staticmethod
    def _in_member(kind: Any, value: Any, char: str) -> bool:
        if kind == _sre.LITERAL:
            return char == chr(value)
        if kind == _sre.RANGE:
            return bool(value[0] <= ord(char) <= value[1])
        category = _CATEGORIES.get(str(value))
        # Unknown members (none exist in Python 3.11-3.13) count as overlapping everything.
        return category.fullmatch(char) is not None if category else True
