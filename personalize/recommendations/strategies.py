"""Recommendation strategies: each a small class behind one interface.

A strategy works in two steps so that a widget's strategy *and* its fallback fetch
everything they need from the trained model in one round trip:

1. :meth:`Strategy.keys` names the rows it needs (``("similar", "12")``,
   ``("bestsellers", "cat-food")``...) for this request's :class:`Context`;
2. :meth:`Strategy.rank` turns the rows that were found into ranked item ids.

Strategies never touch the database or Redis themselves, so each is tested on
hand-made rows whose right answer is known.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import ClassVar, Final

from personalize.recommendations.scoring import (
    _category_multipliers,
    cart_cross_sell,
    recency_weighted,
    score_neighbours,
)
from personalize.recommendations.storage import Row, RowKey

#: How many of the visitor's top categories "new arrivals" draws from.
TOP_CATEGORIES: Final = 2
#: How many recent products anchor "similar" / "viewed together" off a product page.
ANCHORS: Final = 3


@dataclass(frozen=True)
class Context:
    """What a strategy may know about the request (built by ``serving``)."""

    now: float
    product: str | None = None
    category: str | None = None  # the current product's or page's category
    history: Sequence[tuple[str, float]] = ()  # (product id, viewed at), most recent first
    purchases: Sequence[tuple[str, float]] = ()  # (product id, bought at), most recent first
    cart: Sequence[str] = ()
    purchased: frozenset[str] = frozenset()
    affinity: Mapping[str, float] = field(default_factory=dict)  # category -> score, best first
    in_category: bool = False
    history_items: int = 20
    history_half_life: timedelta = timedelta(hours=24)

    @property
    def anchors(self) -> list[str]:
        """The current product, or else the visitor's latest products."""
        if self.product:
            return [self.product]
        return [item for item, _ in self.history[:ANCHORS]]

    @property
    def ranking_key(self) -> str:
        return (self.category or "") if self.in_category else ""


Rows = Mapping[RowKey, Row]


class Strategy:
    """One way of choosing products; subclasses set ``name`` and implement both steps.

    Two optional hooks for strategies whose order depends on the products themselves:
    :meth:`scored` (ranked ids with scores) and :meth:`rerank` (called by serving with
    the categories of the products it loaded).
    """

    name: ClassVar[str]

    def keys(self, ctx: Context) -> list[RowKey]:
        return []

    def rank(self, ctx: Context, rows: Rows) -> list[str]:
        raise NotImplementedError

    def scored(self, ctx: Context, rows: Rows) -> list[tuple[str, float]]:
        """:meth:`rank` with scores (unscored strategies: 0.0)."""
        return [(item, 0.0) for item in self.rank(ctx, rows)]

    def rerank(
        self, ctx: Context, scored: Sequence[tuple[str, float]], categories: Mapping[str, str]
    ) -> list[str]:
        """The final order of loaded products, given their categories; unchanged by default."""
        return [item for item, _ in scored]

    def __repr__(self) -> str:
        return f"<Strategy {self.name}>"


def _ids(rows: Rows, key: RowKey) -> list[str]:
    row = rows.get(key)
    return list(row[0]) if row else []


class RecentlyViewed(Strategy):
    """The visitor's recently viewed products, latest first (never the current one)."""

    name = "recently_viewed"

    def rank(self, ctx: Context, rows: Rows) -> list[str]:
        return [item for item, _ in ctx.history if item != ctx.product]


class BuyAgain(Strategy):
    """What the visitor bought before, latest first: reorders of food, litter, treats."""

    name = "buy_again"

    def rank(self, ctx: Context, rows: Rows) -> list[str]:
        return [item for item, _ in ctx.purchases if item != ctx.product]


class _Ranking(Strategy):
    table: ClassVar[str]

    def keys(self, ctx: Context) -> list[RowKey]:
        keys = [(self.table, ctx.ranking_key)]
        if ctx.ranking_key:
            keys.append((self.table, ""))  # a thin category is topped up from the overall list
        return keys

    def rank(self, ctx: Context, rows: Rows) -> list[str]:
        ranked = _ids(rows, (self.table, ctx.ranking_key))
        if ctx.ranking_key:
            ranked += _ids(rows, (self.table, ""))
        return list(dict.fromkeys(ranked))


class Bestsellers(_Ranking):
    """Units sold over the bestseller window, overall or in the current category."""

    name = "bestsellers"
    table = "bestsellers"


class Trending(_Ranking):
    """Time-decayed views and sales: what is picking up now."""

    name = "trending"
    table = "trending"


