"""Tests for personalize.rfm: rank-quintile scores, recency reversal and segments."""

from __future__ import annotations

import bisect
import dataclasses
import math
import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np
import pytest

from personalize.rfm import SEGMENTS, RFMScore, engagement_scores, score_customers, segment_for

AS_OF = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def days_ago(days: int, hours: int = 0) -> datetime:
    return AS_OF - timedelta(days=days, hours=hours)


# --- the rank-quintile rule -------------------------------------------------------------


def reference_qcut_labels(count: int) -> list[int]:
    """pandas.qcut(ranks 1..count, 5, labels=[1..5]), re-derived without pandas.

    pandas takes the edges at quantiles np.linspace(0, 1, 6) of the data with linear
    interpolation, then puts each value in the right-closed bin (edge[i-1], edge[i]],
    the first bin also holding the lowest value.
    """
    ranks = list(range(1, count + 1))
    if count == 1:
        # pandas refuses a single value (duplicate bin edges); the spec gives it 1.
        return [1]
    edges = []
    for quantile in np.linspace(0, 1, 6):
        position = float(quantile) * (count - 1)
        lower = math.floor(position)
        upper = min(lower + 1, count - 1)
        edges.append(ranks[lower] + (position - lower) * (ranks[upper] - ranks[lower]))
    assert edges == pytest.approx(list(np.quantile(ranks, np.linspace(0, 1, 6))))
    return [1 if rank == edges[0] else bisect.bisect_left(edges, rank) for rank in ranks]


@pytest.mark.parametrize("count", range(1, 61))
def test_rank_quintiles_match_pandas_qcut_on_ranks(count: int) -> None:
    # Distinct values in shuffled order, so rank = position of the value when sorted.
    values = list(range(count))
    random.Random(count).shuffle(values)
    scores = engagement_scores((f"customer-{i:03d}", value) for i, value in enumerate(values))
    by_rank = [scores[f"customer-{i:03d}"] for i in sorted(range(count), key=values.__getitem__)]
    assert by_rank == reference_qcut_labels(count)


@pytest.mark.parametrize(
    ("count", "expected"),
    [
        (1, [1]),
        (2, [1, 5]),
        (3, [1, 3, 5]),
        (4, [1, 2, 4, 5]),
        (5, [1, 2, 3, 4, 5]),
        (6, [1, 1, 2, 3, 4, 5]),
        (10, [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]),
        (11, [1, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5]),
    ],
)
def test_rank_quintiles_hand_computed(count: int, expected: list[int]) -> None:
    # group = max(1, ceil(5 * (rank - 1) / (N - 1))), e.g. N=4: 0, 5/3, 10/3, 5 -> 1, 2, 4, 5.
    scores = engagement_scores((customer_id, customer_id * 1.5) for customer_id in range(count))
    assert [scores[customer_id] for customer_id in range(count)] == expected


def test_ties_are_broken_by_customer_id() -> None:
    scores = engagement_scores([("b", 5.0), ("a", 5.0), ("c", 1.0)])
    # Ranks: c (1.0), then a and b tie on 5.0 and go in id order: a=2, b=3 -> 1, 3, 5.
    assert scores == {"c": 1, "a": 3, "b": 5}


def test_all_equal_values_rank_by_customer_id() -> None:
    scores = engagement_scores((customer_id, 7) for customer_id in (50, 10, 40, 20, 30))
    assert scores == {10: 1, 20: 2, 30: 3, 40: 4, 50: 5}


def test_engagement_scores_of_nobody() -> None:
    assert engagement_scores([]) == {}


def test_engagement_values_may_mix_decimal_and_float_exactly() -> None:
    # float 10.1 is 10.0999999999999996..., below Decimal("10.10"); id order is the reverse.
    assert engagement_scores([("a", Decimal("10.10")), ("b", 10.1)]) == {"b": 1, "a": 5}


def test_nan_engagement_is_rejected() -> None:
    with pytest.raises(ValueError, match="engagement value for customer 'a' is NaN"):
        engagement_scores([("a", float("nan")), ("b", 1.0)])


# --- score_customers --------------------------------------------------------------------


def test_single_customer() -> None:
    scores = score_customers([("only", days_ago(3), 2, 50.0)], AS_OF)
    assert scores == {
        "only": RFMScore(r=5, f=1, m=1, segment="new_customers", recency_days=3),
    }


