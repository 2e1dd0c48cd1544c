"""The Django side of training: event log -> algorithms -> stored lookup tables.

:func:`train` reads product views, cart adds and purchases from the durable event
log, runs the plain numpy/scipy algorithms of this package on them, and stores their
results with :func:`~personalize.recommendations.storage.model_store` (Redis or the
database, swapped in atomically). ``manage.py personalize_train`` is a thin wrapper.

Shoppers are grouped by user id when they were signed in (so one customer's devices
count as one), otherwise by visitor id; visits group views for "viewed together",
orders group purchases for "bought together".
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from personalize.conf import settings
from personalize.recommendations.catalogue import BaseCatalogue, get_catalogue
from personalize.recommendations.cooccurrence import bought_together, viewed_together
from personalize.recommendations.interactions import Event, Interactions
from personalize.recommendations.neighbours import NeighbourTable
from personalize.recommendations.popularity import Ranking, bestsellers, new_arrivals, trending
from personalize.recommendations.similarity import similar_items
from personalize.recommendations.storage import ModelStore, model_store, pack_row

TRAINING_EVENTS = ("product_view", "add_to_cart", "purchase")
#: Rows kept per ranking (overall and per category).
RANKING_LENGTH = 100

Step = Callable[[str, int | None], Callable[[int], None]]


def _no_progress(label: str, total: int | None) -> Callable[[int], None]:
    return lambda amount: None


@dataclass
class TrainingReport:
    model_id: int
    events: int = 0
    interactions: int = 0
    shoppers: int = 0
    items: int = 0
    catalogue_items: int = 0
    rows: int = 0
    storage: str = ""
    k: int = 50
    pairs: dict[str, int] = field(default_factory=dict)
    covered: dict[str, int] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0
    skipped: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "events": self.events,
            "interactions": self.interactions,
            "shoppers": self.shoppers,
            "items": self.items,
            "catalogue_items": self.catalogue_items,
            "rows": self.rows,
            "pairs": self.pairs,
            "covered": self.covered,
            "timings": {name: round(value, 3) for name, value in self.timings.items()},
            "skipped": self.skipped,
        }


def read_events(
    since: datetime, progress: Callable[[int], None] = lambda n: None
) -> Iterator[tuple[Event, ...]]:
    """Interactions from the event log since ``since``: one per view, cart add, order line.

    Malformed props (an event logged by an older version, say) are skipped, never fatal.
    """
    from personalize.models import Event as LoggedEvent

    rows = (
        LoggedEvent.objects.using(settings.DATABASE_ALIAS)
        .filter(name__in=TRAINING_EVENTS, occurred_at__gte=since)
        .order_by("occurred_at", "id")
        .values_list("visitor_id", "user_id", "name", "props", "visit", "occurred_at")
    )
    done = 0
    for visitor_id, user_id, name, props, visit, at in rows.iterator(chunk_size=5000):
        done += 1
        if done % 5000 == 0:
            progress(5000)
        shopper = f"u:{user_id}" if user_id else f"v:{visitor_id}"
        yield tuple(_interactions(shopper, visitor_id, name, props, visit, at.timestamp()))
    progress(done % 5000)


def _interactions(
    shopper: str, visitor_id: str, name: str, props: Any, visit: int, at: float
) -> Iterator[Event]:
    if not isinstance(props, dict):
        return
    if name == "purchase":
        order = props.get("order_id")
        items = props.get("items")
        if not isinstance(items, list):
            return
        for line in items:
            if isinstance(line, dict) and line.get("product_id") not in (None, ""):
                quantity = line.get("quantity", 1)
                weight = float(quantity) if isinstance(quantity, int) and quantity > 0 else 1.0
                yield Event(shopper, str(line["product_id"]), at, "purchase", weight, f"o:{order}")
        return
    product = props.get("product_id")
    if product in (None, ""):
        return
    kind = "view" if name == "product_view" else "cart"
    yield Event(shopper, str(product), at, kind, 1.0, f"{visitor_id}:{visit}")


def _table_rows(name: str, table: NeighbourTable) -> Iterator[tuple[str, str, str]]:
    for item in table:
        neighbours = table[item]
        yield name, str(item), pack_row(neighbours.items, neighbours.scores)


def _ranking_rows(name: str, ranking: Ranking) -> Iterator[tuple[str, str, str]]:
    if ranking.overall:
        yield name, "", pack_row([i for i, _ in ranking.overall], [s for _, s in ranking.overall])
    for category, ranked in ranking.by_category.items():
        if ranked:
            yield name, str(category), pack_row([i for i, _ in ranked], [s for _, s in ranked])


def train(
    *,
    k: int | None = None,
    as_of: datetime | None = None,
    catalogue: BaseCatalogue | None = None,
    store: ModelStore | None = None,
    progress: Step | None = None,
) -> TrainingReport:
    """Train every table from the event log and swap the result in; return a report.

    ``progress(label, total)`` returns a callable advanced by amounts (see
    ``personalize.management.progress.Progress``).
    """
    from personalize.models import TrainedModel

    step = progress or _no_progress
    k = k or settings.RECS_K
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    now = as_of or timezone.now()
    store = store or model_store()
    started = time.perf_counter()
    model = TrainedModel.objects.using(settings.DATABASE_ALIAS).create(k=k, storage=store.name)
    try:
        return _train(model, k, now, catalogue, store, step, started)
    except BaseException:
        # A failed or interrupted run leaves no trace but its log line: the live model
        # stays as it was, and the history shows only runs that were swapped in.
        TrainedModel.objects.using(settings.DATABASE_ALIAS).filter(
            pk=model.pk, is_active=False
        ).delete()
        raise


def _train(
    model: Any,
    k: int,
    now: datetime,
    catalogue: BaseCatalogue | None,
    store: ModelStore,
    step: Step,
    started: float,
) -> TrainingReport:
    from personalize.models import Event as LoggedEvent
    from personalize.models import TrainedModel

    report = TrainingReport(model_id=model.pk, storage=store.name, k=k)

    def timed(name: str, began: float) -> None:
        report.timings[name] = time.perf_counter() - began

    began = time.perf_counter()
    catalogue = catalogue or get_catalogue()
    categories: dict[str, str] = {}
    created: dict[str, float] = {}
    report.catalogue_items = 0
    for item_id, category, created_at in catalogue.training_facts():
        report.catalogue_items += 1
        if category:
            categories[item_id] = category
        if isinstance(created_at, datetime):
            created[item_id] = created_at.timestamp()
    timed("catalogue", began)

    began = time.perf_counter()
    since = now - timedelta(days=settings.RECS_TRAINING_DAYS)
    total = (
        LoggedEvent.objects.using(settings.DATABASE_ALIAS)
        .filter(name__in=TRAINING_EVENTS, occurred_at__gte=since)
        .count()
    )
    report.events = total
    advance = step("Reading events", total)

    def flat() -> Iterator[Event]:
        for group in read_events(since, advance):
            yield from group

    interactions = Interactions.from_events(flat(), items=list(categories))
    report.interactions = len(interactions)
    report.shoppers = interactions.n_users
    report.items = interactions.n_items
    timed("read", began)

    tables: dict[str, NeighbourTable] = {}
    algorithms: list[tuple[str, Callable[[], NeighbourTable]]] = [
        ("similar", lambda: similar_items(interactions, k=k)),
        ("viewed", lambda: viewed_together(interactions, k=k, kinds=("view", "cart"))),
        ("bought", lambda: bought_together(interactions, k=k, per_shopper=True)),
    ]
    advance = step("Training", len(algorithms) + 3)
    for name, algorithm in algorithms:
        began = time.perf_counter()
        tables[name] = algorithm()
        report.pairs[name] = tables[name].nnz
        report.covered[name] = len(tables[name])
        timed(name, began)
        advance(1)
    began = time.perf_counter()
    rankings = {
        "bestsellers": bestsellers(
            interactions,
            now,
            window=timedelta(days=settings.RECS_BESTSELLER_DAYS),
            categories=categories,
            limit=RANKING_LENGTH,
        ),
        "trending": trending(
            interactions,
            now,
            half_life=timedelta(days=settings.RECS_TRENDING_HALF_LIFE_DAYS),
            categories=categories,
            limit=RANKING_LENGTH,
        ),
        "new": new_arrivals(created, now.timestamp(), categories=categories, limit=RANKING_LENGTH),
    }
    # A shop with no sales in the window still has bestsellers: the all-time ones.
    if not rankings["bestsellers"].overall:
        rankings["bestsellers"] = bestsellers(
            interactions, now, window=None, categories=categories, limit=RANKING_LENGTH
        )
    for name, ranking in rankings.items():
        report.covered[name] = len(ranking.overall)
        advance(1)
    timed("rankings", began)

    def rows() -> Iterator[tuple[str, str, str]]:
        for name, table in tables.items():
            yield from _table_rows(name, table)
        for name, ranking in rankings.items():
            yield from _ranking_rows(name, ranking)

    expected = sum(len(t) for t in tables.values()) + sum(
        1 + len(r.by_category) for r in rankings.values()
    )
    began = time.perf_counter()
    writing = step("Storing", expected)

    def counted() -> Iterator[tuple[str, str, str]]:
        written = 0
        for written, row in enumerate(rows(), 1):
            yield row
            if written % 1000 == 0:
                writing(1000)
        writing(written % 1000)

    report.rows = store.write(model.pk, counted())
    timed("store", began)
    report.seconds = time.perf_counter() - started
    TrainedModel.objects.using(settings.DATABASE_ALIAS).filter(pk=model.pk).update(
        events=report.events,
        visitors=report.shoppers,
        items=report.items,
        seconds=round(report.seconds, 3),
        summary=report.as_dict(),
        is_active=True,
    )
    TrainedModel.objects.using(settings.DATABASE_ALIAS).exclude(pk=model.pk).filter(
        is_active=True
    ).update(is_active=False)
    return report
