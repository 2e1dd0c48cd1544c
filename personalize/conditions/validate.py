"""Check a targeting condition before it is saved, with messages a merchandiser can act on.

Evaluation is forgiving (a malformed part just never matches), so a typo would
silently shrink a segment to nobody. The admin and the API call
:func:`validate_condition` instead and show its messages next to the rule.
"""

from __future__ import annotations

import difflib
import re
import reprlib
from typing import Any

from personalize.conditions.evaluate import (
    MAX_DEPTH,
    TYPE_NAMES,
    VALUE_OPERATORS,
    is_number,
    is_operator_object,
    value_type,
)

__all__ = ["validate_condition"]

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
    try:
        re.compile(argument, re.IGNORECASE if operator_name == "$regexi" else 0)
    except re.error as error:
        reason = str(error)
    except (RecursionError, OverflowError, ValueError):
        reason = "too complex to compile"
    else:
        return
    problems.append(
        f"{location}: invalid regular expression {_short_repr.repr(argument)}: {reason}; "
        "fix the pattern (Python re syntax)"
    )
