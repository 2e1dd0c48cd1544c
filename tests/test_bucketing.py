"""Tests for personalize.bucketing against GrowthBook's conformance vectors."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from personalize import bucketing
from personalize.bucketing import (
    assign_variant,
    choose_variation,
    get_bucket_ranges,
    get_equal_weights,
    in_namespace,
)

CASES = json.loads(
    (Path(__file__).parent / "conformance" / "growthbook-cases.json").read_text(encoding="utf-8")
)
TOLERANCE = 0.001


def _ids(cases: list[list[Any]]) -> list[str]:
    return [str(case[0]) if isinstance(case[0], str) else json.dumps(case[:2]) for case in cases]


@pytest.mark.parametrize(
    "case", CASES["hash"], ids=[json.dumps(case[:3]) for case in CASES["hash"]]
)
def test_hash(case: list[Any]) -> None:
    seed, value, version, expected = case
    result = bucketing.hash(seed, value, version)
    if expected is None:
        assert result is None
    else:
        assert result == pytest.approx(expected, abs=TOLERANCE)


@pytest.mark.parametrize("case", CASES["getBucketRange"], ids=_ids(CASES["getBucketRange"]))
def test_get_bucket_ranges(case: list[Any]) -> None:
    _, (num_variations, coverage, weights), expected = case
    ranges = get_bucket_ranges(num_variations, coverage, weights)
    assert len(ranges) == len(expected)
    for (start, end), (expected_start, expected_end) in zip(ranges, expected, strict=True):
        assert start == pytest.approx(expected_start, abs=TOLERANCE)
        assert end == pytest.approx(expected_end, abs=TOLERANCE)


@pytest.mark.parametrize("case", CASES["chooseVariation"], ids=_ids(CASES["chooseVariation"]))
def test_choose_variation(case: list[Any]) -> None:
    _, n, ranges, expected = case
    assert choose_variation(n, ranges) == expected


@pytest.mark.parametrize(
    "case", CASES["getEqualWeights"], ids=[str(case[0]) for case in CASES["getEqualWeights"]]
)
def test_get_equal_weights(case: list[Any]) -> None:
    num_variations, expected = case
    weights = get_equal_weights(num_variations)
    assert len(weights) == len(expected)
    for weight, expected_weight in zip(weights, expected, strict=True):
        assert weight == pytest.approx(expected_weight, abs=TOLERANCE)


@pytest.mark.parametrize("case", CASES["inNamespace"], ids=_ids(CASES["inNamespace"]))
def test_in_namespace(case: list[Any]) -> None:
    _, user_id, (namespace_id, start, end), expected = case
    assert in_namespace(user_id, (namespace_id, start, end)) is expected


def test_hash_uses_utf16_code_units_like_the_javascript_sdk() -> None:
    # Expected values computed with the JavaScript SDK's FNV-1a (String.charCodeAt).
    assert bucketing.hash("a", "é", 2) == 0.3446
    assert bucketing.hash("a", "\U0001f600é", 2) == 0.9156


def test_hash_is_in_unit_interval() -> None:
    for version in (1, 2):
        values = [bucketing.hash("seed", f"visitor-{i}", version) for i in range(2_000)]
        assert all(value is not None and 0 <= value < 1 for value in values)


def test_bucket_ranges_without_weights_are_equal() -> None:
    assert get_bucket_ranges(4) == [(0, 0.25), (0.25, 0.5), (0.5, 0.75), (0.75, 1)]
    assert get_bucket_ranges(0) == []


# --- assign_variant -------------------------------------------------------------------


def test_assign_variant_matches_growthbook_building_blocks() -> None:
    for i in range(500):
        visitor_id = f"visitor-{i}"
        n = bucketing.hash("exp-seed", visitor_id, 2)
        assert n is not None
        expected = choose_variation(n, get_bucket_ranges(3, 0.8, [0.2, 0.3, 0.5]))
        assert assign_variant("exp-seed", visitor_id, [0.2, 0.3, 0.5], 0.8) == expected


def test_assign_variant_known_values() -> None:
    # hash("seed", "a", 2) = 0.0505 and hash("seed", "b", 2) = 0.2696 (GrowthBook vectors).
    assert assign_variant("seed", "a", [0.5, 0.5]) == 0
    assert assign_variant("seed", "b", [0.25, 0.75]) == 1
    assert assign_variant("seed", "b", [0.5, 0.5], coverage=0.5) == -1


def test_assign_variant_is_deterministic() -> None:
    first = [assign_variant("welcome-popup", f"v{i}", [0.5, 0.5]) for i in range(1_000)]
    second = [assign_variant("welcome-popup", f"v{i}", [0.5, 0.5]) for i in range(1_000)]
    assert first == second


def test_assign_variant_depends_on_seed() -> None:
    first = [assign_variant("campaign-a", f"v{i}", [0.5, 0.5]) for i in range(1_000)]
    second = [assign_variant("campaign-b", f"v{i}", [0.5, 0.5]) for i in range(1_000)]
    assert first != second


@pytest.mark.parametrize("weights", [[0.5, 0.5], [0.1, 0.9], [0.2, 0.3, 0.5], [0.25] * 4])
def test_assign_variant_distribution_follows_weights(weights: list[float]) -> None:
    visitors = 10_000
    counts = Counter(
        assign_variant("distribution", f"visitor-{i}", weights) for i in range(visitors)
    )
    assert set(counts) == set(range(len(weights)))
    for index, weight in enumerate(weights):
        assert counts[index] / visitors == pytest.approx(weight, abs=0.02)


def test_assign_variant_coverage_excludes_visitors() -> None:
    visitors = 10_000
    counts = Counter(
        assign_variant("coverage", f"visitor-{i}", [0.5, 0.5], coverage=0.3)
        for i in range(visitors)
    )
    assert counts[-1] / visitors == pytest.approx(0.7, abs=0.02)
    assert counts[0] / visitors == pytest.approx(0.15, abs=0.02)
    assert counts[1] / visitors == pytest.approx(0.15, abs=0.02)


def test_assign_variant_coverage_keeps_assignments_stable() -> None:
    # Raising coverage only adds visitors; nobody already in switches variant.
    for i in range(2_000):
        narrow = assign_variant("ramp-up", f"visitor-{i}", [0.5, 0.5], coverage=0.2)
        wide = assign_variant("ramp-up", f"visitor-{i}", [0.5, 0.5], coverage=0.9)
        if narrow != -1:
            assert wide == narrow


def test_assign_variant_edge_cases() -> None:
    assert assign_variant("seed", "a", []) == -1
    assert assign_variant("seed", "a", [0.5, 0.5], coverage=0) == -1
    # Weights that do not sum to 1 fall back to equal weights.
    assert assign_variant("seed", "b", [5, 5]) == assign_variant("seed", "b", [0.5, 0.5])
    assert assign_variant("seed", "a", [1.0]) == 0
