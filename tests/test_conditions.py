"""Tests for personalize.conditions: GrowthBook conformance, our documented choices,
agreement between the interpreter and the compiler, and validation messages."""

from __future__ import annotations

import itertools
import json
import random
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from personalize.conditions import compile_condition, evaluate_condition, validate_condition
from personalize.conditions.evaluate import (
    MAX_DEPTH,
    VALUE_OPERATORS,
    compare_values,
    padded_version_string,
    value_type,
)
from personalize.conditions.validate import MAX_PATTERN_LENGTH, regex_problem
from tests.hang_guard import finishes

CASES_PATH = Path(__file__).parent / "conformance" / "growthbook-cases.json"
SHARED_CASES_PATH = (
    Path(__file__).resolve().parents[1].parent / "shared" / "conformance" / "growthbook-cases.json"
)
CASES = json.loads(CASES_PATH.read_text(encoding="utf-8"))
EVAL_CASES = CASES["evalCondition"]


def both(
    condition: Any, attributes: dict[str, Any], saved_groups: dict[str, Any] | None = None
) -> bool:
    """Evaluate with the interpreter and the compiler; they must agree."""
    interpreted = evaluate_condition(condition, attributes, saved_groups)
    compiled = compile_condition(condition)(attributes, saved_groups)
    assert interpreted is compiled, (condition, attributes, interpreted, compiled)
    return interpreted


def test_vendored_cases_match_shared_copy() -> None:
    if not SHARED_CASES_PATH.exists():
        pytest.skip("no shared conformance file beside the repository")
    assert CASES_PATH.read_bytes() == SHARED_CASES_PATH.read_bytes()


def test_vendored_cases_are_spec_0_8_0() -> None:
    assert CASES["specVersion"] == "0.8.0"
    assert len(EVAL_CASES) == 248


def _case_args(case: list[Any]) -> tuple[Any, dict[str, Any], bool, dict[str, Any] | None]:
    saved_groups = case[4] if len(case) > 4 else None
    return case[1], case[2], case[3], saved_groups


@pytest.mark.parametrize("case", EVAL_CASES, ids=[case[0] for case in EVAL_CASES])
def test_evaluate_condition_conformance(case: list[Any]) -> None:
    condition, attributes, expected, saved_groups = _case_args(case)
    assert evaluate_condition(condition, attributes, saved_groups) is expected


@pytest.mark.parametrize("case", EVAL_CASES, ids=[case[0] for case in EVAL_CASES])
def test_compiled_condition_conformance(case: list[Any]) -> None:
    condition, attributes, expected, saved_groups = _case_args(case)
    assert compile_condition(condition)(attributes, saved_groups) is expected


# Cases in the suite that test how evaluation tolerates malformed conditions; the
# validator must reject them, naming the problem.
DELIBERATELY_INVALID = {
    "$in - not array": "num: $in needs a list",
    "$nin - not array": "num: $nin needs a list",
    "$ini - not array": "num: $ini needs a list",
    "$nini - not array": "num: $nini needs a list",
    "unknown operator - pass": "name: unknown operator '$regx' (did you mean '$regex'?)",
    "$regex invalid - pass": "name: invalid regular expression '/???***[)': multiple repeat",
    "$regex invalid - fail": "name: invalid regular expression '/???***[)': multiple repeat",
}


@pytest.mark.parametrize("case", EVAL_CASES, ids=[case[0] for case in EVAL_CASES])
def test_conformance_conditions_validate(case: list[Any]) -> None:
    problems = validate_condition(case[1])
    if case[0] in DELIBERATELY_INVALID:
        assert len(problems) == 1
        assert problems[0].startswith(DELIBERATELY_INVALID[case[0]])
    else:
        assert problems == []


def test_compiled_condition_is_reusable_across_documents() -> None:
    is_big_spender = compile_condition({"cart.value": {"$gte": 100}})
    assert is_big_spender({"cart": {"value": 150}})
    assert not is_big_spender({"cart": {"value": 50}})
    assert not is_big_spender({})


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ({}, True),
        ({"$and": "not a list"}, False),
        ({"a": 1}, True),
        ({"a": 1, "b.c": 2}, True),
        ({"a": 1, "b.c": 2, "b.d.e": 3}, True),
        ({"$or": [{"a": 2}, {"b.c": 2}]}, True),
        ({"$or": [{"a": 1}]}, True),
        ({"$not": {"a": 1}}, False),
        ({"$nor": [{"a": 2}]}, True),
        ({1: None}, True),
    ],
)
def test_compiled_condition_saved_groups_default_to_none(
    condition: dict[str, Any], expected: bool
) -> None:
    # Each kind of top-level node must accept a call without saved groups.
    document = {"a": 1, "b": {"c": 2, "d": {"e": 3}}}
    assert compile_condition(condition)(document) is expected
    assert evaluate_condition(condition, document) is expected


