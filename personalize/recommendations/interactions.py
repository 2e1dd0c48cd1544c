"""The interaction log as dense indices and sparse user x item matrices.

Every training algorithm starts from an :class:`Interactions`: events with arbitrary
hashable user, item and group ids, mapped once to dense ``0..n-1`` indices and kept as
parallel numpy arrays. The matrices the algorithms need (user x item weights, group x
item baskets) are built from those arrays on demand.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Collection, Hashable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, Final, NamedTuple, TypeAlias

import numpy as np
import numpy.typing as npt
from scipy import sparse

__all__ = [
    "DEFAULT_KIND_WEIGHTS",
    "KINDS",
    "Event",
    "Interactions",
    "ItemId",
    "Timestamp",
    "UserId",
    "to_seconds",
]

#: Any hashable id: product primary keys, SKUs, visitor UUIDs...
ItemId: TypeAlias = Hashable
UserId: TypeAlias = Hashable
#: An aware ``datetime`` (naive ones are taken as UTC) or unix seconds.
Timestamp: TypeAlias = datetime | float

#: Event kinds, in the order of their codes in :attr:`Interactions.kinds`.
KINDS: Final[tuple[str, ...]] = ("view", "cart", "purchase")
#: How much one event of each kind says about a user's interest in an item.
DEFAULT_KIND_WEIGHTS: Final[Mapping[str, float]] = MappingProxyType(
    {"view": 1.0, "cart": 3.0, "purchase": 5.0}
)

_KIND_CODES: Final = {kind: code for code, kind in enumerate(KINDS)}
# Groups are visits for views and cart adds, orders for purchases: a visit id and an
# order id may be equal without being the same group.
_GROUP_SCOPE: Final = {"view": "visit", "cart": "visit", "purchase": "order"}


class Event(NamedTuple):
    """One interaction, as :meth:`Interactions.from_events` reads it.

    ``weight`` multiplies the kind's weight (a purchase of 3 units: ``weight=3``).
    ``group_id`` is the visit (views, cart adds) or the order (purchases); events
    without one take no part in "viewed/bought together".
    """

    user_id: UserId
    item_id: ItemId
    timestamp: Timestamp
    kind: str = "view"
    weight: float = 1.0
    group_id: Hashable | None = None


def to_seconds(value: Timestamp) -> float:
    """Unix seconds of an aware datetime (naive: UTC) or of a number of seconds."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.timestamp()
    seconds = float(value)
    if not math.isfinite(seconds):
        raise ValueError(f"timestamp must be finite, got {value!r}")
    return seconds


