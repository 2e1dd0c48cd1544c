"""The rule builder's pure model: presets and groups <-> condition JSON, values, explanations."""

from __future__ import annotations

import re
from typing import Any

import pytest

from personalize.conditions import evaluate_condition, validate_condition
from personalize.segments.builtin import BUILTIN_SEGMENTS
from personalize.segments.rule_builder import (
    GENERIC,
    GENERIC_OPERATORS,
    PRESETS,
    Group,
    Rule,
    condition_to_rules,
    describe_rule,
    explain_condition,
    format_value,
    parse_value,
    rule_condition,
    rules_to_condition,
)

# Every preset with a sample value, and the condition the brief specifies for it.
PRESET_CASES: list[tuple[str, Any, dict[str, Any]]] = [
    ("is_new", None, {"is_new": True}),
    ("is_returning", None, {"is_returning": True}),
    ("is_logged_in", None, {"is_authenticated": True}),
    ("is_identified", None, {"is_identified": True}),
    ("cart_value_at_least", 30, {"cart.value": {"$gte": 30}}),
    ("cart_value_at_least", 12.5, {"cart.value": {"$gte": 12.5}}),
    ("cart_has_items", None, {"cart.items": {"$gt": 0}}),
    ("has_abandoned_cart", None, {"has_abandoned_cart": True}),
    ("viewed_category", "cats", {"viewed_categories": {"$elemMatch": {"$eq": "cats"}}}),
    ("top_category", "dogs", {"top_category": "dogs"}),
    ("days_since_last_order_more_than", 90, {"days_since_last_order": {"$gt": 90}}),
    ("orders_at_least", 2, {"orders_count": {"$gte": 2}}),
    ("total_spent_at_least", 250, {"total_spent": {"$gte": 250}}),
    ("rfm_segment", "champions", {"rfm.segment": "champions"}),
    ("lifecycle_stage", "at_risk", {"lifecycle_stage": "at_risk"}),
    ("utm_source", "newsletter", {"utm.source": "newsletter"}),
    ("device", "mobile", {"device": "mobile"}),
    ("country", "DE", {"country": "DE"}),
    ("landing_page_contains", "/c/cats?x=1", {"landing_path": {"$regex": r"/c/cats\?x=1"}}),
    ("visit_count_at_least", 3, {"visit_count": {"$gte": 3}}),
    ("in_static_list", "vip-list", {"ids": {"$inGroup": "vip-list"}}),
]


def one(rule: Rule) -> Group:
    return Group("all", (rule,))


def test_every_preset_has_a_case() -> None:
    assert {preset.key for preset in PRESETS} == {case[0] for case in PRESET_CASES}


@pytest.mark.parametrize(("preset", "value", "condition"), PRESET_CASES)
def test_preset_round_trip(preset: str, value: Any, condition: dict[str, Any]) -> None:
    rule = Rule(preset, value)
    assert rules_to_condition(one(rule)) == condition
    assert condition_to_rules(condition) == one(rule)
    assert validate_condition(condition) == []


@pytest.mark.parametrize(("preset", "value", "condition"), PRESET_CASES)
def test_negated_preset_round_trip(preset: str, value: Any, condition: dict[str, Any]) -> None:
    rule = Rule(preset, value, negate=True)
    negated = rules_to_condition(one(rule))
    [(attribute, expected)] = condition.items()
    assert negated == {attribute: {"$not": expected}}
    assert condition_to_rules(negated) == one(rule)
    # The other spelling of "not" reads back as the same row.
    assert condition_to_rules({"$not": condition}) == one(rule)


@pytest.mark.parametrize(("preset", "value", "condition"), PRESET_CASES)
def test_preset_value_text_round_trip(preset: str, value: Any, condition: dict[str, Any]) -> None:
    rule = Rule(preset, value)
    assert parse_value(preset, format_value(rule)) == value