# --- documented semantics where GrowthBook's SDKs leave the choice open ---------------


@pytest.mark.parametrize(
    ("condition", "attributes", "expected"),
    [
        # Decimal attributes (Django money fields) compare as numbers.
        ({"cart.value": {"$gte": 75}}, {"cart": {"value": Decimal("75.00")}}, True),
        ({"cart.value": {"$lt": 75.5}}, {"cart": {"value": Decimal("75.49")}}, True),
        ({"cart.value": {"$gt": Decimal("10")}}, {"cart": {"value": 10.5}}, True),
        ({"cart.value": 10}, {"cart": {"value": Decimal("10.0")}}, True),
        # Tuples count as arrays.
        ({"tags": {"$in": ["cats"]}}, {"tags": ("dogs", "cats")}, True),
        ({"tags": {"$size": 2}}, {"tags": ("dogs", "cats")}, True),
        ({"tags": {"$type": "array"}}, {"tags": ("dogs",)}, True),
        ({"tags": {"$all": ["dogs"]}}, {"tags": ("dogs",)}, True),
        ({"tags": {"$elemMatch": {"$eq": "dogs"}}}, {"tags": ("dogs",)}, True),
        # Decimal is a number for $type; booleans are not.
        ({"n": {"$type": "number"}}, {"n": Decimal("1.5")}, True),
        ({"n": {"$type": "number"}}, {"n": True}, False),
        ({"n": {"$type": "string"}}, {"n": object()}, False),
        # Numbers against numeric strings, None and garbage.
        ({"n": {"$eq": 8}}, {"n": "8"}, True),
        ({"n": {"$lt": 1}}, {"n": None}, True),
        ({"n": {"$gt": 5}}, {"n": "many"}, False),
        ({"n": {"$lte": 5}}, {"n": "many"}, False),
        ({"n": {"$ne": 5}}, {"n": "many"}, True),
        ({"n": {"$gt": 5}}, {"n": [9]}, False),
        ({"n": {"$gt": 5}}, {"n": float("nan")}, False),
        ({"n": {"$ne": 5}}, {"n": float("nan")}, True),
        ({"n": {"$gt": 5}}, {"n": "nan"}, False),
        ({"n": {"$gt": 5}}, {"n": Decimal("NaN")}, False),
        ({"n": {"$eq": 1}}, {"n": True}, True),
        ({"n": {"$gt": False}}, {"n": True}, True),
        ({"n": {"$gte": 1}}, {"n": 2**80}, True),
        # None is only equal to None; other non-number mixtures are incomparable.
        ({"n": {"$eq": False}}, {}, False),
        ({"n": {"$eq": None}}, {}, True),
        ({"n": {"$lte": None}}, {}, True),
        ({"n": {"$gt": "a"}}, {}, False),
        ({"n": {"$ne": "a"}}, {}, True),
        ({"n": {"$eq": [1, 2]}}, {"n": [1, 2]}, True),
        ({"n": {"$lt": [1, 3]}}, {"n": [1, 2]}, False),
        ({"n": {"$eq": {"a": 1}}}, {"n": {"a": 1}}, True),
        # A str subclass (Django's SafeString) is still a string.
        ({"s": {"$gt": "a", "$regex": "^b"}}, {"s": type("Safe", (str,), {})("b")}, True),
        # $regex only matches strings.
        ({"zip": {"$regex": "^9"}}, {"zip": 90210}, False),
        ({"zip": {"$regex": 9}}, {"zip": "9"}, False),
        # $elemMatch considers falsy elements too.
        ({"nums": {"$elemMatch": {"$eq": 0}}}, {"nums": [0, 5]}, True),
        ({"nums": {"$elemMatch": "x"}}, {"nums": ["x"]}, False),
        ({"items": {"$elemMatch": {"sku": "A"}}}, {"items": ["A", {"sku": "A"}]}, True),
        ({"items": {"$elemMatch": {}}}, {"items": [1]}, True),
        # $in with unhashable values never raises.
        ({"x": {"$in": [[1, 2], {"a": 1}, 3]}}, {"x": [[1, 2]]}, True),
        ({"x": {"$in": [[1, 2], {"a": 1}, 3]}}, {"x": {"a": 1}}, True),
        ({"x": {"$in": [1, 2]}}, {"x": {"a": 1}}, False),
        ({"x": {"$nin": [[1, 2]]}}, {"x": [[1, 3]]}, True),
        ({"x": {"$ini": ["A", [1]]}}, {"x": [[1]]}, True),
        ({"x": {"$ini": ["A", 1]}}, {"x": 1}, True),
        ({"x": {"$in": [1]}}, {"x": 1.0}, True),
        # Case-insensitive operators only fold strings.
        ({"x": {"$alli": ["A", 1]}}, {"x": ["a", 1]}, True),
        ({"x": {"$alli": ["1"]}}, {"x": [1]}, False),
        ({"x": {"$alli": [{"$gt": 0}]}}, {"x": [1]}, True),
        ({"x": {"$all": []}}, {"x": []}, True),
        ({"x": {"$all": "a"}}, {"x": ["a"]}, False),
        # $exists uses truthiness of its argument.
        ({"x": {"$exists": 0}}, {}, True),
        ({"x": {"$exists": 1}}, {"x": 0}, True),
        # Version operators accept numbers and treat junk as "0".
        ({"v": {"$vgt": 1}}, {"v": "1.5"}, True),
        ({"v": {"$veq": 2.0}}, {"v": "2"}, True),
        ({"v": {"$veq": Decimal("2")}}, {"v": 2}, True),
        ({"v": {"$vlt": "1.0.0"}}, {"v": None}, True),
        ({"v": {"$veq": "0"}}, {"v": ["1"]}, True),
        ({"v": {"$veq": "0"}}, {"v": True}, True),
        # Paths only descend into objects.
        ({"a.0": 1}, {"a": [1]}, False),
        ({"a.b.c": None}, {"a": {"b": 5}}, True),
        ({"a.b.c": 1}, {"a": {"b": {"c": 1}}}, True),
        ({"": 1}, {"": 1}, True),
        # An empty object is a literal, not an empty operator object.
        ({"x": {}}, {"x": {}}, True),
        ({"x": {}}, {"x": 1}, False),
        # Operator objects are AND-ed.
        ({"x": {"$gt": 1, "$lt": 3, "$ne": 2}}, {"x": 2}, False),
    ],
)
def test_documented_semantics(condition: Any, attributes: dict[str, Any], expected: bool) -> None:
    assert both(condition, attributes) is expected