def test_two_customers() -> None:
    scores = score_customers(
        [("old", days_ago(300), 8, Decimal("900")), ("new", days_ago(2), 1, Decimal("20"))],
        AS_OF,
    )
    # N=2: ranks 1, 2 -> groups 1, 5; R reverses recency so the newer customer gets 5.
    assert scores["new"] == RFMScore(r=5, f=1, m=1, segment="new_customers", recency_days=2)
    assert scores["old"] == RFMScore(r=1, f=5, m=5, segment="cant_lose", recency_days=300)


def test_three_customers() -> None:
    scores = score_customers(
        [
            ("a", days_ago(10), 3, 30.0),
            ("b", days_ago(20), 2, 20.0),
            ("c", days_ago(30), 1, 10.0),
        ],
        AS_OF,
    )
    # N=3 groups by rank: 1, 3, 5. Recency ranks a=1, b=2, c=3 -> R = 5, 3, 1.
    assert {key: (s.r, s.f, s.m) for key, s in scores.items()} == {
        "a": (5, 5, 5),
        "b": (3, 3, 3),
        "c": (1, 1, 1),
    }
    assert {key: s.segment for key, s in scores.items()} == {
        "a": "champions",
        "b": "need_attention",
        "c": "hibernating",
    }


def test_four_customers() -> None:
    scores = score_customers(
        [
            ("a", days_ago(1), 1, 40.0),
            ("b", days_ago(2), 2, 30.0),
            ("c", days_ago(3), 3, 20.0),
            ("d", days_ago(4), 4, 10.0),
        ],
        AS_OF,
    )
    # N=4 groups by rank: 1, 2, 4, 5.
    assert [(s.r, s.f, s.m) for s in scores.values()] == [
        (5, 1, 5),
        (4, 2, 4),
        (2, 4, 2),
        (1, 5, 1),
    ]
    assert [s.segment for s in scores.values()] == [
        "new_customers",
        "potential_loyalists",
        "at_risk",
        "cant_lose",
    ]


def test_recency_is_whole_days_and_reversed() -> None:
    rows = [
        (1, days_ago(0, hours=5), 1, 1.0),
        (2, days_ago(2, hours=23), 1, 1.0),
        (3, days_ago(30), 1, 1.0),
        (4, days_ago(365), 1, 1.0),
        (5, days_ago(1000), 1, 1.0),
    ]
    scores = score_customers(rows, AS_OF)
    assert [scores[i].recency_days for i in range(1, 6)] == [0, 2, 30, 365, 1000]
    assert [scores[i].r for i in range(1, 6)] == [5, 4, 3, 2, 1]


def test_recency_ties_go_to_the_lower_customer_id_first() -> None:
    # Same day: ranked by id, so the lower id has the lower recency rank and the higher R.
    rows = [("b", days_ago(5, hours=1), 1, 1.0), ("a", days_ago(5, hours=20), 1, 1.0)]
    scores = score_customers(rows, AS_OF)
    assert (scores["a"].r, scores["b"].r) == (5, 1)


def test_frequency_and_monetary_ties_by_customer_id() -> None:
    rows = [(customer_id, days_ago(1), 3, Decimal("9.99")) for customer_id in (3, 1, 2)]
    scores = score_customers(rows, AS_OF)
    assert [(scores[i].f, scores[i].m) for i in (1, 2, 3)] == [(1, 1), (3, 3), (5, 5)]


def test_monetary_is_ranked_exactly() -> None:
    # These differ beyond float precision and must not be treated as a tie (which id
    # order would break the other way).
    rows = [
        ("a", days_ago(1), 1, Decimal("1.00000000000000002")),
        ("b", days_ago(1), 1, Decimal("1.00000000000000001")),
    ]
    scores = score_customers(rows, AS_OF)
    assert (scores["b"].m, scores["a"].m) == (1, 5)


def test_future_orders_count_as_most_recent() -> None:
    scores = score_customers([("a", days_ago(-3), 1, 1.0), ("b", days_ago(0), 1, 1.0)], AS_OF)
    assert scores["a"].recency_days == -3
    assert (scores["a"].r, scores["b"].r) == (5, 1)


def test_no_customers() -> None:
    assert score_customers([], AS_OF) == {}


