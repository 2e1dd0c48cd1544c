"""Synthetic shop logs with known structure, for evaluation and benchmarks.

Real logs cannot ship with the code, and uniform random data has nothing for an
algorithm to find. This generator plants the structure real catalogues have:

* items belong to latent *clusters* of ~40 (e.g. "cat toys", "dog food"); clusters
  roll up into categories, four clusters to a category;
* popularity is long-tailed (Zipf-like): a few items get most of the traffic;
* each user prefers one to three clusters, chosen by cluster popularity;
* a visit (session) mostly stays in one of the user's clusters and walks it: each next
  item is a close neighbour of the current one (a fixed ring order inside the cluster
  stands for "similar products"), a popular item of the same cluster, or now and then
  a globally popular item (noise);
* some views lead to cart adds, and some carts to an order.

The same seed gives the same log on every platform (Python's ``random.Random``).
"""

from __future__ import annotations

import bisect
import csv
import itertools
import random
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import numpy.typing as npt

from personalize.recommendations.interactions import KINDS, Event

__all__ = ["CLUSTER_SIZE", "SyntheticLog", "generate"]

CLUSTER_SIZE = 40
CLUSTERS_PER_CATEGORY = 4
START = datetime(2025, 1, 1, tzinfo=UTC)

_VIEW, _CART, _PURCHASE = (KINDS.index(kind) for kind in ("view", "cart", "purchase"))


@dataclass(frozen=True)
class SyntheticLog:
    """A generated log as parallel arrays, one entry per event, grouped by user in time order.

    ``groups`` is the visit number for views and cart adds and the order number for
    purchases. ``categories`` and ``clusters`` map item ids to their category name and
    latent cluster.
    """

    users: npt.NDArray[np.int32]
    items: npt.NDArray[np.int32]
    timestamps: npt.NDArray[np.float64]
    kinds: npt.NDArray[np.int8]
    groups: npt.NDArray[np.int64]
    categories: dict[int, str]
    clusters: dict[int, int]

    def __len__(self) -> int:
        return len(self.items)

    def events(self) -> Iterator[Event]:
        """The log as :class:`~personalize.recommendations.interactions.Event` tuples.

        User ids are strings (``"u17"``) and item ids integers, so that both kinds of
        id are exercised.
        """
        # In chunks, so that a million events never exist as Python objects at once.
        for start in range(0, len(self), 10_000):
            chunk = slice(start, start + 10_000)
            for user, item, timestamp, kind, group in zip(
                self.users[chunk].tolist(),
                self.items[chunk].tolist(),
                self.timestamps[chunk].tolist(),
                self.kinds[chunk].tolist(),
                self.groups[chunk].tolist(),
                strict=True,
            ):
                yield Event(f"u{user}", item, timestamp, KINDS[kind], 1.0, group)

    def write_csv(self, path: str | Path, *, kinds: Collection[str] = ("view",)) -> int:
        """Write ``user_id,item_id,timestamp,category`` rows of ``kinds``; return the count.

        Timestamps are unix seconds. Only views by default: the evaluation reads a
        browsing log, and a purchase row repeating a viewed item is not a new interest.
        """
        codes = [KINDS.index(kind) for kind in kinds]
        mask = np.isin(self.kinds, codes)
        with Path(path).open("w", newline="", encoding="utf-8") as file:
            writer = csv.writer(file)
            writer.writerow(["user_id", "item_id", "timestamp", "category"])
            for user, item, timestamp in zip(
                self.users[mask].tolist(),
                self.items[mask].tolist(),
                self.timestamps[mask].tolist(),
                strict=True,
            ):
                writer.writerow([f"u{user}", item, int(timestamp), self.categories[item]])
        return int(mask.sum())