@pytest.mark.parametrize(
    ("saved_groups", "operator", "expected"),
    [
        (None, "$inGroup", False),
        (None, "$notInGroup", True),
        ({"vip": None}, "$inGroup", False),
        ({"vip": None}, "$notInGroup", True),
        ({"vip": {"v1", "v2"}}, "$inGroup", True),
        ({"vip": frozenset({"v1"})}, "$notInGroup", False),
        ({"vip": ("v1",)}, "$inGroup", True),
        ({"vip": "v1"}, "$inGroup", False),  # not a collection: holds nothing
        ({"vip": 3}, "$inGroup", False),
    ],
)
def test_saved_groups(saved_groups: dict[str, Any] | None, operator: str, expected: bool) -> None:
    assert both({"id": {operator: "vip"}}, {"id": "v1"}, saved_groups) is expected


def test_saved_group_with_unhashable_attribute_value() -> None:
    assert both({"id": {"$inGroup": "vip"}}, {"id": [["v1"]]}, {"vip": {"v1"}}) is False
    assert both({"id": {"$inGroup": "vip"}}, {"id": ["x", "v1"]}, {"vip": {"v1"}}) is True


@pytest.mark.parametrize("operator", ["$inGroup", "$notInGroup"])
def test_group_operator_with_non_string_id_never_matches(operator: str) -> None:
    assert both({"id": {operator: 1}}, {"id": 1}, {"1": [1]}) is False


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1.2.3", "    1-    2-    3-~"),
        ("v1.2.3+build.7", "    1-    2-    3-~"),
        ("1.2.3-rc.1", "    1-    2-    3-rc-    1"),
        (10, "   10"),
        (1.5, "    1-    5"),
        (2.0, "    2"),
        (Decimal("3"), "    3"),
        (1e21, "1e"),  # "+21" reads as build metadata, as in GrowthBook's SDKs
        (float("inf"), "inf"),
        ("", "    0"),
        (None, "    0"),
        (False, "    0"),
        (["1"], "    0"),
        ("1.2.3\n+x", "    1-    2-3\n-~"),
        ("1.2.3+a\nb", "    1-    2-3+a\nb-~"),
    ],
)
def test_padded_version_string(value: object, expected: str) -> None:
    assert padded_version_string(value) == expected


def test_compare_values_orders_like_javascript() -> None:
    assert compare_values(2, 10) == -1
    assert compare_values("2", "10") == 1
    assert compare_values("10", 9) == 1
    assert compare_values(None, None) == 0
    assert compare_values(None, "a") is None
    assert compare_values({"a": 1}, {"a": 2}) is None