def test_repeated_customer_is_rejected() -> None:
    rows = [("a", days_ago(1), 1, 1.0), ("b", days_ago(1), 1, 1.0), ("a", days_ago(2), 1, 1.0)]
    with pytest.raises(ValueError, match="customer 'a' appears more than once"):
        score_customers(rows, AS_OF)


def test_nan_monetary_is_rejected() -> None:
    with pytest.raises(ValueError, match="monetary for customer 7 is NaN"):
        score_customers([(7, days_ago(1), 1, Decimal("NaN"))], AS_OF)


def test_scores_are_frozen() -> None:
    score = score_customers([("a", days_ago(1), 1, 1.0)], AS_OF)["a"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        score.r = 1  # type: ignore[misc]


# --- segments ---------------------------------------------------------------------------

# The spec's table, written out as a grid: SEGMENT_GRID[5 - r][f - 1].
SEGMENT_GRID = [
    # F=1             F=2                    F=3                    F=4          F=5
    ["new_customers", "potential_loyalists", "potential_loyalists", "champions", "champions"],
    ["promising", "potential_loyalists", "potential_loyalists", "loyal", "loyal"],
    ["about_to_sleep", "about_to_sleep", "need_attention", "loyal", "loyal"],
    ["hibernating", "hibernating", "at_risk", "at_risk", "cant_lose"],
    ["hibernating", "hibernating", "at_risk", "at_risk", "cant_lose"],
]


def test_segment_table_covers_all_25_cells() -> None:
    cells = {(r, f): segment_for(r, f) for r in range(1, 6) for f in range(1, 6)}
    assert len(cells) == 25
    assert cells == {(r, f): SEGMENT_GRID[5 - r][f - 1] for r in range(1, 6) for f in range(1, 6)}
    assert set(cells.values()) == set(SEGMENTS)


@pytest.mark.parametrize(("r", "f"), [(0, 1), (6, 1), (1, 0), (1, 6), (2.5, 1), ("5", "5")])
def test_segment_for_rejects_scores_outside_1_to_5(r: object, f: object) -> None:
    with pytest.raises(ValueError, match="RFM scores must be whole numbers 1-5"):
        segment_for(r, f)  # type: ignore[arg-type]


def test_segment_labels_in_order() -> None:
    assert list(SEGMENTS.items()) == [
        ("champions", "Champions"),
        ("loyal", "Loyal"),
        ("potential_loyalists", "Potential loyalists"),
        ("new_customers", "New customers"),
        ("promising", "Promising"),
        ("need_attention", "Need attention"),
        ("about_to_sleep", "About to sleep"),
        ("at_risk", "At risk"),
        ("cant_lose", "Can't lose"),
        ("hibernating", "Hibernating"),
    ]


def test_every_segment_is_reachable_through_scoring() -> None:
    # 25 customers, one per R x F cell. With N=25 each score covers exactly 5 ranks, so
    # recency days (5 - r) * 100 + f put customer (r, f) at R = r, and orders f * 10 + r
    # put it at F = f.
    rows = [
        (f"r{r}f{f}", days_ago((5 - r) * 100 + f), f * 10 + r, Decimal(r * f))
        for r in range(1, 6)
        for f in range(1, 6)
    ]
    scores = score_customers(rows, AS_OF)
    for r in range(1, 6):
        for f in range(1, 6):
            score = scores[f"r{r}f{f}"]
            assert (score.r, score.f) == (r, f)
            assert score.segment == SEGMENT_GRID[5 - r][f - 1]
    assert {score.segment for score in scores.values()} == set(SEGMENTS)


def test_scores_stay_in_range_on_a_large_random_population() -> None:
    rng = random.Random(7)
    amounts: list[float | Decimal] = [10.0, Decimal("10")]
    rows = [
        (i, days_ago(rng.randint(0, 400)), rng.randint(1, 4), rng.choice(amounts))
        for i in range(1_000)
    ]
    scores = score_customers(rows, AS_OF)
    for attribute in ("r", "f", "m"):
        values = [getattr(score, attribute) for score in scores.values()]
        # Rank quintiles spread customers evenly even with heavy ties: 200 per score.
        assert sorted(set(values)) == [1, 2, 3, 4, 5]
        assert all(values.count(group) == 200 for group in range(1, 6))
