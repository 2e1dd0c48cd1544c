"""Tests for the recommendation algorithms on tiny hand-made data with known answers."""

from __future__ import annotations

import itertools
import json
import math
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy import sparse

from personalize.recommendations.cooccurrence import (
    bought_together,
    co_occurrence,
    viewed_together,
)
from personalize.recommendations.filters import filter_ranked
from personalize.recommendations.interactions import Event, Interactions, to_seconds
from personalize.recommendations.neighbours import Neighbours, NeighbourTable, top_k_products
from personalize.recommendations.popularity import Ranking, bestsellers, new_arrivals, trending
from personalize.recommendations.scoring import (
    cart_cross_sell,
    personalised,
    recency_weighted,
    score_neighbours,
)
from personalize.recommendations.similarity import (
    Weighting,
    bm25_weight,
    item_similarity,
    similar_items,
    tfidf_weight,
)
from personalize.recommendations.synthetic import generate

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


def views(*visits: tuple[str, str, list[str]]) -> list[Event]:
    """View events: ``(user, visit, [items])`` -> one view per item, a minute apart."""
    events = []
    for user, visit, items in visits:
        for minute, item in enumerate(items):
            events.append(Event(user, item, NOW + timedelta(minutes=minute), "view", 1, visit))
    return events


def dense(table: NeighbourTable) -> dict[object, list[tuple[object, float]]]:
    return {item: [(n, round(s, 5)) for n, s in zip(*table[item], strict=True)] for item in table}


# --- interactions -------------------------------------------------------------------------


def test_interactions_index_ids_in_first_seen_order_and_sum_weighted_duplicates() -> None:
    interactions = Interactions.from_events(
        [
            ("ann", "A", NOW, "view", 1, "v1"),
            ("ann", "A", NOW, "view", 1, "v1"),
            ("bob", "B", NOW, "cart", 1, "v2"),
            ("ann", "A", NOW, "purchase", 2, "o1"),  # 2 units: 2 x 5
        ],
        items=["Z"],
    )
    assert interactions.item_ids == ("Z", "A", "B")
    assert interactions.user_ids == ("ann", "bob")
    assert len(interactions) == 4
    matrix = interactions.matrix().toarray()
    assert matrix.tolist() == [[0.0, 12.0, 0.0], [0.0, 0.0, 3.0]]
    assert interactions.matrix(["view"]).toarray().tolist() == [[0, 2, 0], [0, 0, 0]]
    assert "4 events, 2 users, 3 items" in repr(interactions)


def test_interactions_kind_weights_are_configurable_and_checked() -> None:
    events = [Event("u", "A", NOW, "view"), Event("u", "A", NOW, "purchase")]
    interactions = Interactions.from_events(events, kind_weights={"view": 2, "purchase": 0})
    assert interactions.matrix().toarray().tolist() == [[2.0]]
    with pytest.raises(ValueError, match="unknown kinds"):
        Interactions.from_events(events, kind_weights={"like": 1})
    with pytest.raises(ValueError, match=r"kind_weights\['view'\]"):
        Interactions.from_events(events, kind_weights={"view": -1})