def test_value_type_names() -> None:
    values: list[object] = [None, True, 1, 1.5, "s", [], (), {}, set()]
    assert [value_type(value) for value in values] == [
        "null",
        "boolean",
        "number",
        "number",
        "string",
        "array",
        "array",
        "object",
        "unknown",
    ]


# --- malformed conditions never match and never raise ---------------------------------


@pytest.mark.parametrize(
    "condition",
    [
        None,
        [],
        "visit_count",
        1,
        {"$or": {"a": 1}},
        {"$or": "a"},
        {"$and": {"a": 1}},
        {"$nor": {"a": 1}},
        {"$or": [None]},
        {"$and": [1]},
        {"x": {"$elemMatch": 5}},
        {"x": {"$regex": "("}},
        {"x": {"$bogus": 1}},
        {"x": {"$in": "abc"}},
        {"x": {"$nin": "abc"}},
        {"x": {"$alli": "abc"}},
        {1: 1},
    ],
)
def test_malformed_condition_never_matches(condition: Any) -> None:
    documents: list[dict[Any, Any]] = [{}, {"x": "abc", "a": 1, 1: 1}, {"x": ["a"], "a": [1]}]
    for attributes in documents:
        assert both(condition, attributes) is False


def test_non_dict_under_not_matches_everything() -> None:
    # {"$not": X} is the negation of X, and a non-object X matches nothing.
    assert both({"$not": "junk"}, {}) is True
    assert both({"$nor": ["junk"]}, {}) is True


def test_empty_logical_lists() -> None:
    assert both({"$or": []}, {}) is True
    assert both({"$and": []}, {}) is True
    # GrowthBook: $nor is "not $or", and an empty $or passes, so an empty $nor fails.
    assert both({"$nor": []}, {}) is False


def _nested_not(levels: int) -> dict[str, Any]:
    condition: dict[str, Any] = {}
    for _ in range(levels):
        condition = {"$not": condition}
    return condition


def _nested_elem_match(levels: int) -> tuple[dict[str, Any], dict[str, Any]]:
    condition: Any = {"$eq": 1}
    document: Any = 1
    for _ in range(levels):
        condition = {"$elemMatch": condition}
        document = [document]
    return {"x": condition}, {"x": document}


def test_nesting_limit_is_shared_by_interpreter_and_compiler() -> None:
    # {} matches everything, so an odd number of $not around it matches nothing...
    assert both(_nested_not(MAX_DEPTH - 1), {}) is False
    # ...until the innermost part lies beyond MAX_DEPTH and counts as matching nothing.
    assert both(_nested_not(MAX_DEPTH + 1), {}) is True
    # The rule for "x" is at depth 1, so the innermost {"$eq": 1} is at depth levels + 1.
    condition, document = _nested_elem_match(MAX_DEPTH - 1)
    assert both(condition, document) is True
    condition, document = _nested_elem_match(MAX_DEPTH)
    assert both(condition, document) is False


def test_very_deep_conditions_do_not_raise() -> None:
    deep = _nested_not(20_000)
    # Evaluation stops at depth MAX_DEPTH + 1 (matches nothing) under 65 negations.
    assert both(deep, {}) is True
    problems = validate_condition(deep)
    assert len(problems) == 1
    assert "nested more than 64 levels deep" in problems[0]
    deep_value: Any = 1
    for _ in range(20_000):
        deep_value = {"$not": deep_value}
    # Value rules sit at depths 1, 2, ...; the one at MAX_DEPTH + 1 matches nothing and
    # the 64 $not above it cancel out.
    assert both({"x": deep_value}, {"x": 1}) is False
    assert len(validate_condition({"x": deep_value})) == 1


ODD_VALUES: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    2.5,
    float("nan"),
    Decimal("1.5"),
    "",
    "a",
    "A",
    "1.2.3",
    "(",
    [],
    [1, "a", None],
    [[1], {"a": 1}],
    {},
    {"a": 1},
    {"$eq": 1},
    {"$gt": 1, "a": 1},
    {"$in": [1, "a"]},
    {"a": {"$exists": True}},
]


@pytest.mark.parametrize("operator", [*VALUE_OPERATORS, "$bogus"])
def test_every_operator_with_odd_arguments_agrees_and_never_raises(operator: str) -> None:
    saved_groups = {"a": [1, "a"], "": None}
    for argument, actual in itertools.product([*ODD_VALUES, "array"], ODD_VALUES):
        condition = {"x": {operator: argument}}
        both(condition, {"x": actual}, saved_groups)
        both(condition, {"x": actual})
        assert isinstance(validate_condition(condition), list)


# --- the interpreter and the compiler agree on random conditions -----------------------

