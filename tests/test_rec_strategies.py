"""Each strategy on hand-made rows whose right answer is known; filters, fallbacks, minimums."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import timedelta

import pytest

from personalize.recommendations.catalogue import BaseCatalogue, CatalogueItem
from personalize.recommendations.serving import WidgetSpec, _serve
from personalize.recommendations.storage import Row, RowKey
from personalize.recommendations.strategies import (
    STRATEGIES,
    Context,
    Personalised,
    get_strategy,
)

NOW = 1_800_000_000.0
HOUR = 3600.0

ROWS: dict[RowKey, Row] = {
    ("similar", "A"): (["B", "C", "D"], [0.9, 0.5, 0.1]),
    ("similar", "E"): (["D", "F"], [0.8, 0.7]),
    ("viewed", "A"): (["C", "B"], [0.6, 0.4]),
    ("viewed", "E"): (["F"], [0.9]),
    ("bought", "A"): (["G", "H"], [0.7, 0.2]),
    ("bought", "E"): (["H", "I"], [0.9, 0.1]),
    ("bestsellers", ""): (["T1", "T2", "T3", "B"], [50, 40, 30, 20]),
    ("bestsellers", "toys"): (["T2", "T9"], [40, 5]),
    ("trending", ""): (["R1", "R2", "R3"], [9.0, 4.0, 1.0]),
    ("trending", "toys"): (["R2"], [4.0]),
    ("new", ""): (["N1", "N2", "N3", "N4"], [4, 3, 2, 1]),
    ("new", "food"): (["F1", "F2"], [2, 1]),
    ("new", "toys"): (["T7", "T8"], [2, 1]),
}


def ctx(**kwargs: object) -> Context:
    return Context(now=NOW, **kwargs)  # type: ignore[arg-type]


def run(name: str, context: Context) -> list[str]:
    strategy = get_strategy(name)
    keys = strategy.keys(context)
    rows = {key: ROWS[key] for key in keys if key in ROWS}
    return strategy.rank(context, rows)


def test_every_widget_strategy_choice_has_a_class() -> None:
    from personalize.recommendations.models import Strategy

    assert set(STRATEGIES) == set(Strategy.values)
    with pytest.raises(ValueError, match="Unknown strategy 'nope'; choose one of"):
        get_strategy("nope")


def test_recently_viewed_latest_first_without_the_current_product() -> None:
    history = [("C", NOW - 10), ("A", NOW - 60), ("B", NOW - 300)]
    assert run("recently_viewed", ctx(history=history)) == ["C", "A", "B"]
    assert run("recently_viewed", ctx(history=history, product="A")) == ["C", "B"]
    assert run("recently_viewed", ctx()) == []


def test_buy_again_latest_purchase_first_without_the_current_product() -> None:
    purchases = [("K", NOW - 10), ("L", NOW - 86400)]
    assert run("buy_again", ctx(purchases=purchases)) == ["K", "L"]
    assert run("buy_again", ctx(purchases=purchases, product="K")) == ["L"]
    assert run("buy_again", ctx()) == []


def test_bestsellers_overall_and_in_category_topped_up() -> None:
    assert run("bestsellers", ctx()) == ["T1", "T2", "T3", "B"]
    # Without in_category the page's category is ignored.
    assert run("bestsellers", ctx(category="toys")) == ["T1", "T2", "T3", "B"]
    in_toys = run("bestsellers", ctx(category="toys", in_category=True))
    assert in_toys == ["T2", "T9", "T1", "T3", "B"]  # toys first, then overall, no repeats
    # An unknown category falls through to the overall list.
    assert run("bestsellers", ctx(category="fish", in_category=True)) == ["T1", "T2", "T3", "B"]


def test_trending_overall_and_in_category() -> None:
    assert run("trending", ctx()) == ["R1", "R2", "R3"]
    assert run("trending", ctx(category="toys", in_category=True)) == ["R2", "R1", "R3"]


def test_new_arrivals_in_the_visitors_top_categories_interleaved() -> None:
    assert run("new_arrivals", ctx()) == ["N1", "N2", "N3", "N4"]
    affinity = {"food": 3.0, "toys": 2.0, "beds": 1.0}
    ranked = run("new_arrivals", ctx(affinity=affinity, in_category=True))
    assert ranked == ["F1", "T7", "F2", "T8", "N1", "N2", "N3", "N4"]
    # On a category page, that category wins over the visitor's tastes.
    ranked = run("new_arrivals", ctx(affinity=affinity, in_category=True, category="toys"))
    assert ranked[:2] == ["T7", "T8"]


def test_viewed_together_bought_together_and_similar_of_the_product() -> None:
    assert run("viewed_together", ctx(product="A")) == ["C", "B"]
    assert run("bought_together", ctx(product="A")) == ["G", "H"]
    assert run("similar", ctx(product="A")) == ["B", "C", "D"]
    assert run("similar", ctx(product="unknown")) == []


def test_neighbour_strategies_without_a_product_use_the_latest_views() -> None:
    # E is the latest (weight 1), A before it (weight 1/2).
    history = [("E", NOW - 5), ("A", NOW - 50)]
    ranked = run("similar", ctx(history=history))
    # D: 0.8*1 + 0.1*0.5 = 0.85; F: 0.7; B: 0.45; C: 0.25. A and E themselves are excluded.
    assert ranked == ["D", "F", "B", "C"]


def test_personalised_weights_recent_history_more() -> None:
    # A viewed just now, E viewed two days ago (a quarter of the weight with a 1-day half-life).
    history = [("A", NOW), ("E", NOW - 48 * HOUR)]
    ranked = run("personalised", ctx(history=history, history_half_life=timedelta(days=1)))
    # B 0.9, D 0.1 + 0.25*0.8 = 0.3, C 0.5, F 0.25*0.7 = 0.175
    assert ranked == ["B", "C", "D", "F"]
    # Reversed recency reverses the pull.
    history = [("E", NOW), ("A", NOW - 48 * HOUR)]
    ranked = run("personalised", ctx(history=history, history_half_life=timedelta(days=1)))
    assert ranked == ["D", "F", "B", "C"]


def test_personalised_cold_start_is_trending() -> None:
    assert run("personalised", ctx()) == ["R1", "R2", "R3"]


def test_personalised_only_reads_the_latest_history_items() -> None:
    history = [(f"X{i}", NOW - i) for i in range(30)]
    keys = get_strategy("personalised").keys(ctx(history=history, history_items=20))
    assert keys == [("similar", f"X{i}") for i in range(20)]


def test_personalised_category_boost_reorders_towards_favourite_categories() -> None:
    strategy = Personalised()
    categories = {"B": "food", "C": "toys", "D": "beds"}
    scored = [("B", 0.9), ("C", 0.5), ("D", 0.1)]
    # Multipliers 1 + 0.5 * affinity / max: toys 1.5, food 1.125 -> B 1.0125, C 0.75, D 0.1.
    context = ctx(history=[("A", NOW)], affinity={"toys": 4.0, "food": 1.0})
    assert strategy.rerank(context, scored, categories) == ["B", "C", "D"]
    # Close scores: the favourite category overtakes (0.85 * 1.5 > 0.9).
    context = ctx(history=[("A", NOW)], affinity={"toys": 4.0})
    assert strategy.rerank(context, [("B", 0.9), ("C", 0.85)], categories) == ["C", "B"]
    # Unknown categories and equal scores keep their order.
    assert strategy.rerank(context, [("X", 0.5), ("B", 0.5), ("C", 0.2)], categories) == [
        "X",
        "B",
        "C",
    ]
    # No history (cold start: trending) or no affinity: order left alone.
    assert strategy.rerank(ctx(affinity={"toys": 1.0}), [("D", 0), ("C", 0)], categories) == [
        "D",
        "C",
    ]
    assert strategy.rerank(ctx(history=[("A", NOW)]), [("D", 1), ("C", 0.5)], categories) == [
        "D",
        "C",
    ]
    assert strategy.scored(ctx(), {("trending", ""): (["R1"], [3.0])}) == [("R1", 0.0)]


def test_cart_cross_sell_sums_over_the_cart_and_skips_its_items() -> None:
    assert run("cart_cross_sell", ctx(cart=["A", "E"])) == ["H", "G", "I"]
    assert run("cart_cross_sell", ctx(cart=["A", "G"])) == ["H"]
    assert run("cart_cross_sell", ctx()) == []


# Filters, fallbacks and minimums: the serving step over an in-memory catalogue ------------


class MemoryCatalogue(BaseCatalogue):
    def __init__(self, out_of_stock: Sequence[str] = ()) -> None:
        self.out = set(out_of_stock)
        self.calls: list[list[str]] = []

    def items(self, ids: Sequence[str]) -> list[CatalogueItem]:
        self.calls.append(list(ids))
        return [
            CatalogueItem(
                id=i,
                title=f"Product {i}",
                url=f"/p/{i}/",
                image_url="",
                price=1.0,
                category={"C": "toys"}.get(i, "food"),
                in_stock=i not in self.out and not i.startswith("gone"),
                created_at=None,
            )
            for i in ids
            if not i.startswith("deleted")
        ]

    def all_items(self) -> Iterator[CatalogueItem]:
        return iter(())


@pytest.fixture
def rows(monkeypatch: pytest.MonkeyPatch) -> dict[RowKey, Row]:
    table = dict(ROWS)
    monkeypatch.setattr(
        "personalize.recommendations.serving.read_rows",
        lambda keys: {key: table[key] for key in keys if key in table},
    )
    return table


def serve(
    spec: WidgetSpec, context: Context, catalogue: MemoryCatalogue | None = None
) -> list[str]:
    catalogue = catalogue or MemoryCatalogue()
    strategy_name, title = spec.choose()
    recs = _serve(spec, get_strategy(strategy_name), title, context, catalogue)
    return [item.id for item in recs]


def spec(**kwargs: object) -> WidgetSpec:
    defaults: dict[str, object] = {"slot": "w", "title": "W", "strategy": "similar"}
    defaults.update(kwargs)
    return WidgetSpec(**defaults)  # type: ignore[arg-type]


def test_current_product_and_cart_are_left_out(rows: dict[RowKey, Row]) -> None:
    context = ctx(product="A", cart=["C"])
    assert serve(spec(count=3), context) == ["B", "D"]
    assert serve(spec(count=3, exclude_cart=False), context) == ["B", "C", "D"]


def test_purchased_and_recently_viewed_are_left_out_when_asked(rows: dict[RowKey, Row]) -> None:
    context = ctx(product="A", purchased=frozenset({"B"}), history=[("D", NOW)])
    assert serve(spec(count=3), context) == ["B", "C", "D"]
    assert serve(spec(count=3, exclude_purchased=True), context) == ["C", "D"]
    assert serve(spec(count=3, exclude_recently_viewed=True), context) == ["B", "C"]


def test_out_of_stock_and_deleted_products_are_left_out(rows: dict[RowKey, Row]) -> None:
    rows[("similar", "A")] = (["gone1", "B", "deleted1", "C", "D"], [0.9, 0.8, 0.7, 0.6, 0.5])
    catalogue = MemoryCatalogue(out_of_stock=["C"])
    assert serve(spec(count=3), ctx(product="A"), catalogue) == ["B", "D"]
    assert len(catalogue.calls) == 1  # one catalogue query, whatever was filtered
    assert serve(spec(count=3, exclude_out_of_stock=False), ctx(product="A")) == [
        "gone1",
        "B",
        "C",
    ]


def test_fallback_fills_the_places_left(rows: dict[RowKey, Row]) -> None:
    context = ctx(product="A")
    # Similar gives B, C, D; bestsellers fill with T1, T2 (B is not repeated).
    assert serve(spec(count=5, fallback="bestsellers"), context) == ["B", "C", "D", "T1", "T2"]
    assert serve(spec(count=5), context) == ["B", "C", "D"]
    # No trained rows for this product at all: the fallback alone.
    context = ctx(product="Z")
    assert serve(spec(count=2, fallback="trending"), context) == ["R1", "R2"]


def test_widget_hidden_below_its_minimum(rows: dict[RowKey, Row]) -> None:
    context = ctx(product="A")
    assert serve(spec(strategy="bought_together", count=4, minimum=3), context) == []
    assert serve(spec(strategy="bought_together", count=4, minimum=2), context) == ["G", "H"]
    # Out-of-stock filtering happens after loading: it can also take a widget below minimum.
    catalogue = MemoryCatalogue(out_of_stock=["G"])
    assert serve(spec(strategy="bought_together", minimum=2), context, catalogue) == []


def test_no_candidates_costs_no_catalogue_query(rows: dict[RowKey, Row]) -> None:
    catalogue = MemoryCatalogue()
    assert serve(spec(strategy="cart_cross_sell"), ctx(), catalogue) == []
    assert catalogue.calls == []


def test_personalised_serving_applies_the_category_boost(rows: dict[RowKey, Row]) -> None:
    rows[("similar", "A")] = (["B", "D", "C"], [0.9, 0.88, 0.85])
    # No taste known: similarity order.
    assert serve(spec(strategy="personalised", count=3), ctx(history=[("A", NOW)])) == [
        "B",
        "D",
        "C",
    ]
    # C is the only "toys" product: 0.85 * 1.5 beats B's 0.9 and D's 0.88.
    context = ctx(history=[("A", NOW)], affinity={"toys": 5.0})
    assert serve(spec(strategy="personalised", count=3), context) == ["C", "B", "D"]
    assert serve(spec(strategy="personalised", count=1), context) == ["C"]


def test_rules_pick_the_strategy_and_title_per_segment() -> None:
    from personalize.recommendations.serving import WidgetRuleSpec

    widget = spec(
        strategy="personalised",
        rules=(
            WidgetRuleSpec("new-visitors", "bestsellers", "Bestsellers"),
            WidgetRuleSpec("returning-visitors", "recently_viewed", ""),
        ),
    )

    assert widget.choose({"new-visitors"}) == ("bestsellers", "Bestsellers")
    # The first rule wins, whatever the order of the visitor's segments.
    assert widget.choose({"returning-visitors", "new-visitors"}) == ("bestsellers", "Bestsellers")
    assert widget.choose({"returning-visitors"}) == ("recently_viewed", "W")  # blank: own title
    assert widget.choose(set()) == ("personalised", "W")
    assert widget.rule_for({"vip"}) is None


def test_a_second_catalogue_query_only_when_stock_leaves_the_widget_short(
    rows: dict[RowKey, Row],
) -> None:
    rows[("similar", "A")] = ([f"P{i}" for i in range(10)], [1.0 - i / 20 for i in range(10)])
    catalogue = MemoryCatalogue()
    assert serve(spec(count=2), ctx(product="A"), catalogue) == ["P0", "P1"]
    assert catalogue.calls == [["P0", "P1", "P2", "P3"]]  # count + 2 for spare
    catalogue = MemoryCatalogue(out_of_stock=["P0", "P1", "P2"])
    assert serve(spec(count=2), ctx(product="A"), catalogue) == ["P3", "P4"]
    # The rest of the candidates: three times the places plus two, at most.
    assert catalogue.calls == [["P0", "P1", "P2", "P3"], ["P4", "P5", "P6", "P7"]]