@pytest.mark.parametrize(
    ("event", "message"),
    [
        (("u", "A", NOW, "like", 1, None), "event 1: kind must be one of view, cart, purchase"),
        (("u", "A", NOW, "view", -1, None), "event 1: weight must be a finite number >= 0"),
        (("u", "A", NOW, "view", math.nan, None), "weight must be"),
        (("u", "A", "yesterday", "view", 1, None), "event 1: bad timestamp 'yesterday'"),
        (("u", "A", math.inf, "view", 1, None), "bad timestamp"),
    ],
)
def test_interactions_reject_bad_events_naming_them(event: tuple[Any, ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Interactions.from_events([Event("u", "A", NOW), event])


def test_baskets_count_an_item_once_per_group_and_keep_visits_and_orders_apart() -> None:
    interactions = Interactions.from_events(
        [
            Event("ann", "A", NOW, "view", 1, 1),
            Event("ann", "A", NOW, "view", 1, 1),
            Event("ann", "B", NOW, "cart", 1, 1),  # a cart add in the same visit
            Event("ann", "C", NOW, "purchase", 1, 1),  # order 1 is not visit 1
            Event("bob", "B", NOW, "view", 1, 1),  # bob's visit 1 is not ann's
            Event("bob", "C", NOW, "view", 1, None),  # no group: no basket
        ]
    )
    assert interactions.n_groups == 3
    assert interactions.baskets(["view"]).toarray().tolist() == [
        [1, 0, 0],
        [0, 0, 0],
        [0, 1, 0],
    ]
    assert interactions.baskets(["view", "cart"]).toarray()[0].tolist() == [1, 1, 0]
    assert interactions.baskets(["purchase"]).toarray()[1].tolist() == [0, 0, 1]
    with pytest.raises(ValueError, match="unknown kinds"):
        interactions.baskets(["like"])


def test_to_seconds_takes_aware_naive_and_numeric_times() -> None:
    assert to_seconds(datetime(1970, 1, 1, 0, 1, tzinfo=UTC)) == 60.0
    assert to_seconds(datetime(1970, 1, 1, 0, 1)) == 60.0  # naive means UTC
    assert to_seconds(1.5) == 1.5
    with pytest.raises(ValueError):
        to_seconds(math.nan)


def test_every_algorithm_accepts_an_empty_log() -> None:
    interactions = Interactions.from_events([], items=["A", "B"])
    assert interactions.n_items == 2 and len(interactions) == 0
    for table in (
        similar_items(interactions),
        viewed_together(interactions),
        bought_together(interactions),
    ):
        assert len(table) == 0 and table.get("A") is None
    assert bestsellers(interactions, NOW) == Ranking([], {})
    assert trending(interactions, NOW) == Ranking([], {})


# --- neighbour tables and the blocked top-K ----------------------------------------------


def small_table() -> NeighbourTable:
    return NeighbourTable(
        ["A", "B", "C"],
        np.array([0, 2, 2, 3]),
        np.array([1, 2, 0]),
        np.array([0.9, 0.5, 0.25]),
        k=2,
    )


def test_neighbour_table_is_a_mapping_of_items_with_neighbours() -> None:
    table = small_table()
    assert table["A"].items == ("B", "C")
    assert table["A"].scores == pytest.approx((0.9, 0.5))
    assert table.get("B") is None  # known item, no neighbours
    assert table.get("nope", "default") == "default"
    assert "A" in table and "B" not in table and "nope" not in table
    assert list(table) == ["A", "C"] and len(table) == 2
    assert table.nnz == 3
    with pytest.raises(KeyError):
        table["B"]
    assert table.neighbours("A", limit=1).items == ("B",)
    assert table.neighbours("nope") == Neighbours((), ())
    assert "2 of 3 items, k=2" in repr(table)


def test_neighbour_table_round_trips_through_json() -> None:
    table = small_table()
    again = NeighbourTable.from_dict(json.loads(json.dumps(table.to_dict())))
    assert dense(again) == dense(table)
    assert again.k == 2


def test_neighbour_table_checks_array_lengths() -> None:
    with pytest.raises(ValueError, match="indptr"):
        NeighbourTable(["A"], np.array([0]), np.array([]), np.array([]), k=1)


def reference_top_k(product: np.ndarray, k: int) -> list[list[tuple[int, float]]]:
    """Dense top-k per row, diagonal and non-positive entries skipped, ties to lower column."""
    rows = []
    for i, row in enumerate(product):
        candidates = [(j, float(v)) for j, v in enumerate(row) if j != i and v > 0]
        candidates.sort(key=lambda pair: (-pair[1], pair[0]))
        rows.append(candidates[:k])
    return rows


def as_rows(
    indptr: np.ndarray, indices: np.ndarray, scores: np.ndarray
) -> list[list[tuple[int, float]]]:
    return [
        [(int(j), float(s)) for j, s in zip(indices[a:b], scores[a:b], strict=True)]
        for a, b in itertools.pairwise(indptr)
    ]


@pytest.mark.parametrize("block_work", [1, 50, 10_000_000])
def test_top_k_products_matches_a_dense_computation_in_any_block_size(block_work: int) -> None:
    rng = np.random.default_rng(3)
    # Small integer values make exact ties likely, which exercises the tie-break.
    matrix = sparse.random_array((30, 12), density=0.3, rng=rng, format="csr")
    matrix.data = np.ceil(matrix.data * 3).astype(np.float32)
    items_users = matrix.T.tocsr()
    indptr, indices, scores = top_k_products(items_users, matrix, 4, block_work=block_work)
    expected = reference_top_k((items_users @ matrix).toarray(), 4)
    assert as_rows(indptr, indices, scores) == expected


def test_top_k_products_checks_its_arguments() -> None:
    matrix = sparse.csr_array(np.eye(3))
    with pytest.raises(ValueError, match="k must be >= 1"):
        top_k_products(matrix, matrix, 0)
    with pytest.raises(ValueError, match="square"):
        top_k_products(matrix, sparse.csr_array(np.ones((3, 2))), 1)


# --- similar items ------------------------------------------------------------------------

USER_ITEMS = np.array(
    [
        [2.0, 1.0, 0.0, 0.0],
        [1.0, 0.0, 1.0, 0.0],
        [0.0, 3.0, 1.0, 0.0],
        [0.0, 0.0, 1.0, 1.0],
    ]
)


def numpy_bm25(item_users: np.ndarray, k1: float = 1.2, b: float = 0.75) -> np.ndarray:
    n_items = item_users.shape[0]
    document_frequency = (item_users > 0).sum(axis=0)
    idf = np.maximum(np.log(n_items) - np.log1p(document_frequency), 0.0)
    length = item_users.sum(axis=1)
    length_norm = (1 - b) + b * length / length.mean()
    weighted = item_users * (k1 + 1) / (k1 * length_norm[:, None] + item_users) * idf
    result: np.ndarray = np.where(item_users > 0, weighted, 0.0)
    return result


def numpy_cosine(weighted: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(weighted, axis=1, keepdims=True)
    unit = weighted / np.where(norms > 0, norms, 1.0)
    cosine: np.ndarray = unit @ unit.T
    return cosine


def test_bm25_weight_follows_the_formula() -> None:
    item_users = USER_ITEMS.T
    weighted = bm25_weight(sparse.csr_array(item_users)).toarray()
    # Item 0 was used by users 0 (x=2) and 1 (x=1). Its row sums to 3 against a mean
    # row sum of 11/4; users 0 and 1 touched 2 items each, so idf = log 4 - log 3.
    length_norm = 0.25 + 0.75 * 3 / (11 / 4)
    idf = math.log(4) - math.log(3)
    assert weighted[0, 0] == pytest.approx(2 * 2.2 / (1.2 * length_norm + 2) * idf)
    assert weighted[0, 1] == pytest.approx(1 * 2.2 / (1.2 * length_norm + 1) * idf)
    np.testing.assert_allclose(weighted, numpy_bm25(item_users))


def test_bm25_idf_is_clipped_at_zero_for_a_user_who_touched_everything() -> None:
    # implicit's idf, log(n_items) - log1p(items the user touched), is negative for a
    # user who touched all 3 items; clipped, that user adds nothing.
    item_users = np.array([[1.0, 1.0], [0.0, 1.0], [0.0, 1.0]])
    weighted = bm25_weight(sparse.csr_array(item_users)).toarray()
    assert weighted[:, 1].tolist() == [0.0, 0.0, 0.0]
    assert weighted[0, 0] > 0


def test_tfidf_weight_is_sqrt_count_times_idf() -> None:
    item_users = USER_ITEMS.T
    weighted = tfidf_weight(sparse.csr_array(item_users)).toarray()
    idf = np.log(4) - np.log1p((item_users > 0).sum(axis=0))
    np.testing.assert_allclose(weighted, np.sqrt(item_users) * np.maximum(idf, 0))


@pytest.mark.parametrize(
    ("weighting", "reference"),
    [
        ("bm25", lambda m: numpy_cosine(numpy_bm25(m))),
        ("tfidf", lambda m: numpy_cosine(np.sqrt(m) * (np.log(4) - np.log1p((m > 0).sum(0))))),
        ("none", numpy_cosine),
    ],
)
def test_item_similarity_is_cosine_of_the_weighted_matrix(
    weighting: Weighting, reference: Callable[[np.ndarray], np.ndarray]
) -> None:
    table = item_similarity(sparse.csr_array(USER_ITEMS), k=3, weighting=weighting)
    expected = reference_top_k(reference(USER_ITEMS.T), 3)
    got = [[(j, s) for j, s in zip(*table.neighbours(i), strict=True)] for i in range(4)]
    assert [[j for j, _ in row] for row in got] == [[j for j, _ in row] for row in expected]
    for row, expected_row in zip(got, expected, strict=True):
        np.testing.assert_allclose([s for _, s in row], [s for _, s in expected_row], rtol=1e-5)


def test_item_similarity_checks_weighting_and_ids() -> None:
    with pytest.raises(ValueError, match="weighting"):
        item_similarity(sparse.csr_array(USER_ITEMS), weighting="bm26")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="item_ids has 2 ids for 4 items"):
        item_similarity(sparse.csr_array(USER_ITEMS), item_ids=["a", "b"])


def test_similar_items_finds_the_item_the_same_users_chose() -> None:
    # Everyone who looks at the kettle looks at the teapot; the mug is popular with all.
    events = [Event(f"browser{n}", f"filler{n}", NOW) for n in range(10)]
    for user in range(6):
        events.append(Event(f"u{user}", "mug", NOW))
        if user < 3:
            events += [Event(f"u{user}", "kettle", NOW), Event(f"u{user}", "teapot", NOW)]
    table = similar_items(Interactions.from_events(events), k=2)
    assert table["kettle"].items[0] == "teapot"
    assert table["teapot"].items[0] == "kettle"
    assert all(0 < s <= 1 for s in table["kettle"].scores)


# --- viewed together and bought together ---------------------------------------------------


def test_items_always_viewed_together_are_each_others_top_neighbour() -> None:
    events = views(
        ("ann", "v1", ["A", "B", "X"]),
        ("bob", "v2", ["A", "B"]),
        ("cid", "v3", ["X", "C"]),
        ("dan", "v4", ["C", "X"]),
    )
    table = viewed_together(Interactions.from_events(events))
    assert table["A"].items[0] == "B"
    assert table["B"].items[0] == "A"


def test_cosine_normalisation_keeps_blockbusters_from_dominating() -> None:
    # A shares 3 visits with niche B (seen nowhere else) and 4 with blockbuster X
    # (seen in 100 visits). Raw counts pick X; every normalisation picks B.
    visits = [("u", f"ab{i}", ["A", "B"]) for i in range(3)]
    visits += [("u", f"ax{i}", ["A", "X"]) for i in range(4)]
    visits += [("u", f"x{i}", ["X"]) for i in range(96)]
    interactions = Interactions.from_events(views(*visits))
    assert viewed_together(interactions, normalisation="count")["A"].items[0] == "X"
    for normalisation in ("cosine", "jaccard", "lift"):
        table = viewed_together(interactions, normalisation=normalisation)
        assert table["A"].items[0] == "B", normalisation


def test_co_occurrence_normalisations_match_hand_computation() -> None:
    # Items 0,1,2 over 4 baskets: {0,1}, {0,1}, {0,2}, {1}.  n = (3, 3, 1), c01 = 2, c02 = 1.
    baskets = sparse.csr_array(np.array([[1, 1, 0], [1, 1, 0], [1, 0, 1], [0, 1, 0]]))
    expected = {
        "count": {0: [(1, 2.0), (2, 1.0)], 2: [(0, 1.0)]},
        "cosine": {0: [(1, 2 / 3), (2, 1 / math.sqrt(3))], 2: [(0, 1 / math.sqrt(3))]},
        "jaccard": {0: [(1, 2 / 4), (2, 1 / 3)], 2: [(0, 1 / 3)]},
        "lift": {0: [(2, 4 / 3), (1, 2 * 4 / 9)], 2: [(0, 4 / 3)]},
    }
    for normalisation, rows in expected.items():
        table = co_occurrence(baskets, normalisation=normalisation)  # type: ignore[arg-type]
        for item, neighbours in rows.items():
            got = list(zip(*table[item], strict=True))
            assert [j for j, _ in got] == [j for j, _ in neighbours], normalisation
            np.testing.assert_allclose([s for _, s in got], [s for _, s in neighbours], 1e-6)


def test_min_count_drops_pairs_seen_together_too_rarely() -> None:
    interactions = Interactions.from_events(
        views(("u", "1", ["A", "B"]), ("u", "2", ["A", "B"]), ("u", "3", ["A", "C"]))
    )
    table = viewed_together(interactions, min_count=2)
    assert table["A"].items == ("B",)
    assert "C" not in table


def test_co_occurrence_rejects_an_unknown_normalisation() -> None:
    with pytest.raises(ValueError, match="normalisation"):
        co_occurrence(sparse.csr_array(np.eye(2)), normalisation="pmi")  # type: ignore[arg-type]


def test_bought_together_counts_orders_not_visits() -> None:
    events = [
        Event("ann", "tent", NOW, "purchase", 1, "o1"),
        Event("ann", "pegs", NOW, "purchase", 1, "o1"),
        Event("bob", "tent", NOW, "purchase", 1, "o2"),
        Event("bob", "pegs", NOW, "purchase", 1, "o2"),
        Event("bob", "stove", NOW, "purchase", 1, "o3"),  # another order: not together
        Event("cid", "tent", NOW, "view", 1, "v1"),  # viewed together only
        Event("cid", "stove", NOW, "view", 1, "v1"),
    ]
    table = bought_together(Interactions.from_events(events))
    assert table["tent"].items == ("pegs",)
    assert table["pegs"].items == ("tent",)
    assert "stove" not in table


# --- bestsellers, trending, new arrivals ----------------------------------------------------


def test_bestsellers_window_is_open_at_the_start_and_closed_at_as_of() -> None:
    window = timedelta(days=7)
    events = [
        Event("u", "at_as_of", NOW, "purchase", 1, "o1"),
        Event("u", "just_inside", NOW - window + timedelta(seconds=1), "purchase", 1, "o2"),
        Event("u", "at_start", NOW - window, "purchase", 5, "o3"),
        Event("u", "after", NOW + timedelta(seconds=1), "purchase", 5, "o4"),
        Event("u", "viewed", NOW, "view", 9, "v1"),
    ]
    ranking = bestsellers(Interactions.from_events(events), NOW, window=window)
    assert ranking.overall == [("at_as_of", 1.0), ("just_inside", 1.0)]
    all_time = bestsellers(Interactions.from_events(events), NOW, window=None)
    assert all_time.items() == ["at_start", "at_as_of", "just_inside"]


def test_bestsellers_sum_units_per_category_and_respect_limit() -> None:
    events = [
        Event("u", "cat food", NOW, "purchase", 3, "o1"),
        Event("v", "cat toy", NOW, "purchase", 1, "o2"),
        Event("v", "dog bone", NOW, "purchase", 2, "o2"),
        Event("w", "cat toy", NOW, "purchase", 1, "o3"),
        Event("w", "mystery", NOW, "purchase", 9, "o3"),
    ]
    categories = {"cat food": "cats", "cat toy": "cats", "dog bone": "dogs"}
    ranking = bestsellers(Interactions.from_events(events), NOW, categories=categories, limit=1)
    assert ranking.overall == [("mystery", 9.0)]
    assert ranking.by_category == {"cats": [("cat food", 3.0)], "dogs": [("dog bone", 2.0)]}
    assert ranking.items("cats") == ["cat food"]
    assert ranking.items("birds") == []
    with pytest.raises(ValueError, match="limit"):
        bestsellers(Interactions.from_events(events), NOW, limit=-1)


def test_trending_halves_an_events_weight_every_half_life() -> None:
    events = [
        Event("u", "fresh view", NOW, "view", 1, None),
        Event("u", "old view", NOW - 2 * DAY, "view", 1, None),
        Event("u", "old sale", NOW - 4 * DAY, "purchase", 1, "o1"),
        Event("u", "future", NOW + DAY, "view", 1, None),
    ]
    ranking = trending(Interactions.from_events(events), NOW, half_life=2 * DAY)
    assert ranking.items() == ["old sale", "fresh view", "old view"]
    scores = dict(ranking.overall)
    assert scores["fresh view"] == pytest.approx(1.0)
    assert scores["old view"] == pytest.approx(0.5)
    assert scores["old sale"] == pytest.approx(5 * 0.25)  # a sale weighs 5 views
    with pytest.raises(ValueError, match="half_life"):
        trending(Interactions.from_events(events), NOW, half_life=timedelta(0))


def test_new_arrivals_are_newest_first_up_to_as_of() -> None:
    created = {
        "old": NOW - 40 * DAY,
        "newer": NOW - 2 * DAY,
        "newest": NOW - HOUR,
        "not yet": NOW + HOUR,
        "cat bed": NOW - DAY,
    }
    ranking = new_arrivals(created, NOW, categories={"cat bed": "cats", "old": "cats"})
    assert ranking.items() == ["newest", "cat bed", "newer", "old"]
    assert ranking.overall[0][1] == NOW.timestamp() - 3600
    assert ranking.items("cats") == ["cat bed", "old"]
    recent = new_arrivals(created, NOW, max_age=30 * DAY, limit=2)
    assert recent.items() == ["newest", "cat bed"]
    assert new_arrivals({}, NOW) == Ranking([], {})


# --- serving ------------------------------------------------------------------------------


def test_recency_weighted_halves_per_half_life_and_sums_repeats() -> None:
    weighted = recency_weighted(
        [("A", NOW), ("B", NOW - DAY), ("A", NOW - 2 * DAY), ("C", NOW + HOUR)],
        NOW,
        half_life=DAY,
    )
    assert weighted == [("A", pytest.approx(1.25)), ("B", 0.5), ("C", 1.0)]
    with pytest.raises(ValueError, match="half_life"):
        recency_weighted([], NOW, half_life=timedelta(0))


SIMILAR = {
    "recent": (["near recent", "shared"], [0.5, 0.2]),
    "old": (["near old", "shared", "recent"], [0.9, 0.2, 0.4]),
}


def test_personalised_ranks_the_neighbour_of_the_most_recent_item_first() -> None:
    history = recency_weighted([("recent", NOW), ("old", NOW - 2 * DAY)], NOW, half_life=DAY)
    # near recent: 1 x 0.5; near old: 0.25 x 0.9; shared: 1 x 0.2 + 0.25 x 0.2.
    assert personalised(history, SIMILAR) == ["near recent", "shared", "near old"]


def test_personalised_excludes_history_unless_told_not_to() -> None:
    history = [("recent", 1.0), ("old", 1.0)]
    assert "recent" not in personalised(history, SIMILAR)
    assert personalised(history, SIMILAR, exclude_history=False, limit=2) == [
        "near old",
        "near recent",
    ]
    assert personalised(history, SIMILAR, limit=0) == []


def test_personalised_is_empty_on_cold_start_and_for_unknown_items() -> None:
    assert personalised([], SIMILAR) == []
    assert personalised([("never trained", 1.0)], SIMILAR) == []


def test_category_affinity_reorders_candidates_without_adding_any() -> None:
    history = [("recent", 1.0)]
    categories = {"near recent": "dogs", "shared": "cats"}
    assert personalised(history, SIMILAR) == ["near recent", "shared"]
    boosted = personalised(
        history,
        SIMILAR,
        item_categories=categories,
        category_affinity={"cats": 10.0, "dogs": 0.0},
        category_boost=2.0,  # shared: 0.2 x 3 = 0.6 > near recent's 0.5
    )
    assert boosted == ["shared", "near recent"]
    assert (
        personalised(
            history, SIMILAR, item_categories=categories, category_affinity={"cats": 1.0}, limit=0
        )
        == []
    )
    nothing = personalised(
        history, SIMILAR, item_categories=categories, category_affinity={"cats": 0.0}, limit=1
    )
    assert nothing == ["near recent"]


def test_category_boost_gives_the_same_top_list_as_boosting_every_candidate() -> None:
    # personalised() skips candidates that cannot reach the top after boosting; compare
    # with the naive way on random data (distinct random scores, so no ties).
    rng = np.random.default_rng(8)
    items = [f"i{n}" for n in range(300)]
    categories = {item: f"c{rng.integers(6)}" for item in items}
    table = {
        item: (list(rng.choice(items, 30, replace=False)), list(rng.random(30))) for item in items
    }
    for _ in range(50):
        history = [(str(item), float(w)) for item, w in zip(rng.choice(items, 8), rng.random(8))]
        affinity = {f"c{c}": float(rng.random()) for c in rng.choice(6, 3, replace=False)}
        boost = float(rng.choice([0.3, 1.0, 4.0]))
        naive: dict[str, float] = {}
        for item, weight in history:
            for neighbour, score in zip(*table[item], strict=True):
                naive[neighbour] = naive.get(neighbour, 0.0) + weight * score
        for item, _ in history:
            naive.pop(item, None)
        top = max(affinity.values())
        for item in naive:
            naive[item] *= 1 + boost * affinity.get(categories[item], 0.0) / top
        expected = sorted(naive, key=naive.__getitem__, reverse=True)[:10]
        got = personalised(
            history,
            table,
            limit=10,
            item_categories=categories,
            category_affinity=affinity,
            category_boost=boost,
        )
        assert got == expected


def test_personalised_rejects_a_negative_category_boost() -> None:
    with pytest.raises(ValueError, match="category_boost"):
        personalised([("recent", 1.0)], SIMILAR, category_boost=-1)


def test_personalised_reads_a_neighbour_table_like_a_dict() -> None:
    table = NeighbourTable(
        ["A", "B", "C"], np.array([0, 1, 2, 2]), np.array([1, 2]), np.array([1.0, 1.0]), k=1
    )
    assert personalised([("A", 1.0)], table) == ["B"]


def test_score_neighbours_sums_weighted_scores_and_breaks_ties_by_first_seen() -> None:
    table = {"A": (["X", "Y"], [1.0, 1.0]), "B": (["Z", "X"], [2.0, 1.0])}
    assert score_neighbours([("A", 1.0), ("B", 1.0)], table, limit=None) == [
        ("X", 2.0),
        ("Z", 2.0),
        ("Y", 1.0),
    ]
    assert score_neighbours([("A", 1.0)], table, exclude={"X"}, limit=5) == [("Y", 1.0)]


def test_cart_cross_sell_sums_co_purchases_and_excludes_the_cart() -> None:
    together = {
        "tent": (["pegs", "stove", "mat"], [0.8, 0.3, 0.2]),
        "stove": (["gas", "tent", "mat"], [0.9, 0.3, 0.2]),
    }
    assert cart_cross_sell(["tent", "stove", "tent"], together) == ["gas", "pegs", "mat"]
    assert cart_cross_sell(["tent", "stove"], together, limit=1) == ["gas"]
    assert cart_cross_sell([], together) == []
    assert cart_cross_sell(["unknown"], together) == []


# --- filters -----------------------------------------------------------------------------


def test_filter_ranked_excludes_every_set_and_fills_from_the_fallback() -> None:
    cart, purchased, out_of_stock, current = {"A"}, {"B"}, {"F"}, {"C"}
    result = filter_ranked(
        ["A", "B", "C", "D"],
        exclude=[cart, purchased, out_of_stock, current],
        fallback=["D", "A", "E", "F", "G", "H"],
        limit=4,
    )
    assert result == ["D", "E", "G", "H"]


def test_filter_ranked_returns_nothing_below_the_minimum() -> None:
    assert filter_ranked(["A", "B"], exclude=[{"A"}], limit=4, minimum=2) == []
    assert filter_ranked(["A", "B"], fallback=["C"], limit=4, minimum=3) == ["A", "B", "C"]
    assert filter_ranked([], limit=4, minimum=0) == []


def test_filter_ranked_reads_the_fallback_only_as_far_as_needed() -> None:
    def endless() -> Iterator[str]:
        n = 0
        while True:
            n += 1
            yield f"fallback {n}"

    assert filter_ranked(["A"], fallback=endless(), limit=3) == ["A", "fallback 1", "fallback 2"]
    assert filter_ranked(["A", "B"], fallback=endless(), limit=2) == ["A", "B"]


def test_filter_ranked_checks_limit_and_minimum() -> None:
    with pytest.raises(ValueError, match="cannot exceed"):
        filter_ranked([], limit=2, minimum=3)
    with pytest.raises(ValueError, match=">= 0"):
        filter_ranked([], limit=-1)


# --- packaging ----------------------------------------------------------------------------


def test_the_algorithms_import_nothing_from_django() -> None:
    code = (
        "import sys\n"
        "import personalize.recommendations.evaluate\n"
        "import personalize.recommendations.scoring\n"
        "assert not [m for m in sys.modules if m.split('.')[0] == 'django'], 'django imported'\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert completed.returncode == 0, completed.stderr


# --- synthetic data -----------------------------------------------------------------------


def test_synthetic_log_is_seeded_and_has_cluster_structure() -> None:
    first, again = generate(300, 200, seed=5), generate(300, 200, seed=5)
    assert np.array_equal(first.items, again.items)
    assert np.array_equal(first.timestamps, again.timestamps)
    assert not np.array_equal(first.items, generate(300, 200, seed=6).items[: len(first)])
    assert set(np.unique(first.kinds)) == {0, 1, 2}
    interactions = Interactions.from_events(first.events())
    table = similar_items(interactions, k=5)
    # The planted structure: most top neighbours share the item's latent cluster.
    clusters: Mapping[Any, int] = first.clusters
    same = [clusters[item] == clusters[table[item].items[0]] for item in table]
    assert sum(same) / len(same) > 0.8
    assert len(generate(300, 200, seed=5, max_events=100)) == 100
    with pytest.raises(ValueError, match="at least"):
        generate(0, 10)


def test_bought_together_per_shopper_stops_one_repeat_customer_dominating() -> None:
    # Ann re-orders tent + heater five times; Bob and Cid each buy tent + pegs once.
    events = [
        Event("ann", item, NOW, "purchase", 1, f"ann{n}")
        for n in range(5)
        for item in ("tent", "heater")
    ]
    events += [
        Event(who, item, NOW, "purchase", 1, who)
        for who in ("bob", "cid")
        for item in ("tent", "pegs")
    ]
    interactions = Interactions.from_events(events)
    # Per order: 5 tent+heater orders beat 2 tent+pegs orders.
    assert bought_together(interactions, normalisation="count")["tent"].items[0] == "heater"
    per_shopper = bought_together(interactions, normalisation="count", per_shopper=True)
    assert per_shopper["tent"].items == ("pegs", "heater")
    assert list(per_shopper["tent"].scores) == [2.0, 1.0]
    # Cosine per shopper: pegs 2 / sqrt(3 * 2), heater 1 / sqrt(3 * 1).
    cosine = bought_together(interactions, per_shopper=True)
    np.testing.assert_allclose(cosine["tent"].scores, [2 / math.sqrt(6), 1 / math.sqrt(3)], 1e-6)
    assert cosine["heater"].items == ("tent",)


def test_per_shopper_counts_match_the_basket_counts_when_nobody_repeats() -> None:
    events = [
        Event(f"s{n}", item, NOW, "purchase", 1, f"o{n}")
        for n, basket in enumerate([("A", "B"), ("A", "B", "C"), ("B", "C"), ("A",)])
        for item in basket
    ]
    interactions = Interactions.from_events(events)
    for normalisation in ("count", "cosine", "jaccard", "lift"):
        a = bought_together(interactions, normalisation=normalisation)  # type: ignore[arg-type]
        b = bought_together(interactions, normalisation=normalisation, per_shopper=True)  # type: ignore[arg-type]
        for item in ("A", "B", "C"):
            assert a[item].items == b[item].items, normalisation
            np.testing.assert_allclose(a[item].scores, b[item].scores, 1e-6)