_FIELDS = ["a", "b", "c.d", "c.e", "tags", "items"]
_SCALARS: list[Any] = [None, 0, 1, 2, 2.5, -1, "", "a", "b", "B", "10", "1.2.3", True, False]


def _random_scalar(rng: random.Random) -> Any:
    return rng.choice(_SCALARS)


def _random_document(rng: random.Random) -> dict[str, Any]:
    document: dict[str, Any] = {}
    for field in ("a", "b"):
        if rng.random() < 0.8:
            document[field] = _random_scalar(rng)
    if rng.random() < 0.8:
        document["c"] = rng.choice(
            [{"d": _random_scalar(rng), "e": _random_scalar(rng)}, None, 5, {"d": [1, 2]}]
        )
    if rng.random() < 0.8:
        document["tags"] = [_random_scalar(rng) for _ in range(rng.randint(0, 4))]
    if rng.random() < 0.5:
        document["items"] = [
            {"a": _random_scalar(rng), "tags": ["a", "b"]} for _ in range(rng.randint(0, 3))
        ]
    return document


def _random_value(rng: random.Random, depth: int) -> Any:
    choice = rng.random()
    if choice < 0.25 or depth > 3:
        return _random_scalar(rng) if rng.random() < 0.9 else [_random_scalar(rng)]
    operators: dict[str, Any] = {}
    for _ in range(rng.randint(1, 2)):
        operator = rng.choice([*VALUE_OPERATORS, "$bogus"])
        if operator in ("$in", "$nin", "$ini", "$nini", "$all", "$alli"):
            argument: Any = [_random_scalar(rng) for _ in range(rng.randint(0, 3))]
        elif operator in ("$not", "$size"):
            argument = _random_value(rng, depth + 1)
        elif operator == "$elemMatch":
            argument = (
                _random_value(rng, depth + 1)
                if rng.random() < 0.5
                else _random_condition(rng, depth + 1)
            )
        elif operator in ("$regex", "$regexi"):
            argument = rng.choice(["^a", "b$", "(", "A|1", ".", "^$"])
        elif operator == "$type":
            argument = rng.choice(["string", "number", "null", "array", "object", "boolean"])
        elif operator in ("$inGroup", "$notInGroup"):
            argument = rng.choice(["g1", "g2", "missing"])
        else:
            argument = _random_scalar(rng)
        operators[operator] = argument
    return operators


def _random_condition(rng: random.Random, depth: int = 0) -> dict[str, Any]:
    condition: dict[str, Any] = {}
    for _ in range(rng.randint(0, 3)):
        roll = rng.random()
        if roll < 0.15 and depth < 3:
            key = rng.choice(["$and", "$or", "$nor"])
            condition[key] = [_random_condition(rng, depth + 1) for _ in range(rng.randint(0, 3))]
        elif roll < 0.22 and depth < 3:
            condition["$not"] = _random_condition(rng, depth + 1)
        else:
            condition[rng.choice(_FIELDS)] = _random_value(rng, depth)
    return condition


def test_interpreter_and_compiler_agree_on_random_conditions() -> None:
    rng = random.Random(20240607)
    saved_groups = {"g1": [1, "a", None], "g2": ["B", 2.5]}
    outcomes = set()
    for _ in range(2_000):
        condition = _random_condition(rng)
        compiled = compile_condition(condition)
        for _ in range(5):
            document = _random_document(rng)
            expected = evaluate_condition(condition, document, saved_groups)
            assert compiled(document, saved_groups) is expected, (condition, document)
            outcomes.add(expected)
        assert isinstance(validate_condition(condition), list)
    assert outcomes == {True, False}


# --- validation messages ----------------------------------------------------------------


def test_valid_condition_has_no_problems() -> None:
    condition = {
        "visit_count": {"$gte": 2},
        "cart.value": {"$gt": 0, "$lte": Decimal("100")},
        "rfm.segment": {"$in": ["champions", "loyal"]},
        "utm.source": {"$regexi": "^news"},
        "viewed_categories": {"$elemMatch": {"$eq": "cats"}, "$size": {"$gte": 1}},
        "orders": {"$elemMatch": {"total": {"$gt": 50}}},
        "app_version": {"$vgte": "2.0.0"},
        "email": {"$exists": True, "$type": "string"},
        "id": {"$inGroup": "vip", "$not": {"$in": [1]}},
        "tags": {"$all": ["a", {"$regex": "b"}], "$size": 3},
        "device": "mobile",
        "address": {"city": "Paris"},
        "$or": [{"country": "FR"}, {"$and": [{"country": "BE"}]}],
        "$nor": [{"bot": True}],
        "$not": {"blocked": True},
    }
    assert validate_condition(condition) == []