GENERIC_CASES: list[tuple[str, Any, Any]] = [
    ("eq", "gold", "gold"),
    ("eq", 42, 42),
    ("eq", True, True),
    ("eq", None, None),
    ("eq", "42", "42"),
    ("eq", [1, 2], {"$eq": [1, 2]}),
    ("eq", {"a": 1}, {"$eq": {"a": 1}}),
    ("ne", "mobile", {"$ne": "mobile"}),
    ("gt", 5, {"$gt": 5}),
    ("gte", 2.5, {"$gte": 2.5}),
    ("lt", "m", {"$lt": "m"}),
    ("lte", 0, {"$lte": 0}),
    ("contains", "sale (50%)", {"$regex": re.escape("sale (50%)")}),
    ("includes", "sku-1", {"$elemMatch": {"$eq": "sku-1"}}),
    ("in", ["a", "b", 3], {"$in": ["a", "b", 3]}),
    ("in", ["a,b", None], {"$in": ["a,b", None]}),
    ("exists", None, {"$exists": True}),
]


@pytest.mark.parametrize(("operator", "value", "expected"), GENERIC_CASES)
def test_generic_round_trip(operator: str, value: Any, expected: Any) -> None:
    rule = Rule(GENERIC, value, attribute="custom.tier", operator=operator)
    condition = rules_to_condition(one(rule))
    assert condition == {"custom.tier": expected}
    assert condition_to_rules(condition) == one(rule)
    assert parse_value(GENERIC, format_value(rule), operator) == value
    assert validate_condition(condition) == []


def test_generic_exists_false_reads_as_negated_exists() -> None:
    tree = condition_to_rules({"email": {"$exists": False}})
    assert tree == one(Rule(GENERIC, None, negate=True, attribute="email", operator="exists"))
    assert rules_to_condition(tree) == {"email": {"$not": {"$exists": True}}}


def test_all_merges_rows_and_keeps_a_nested_any_group() -> None:
    tree = Group(
        "all",
        (
            Rule("is_returning"),
            Rule("cart_value_at_least", 30),
            Group("any", (Rule("device", "mobile"), Rule("country", "DE", negate=True))),
        ),
    )
    condition = rules_to_condition(tree)
    assert condition == {
        "is_returning": True,
        "cart.value": {"$gte": 30},
        "$or": [{"device": "mobile"}, {"country": {"$not": "DE"}}],
    }
    assert condition_to_rules(condition) == tree


def test_repeated_keys_use_and() -> None:
    tree = Group(
        "all",
        (
            Rule("cart_value_at_least", 10),
            Rule("cart_value_at_least", 100, negate=True),
            Group("any", (Rule("is_new"),)),
            Group("any", (Rule("is_logged_in"),)),
        ),
    )
    condition = rules_to_condition(tree)
    assert list(condition) == ["$and"]
    assert len(condition["$and"]) == 4
    assert condition_to_rules(condition) == tree


def test_any_with_nested_all_group() -> None:
    tree = Group(
        "any",
        (
            Rule("rfm_segment", "champions"),
            Group("all", (Rule("orders_at_least", 2), Rule("lifecycle_stage", "loyal"))),
        ),
    )
    condition = rules_to_condition(tree)
    assert condition == {
        "$or": [
            {"rfm.segment": "champions"},
            {"$and": [{"orders_count": {"$gte": 2}}, {"lifecycle_stage": "loyal"}]},
        ]
    }
    assert condition_to_rules(condition) == tree


def test_empty_tree_and_empty_groups_match_everyone() -> None:
    assert rules_to_condition(Group()) == {}
    assert rules_to_condition(Group("any", ())) == {}
    assert rules_to_condition(Group("all", (Group("any", ()),))) == {}
    assert condition_to_rules({}) == Group("all", ())
    assert condition_to_rules({"$or": []}) == Group("any", ())


def test_builtin_segments_round_trip_exactly() -> None:
    for spec in BUILTIN_SEGMENTS:
        tree = condition_to_rules(spec["condition"])
        assert tree is not None, spec["slug"]
        assert rules_to_condition(tree) == spec["condition"], spec["slug"]