class Interactions:
    """Events mapped to dense indices, with the matrices the algorithms train on.

    Index ``i`` of an item is its position in :attr:`item_ids` (first-seen order, after
    any catalogue items passed to :meth:`from_events`); likewise for users. The arrays
    :attr:`users`, :attr:`items`, :attr:`timestamps`, :attr:`kinds`, :attr:`weights` and
    :attr:`groups` hold one entry per event, in input order.
    """

    def __init__(
        self,
        *,
        user_ids: Sequence[UserId],
        item_ids: Sequence[ItemId],
        users: npt.NDArray[np.int32],
        items: npt.NDArray[np.int32],
        timestamps: npt.NDArray[np.float64],
        kinds: npt.NDArray[np.int8],
        weights: npt.NDArray[np.float64],
        groups: npt.NDArray[np.int64],
        n_groups: int,
        kind_weights: Mapping[str, float] = DEFAULT_KIND_WEIGHTS,
    ) -> None:
        self.user_ids: tuple[UserId, ...] = tuple(user_ids)
        self.item_ids: tuple[ItemId, ...] = tuple(item_ids)
        self.user_index: dict[UserId, int] = {u: i for i, u in enumerate(self.user_ids)}
        self.item_index: dict[ItemId, int] = {t: i for i, t in enumerate(self.item_ids)}
        self.users = users
        self.items = items
        self.timestamps = timestamps
        self.kinds = kinds
        self.weights = weights
        self.groups = groups
        self.n_groups = n_groups
        self.kind_weights: Mapping[str, float] = MappingProxyType(
            _checked_kind_weights(kind_weights)
        )

    @classmethod
    def from_events(
        cls,
        events: Iterable[tuple[UserId, ItemId, Timestamp, str, float, Hashable | None]],
        *,
        kind_weights: Mapping[str, float] = DEFAULT_KIND_WEIGHTS,
        items: Iterable[ItemId] = (),
    ) -> Interactions:
        """Index ``(user_id, item_id, timestamp, kind, weight, group_id)`` tuples.

        ``items`` registers catalogue items up front, so that items nobody interacted
        with still get an index (they get no neighbours, but new arrivals and filters
        can name them). Raises ``ValueError`` naming the event for an unknown kind, a
        negative or non-finite weight, or a bad timestamp.
        """
        user_index: dict[UserId, int] = {}
        item_index: dict[ItemId, int] = {}
        for item in items:
            item_index.setdefault(item, len(item_index))
        group_index: dict[tuple[Any, ...], int] = {}
        # Typed arrays, not lists: 4-8 bytes a value instead of a pointer plus an object.
        users = array("i")
        item_codes = array("i")
        timestamps = array("d")
        kinds = array("b")
        weights = array("d")
        groups = array("q")
        for position, (user, item, timestamp, kind, weight, group) in enumerate(events):
            code = _KIND_CODES.get(kind)
            if code is None:
                raise ValueError(
                    f"event {position}: kind must be one of {', '.join(KINDS)}, got {kind!r}"
                )
            weight = float(weight)
            if not weight >= 0 or math.isinf(weight):
                raise ValueError(
                    f"event {position}: weight must be a finite number >= 0, got {weight!r}"
                )
            try:
                seconds = to_seconds(timestamp)
            except (TypeError, ValueError) as error:
                raise ValueError(f"event {position}: bad timestamp {timestamp!r}") from error
            user_code = user_index.setdefault(user, len(user_index))
            users.append(user_code)
            item_codes.append(item_index.setdefault(item, len(item_index)))
            timestamps.append(seconds)
            kinds.append(code)
            weights.append(weight)
            if group is None:
                groups.append(-1)
            else:
                # Keyed by user too: per-visitor visit counters ("visit 1") stay apart.
                key = (user_code, _GROUP_SCOPE[kind], group)
                groups.append(group_index.setdefault(key, len(group_index)))
        return cls(
            user_ids=list(user_index),
            item_ids=list(item_index),
            users=np.frombuffer(users, dtype=np.int32),
            items=np.frombuffer(item_codes, dtype=np.int32),
            timestamps=np.frombuffer(timestamps, dtype=np.float64),
            kinds=np.frombuffer(kinds, dtype=np.int8),
            weights=np.frombuffer(weights, dtype=np.float64),
            groups=np.frombuffer(groups, dtype=np.int64),
            n_groups=len(group_index),
            kind_weights=kind_weights,
        )

    def __len__(self) -> int:
        return len(self.items)

    def __repr__(self) -> str:
        return (
            f"<Interactions: {len(self)} events, {self.n_users} users, "
            f"{self.n_items} items, {self.n_groups} groups>"
        )

    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    def kind_mask(self, kinds: Collection[str] | None = None) -> npt.NDArray[np.bool_]:
        """Boolean mask of the events of ``kinds`` (all events for ``None``)."""
        if kinds is None:
            return np.ones(len(self), dtype=np.bool_)
        unknown = set(kinds) - set(KINDS)
        if unknown:
            raise ValueError(f"unknown kinds {sorted(unknown)}; known: {', '.join(KINDS)}")
        return np.isin(self.kinds, [_KIND_CODES[kind] for kind in kinds])

    def event_values(self) -> npt.NDArray[np.float64]:
        """Per event: its kind's weight times its own weight."""
        per_kind = np.array([self.kind_weights.get(kind, 0.0) for kind in KINDS])
        values: npt.NDArray[np.float64] = per_kind[self.kinds] * self.weights
        return values

    def matrix(self, kinds: Collection[str] | None = None) -> Any:
        """The users x items ``scipy.sparse.csr_array`` of summed event values.

        Repeated events add up (three views weigh 3); ``kinds`` restricts the events.
        """
        mask = self.kind_mask(kinds)
        return _csr(
            self.users[mask],
            self.items[mask],
            self.event_values()[mask],
            (self.n_users, self.n_items),
        )

    def group_users(self) -> npt.NDArray[np.int64]:
        """Per group (visit or order): the index of the user it belongs to."""
        owners = np.full(self.n_groups, -1, dtype=np.int64)
        mask = self.groups >= 0
        owners[self.groups[mask]] = self.users[mask]
        return owners

    def baskets(self, kinds: Collection[str]) -> Any:
        """The groups x items binary ``csr_array``: 1 where the group holds the item.

        An item viewed five times in one visit counts once, so that co-occurrence counts
        the visits (orders) two items share.
        """
        mask = self.kind_mask(kinds) & (self.groups >= 0)
        matrix = _csr(
            self.groups[mask],
            self.items[mask],
            np.ones(int(mask.sum()), dtype=np.float32),
            (self.n_groups, self.n_items),
        )
        matrix.data[:] = 1.0
        return matrix


def _csr(
    rows: npt.NDArray[np.integer[Any]],
    columns: npt.NDArray[np.integer[Any]],
    values: npt.NDArray[np.floating[Any]],
    shape: tuple[int, int],
) -> Any:
    # COO -> CSR sums duplicate (row, column) entries, which is the dedup we want.
    matrix = sparse.coo_array((values, (rows, columns)), shape=shape).tocsr()
    matrix.sum_duplicates()
    return matrix


def _checked_kind_weights(kind_weights: Mapping[str, float]) -> dict[str, float]:
    unknown = set(kind_weights) - set(KINDS)
    if unknown:
        raise ValueError(f"kind_weights has unknown kinds {sorted(unknown)}")
    checked = {}
    for kind, weight in kind_weights.items():
        if not float(weight) >= 0 or math.isinf(weight):
            raise ValueError(f"kind_weights[{kind!r}] must be a finite number >= 0")
        checked[kind] = float(weight)
    return checked