@pytest.mark.parametrize(
    ("condition", "problems"),
    [
        (
            None,
            ["the condition must be an object mapping attribute paths to rules, got a null"],
        ),
        (
            [],
            ["the condition must be an object mapping attribute paths to rules, got an array"],
        ),
        (
            "x",
            ["the condition must be an object mapping attribute paths to rules, got a string"],
        ),
        (
            {1: 2},
            ["the condition: key 1 must be a string attribute path"],
        ),
        ({"$or": {"a": 1}}, ["$or must be a list of conditions"]),
        ({"$and": "a"}, ["$and must be a list of conditions"]),
        ({"$nor": None}, ["$nor must be a list of conditions"]),
        ({"$or": [{"a": 1}, 3]}, ["$or[1] must be a condition object, got a number"]),
        ({"$not": [1]}, ["$not must be a condition object, got an array"]),
        (
            {"$and": [{"$or": {"a": 1}}]},
            ["$and[0].$or must be a list of conditions"],
        ),
        (
            {"$and": [{"cart.value": {"$gtx": 1}}]},
            [
                "$and[0].cart.value: unknown operator '$gtx' (did you mean '$gt'?); use one of "
                + ", ".join(VALUE_OPERATORS)
            ],
        ),
        (
            {"cart.value": {"$zzzzzz": 1}},
            ["cart.value: unknown operator '$zzzzzz'; use one of " + ", ".join(VALUE_OPERATORS)],
        ),
        (
            {"$gt": 5},
            ['$gt: $gt must be applied to an attribute, e.g. {"visit_count": {"$gt": ...}}'],
        ),
        ({"": 1}, ["the condition: empty attribute path; name an attribute such as 'visit_count'"]),
        (
            {"$or": [{"": 1}]},
            ["$or[0]: empty attribute path; name an attribute such as 'visit_count'"],
        ),
        (
            {"x": {"$gt": 1, "a": 2}},
            [
                "x: mixes operators ($gt) with plain keys ('a'); use only operators, or only "
                "a literal object to compare for equality"
            ],
        ),
        ({"x": {"$gt": None}}, ["x: $gt needs a number or a string"]),
        ({"x": {"$lte": True}}, ["x: $lte needs a number or a string"]),
        ({"x": {"$in": "a"}}, ["x: $in needs a list"]),
        ({"x": {"$all": {"a": 1}}}, ["x: $all needs a list"]),
        ({"x": {"$all": [{"$gtx": 1}]}}, ["x.$all[0]: unknown operator '$gtx'"]),
        ({"x": {"$elemMatch": 1}}, ["x: $elemMatch needs a condition object"]),
        (
            {"x": {"$elemMatch": {"$size": "a"}}},
            ["x.$elemMatch: $size needs a number or a condition"],
        ),
        ({"x": {"$elemMatch": {"a": {"$in": 1}}}}, ["x.$elemMatch.a: $in needs a list"]),
        ({"x": {"$size": "3"}}, ["x: $size needs a number or a condition"]),
        ({"x": {"$size": {"$gt": []}}}, ["x.$size: $gt needs a number or a string"]),
        ({"x": {"$exists": "yes"}}, ["x: $exists needs true or false"]),
        (
            {"x": {"$type": "int"}},
            [
                "x: $type needs one of 'string', 'number', 'boolean', 'array', 'object', "
                "'null', got 'int'"
            ],
        ),
        ({"x": {"$regex": 5}}, ["x: $regex needs a string pattern"]),
        (
            {"x": {"$regexi": "("}},
            [
                "x: invalid regular expression '(': missing ), unterminated subpattern at "
                "position 0; fix the pattern (Python re syntax)"
            ],
        ),
        ({"x": {"$not": {"$regex": "["}}}, ["x.$not: invalid regular expression '['"]),
        ({"x": {"$vgt": ""}}, ["x: $vgt needs a version string such as '1.2.3'"]),
        ({"x": {"$veq": None}}, ["x: $veq needs a version string such as '1.2.3'"]),
        ({"x": {"$inGroup": 5}}, ["x: $inGroup needs a saved group id (a string)"]),
        ({"x": {"$notInGroup": ""}}, ["x: $notInGroup needs a saved group id (a string)"]),
        (
            {"a": {"$in": 1}, "$or": [{"b": {"$nin": 2}}], "c": {"$exists": 1}},
            [
                "a: $in needs a list",
                "$or[0].b: $nin needs a list",
                "c: $exists needs true or false",
            ],
        ),
    ],
)
def test_validation_messages(condition: Any, problems: list[str]) -> None:
    found = validate_condition(condition)
    assert len(found) == len(problems), found
    for message, expected_start in zip(found, problems, strict=True):
        assert message.startswith(expected_start), message