def generate(
    users: int,
    items: int,
    *,
    seed: int = 1,
    max_events: int | None = None,
    sessions_mean: float = 2.5,
    session_length_mean: float = 4.0,
    cart_rate: float = 0.08,
    order_rate: float = 0.5,
    days: float = 90.0,
) -> SyntheticLog:
    """Generate a log for ``users`` users over ``items`` items (ids ``1..items``).

    About ``users * sessions_mean * session_length_mean`` views, plus cart adds and
    purchases; ``max_events`` stops early once that many events exist.
    """
    if users < 1 or items < 2:
        raise ValueError("need at least 1 user and 2 items")
    rng = random.Random(seed)
    n_clusters = max(1, items // CLUSTER_SIZE)
    n_categories = max(1, n_clusters // CLUSTERS_PER_CATEGORY)

    # Long tail: the item of popularity rank r gets weight 1 / (r + 5).
    ranks = list(range(items))
    rng.shuffle(ranks)
    popularity = [1.0 / (rank + 5) for rank in ranks]
    members = [list(range(c, items, n_clusters)) for c in range(n_clusters)]
    member_weights = [
        list(itertools.accumulate(popularity[i] for i in cluster)) for cluster in members
    ]
    cluster_weights = list(itertools.accumulate(weights[-1] for weights in member_weights))
    item_weights = list(itertools.accumulate(popularity))

    def pick(cumulative: list[float]) -> int:
        return bisect.bisect_left(cumulative, rng.random() * cumulative[-1])

    out_users: list[int] = []
    out_items: list[int] = []
    out_times: list[float] = []
    out_kinds: list[int] = []
    out_groups: list[int] = []
    start = START.timestamp()
    visit = order = 0

    def emit(user: int, item: int, at: float, kind: int, group: int) -> None:
        out_users.append(user)
        out_items.append(item + 1)  # ids start at 1, like database primary keys
        out_times.append(at)
        out_kinds.append(kind)
        out_groups.append(group)

    for user in range(1, users + 1):
        if max_events is not None and len(out_items) >= max_events:
            break
        preferred = [pick(cluster_weights) for _ in range(1 + (rng.random() < 0.6))]
        if rng.random() < 0.25:
            preferred.append(pick(cluster_weights))
        sessions = 1 + int(rng.expovariate(1.0 / max(sessions_mean - 1.0, 1e-9)))
        now = start + rng.random() * days * 86_400.0
        for _ in range(sessions):
            visit += 1
            cluster = rng.choice(preferred) if rng.random() < 0.85 else pick(cluster_weights)
            ring, weights = members[cluster], member_weights[cluster]
            position = pick(weights)
            length = 1 + int(rng.expovariate(1.0 / max(session_length_mean - 1.0, 1e-9)))
            cart: list[int] = []
            for step in range(length):
                item = ring[position]
                if step:
                    roll = rng.random()
                    if roll < 0.55:
                        position = (position + rng.choice((-2, -1, 1, 2))) % len(ring)
                        item = ring[position]
                    elif roll < 0.9:
                        position = pick(weights)
                        item = ring[position]
                    else:
                        item = pick(item_weights)
                emit(user, item, now, _VIEW, visit)
                if rng.random() < cart_rate:
                    emit(user, item, now + 5.0, _CART, visit)
                    cart.append(item)
                # Seconds to the next page: well inside the 30-minute visit timeout.
                now += 15.0 + min(rng.expovariate(1.0 / 60.0), 1_200.0)
            if cart and rng.random() < order_rate:
                order += 1
                for item in dict.fromkeys(cart):
                    emit(user, item, now, _PURCHASE, order)
            # Hours to days between visits, never under the visit timeout.
            now += 3_600.0 + rng.expovariate(1.0 / (3 * 86_400.0))

    if max_events is not None:
        del out_users[max_events:], out_items[max_events:], out_times[max_events:]
        del out_kinds[max_events:], out_groups[max_events:]
    item_cluster = {i + 1: i % n_clusters for i in range(items)}
    return SyntheticLog(
        users=np.asarray(out_users, dtype=np.int32),
        items=np.asarray(out_items, dtype=np.int32),
        timestamps=np.asarray(out_times, dtype=np.float64),
        kinds=np.asarray(out_kinds, dtype=np.int8),
        groups=np.asarray(out_groups, dtype=np.int64),
        categories={
            item: f"cat{min(cluster // CLUSTERS_PER_CATEGORY, n_categories - 1):03d}"
            for item, cluster in item_cluster.items()
        },
        clusters=item_cluster,
    )
