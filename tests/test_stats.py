"""Tests for personalize.stats, checked against hand computation, published values and scipy."""

from __future__ import annotations

import dataclasses
import itertools
import math
from decimal import Decimal
from typing import Any

import numpy as np
import pytest
from scipy import stats as scipy_stats

from personalize.stats import (
    MIN_EXPOSURES,
    SRM_THRESHOLD,
    Interval,
    MeanComparison,
    ProportionComparison,
    SampleSummary,
    compare_means,
    compare_proportions,
    sample_ratio_check,
    sequential_bounds,
    sequential_test,
    wilson_interval,
)


def assert_well_formed(result: ProportionComparison | MeanComparison) -> None:
    """No NaN or infinity anywhere; no significance claim without enough data."""
    for field in dataclasses.fields(result):
        value: Any = getattr(result, field.name)
        values = [value.low, value.high] if isinstance(value, Interval) else [value]
        for number in values:
            if isinstance(number, float):
                assert math.isfinite(number), (field.name, result)
    if result.insufficient_data:
        assert result.significant is False
    if result.significant:
        assert result.p_value is not None and result.p_value < 1 - result.confidence
        assert result.interval is not None and 0 not in result.interval
    if result.interval is not None:
        assert result.interval.low <= result.interval.high
        assert result.difference is not None
        assert result.difference in result.interval


# --- compare_proportions: the z-test --------------------------------------------------------


def hand_computed_p_value(ca: int, na: int, cb: int, nb: int) -> float:
    pooled = (ca + cb) / (na + nb)
    standard_error = math.sqrt(pooled * (1 - pooled) * (1 / na + 1 / nb))
    z = (cb / nb - ca / na) / standard_error
    return math.erfc(abs(z) / math.sqrt(2))  # = 2 * (1 - Phi(|z|))


def test_z_test_matches_the_textbook_example() -> None:
    # 10% vs 13% of 1,000 visitors each: pooled rate 0.115,
    # SE = sqrt(0.115 * 0.885 * (2 / 1000)) = 0.0142671, z = 0.03 / 0.0142671 = 2.10274.
    result = compare_proportions(100, 1000, 130, 1000)
    assert result.rate_a == pytest.approx(0.10)
    assert result.rate_b == pytest.approx(0.13)
    assert result.difference == pytest.approx(0.03)
    assert result.relative_uplift == pytest.approx(0.30)
    assert result.p_value == pytest.approx(0.035488, abs=1e-6)
    assert result.p_value == pytest.approx(hand_computed_p_value(100, 1000, 130, 1000), rel=1e-9)
    assert result.significant is True
    assert result.insufficient_data is False
    assert_well_formed(result)


@pytest.mark.parametrize(
    ("ca", "na", "cb", "nb"),
    [
        (200, 1000, 250, 1000),
        (50, 1000, 45, 900),
        (1, 40, 12, 45),
        (500, 10_000, 560, 10_000),
        (3_000, 50_000, 3_100, 49_000),
        (10, 31, 10, 31),
        (0, 100, 7, 100),
        (99, 100, 100, 100),
    ],
)
def test_z_test_matches_hand_computation(ca: int, na: int, cb: int, nb: int) -> None:
    result = compare_proportions(ca, na, cb, nb)
    assert result.p_value == pytest.approx(hand_computed_p_value(ca, na, cb, nb), rel=1e-9)
    assert_well_formed(result)


def test_swapping_arms_mirrors_the_result() -> None:
    forward = compare_proportions(100, 1000, 130, 1000)
    backward = compare_proportions(130, 1000, 100, 1000)
    assert backward.p_value == pytest.approx(forward.p_value)
    assert backward.difference == pytest.approx(-0.03)
    assert forward.interval is not None and backward.interval is not None
    assert backward.interval.low == pytest.approx(-forward.interval.high)
    assert backward.interval.high == pytest.approx(-forward.interval.low)


# --- compare_proportions: Newcombe's interval -----------------------------------------------