def test_validation_shortens_long_values() -> None:
    (problem,) = validate_condition({"x": {"$type": "t" * 500}})
    assert len(problem) < 200


def test_regex_too_complex_to_compile_is_reported() -> None:
    pattern = "a{99999999999}"
    problems = validate_condition({"x": {"$regex": pattern}})
    assert problems == [
        "x: invalid regular expression 'a{99999999999}': too complex to compile; "
        "fix the pattern (Python re syntax)"
    ]
    assert both({"x": {"$regex": pattern}}, {"x": "a"}) is False


def test_overlong_pattern_is_reported_before_compiling() -> None:
    pattern = "(" * 2_000 + ")" * 2_000
    assert validate_condition({"x": {"$regex": pattern}}) == [
        "x: the pattern is 4000 characters long; keep it to at most 500 characters"
    ]
    assert both({"x": {"$regex": pattern}}, {"x": ""}) is False


@pytest.mark.parametrize(
    "odd_input",
    [
        None,
        True,
        0,
        1.5,
        "",
        "$or",
        [],
        [{"a": 1}],
        {"a": [{"$in": 1}]},
        {"$or": [[], None, {"$and": [{"$not": None}]}]},
        {"x": {"$elemMatch": {"$or": [1]}}},
        {"x": {"$size": {"$size": {"$size": "x"}}}},
        {"x": {"$all": [None, [], {}, {"$in": None}]}},
        {"x": {"$not": None}},
        {(1, 2): {"$in": 1}},
        {"x": {1: 2, "$in": 1}},
    ],
)
def test_validate_never_raises(odd_input: Any) -> None:
    problems = validate_condition(odd_input)
    assert isinstance(problems, list)
    assert all(isinstance(problem, str) for problem in problems)


# --- catastrophic backtracking (ReDoS) ----------------------------------------------------

NESTED = (
    "x: this regular expression can take exponential time on some inputs; "
    "avoid nested quantifiers like (a+)+"
)
OVERLAP = (
    "x: this regular expression can take exponential time on some inputs; "
    "avoid repeating alternatives that can match the same text, like (a|aa)*; "
    "make each alternative start differently"
)


@pytest.mark.parametrize("operator", ["$regex", "$regexi"])
def test_pattern_length_limit(operator: str) -> None:
    assert validate_condition({"x": {operator: "a" * MAX_PATTERN_LENGTH}}) == []
    assert validate_condition({"x": {operator: "a" * (MAX_PATTERN_LENGTH + 1)}}) == [
        "x: the pattern is 501 characters long; keep it to at most 500 characters"
    ]


def test_pattern_length_limit_names_the_path() -> None:
    condition = {"$or": [{"ua": {"$not": {"$regexi": "x" * 600}}}]}
    assert validate_condition(condition) == [
        "$or[0].ua.$not: the pattern is 600 characters long; keep it to at most 500 characters"
    ]


@pytest.mark.parametrize(
    "pattern",
    [
        "(a+)+",
        "(a*)*",
        "(a+)*b",
        "(?:a+)+",
        "((a+))+",
        "(a+?)+?",
        r"(\w+\s?)+$",
        "(.*a){20}",
        "(.*a){2,}",
        r"^(\d+\.)+$",
        r"(?:\s*,)+",
        "(x(a{1,3}))+",
        "(a+)+|b",
        "(?=(a+)+)",
        "(?>(a+)+b)",
        "(a++|(b+)+)",
        "(a(?(1)b+))+",
        "(a)?(?(1)(b+)+|c)",
    ],
)
def test_nested_quantifiers_are_rejected(pattern: str) -> None:
    assert validate_condition({"x": {"$regex": pattern}}) == [NESTED]


@pytest.mark.parametrize(
    "pattern",
    [
        "(a|a)*",
        "(a|a)+$",
        "(a|ab|b)*",
        "(?:x|[a-c]y|b)+",
        r"(\w|\d\d)+",
        r"(\d|[^x]y)+",
        r"(\s|\s.)+",
        "(a|aa)+",
        "(x(?:|a)a)+",
        r"(\W|\D.)+",
        "(.a|b)+",
        "(a|[^b]c)+",
        "(é|é)+",
        "([一-龥]|[丁-七]x)+",
        "(?:(?:ab|c)|(?:d|ae))+",
        "(a|)*(?:x(?:y|y)){2,}",
        "(?:a?b|b)+",
        "(?:a*|b*)+",
        r"(?:(?=a)|\b)+",
        r"(a)(\1|a)+",
        "(a)?(?:(?(1)b|c)|b)+",
        "(a)?(?:(?(1)b)|x?)+",
        "(?:(?>a)|a)+",
        "(?:a++b|a)+",
    ],
)
def test_overlapping_repeated_alternatives_are_rejected(pattern: str) -> None:
    assert validate_condition({"x": {"$regex": pattern}}) == [OVERLAP]