@pytest.mark.parametrize(
    "condition",
    [
        ["not", "an object"],
        {"$nor": [{"is_new": True}]},
        {"tags": {"$size": 2}},
        {"tags": {"$gtx": 2}},
        {"bad attribute": 1},
        {"$and": "not a list"},
        {"$or": [{"$or": [{"$or": [{"a": 1}]}]}]},
        {"$or": [{"a": 1}, "x"]},
        {"$or": [{"$and": [{"a": 1}, {"$or": [{"b": 1}]}]}]},
        {"$or": [{"a": 1, "$or": [{"b": 1}]}]},
        {"$not": {"a": 1, "b": 2}},
        {"a": {"$not": {"$gte": 1, "$lt": 5}}},
        {"a": {"$gte": 1, "$size": 2}},
        {"a": {"$regex": "^starts"}},
        {"a": {"$gt": True}},
        {"a": {"$in": "x"}},
        {"a": {"$elemMatch": {"b": 1}}},
        {"$and": [{"a": 1}, {"$and": "x"}]},
        {"a": 1, "$or": "x"},
        {"$or": [{"$and": "x"}]},
        {"$or": [{"a": 1, "b": {"$size": 1}}]},
        {"a": 1, "$and": [{"$or": [{"b": 1}]}]},
    ],
)
def test_conditions_the_builder_cannot_show(condition: Any) -> None:
    assert condition_to_rules(condition) is None


SAMPLES: list[dict[str, Any]] = [
    {},
    {"a": 1, "b": 2, "device": "mobile", "tags": ["x", "y"]},
    {"a": 3, "b": None, "device": "desktop", "tags": []},
    {"a": 2, "b": 2, "cart": {"value": 45}, "country": "DE"},
]


@pytest.mark.parametrize(
    "condition",
    [
        {"$and": [{"a": 1}, {"b": 2}]},
        {"a": {"$gte": 1, "$lt": 3}},
        {"$or": [{"a": 1, "b": 2}, {"device": "desktop"}]},
        {"$not": {"$not": {"a": 1}}},
        {"a": {"$not": {"$not": 1}}},
        {"a": {"$eq": 1}},
        {"tags": {"$elemMatch": {"$eq": "x"}}, "country": {"$ne": "DE"}},
        {"$and": [{"$and": [{"a": 1}, {"b": 2}]}]},
        {"$or": [{"a": {"$in": [1, 2]}}, {"$and": [{"b": {"$exists": False}}]}]},
    ],
)
def test_reading_back_keeps_the_meaning(condition: dict[str, Any]) -> None:
    tree = condition_to_rules(condition)
    assert tree is not None
    rewritten = rules_to_condition(tree)
    for attributes in SAMPLES:
        assert evaluate_condition(rewritten, attributes) == evaluate_condition(
            condition, attributes
        ), attributes


def test_viewed_category_matches_an_element_of_the_list() -> None:
    condition = rule_condition(Rule("viewed_category", "cats"))
    assert evaluate_condition(condition, {"viewed_categories": ["dogs", "cats"]})
    assert not evaluate_condition(condition, {"viewed_categories": ["dogs"]})
    assert not evaluate_condition(condition, {"viewed_categories": None})


def test_landing_page_contains_is_literal_text() -> None:
    condition = rule_condition(Rule("landing_page_contains", "a.b"))
    assert evaluate_condition(condition, {"landing_path": "/x/a.b/"})
    assert not evaluate_condition(condition, {"landing_path": "/x/axb/"})