@pytest.mark.parametrize(
    ("b", "a", "low", "high"),
    [
        # Newcombe (1998), Table II, method 10: the interval for p1 - p2.
        ((56, 70), (48, 80), 0.0524, 0.3339),
        ((9, 10), (3, 10), 0.1705, 0.8090),
        ((6, 7), (2, 7), 0.0582, 0.8062),
        ((5, 56), (0, 29), -0.0381, 0.1926),
        ((0, 10), (0, 20), -0.1611, 0.2775),
        ((10, 10), (0, 20), 0.6791, 1.0000),
    ],
)
def test_interval_matches_newcombe_1998(
    b: tuple[int, int], a: tuple[int, int], low: float, high: float
) -> None:
    result = compare_proportions(a[0], a[1], b[0], b[1])
    assert result.interval is not None
    assert result.interval.low == pytest.approx(low, abs=5e-5)
    assert result.interval.high == pytest.approx(high, abs=5e-5)
    assert_well_formed(result)


def test_interval_agrees_with_wald_for_large_counts() -> None:
    ca, na, cb, nb = 5_000, 100_000, 5_400, 100_000
    result = compare_proportions(ca, na, cb, nb)
    rate_a, rate_b = ca / na, cb / nb
    wald = 1.959964 * math.sqrt(rate_a * (1 - rate_a) / na + rate_b * (1 - rate_b) / nb)
    assert result.interval is not None
    assert result.interval.low == pytest.approx(rate_b - rate_a - wald, abs=2e-5)
    assert result.interval.high == pytest.approx(rate_b - rate_a + wald, abs=2e-5)


def test_interval_stays_within_possible_differences() -> None:
    for ca, na, cb, nb in [(0, 50, 50, 50), (50, 50, 0, 50), (0, 30, 0, 30), (30, 30, 30, 30)]:
        result = compare_proportions(ca, na, cb, nb)
        assert result.interval is not None
        assert -1 <= result.interval.low <= result.interval.high <= 1
        assert result.interval.low < result.interval.high  # Not collapsed to a point.


def test_interval_widens_with_confidence() -> None:
    intervals = []
    for confidence in (0.80, 0.90, 0.95, 0.99):
        result = compare_proportions(100, 1000, 130, 1000, confidence=confidence)
        assert result.confidence == confidence
        assert result.interval is not None
        intervals.append(result.interval)
    for narrower, wider in itertools.pairwise(intervals):
        assert wider.low < narrower.low and narrower.high < wider.high


def test_significance_depends_on_confidence() -> None:
    assert compare_proportions(100, 1000, 130, 1000, confidence=0.95).significant is True
    assert compare_proportions(100, 1000, 130, 1000, confidence=0.99).significant is False


def test_borderline_test_and_interval_disagreement_claims_nothing() -> None:
    # The pooled z-test says p = 0.049, yet Newcombe's interval just includes 0.
    result = compare_proportions(9, 60, 18, 60)
    assert result.p_value is not None and result.p_value < 0.05
    assert result.interval is not None and 0 in result.interval
    assert result.insufficient_data is False
    assert result.significant is False


# --- compare_proportions: insufficient data and edge cases ----------------------------------


@pytest.mark.parametrize(
    ("ca", "na", "cb", "nb"),
    [
        (5, MIN_EXPOSURES - 1, 20, 1000),
        (20, 1000, 5, MIN_EXPOSURES - 1),
        (2, 1000, 6, 1000),  # expected conversions 4 per group
        (998, 1000, 999, 1000),  # expected non-conversions 1.5 per group
        (0, 29, 29, 29),  # p is tiny, but 29 visitors are too few to trust it
    ],
)
def test_insufficient_data_never_claims_significance(ca: int, na: int, cb: int, nb: int) -> None:
    result = compare_proportions(ca, na, cb, nb)
    assert result.insufficient_data is True
    assert result.significant is False
    assert result.p_value is not None
    assert_well_formed(result)


def test_just_enough_data() -> None:
    result = compare_proportions(5, MIN_EXPOSURES, 25, MIN_EXPOSURES)
    assert result.insufficient_data is False
    assert result.significant is True