def test_case_insensitive_overlap_depends_on_the_operator() -> None:
    assert validate_condition({"x": {"$regex": "(Ab|aB)+c"}}) == []
    assert validate_condition({"x": {"$regexi": "(Ab|aB)+c"}}) == [OVERLAP]
    assert validate_condition({"x": {"$regex": "(?i)(Ab|aB)+c"}}) == [OVERLAP]


def test_dot_overlaps_newline_only_with_dotall() -> None:
    assert validate_condition({"x": {"$regex": r"(.a|\na)+"}}) == []
    assert validate_condition({"x": {"$regex": r"(?s)(.a|\na)+"}}) == [OVERLAP]


@pytest.mark.parametrize(
    "pattern",
    [
        "(Mobile|Tablet)",
        "-12-25$",
        "^ping",
        "(a|b)+",
        "(a|ab)*",
        "(a|ab)*c",
        "(?:ab|a)+",
        r"(\s|\S.)+",
        r"\d+\d+x",
        "(?>a+)+",
        "a++",
        "(?:a+)++",
        "(ab){3}",
        "(a{2})+",
        r"(\.\d)+",
        "(a?)+",
        "(?:a|)+",
        "(foo|bar)+",
        "(?:ab|cd|ef)+",
        "(a|(?=b)c)+",
        r"(.|\n)+",
        "(?i)(A|a)+",
        r"(\d|[^\d]x)+",
        r"(\s|\Sx)+",
        r"(\w|\Wx)+",
        r"(\d|[a-z]x)+",
        r"(\w|[?]x)+",
        r"(\D|[0-9]x)+",
        r"^/products/[a-z0-9-]+/?$",
        r"^(?:cats|dogs)$",
        "(a+)?b",
        "(?:(?:ab|cd)|(?:ef|gh))+",
        "(?:$|a)+",
        r"(a)(?:\1)+",
        "(a)?(?:(?(1)b|c)d|e)+",
        "(?:[^a]|a)+",
    ],
)
def test_safe_patterns_are_accepted(pattern: str) -> None:
    assert validate_condition({"x": {"$regex": pattern}}) == []


def test_redos_check_reports_every_pattern_with_its_path() -> None:
    condition = {
        "ua": {"$regex": "(a+)+", "$not": {"$regexi": "(a|a)*"}},
        "$or": [{"path": {"$elemMatch": {"$regex": "(.*a){20}"}}}],
    }
    assert validate_condition(condition) == [
        NESTED.replace("x:", "ua:"),
        OVERLAP.replace("x:", "ua.$not:"),
        NESTED.replace("x:", "$or[0].path.$elemMatch:"),
    ]


def test_rejected_patterns_still_evaluate_unchanged() -> None:
    # Validation guards saving; evaluation keeps GrowthBook's semantics.
    assert both({"x": {"$regex": "(a+)+"}}, {"x": "aaa"}) is True
    assert both({"x": {"$regex": "(a|a)*b"}}, {"x": "ab"}) is True


def test_regex_problem_is_usable_on_its_own() -> None:
    assert regex_problem("^/products/[a-z-]+/$") is None
    assert regex_problem("(a+)+") == NESTED.removeprefix("x: ")
    assert regex_problem("(Ab|aB)+") is None
    assert regex_problem("(Ab|aB)+", ignore_case=True) == OVERLAP.removeprefix("x: ")
    assert regex_problem("[") == (
        "invalid regular expression '[': unterminated character set at position 0; "
        "fix the pattern (Python re syntax)"
    )
    assert regex_problem("a" * 501) == (
        "the pattern is 501 characters long; keep it to at most 500 characters"
    )


@pytest.mark.parametrize(
    "pattern",
    [
        "(" * 160 + "a|b" + ")" * 160 + "+",
        "(?:" + "|".join(chr(0x4E00 + i) + "y" for i in range(160)) + ")*",
        "(?:" + "a?" * 240 + ")+",
        "(?:" + "[a-z]?" * 80 + ")+",
        "(?:"
        + "|".join(f"[{chr(0x4E00 + 2 * i)}-{chr(0x4E01 + 2 * i)}]x" for i in range(60))
        + ")+",
    ],
)
@pytest.mark.parametrize("ignore_case", [False, True])
def test_redos_check_finishes_on_large_patterns(pattern: str, ignore_case: bool) -> None:
    assert len(pattern) <= MAX_PATTERN_LENGTH
    finishes(lambda: regex_problem(pattern, ignore_case=ignore_case))