def test_read_only_accepts_exact_fixed_values() -> None:
    # {"is_new": 1} is not the preset (True), but the generic row keeps it exactly.
    assert condition_to_rules({"is_new": 1}) == one(
        Rule(GENERIC, 1, attribute="is_new", operator="eq")
    )
    assert condition_to_rules({"cart.items": {"$gt": 1}}) == one(
        Rule(GENERIC, 1, attribute="cart.items", operator="gt")
    )
    # Preset values the form could not give back fall back to the generic row.
    assert condition_to_rules({"rfm.segment": "bogus"}) == one(
        Rule(GENERIC, "bogus", attribute="rfm.segment", operator="eq")
    )
    assert condition_to_rules({"country": "de"}) == one(
        Rule(GENERIC, "de", attribute="country", operator="eq")
    )
    assert condition_to_rules({"top_category": " cats"}) == one(
        Rule(GENERIC, " cats", attribute="top_category", operator="eq")
    )
    assert condition_to_rules({"orders_count": {"$gte": -1}}) == one(
        Rule(GENERIC, -1, attribute="orders_count", operator="gte")
    )
    assert condition_to_rules({"cart.value": {"$gte": float("inf")}}) == one(
        Rule(GENERIC, float("inf"), attribute="cart.value", operator="gte")
    )
    assert condition_to_rules({"viewed_categories": {"$elemMatch": {"$eq": 5}}}) == one(
        Rule(GENERIC, 5, attribute="viewed_categories", operator="includes")
    )
    assert condition_to_rules({"viewed_categories": {"$elemMatch": {"$ne": "x"}}}) is None
    assert condition_to_rules({"landing_path": {"$regex": ""}}) is None
    assert condition_to_rules({"landing_path": {"$regex": 5}}) is None
    assert condition_to_rules({"device": {"$gte": 1}}) == one(
        Rule(GENERIC, 1, attribute="device", operator="gte")
    )