class NewArrivals(Strategy):
    """Newest products; with ``in_category``, from the page's category or else the
    visitor's favourite categories, topped up with the newest overall."""

    name = "new_arrivals"

    def _categories(self, ctx: Context) -> list[str]:
        if not ctx.in_category:
            return []
        if ctx.category:
            return [ctx.category]
        return list(ctx.affinity)[:TOP_CATEGORIES]

    def keys(self, ctx: Context) -> list[RowKey]:
        return [("new", category) for category in self._categories(ctx)] + [("new", "")]

    def rank(self, ctx: Context, rows: Rows) -> list[str]:
        columns = [_ids(rows, ("new", category)) for category in self._categories(ctx)]
        ranked: list[str] = []
        # Interleave the favourite categories so one does not crowd out the other.
        for position in range(max((len(c) for c in columns), default=0)):
            ranked += [column[position] for column in columns if position < len(column)]
        ranked += _ids(rows, ("new", ""))
        return list(dict.fromkeys(ranked))


class _Neighbours(Strategy):
    """Neighbours of the anchors (the current product, or the latest viewed ones)."""

    table: ClassVar[str]

    def keys(self, ctx: Context) -> list[RowKey]:
        return [(self.table, item) for item in ctx.anchors]

    def rank(self, ctx: Context, rows: Rows) -> list[str]:
        anchors = ctx.anchors
        table = {item: rows[(self.table, item)] for item in anchors if (self.table, item) in rows}
        # The first anchor counts most: the product on screen, or the latest viewed.
        weighted = [(item, 1.0 / (position + 1)) for position, item in enumerate(anchors)]
        ranked = score_neighbours(weighted, table, exclude=set(anchors), limit=None)
        return [item for item, _ in ranked]


class ViewedTogether(_Neighbours):
    """Products viewed in the same visits as this one."""

    name = "viewed_together"
    table = "viewed"


class BoughtTogether(_Neighbours):
    """Products bought in the same orders as this one."""

    name = "bought_together"
    table = "bought"


class Similar(_Neighbours):
    """Products the same shoppers were interested in (item-item similarity)."""

    name = "similar"
    table = "similar"


class Personalised(Strategy):
    """The visitor's recent products x similar items, nudged towards their favourite
    categories; a visitor without history (cold start) gets trending products."""

    name = "personalised"
    #: How much the favourite category can lift a product's score (x 1.5 at most).
    category_boost: ClassVar[float] = 0.5

    def _history(self, ctx: Context) -> list[tuple[str, float]]:
        return list(ctx.history[: ctx.history_items])

    def keys(self, ctx: Context) -> list[RowKey]:
        history = self._history(ctx)
        if not history:
            return Trending().keys(ctx)
        return [("similar", item) for item, _ in history]

    def scored(self, ctx: Context, rows: Rows) -> list[tuple[str, float]]:
        """Candidates and scores: the sum over the history of recency weight x similarity
        (the history itself left out). Cold start: trending, unscored (0.0)."""
        history = self._history(ctx)
        if not history:
            return [(item, 0.0) for item in Trending().rank(ctx, rows)]
        weighted = recency_weighted(history, ctx.now, half_life=ctx.history_half_life)
        table = {item: rows[("similar", item)] for item, _ in history if ("similar", item) in rows}
        return score_neighbours(weighted, table, exclude={item for item, _ in history}, limit=200)

    def rank(self, ctx: Context, rows: Rows) -> list[str]:
        return [item for item, _ in self.scored(ctx, rows)]

    def rerank(
        self, ctx: Context, scored: Sequence[tuple[str, float]], categories: Mapping[str, str]
    ) -> list[str]:
        """Re-rank ``scored`` once serving knows the candidates' ``categories`` (from the
        products it loaded): each score is multiplied by
        ``1 + category_boost * affinity / max(affinity)`` of the product's category.
        Equal scores keep their order; cold-start (trending) results are left alone."""
        multipliers = _category_multipliers(ctx.affinity, self.category_boost)
        if not multipliers or not ctx.history:
            return [item for item, _ in scored]
        rescored = [
            (item, score * multipliers.get(categories.get(item, ""), 1.0)) for item, score in scored
        ]
        rescored.sort(key=lambda pair: pair[1], reverse=True)  # stable
        return [item for item, _ in rescored]


class CartCrossSell(Strategy):
    """Products bought together with the items in the cart."""

    name = "cart_cross_sell"

    def keys(self, ctx: Context) -> list[RowKey]:
        return [("bought", item) for item in ctx.cart]

    def rank(self, ctx: Context, rows: Rows) -> list[str]:
        table = {item: rows[("bought", item)] for item in ctx.cart if ("bought", item) in rows}
        return cart_cross_sell(ctx.cart, table, limit=200)


STRATEGIES: Final[dict[str, Strategy]] = {
    strategy.name: strategy
    for strategy in (
        Personalised(),
        RecentlyViewed(),
        Bestsellers(),
        Trending(),
        ViewedTogether(),
        BoughtTogether(),
        Similar(),
        CartCrossSell(),
        NewArrivals(),
        BuyAgain(),
    )
}


def get_strategy(name: str) -> Strategy:
    try:
        return STRATEGIES[name]
    except KeyError:
        raise ValueError(
            f"Unknown strategy {name!r}; choose one of {', '.join(sorted(STRATEGIES))}."
        ) from None
