"""Serving: ``recommend(request, "product-detail", product=p)`` -> products to show.

Per request, a widget costs:

* its configuration: compiled per configuration version (no query);
* the visitor: the profile the middleware already loaded (history, cart, purchases);
* the trained rows its strategy and fallback need: one Redis round trip (a Lua script
  that reads the active model pointer and the rows atomically) or one SQL query with
  the database store;
* the products to show: one query through the catalogue adapter, plus one per relation
  it prefetches (``PERSONALIZE_CATALOGUE_PREFETCH_RELATED``), whatever the number of
  products.

So with Redis, the only SQL is the product query.

A widget with a holdout (``holdout_percent``) keeps that share of visitors out,
assigned from the visitor id and the widget's slot with the campaigns' bucketing
(:func:`personalize.bucketing.assign_variant`): no query, no stored state, the same
answer on every server. Only tracked visitors are held out (the others could not be
measured). A held-out visitor is served as anyone else, so the holdout
is counted at the same moment the widget would have been seen, and then gets an empty
:class:`Recommendations` flagged ``holdout``: the slot shows nothing (not the page's
fallback content), and the renderers leave only an invisible marker the runtime
reports as a ``rec_view`` with ``holdout: true``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.http import HttpRequest

from personalize.bucketing import assign_variant
from personalize.conf import settings
from personalize.configuration import Compiled
from personalize.identity.visitor import Visitor
from personalize.recommendations.catalogue import BaseCatalogue, CatalogueItem, get_catalogue
from personalize.recommendations.filters import filter_ranked
from personalize.recommendations.storage import RowKey, read_rows
from personalize.recommendations.strategies import (
    STRATEGIES,
    Context,
    Strategy,
    get_strategy,
)

logger = logging.getLogger(__name__)

#: Products loaded beyond the places to fill: room for out-of-stock and deleted ones.
EXTRA = 2


@dataclass(frozen=True)
class WidgetRuleSpec:
    segment: str
    strategy: str
    title: str


@dataclass(frozen=True)
class WidgetSpec:
    """A widget as serving needs it (compiled from the admin's ``Widget`` rows)."""

    slot: str
    title: str
    strategy: str
    fallback: str = ""
    count: int = 4
    minimum: int = 1
    in_category: bool = False
    exclude_cart: bool = True
    exclude_purchased: bool = False
    exclude_out_of_stock: bool = True
    exclude_recently_viewed: bool = False
    attribution_days: int = 7
    holdout_percent: int = 0
    rules: tuple[WidgetRuleSpec, ...] = ()

    def holds_out(self, visitor_id: str) -> bool:
        """Whether ``visitor_id`` is in the widget's holdout (never shown the widget).

        Bucketed like a campaign's control group, salted by the slot so that each
        widget holds out different visitors.
        """
        if self.holdout_percent <= 0 or not self.slot or not visitor_id:
            return False
        share = self.holdout_percent / 100
        return assign_variant(f"widget-holdout:{self.slot}", visitor_id, [share, 1 - share]) == 0

    def rule_for(self, segments: Collection[str]) -> WidgetRuleSpec | None:
        """The first rule whose segment is among ``segments``."""
        return next((rule for rule in self.rules if rule.segment in segments), None)

    def choose(self, segments: Collection[str] = ()) -> tuple[str, str]:
        """The (strategy, title) for a visitor in ``segments``."""
        rule = self.rule_for(segments) if self.rules else None
        if rule is None:
            return self.strategy, self.title
        return rule.strategy, rule.title or self.title


def build_widgets() -> dict[str, WidgetSpec]:
    from personalize.models import Widget, WidgetRule

    using = settings.DATABASE_ALIAS
    rules: dict[int, list[WidgetRuleSpec]] = {}
    for rule in WidgetRule.objects.using(using).select_related("segment").order_by("order", "pk"):
        rules.setdefault(rule.widget_id, []).append(
            WidgetRuleSpec(rule.segment.slug, rule.strategy, rule.title)
        )
    return {
        widget.slot: spec_of(widget, rules.get(widget.pk, []))
        for widget in Widget.objects.using(using).filter(is_active=True)
    }


def spec_of(widget: Any, rules: Iterable[WidgetRuleSpec] = ()) -> WidgetSpec:
    return WidgetSpec(
        slot=widget.slot,
        title=widget.title,
        strategy=widget.strategy,
        fallback=widget.fallback,
        count=widget.count,
        minimum=min(widget.minimum, widget.count),
        in_category=widget.in_category,
        exclude_cart=widget.exclude_cart,
        exclude_purchased=widget.exclude_purchased,
        exclude_out_of_stock=widget.exclude_out_of_stock,
        exclude_recently_viewed=widget.exclude_recently_viewed,
        attribution_days=widget.attribution_days,
        holdout_percent=widget.holdout_percent,
        rules=tuple(rules),
    )


widgets = Compiled(build_widgets)


def get_widgets() -> dict[str, WidgetSpec]:
    return widgets.get()


class UnknownProduct(LookupError):
    """``recommend(..., require_product=True)`` was given a product the catalogue lacks."""

    def __init__(self, product_id: str) -> None:
        super().__init__(f"No product {product_id!r} in the catalogue.")
        self.product_id = product_id


class Recommendations(list[CatalogueItem]):
    """The products to show (``CatalogueItem``; the shop's object is ``item.obj``), plus
    which widget, strategy and title produced them."""

    def __init__(
        self,
        items: Iterable[CatalogueItem] = (),
        *,
        slot: str = "",
        title: str = "",
        strategy: str = "",
        used_fallback: bool = False,
        fallback: str = "",
        fallback_ids: frozenset[str] = frozenset(),
        holdout: bool = False,
    ) -> None:
        super().__init__(items)
        self.slot = slot
        self.title = title
        self.strategy = strategy
        self.used_fallback = used_fallback
        #: The fallback strategy, and the ids of the products it filled in.
        self.fallback = fallback
        self.fallback_ids = fallback_ids
        #: The visitor is in the widget's holdout: it would have shown products, but
        #: shows none (the renderers report the holdout exposure instead).
        self.holdout = holdout

    def strategy_of(self, item: CatalogueItem) -> str:
        """The strategy that chose ``item``: the widget's own, or its fallback."""
        return self.fallback if item.id in self.fallback_ids else self.strategy


def product_ref(product: Any, catalogue: BaseCatalogue) -> tuple[str | None, str | None]:
    """(id, category) of whatever the caller passed: a product object, item or id."""
    if product is None or product == "":
        return None, None
    if isinstance(product, CatalogueItem):
        return product.id, product.category or None
    if isinstance(product, (str, int)):
        return str(product), None
    return catalogue.ref(product)


def build_context(
    profile: Any,
    now: float,
    *,
    product: str | None = None,
    category: str | None = None,
    in_category: bool = False,
) -> Context:
    """What strategies know: the page, and the visitor's history, cart and tastes."""
    if profile is None:
        return Context(now=now, product=product, category=category, in_category=in_category)
    history = sorted(profile.viewed_products.items(), key=lambda kv: (-kv[1], kv[0]))
    return Context(
        now=now,
        product=product,
        category=category,
        history=history,
        cart=list(profile.cart),
        purchased=frozenset(profile.purchased_products),
        purchases=sorted(profile.purchased_products.items(), key=lambda kv: (-kv[1], kv[0])),
        affinity=profile.affinity(now, settings.AFFINITY_HALF_LIFE_DAYS),
        in_category=in_category,
        history_items=settings.RECS_HISTORY_ITEMS,
        history_half_life=timedelta(hours=settings.RECS_HISTORY_HALF_LIFE_HOURS),
    )


def recommend(
    request: HttpRequest | None,
    strategy_or_widget: str | WidgetSpec,
    product: Any = None,
    limit: int = 8,
    *,
    category: str | None = None,
    catalogue: BaseCatalogue | None = None,
    exclude: Iterable[str] = (),
    visitor: Visitor | None = None,
    require_product: bool = False,
) -> Recommendations:
    """Products to recommend to this request's visitor (or to ``visitor``).

    ``strategy_or_widget`` is a strategy name (``"bestsellers"``, ``"similar"``...: see
    ``STRATEGIES``), the slot of an active widget (``"product-detail"``: its strategy,
    per-segment rules, fallback, filters and item count apply, and ``limit`` is
    ignored), or a :class:`WidgetSpec`. ``product`` is the product on screen (an
    instance of ``PERSONALIZE_PRODUCT_MODEL``, a ``CatalogueItem`` or an id);
    ``category`` the category page being shown. Returns an empty list when there is
    nothing worth showing (fewer products than the widget's minimum, no trained
    model yet, the store down). ``exclude`` names product ids never to return (the
    template tag passes those other widgets on the page already show). ``visitor`` is
    whom to recommend for, when not ``request.visitor`` (a stored customer).
    ``require_product=True`` raises :class:`UnknownProduct` when ``product`` is not in
    the catalogue, checked in the query that loads the products to show.

    A visitor in the widget's holdout gets an empty list with ``holdout=True`` when the
    widget would have shown products (see the module doc).
    """
    if isinstance(strategy_or_widget, WidgetSpec):
        spec = strategy_or_widget
    elif strategy_or_widget in STRATEGIES:
        if not 1 <= limit <= 100:
            raise ValueError(f"limit must be from 1 to 100, got {limit}")
        spec = WidgetSpec(
            slot="",
            title="",
            strategy=strategy_or_widget,
            count=limit,
            minimum=1,
            exclude_cart=False,
            exclude_out_of_stock=True,
        )
    else:
        found = get_widgets().get(str(strategy_or_widget))
        if found is None:
            logger.warning(
                "No active recommendation widget %r and no such strategy (strategies: %s)",
                strategy_or_widget,
                ", ".join(sorted(STRATEGIES)),
            )
            return Recommendations(slot=str(strategy_or_widget))
        spec = found
    if visitor is None and request is not None:
        attached = getattr(request, "visitor", None)
        visitor = attached if isinstance(attached, Visitor) else None
    catalogue = (catalogue or get_catalogue()).for_request(request)
    product_id, product_category = product_ref(product, catalogue)
    ctx = build_context(
        visitor.profile if visitor is not None else None,
        visitor.now if visitor is not None else time.time(),
        product=product_id,
        category=category or product_category,
        in_category=spec.in_category,
    )
    segments = set(visitor.segments) if visitor is not None and visitor.tracked else set()
    strategy_name, title = spec.choose(segments)
    recs = _serve(
        spec,
        get_strategy(strategy_name),
        title,
        ctx,
        catalogue,
        exclude,
        require_product=require_product,
    )
    # Only measured visitors are held out: holding out the others would cost sales and
    # measure nothing.
    if recs and visitor is not None and visitor.tracked and spec.holds_out(visitor.id):
        return Recommendations(slot=spec.slot, title=title, holdout=True)
    return recs


def _serve(
    spec: WidgetSpec,
    strategy: Strategy,
    title: str,
    ctx: Context,
    catalogue: BaseCatalogue,
    already_shown: Iterable[str] = (),
    *,
    require_product: bool = False,
) -> Recommendations:
    fallback = get_strategy(spec.fallback) if spec.fallback else None
    keys: list[RowKey] = strategy.keys(ctx)
    if fallback is not None:
        keys += fallback.keys(ctx)
    rows = read_rows(keys) if keys else {}
    scored = strategy.scored(ctx, rows)
    ranked = [item for item, _ in scored]
    backup = fallback.rank(ctx, rows) if fallback is not None else []
    exclude: list[Any] = []
    on_page = set(already_shown)
    if on_page:
        exclude.append(on_page)
    if ctx.product:
        exclude.append({ctx.product})
    if spec.exclude_cart and ctx.cart:
        exclude.append(set(ctx.cart))
    if spec.exclude_purchased and ctx.purchased:
        exclude.append(ctx.purchased)
    if spec.exclude_recently_viewed and strategy.name != "recently_viewed" and ctx.history:
        exclude.append({item for item, _ in ctx.history})
    own = set(ranked)
    candidates = filter_ranked(
        ranked, exclude=exclude, fallback=backup, limit=spec.count * 3 + EXTRA, minimum=0
    )
    empty = Recommendations(slot=spec.slot, title=title, strategy=strategy.name)
    # The product on screen is checked in the query that loads the products to show.
    checked = ctx.product if require_product and ctx.product else None
    if len(candidates) < spec.minimum:
        if checked is not None and not catalogue.items([checked]):
            raise UnknownProduct(checked)
        return empty
    # A few more than needed, for out-of-stock and deleted products; a second query only
    # when those left the widget short.
    first = spec.count + EXTRA
    wanted = [str(item) for item in candidates[:first]]
    loaded = catalogue.items([checked, *wanted] if checked is not None else wanted)
    if checked is not None:
        if not loaded or loaded[0].id != checked:
            raise UnknownProduct(checked)
        loaded = loaded[1:]
    usable = [item for item in loaded if item.in_stock or not spec.exclude_out_of_stock]
    if len(usable) < spec.count and len(candidates) > first:
        more = catalogue.items([str(item) for item in candidates[first:]])
        usable += [item for item in more if item.in_stock or not spec.exclude_out_of_stock]
    # The strategy's own products in its final order (the personalised category boost),
    # then the fallback's.
    score_of = dict(scored)
    mine = [(item.id, score_of[item.id]) for item in usable if item.id in score_of]
    by_id = {item.id: item for item in usable}
    order = strategy.rerank(ctx, mine, {item.id: item.category for item in usable})
    usable = [by_id[item] for item in order] + [i for i in usable if i.id not in score_of]
    shown = usable[: spec.count]
    if len(shown) < spec.minimum:
        return empty
    filled = frozenset(item.id for item in shown if item.id not in own)
    return Recommendations(
        shown,
        slot=spec.slot,
        title=title,
        strategy=strategy.name,
        used_fallback=bool(filled),
        fallback=fallback.name if fallback is not None else "",
        fallback_ids=filled,
    )


def preview(
    spec: WidgetSpec,
    *,
    profile: Any = None,
    segment: str | None = None,
    product: Any = None,
    category: str | None = None,
    catalogue: BaseCatalogue | None = None,
    now: float | None = None,
) -> Recommendations:
    """What ``spec`` would show a visitor with ``profile`` (a ``Profile`` or ``None`` for a
    first-time visitor), as a member of ``segment`` (picks the per-segment rule), on the
    page of ``product`` / ``category``. For the admin's preview: nothing is tracked."""
    catalogue = (catalogue or get_catalogue()).for_request(None)
    product_id, product_category = product_ref(product, catalogue)
    ctx = build_context(
        profile,
        time.time() if now is None else now,
        product=product_id,
        category=category or product_category,
        in_category=spec.in_category,
    )
    strategy_name, title = spec.choose({segment} if segment else set())
    return _serve(spec, get_strategy(strategy_name), title, ctx, catalogue)