@pytest.mark.parametrize(
    ("preset", "text", "message"),
    [
        ("cart_value_at_least", "abc", "needs a number"),
        ("cart_value_at_least", "1e999", "needs a number"),
        ("orders_at_least", "-1", "whole number"),
        ("orders_at_least", "2.5", "whole number"),
        ("country", "Germany", "two-letter country code"),
        ("rfm_segment", "gold", "choose one of champions"),
        ("device", "", "choose one of mobile"),
        ("top_category", "  ", "needs a value"),
        ("utm_source", "x" * 201, "at most 200 characters"),
    ],
)
def test_parse_value_errors_name_the_rule(preset: str, text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_value(preset, text)


def test_parse_value_normalises() -> None:
    assert parse_value("country", " de ") == "DE"
    assert parse_value("cart_value_at_least", "30") == 30
    assert parse_value("cart_value_at_least", "30.50") == 30.5
    assert parse_value("is_new", "ignored") is None
    assert parse_value("in_static_list", "") == ""


@pytest.mark.parametrize(
    ("operator", "text", "expected"),
    [
        ("eq", "42", 42),
        ("eq", '"42"', "42"),
        ("eq", "gold", "gold"),
        ("eq", "null", None),
        ("eq", "1e999", "1e999"),
        ("in", "a, b ,, 3", ["a", "b", 3]),
        ("in", '["a,b", 1]', ["a,b", 1]),
        ("in", "[broken", ["[broken"]),
        ("exists", "anything", None),
        ("contains", " a.b ", "a.b"),
    ],
)
def test_generic_values(operator: str, text: str, expected: Any) -> None:
    assert parse_value(GENERIC, text, operator) == expected


@pytest.mark.parametrize(
    ("operator", "text", "message"),
    [
        ("bogus", "1", "choose an operator"),
        ("contains", " ", "needs some text"),
        ("contains", "x" * 201, "at most 200 characters"),
        ("gt", "[1]", "needs a number or a text"),
        ("eq", "x" * 2001, "too long"),
    ],
)
def test_generic_value_errors(operator: str, text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_value(GENERIC, text, operator)


def test_format_value_quotes_ambiguous_text() -> None:
    assert format_value(Rule(GENERIC, "42", attribute="a", operator="eq")) == '"42"'
    assert format_value(Rule(GENERIC, " x", attribute="a", operator="eq")) == '" x"'
    assert format_value(Rule(GENERIC, "x", attribute="a", operator="eq")) == "x"
    assert format_value(Rule(GENERIC, None, attribute="a", operator="exists")) == ""
    assert format_value(Rule(GENERIC, ["a", "b"], attribute="a", operator="in")) == "a, b"
    assert format_value(Rule(GENERIC, [1, None], attribute="a", operator="in")) == "[1, null]"
    assert format_value(Rule("is_new")) == ""


def test_describe_rule() -> None:
    assert describe_rule(Rule("cart_value_at_least", 30)) == "cart value at least 30"
    assert describe_rule(Rule("visit_count_at_least", 3)) == "visited at least 3 times"
    assert describe_rule(Rule("is_new", negate=True)) == "NOT is a new visitor (first visit)"
    assert (
        describe_rule(Rule(GENERIC, ["a", "b"], attribute="tier", operator="in"))
        == "tier is one of a, b"
    )
    assert describe_rule(Rule(GENERIC, None, attribute="email", operator="exists")) == (
        "email exists"
    )


def test_generic_operators_cover_the_brief() -> None:
    assert {"eq", "ne", "gt", "gte", "lt", "lte", "contains", "in", "exists"} <= set(
        GENERIC_OPERATORS
    )


def test_rule_condition_rejects_unknown_generic_operator() -> None:
    with pytest.raises(ValueError, match="unknown operator"):
        rule_condition(Rule(GENERIC, 1, attribute="a", operator="bogus"))


def test_explain_rows_and_groups() -> None:
    condition = {
        "cart.value": {"$gte": 30},
        "$or": [{"device": "mobile"}, {"viewed_categories": {"$elemMatch": {"$eq": "cats"}}}],
        "ids": {"$inGroup": "vip"},
        "landing_path": {"$not": {"$regex": "sale"}},
        "tier": "gold",
    }
    attributes = {
        "cart": {"value": 42.5},
        "device": "desktop",
        "viewed_categories": ["cats"],
        "ids": ["v:1"],
        "landing_path": "/",
        "tier": "silver",
    }
    matched, clauses = explain_condition(condition, attributes, {"vip": ["v:1"]})
    assert matched is False
    assert clauses[0].label == "cart value at least 30"
    assert clauses[0].checks == ["cart.value = 42.5 ≥ 30"]
    assert clauses[0].matched
    group = clauses[1]
    assert group.label == "ANY of these"
    assert group.matched
    assert [child.matched for child in group.children] == [False, True]
    assert group.children[0].checks == ['device = "desktop" (wanted "mobile")']
    assert group.children[1].checks == ['viewed_categories = ["cats"] includes "cats"']
    assert clauses[2].checks == ['ids = ["v:1"] in static list "vip"']
    assert clauses[2].matched
    assert clauses[3].checks == ['NOT (landing_path = "/" contains "sale")']
    assert clauses[3].matched
    assert clauses[4].matched is False


def test_explain_raw_conditions_clause_by_clause() -> None:
    attributes = {"tags": ["a", "b"], "a": 1, "b": {"c": 2}}
    matched, clauses = explain_condition(
        {"tags": {"$size": 2}, "$nor": [{"a": 2}, {"b.c": 3}]}, attributes
    )
    assert matched
    assert [clause.matched for clause in clauses] == [True, True]
    assert clauses[0].checks == ['tags = ["a", "b"]']
    assert clauses[1].checks == ["a = 1", "b.c = 2"]

    matched, clauses = explain_condition(
        {"$or": [{"tags": {"$size": 3}}, {"$not": {"a": {"$size": 1}}}]}, attributes
    )
    assert matched
    assert [clause.matched for clause in clauses] == [False, True]
    assert clauses[1].checks == ["a = 1"]


def test_explain_long_values_are_shortened() -> None:
    attributes = {"searches": ["x" * 300]}
    _, clauses = explain_condition({"searches": {"$size": 1}}, attributes)
    assert clauses[0].checks[0].endswith("…")
    assert len(clauses[0].checks[0]) < 140