@pytest.mark.parametrize(
    ("ca", "na", "cb", "nb", "rate_a", "rate_b"),
    [
        (0, 0, 0, 0, None, None),
        (0, 0, 5, 100, None, 0.05),
        (5, 100, 0, 0, 0.05, None),
    ],
)
def test_zero_exposures(
    ca: int, na: int, cb: int, nb: int, rate_a: float | None, rate_b: float | None
) -> None:
    result = compare_proportions(ca, na, cb, nb)
    assert result == ProportionComparison(
        rate_a=rate_a,
        rate_b=rate_b,
        difference=None,
        relative_uplift=None,
        p_value=None,
        interval=None,
        confidence=0.95,
        significant=False,
        insufficient_data=True,
    )


def test_both_arms_at_zero_percent() -> None:
    result = compare_proportions(0, 10_000, 0, 10_000)
    assert result.rate_a == result.rate_b == result.difference == 0
    assert result.relative_uplift is None
    assert result.p_value is None
    assert result.interval is not None and 0 in result.interval
    assert result.insufficient_data is True
    assert_well_formed(result)


def test_both_arms_at_one_hundred_percent() -> None:
    result = compare_proportions(500, 500, 800, 800)
    assert result.difference == 0
    assert result.relative_uplift == 0
    assert result.p_value is None
    assert result.significant is False
    assert_well_formed(result)


def test_control_at_zero_percent_has_no_relative_uplift() -> None:
    result = compare_proportions(0, 1000, 30, 1000)
    assert result.rate_a == 0
    assert result.relative_uplift is None
    assert result.significant is True
    assert_well_formed(result)


def test_identical_arms() -> None:
    result = compare_proportions(120, 1000, 120, 1000)
    assert result.difference == 0
    assert result.relative_uplift == 0
    assert result.p_value == pytest.approx(1.0)
    assert result.interval is not None
    assert result.interval.low == pytest.approx(-result.interval.high)
    assert result.significant is False
    assert_well_formed(result)


def test_huge_counts() -> None:
    billion = 10**9
    result = compare_proportions(50_000_000, billion, 50_100_000, billion)
    assert result.difference == pytest.approx(1e-4)
    assert result.p_value == pytest.approx(
        hand_computed_p_value(50_000_000, billion, 50_100_000, billion), rel=1e-6
    )
    assert result.interval is not None and result.interval.low > 0
    assert result.significant is True
    assert_well_formed(result)

    tiny = compare_proportions(0, billion, 1, billion)
    assert tiny.insufficient_data is True
    assert_well_formed(tiny)

    extreme = compare_proportions(10**17, 10**18, 2 * 10**17, 10**18)
    assert extreme.p_value == 0.0
    assert_well_formed(extreme)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((-1, 10, 0, 10), "conversions_a must be 0 or more, got -1"),
        ((0, -10, 0, 10), "exposures_a must be 0 or more, got -10"),
        ((11, 10, 0, 10), r"conversions_a \(11\) cannot be more than exposures_a \(10\)"),
        ((0, 10, 0, -1), "exposures_b must be 0 or more, got -1"),
        ((0, 10, -2, 10), "conversions_b must be 0 or more, got -2"),
        ((0, 10, 3, 2), r"conversions_b \(3\) cannot be more than exposures_b \(2\)"),
    ],
)
def test_invalid_counts_are_rejected(args: tuple[int, int, int, int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        compare_proportions(*args)


@pytest.mark.parametrize("confidence", [0, 1, -0.5, 1.5, 95, float("nan")])
def test_invalid_confidence_is_rejected(confidence: float) -> None:
    with pytest.raises(ValueError, match="confidence must be between 0 and 1"):
        compare_proportions(1, 10, 1, 10, confidence=confidence)
    with pytest.raises(ValueError, match="confidence must be between 0 and 1"):
        compare_means([1, 2], [1, 2], confidence=confidence)
    with pytest.raises(ValueError, match="confidence must be between 0 and 1"):
        wilson_interval(1, 10, confidence)


def test_result_is_frozen() -> None:
    result = compare_proportions(1, 10, 2, 10)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.significant = True  # type: ignore[misc]


# --- wilson_interval --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("successes", "n", "low", "high"),
    [
        # Newcombe (1998), "Two-sided confidence intervals for the single proportion", Table I.
        (81, 263, 0.2553, 0.3662),
        (15, 148, 0.0624, 0.1605),
        (0, 20, 0.0000, 0.1611),
        (1, 29, 0.0061, 0.1718),
    ],
)
def test_wilson_matches_published_values(successes: int, n: int, low: float, high: float) -> None:
    interval = wilson_interval(successes, n)
    assert interval is not None
    assert interval.low == pytest.approx(low, abs=5e-5)
    assert interval.high == pytest.approx(high, abs=5e-5)


@pytest.mark.parametrize(
    ("successes", "n"),
    [(0, 1), (1, 1), (3, 50), (25, 50), (49, 50), (0, 10**9), (10**9, 10**9), (123, 456_789)],
)
@pytest.mark.parametrize("confidence", [0.8, 0.95, 0.999])
def test_wilson_matches_scipy(successes: int, n: int, confidence: float) -> None:
    interval = wilson_interval(successes, n, confidence)
    expected = scipy_stats.binomtest(successes, n).proportion_ci(confidence, method="wilson")
    assert interval is not None
    assert interval.low == pytest.approx(expected.low, abs=1e-12)
    assert interval.high == pytest.approx(expected.high, abs=1e-12)


def test_wilson_bounds_are_exact_at_zero_and_one_hundred_percent() -> None:
    for n in (1, 7, 1000, 10**9):
        empty, full = wilson_interval(0, n), wilson_interval(n, n)
        assert empty is not None and full is not None
        assert empty.low == 0.0 and 0 < empty.high < 1
        assert full.high == 1.0 and 0 < full.low < 1
        assert full.low == pytest.approx(1 - empty.high)


def test_wilson_without_visitors() -> None:
    assert wilson_interval(0, 0) is None


def test_wilson_rejects_invalid_counts() -> None:
    with pytest.raises(ValueError, match=r"successes \(3\) cannot be more than n \(2\)"):
        wilson_interval(3, 2)
    with pytest.raises(ValueError, match="n must be 0 or more"):
        wilson_interval(0, -1)


def test_interval_contains() -> None:
    interval = Interval(-0.5, 1.5)
    assert 0 in interval and -0.5 in interval and 1.5 in interval
    assert 2 not in interval and -1 not in interval


# --- compare_means --------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("confidence", [0.9, 0.95, 0.99])
def test_welch_matches_scipy(seed: int, confidence: float) -> None:
    rng = np.random.default_rng(seed)
    # Revenue-like: most visitors spend nothing, buyers spend a skewed amount; the
    # variant's effect grows with the seed, from none to clearly significant.
    size = 200 + 40 * seed
    a = rng.exponential(40, 300) * (rng.random(300) < 0.1)
    b = rng.exponential(40 + 10 * seed, size) * (rng.random(size) < 0.1 + 0.03 * seed)
    expected = scipy_stats.ttest_ind(b, a, equal_var=False)
    expected_interval = expected.confidence_interval(confidence)
    result = compare_means(a, b, confidence=confidence)
    assert result.mean_a == pytest.approx(a.mean())
    assert result.mean_b == pytest.approx(b.mean())
    assert result.difference == pytest.approx(b.mean() - a.mean())
    assert result.p_value == pytest.approx(expected.pvalue, rel=1e-9)
    assert result.degrees_of_freedom == pytest.approx(expected.df, rel=1e-9)
    assert result.interval is not None
    assert result.interval.low == pytest.approx(expected_interval.low, rel=1e-9)
    assert result.interval.high == pytest.approx(expected_interval.high, rel=1e-9)
    assert result.significant == bool(expected.pvalue < 1 - confidence)
    assert_well_formed(result)


def test_welch_from_sufficient_statistics_matches_scipy() -> None:
    a = SampleSummary(n=5_000, mean=3.2, variance=410.0)
    b = SampleSummary(n=4_800, mean=4.1, variance=530.0)
    expected = scipy_stats.ttest_ind_from_stats(
        b.mean, math.sqrt(b.variance), b.n, a.mean, math.sqrt(a.variance), a.n, equal_var=False
    )
    result = compare_means(a, b)
    assert result.p_value == pytest.approx(expected.pvalue, rel=1e-9)
    assert result.relative_uplift == pytest.approx(0.9 / 3.2)
    assert_well_formed(result)


def test_values_and_summary_agree() -> None:
    a = [0, 0, 0, 12.5, 30, 0, 7.25] * 10
    b = [0, 15, 0, 22, 0, 0, 9.99, 41] * 9
    from_values = compare_means(a, b)
    from_summaries = compare_means(SampleSummary.from_values(a), SampleSummary.from_values(b))
    assert from_values.interval is not None and from_summaries.interval is not None
    for name in ("mean_a", "mean_b", "difference", "relative_uplift", "p_value"):
        assert getattr(from_values, name) == pytest.approx(getattr(from_summaries, name))
    assert from_values.interval.low == pytest.approx(from_summaries.interval.low)
    assert from_values.degrees_of_freedom == pytest.approx(from_summaries.degrees_of_freedom)


def test_summary_from_values() -> None:
    summary = SampleSummary.from_values([Decimal("1.5"), 2, 3.5, np.float64(5)])
    assert (summary.n, summary.mean) == (4, 3.0)
    assert summary.variance == pytest.approx(7.5 / 3)
    assert SampleSummary.from_values([]) == SampleSummary(n=0, mean=0.0, variance=0.0)
    assert SampleSummary.from_values([7]) == SampleSummary(n=1, mean=7.0, variance=0.0)
    assert SampleSummary.from_values(x for x in (1.0, 3.0)).variance == 2.0


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ([1.0, float("nan")], "values must be finite numbers"),
        ([1.0, float("inf")], "values must be finite numbers"),
        ([[1.0, 2.0], [3.0, 4.0]], "values must be a flat sequence of numbers"),
    ],
)
def test_summary_rejects_bad_values(values: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SampleSummary.from_values(values)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n": -1, "mean": 0.0, "variance": 0.0}, "n must be 0 or more"),
        ({"n": 5, "mean": float("nan"), "variance": 0.0}, "mean must be a finite number"),
        ({"n": 5, "mean": 0.0, "variance": -1.0}, "variance must be a finite number"),
        ({"n": 5, "mean": 0.0, "variance": float("inf")}, "variance must be a finite number"),
    ],
)
def test_summary_rejects_bad_statistics(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SampleSummary(**kwargs)


def test_means_with_empty_groups() -> None:
    result = compare_means([], [1.0, 2.0])
    assert result.mean_a is None and result.mean_b == 1.5
    assert result.difference is result.p_value is result.interval is None
    assert result.insufficient_data is True and result.significant is False
    assert compare_means([], []).mean_b is None


def test_means_with_a_single_value_have_no_test() -> None:
    result = compare_means([5.0], [1.0, 2.0, 3.0])
    assert result.difference == -3.0
    assert result.p_value is result.interval is result.degrees_of_freedom is None
    assert_well_formed(result)


def test_means_without_any_spread_have_no_test() -> None:
    same = compare_means([0.0] * 100, [0.0] * 100)
    assert same.difference == 0
    assert same.relative_uplift is None
    assert same.p_value is same.interval is None
    assert same.significant is False
    different = compare_means([2.0] * 100, [3.0] * 100)
    assert different.difference == 1.0 and different.relative_uplift == 0.5
    assert different.p_value is None
    assert_well_formed(different)


def test_means_with_one_group_without_spread_match_scipy() -> None:
    a = np.zeros(60)
    b = np.array([0.0, 0.0, 10.0, 0.0, 25.0, 0.0] * 10)
    expected = scipy_stats.ttest_ind(b, a, equal_var=False)
    result = compare_means(a, b)
    assert result.p_value == pytest.approx(expected.pvalue, rel=1e-9)
    assert result.degrees_of_freedom == pytest.approx(59)
    assert result.relative_uplift is None
    assert_well_formed(result)


def test_identical_means() -> None:
    values = [0, 10, 20, 0, 5] * 20
    result = compare_means(values, values)
    assert result.difference == 0
    assert result.p_value == pytest.approx(1.0)
    assert result.significant is False


def test_means_need_thirty_visitors_per_group() -> None:
    rng = np.random.default_rng(7)
    small = compare_means(rng.normal(0, 1, MIN_EXPOSURES - 1), rng.normal(5, 1, 200))
    assert small.p_value is not None and small.p_value < 1e-10
    assert small.insufficient_data is True and small.significant is False
    enough = compare_means(rng.normal(0, 1, MIN_EXPOSURES), rng.normal(5, 1, 200))
    assert enough.insufficient_data is False and enough.significant is True


def test_means_with_huge_counts() -> None:
    billion = 10**9
    result = compare_means(
        SampleSummary(n=billion, mean=2.50, variance=900.0),
        SampleSummary(n=billion, mean=2.51, variance=900.0),
    )
    expected = scipy_stats.ttest_ind_from_stats(
        2.51, 30.0, billion, 2.50, 30.0, billion, equal_var=False
    )
    assert result.p_value == pytest.approx(expected.pvalue, rel=1e-6)
    assert result.degrees_of_freedom == pytest.approx(2 * billion - 2, rel=1e-9)
    assert result.significant is True
    assert_well_formed(result)


def test_means_near_float_limits_give_none_not_nan() -> None:
    huge = compare_means(
        SampleSummary(n=100, mean=-1e308, variance=1.0),
        SampleSummary(n=100, mean=1e308, variance=1.0),
    )
    assert huge.difference is None and huge.p_value is None
    assert_well_formed(huge)

    wide = compare_means(
        SampleSummary(n=2, mean=-0.5e308, variance=1.7e308),
        SampleSummary(n=2, mean=1e308, variance=1.7e308),
    )
    assert wide.difference == pytest.approx(1.5e308)
    assert wide.interval is not None
    assert wide.degrees_of_freedom == pytest.approx(2.0)
    assert_well_formed(wide)

    tiny_base = compare_means(
        SampleSummary(n=100, mean=1e-320, variance=1.0),
        SampleSummary(n=100, mean=1e300, variance=1.0),
    )
    assert tiny_base.relative_uplift is None
    assert_well_formed(tiny_base)


def test_nice_ceiling_for_rates_and_counts() -> None:
    from personalize.stats import nice_ceiling

    assert [nice_ceiling(v) for v in (0.013, 0.021, 0.7, 23.0)] == [0.02, 0.025, 1.0, 25.0]
    assert [nice_ceiling(v, (1.0, 2.0, 5.0)) for v in (23.0, 3.0, 1.0, 501.0)] == [
        50.0,
        5.0,
        1.0,
        1000.0,
    ]
    assert nice_ceiling(0.0) == 1.0 and nice_ceiling(-3.0) == 1.0


# --- sample ratio mismatch ----------------------------------------------------------------


def test_sample_ratio_check_matches_scipy_chisquare() -> None:
    check = sample_ratio_check([5_100, 4_900], [50, 50])
    expected = scipy_stats.chisquare([5_100, 4_900], [5_000, 5_000])
    assert check.p_value == pytest.approx(expected.pvalue, rel=1e-12)
    assert check.expected == (5_000.0, 5_000.0) and not check.mismatch
    # Three groups, 20% control and variants weighted 1:3 of the rest.
    check = sample_ratio_check([230, 180, 590], [0.2, 0.2, 0.6])
    expected = scipy_stats.chisquare([230, 180, 590], [200, 200, 600])
    assert check.p_value == pytest.approx(expected.pvalue, rel=1e-12)
    assert not check.mismatch  # p is about 0.045: unlucky, not broken


def test_sample_ratio_check_flags_a_broken_split() -> None:
    check = sample_ratio_check([1_000, 1_200], [50, 50])
    assert check.p_value is not None and check.p_value < SRM_THRESHOLD and check.mismatch
    # A visitor in a group that should get nobody is a mismatch by itself.
    assert sample_ratio_check([10, 1], [1, 0]).mismatch
    # Nothing to test: one group, or nobody yet.
    assert sample_ratio_check([10], [1]).p_value is None
    assert sample_ratio_check([0, 0], [1, 1]).p_value is None
    assert not sample_ratio_check([0, 0], [1, 1]).mismatch


@pytest.mark.parametrize(
    ("observed", "weights", "message"),
    [
        ([1, 2], [1], "same length"),
        ([-1, 2], [1, 1], "observed counts"),
        ([1, 2], [1, math.inf], "weights"),
    ],
)
def test_sample_ratio_check_rejects_bad_input(
    observed: list[int], weights: list[float], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        sample_ratio_check(observed, weights)


# --- sequential testing (mSPRT) --------------------------------------------------------------


def test_sequential_test_against_hand_computation() -> None:
    # d = 0.01, V = 1e-5, N = 10,000, alpha = 0.05, tuning 5000 (GrowthBook's default).
    d, v, n, alpha = 0.01, 1e-5, 10_000, 0.05
    rho2 = (2 * math.log(1 / alpha) + math.log(2 * math.log(1 / alpha) + 1)) / 5_000
    tau2 = n * v * rho2
    ratio = math.sqrt(v / (v + tau2)) * math.exp(tau2 * d * d / (2 * v * (v + tau2)))
    half = math.sqrt(v * (v + tau2) / tau2 * (2 * math.log(1 / alpha) + math.log((v + tau2) / v)))
    result = sequential_test(d, v, n)
    assert result.p_value == pytest.approx(min(1.0, 1 / ratio), rel=1e-12)
    assert result.interval.low == pytest.approx(d - half, rel=1e-12)
    assert result.interval.high == pytest.approx(d + half, rel=1e-12)
    # GrowthBook's own form of the half-width (gbstats SequentialTwoSidedTTest).
    s2 = v * n
    growthbook = math.sqrt(s2) * math.sqrt(
        2 * (n * rho2 + 1) / (n * n * rho2) * math.log(math.sqrt(n * rho2 + 1) / alpha)
    )
    assert half == pytest.approx(growthbook, rel=1e-12)
    # Always wider than the fixed-horizon interval: that is the price of peeking.
    assert half > scipy_stats.norm.ppf(0.975) * math.sqrt(v)


@pytest.mark.parametrize("d", [0.0, 0.002, 0.005, 0.008, 0.0091, 0.0095, 0.012, -0.02])
def test_sequential_p_value_and_interval_agree(d: float) -> None:
    result = sequential_test(d, 1e-5, 10_000)
    assert (result.p_value < 0.05) == (0 not in result.interval)
    assert 0 <= result.p_value <= 1


def test_sequential_comparisons() -> None:
    fixed = compare_proportions(500, 10_000, 580, 10_000)
    sequential = compare_proportions(500, 10_000, 580, 10_000, sequential=True)
    assert sequential.sequential and not fixed.sequential
    assert sequential.difference == fixed.difference
    assert sequential.p_value is not None and fixed.p_value is not None
    assert sequential.p_value > fixed.p_value  # always-valid p-values are more careful
    assert fixed.significant and not sequential.significant
    assert_well_formed(sequential)
    means = compare_means(
        SampleSummary(5_000, 4.0, 400.0), SampleSummary(5_000, 5.5, 420.0), sequential=True
    )
    assert means.sequential and means.degrees_of_freedom is None
    assert means.significant and means.interval is not None
    assert_well_formed(means)
    # Nothing varies: nothing to test, in either analysis.
    assert compare_proportions(0, 100, 0, 100, sequential=True).p_value is None
    assert compare_means([1.0] * 40, [1.0] * 40, sequential=True).p_value is None


def test_sequential_test_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="variance above 0"):
        sequential_test(0.1, 0.0, 100)
    with pytest.raises(ValueError, match="n and tuning"):
        sequential_test(0.1, 1e-4, 0)
    with pytest.raises(ValueError, match="confidence"):
        sequential_test(0.1, 1e-4, 100, confidence=95)


def test_peeking_every_day_keeps_sequential_false_positives_under_five_percent() -> None:
    """A/A tests looked at daily for 30 days: mSPRT holds 5%, the naive test does not.

    2,000 simulated experiments, 200 visitors per group per day converting at 5% in
    both groups; an experiment is a false positive when any of the 30 daily looks
    calls it significant at 95%.
    """
    rng = np.random.default_rng(20261204)
    experiments, days, per_day, rate = 2_000, 30, 200, 0.05
    n = per_day * np.arange(1, days + 1)  # visitors per group at each look
    conversions_a = rng.binomial(per_day, rate, size=(experiments, days)).cumsum(axis=1)
    conversions_b = rng.binomial(per_day, rate, size=(experiments, days)).cumsum(axis=1)
    rate_a, rate_b = conversions_a / n, conversions_b / n
    difference = rate_b - rate_a
    variance = rate_a * (1 - rate_a) / n + rate_b * (1 - rate_b) / n
    p_sequential, _ = sequential_bounds(
        difference, variance, np.broadcast_to(2 * n, variance.shape), 0.05
    )
    sequential_rate = (p_sequential < 0.05).any(axis=1).mean()
    pooled = (conversions_a + conversions_b) / (2 * n)
    z = difference / np.sqrt(pooled * (1 - pooled) * 2 / n)
    naive_rate = (2 * scipy_stats.norm.sf(np.abs(z)) < 0.05).any(axis=1).mean()
    assert sequential_rate <= 0.05
    assert naive_rate > 0.05 * 2  # peeking daily at a fixed-horizon test: far above 5%
    # At a single look the naive test is honest: the simulation itself is sound.
    assert (2 * scipy_stats.norm.sf(np.abs(z[:, -1])) < 0.05).mean() == pytest.approx(
        0.05, abs=0.015
    )


def test_peeking_every_day_at_revenue_keeps_sequential_false_positives_under_five_percent() -> None:
    """The same for a difference of means (revenue per visitor, Welch's variance).

    Normal values let each day's sum and sum of squared deviations be drawn exactly
    (``N(n mu, n sigma^2)`` and ``sigma^2 chi^2_{n-1}``) instead of 12 million values.
    """
    rng = np.random.default_rng(7)
    experiments, days, per_day, mean, sd = 2_000, 30, 200, 3.0, 12.0

    def cumulative_moments() -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
        sums = rng.normal(per_day * mean, sd * math.sqrt(per_day), (experiments, days))
        within = sd**2 * rng.chisquare(per_day - 1, (experiments, days))
        day_means = sums / per_day
        n = per_day * np.arange(1, days + 1)
        running_mean = sums.cumsum(axis=1) / n
        # Total squared deviations: within each day plus between each day and the whole.
        between = np.cumsum(per_day * day_means**2, axis=1) - n * running_mean**2
        variance = (within.cumsum(axis=1) + between) / (n - 1)
        return running_mean, variance

    mean_a, variance_a = cumulative_moments()
    mean_b, variance_b = cumulative_moments()
    n = per_day * np.arange(1, days + 1)
    difference = mean_b - mean_a
    variance = variance_a / n + variance_b / n
    p_sequential, _ = sequential_bounds(
        difference, variance, np.broadcast_to(2 * n, variance.shape), 0.05
    )
    naive = 2 * scipy_stats.norm.sf(np.abs(difference) / np.sqrt(variance))
    assert (p_sequential < 0.05).any(axis=1).mean() <= 0.05
    assert (naive < 0.05).any(axis=1).mean() > 0.05 * 2
    assert (naive[:, -1] < 0.05).mean() == pytest.approx(0.05, abs=0.015)
