"""The visitor profile and the atomic operations that change it.

A profile is changed only through :class:`ProfileOp` values. Each op maps to one
atomic Redis command (``HINCRBY``, ``ZADD``...), and :meth:`Profile.apply` is
the same change done in Python, used by the database store (under a row lock)
and to update the in-memory profile of the current request at once. Keeping
the vocabulary this small is what lets concurrent requests for one visitor add
up instead of overwriting each other.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, fields
from typing import Any, Literal

# Epoch of the time-decayed affinity scores (2024-01-01T00:00:00Z). Scores are
# stored multiplied by 2**((t - epoch) / half_life), so adding interest is a
# plain atomic ZINCRBY and decay is applied once, when the score is read.
AFFINITY_EPOCH = 1_704_067_200.0

# Scalar fields of the profile, by their short storage name. The short names
# are the Redis hash fields; the database store keeps the same document.
SCALAR_FIELDS: dict[str, str] = {
    "first_seen": "fs",
    "last_seen": "ls",
    "visit_count": "vc",
    "visit_started_at": "vs",
    "pageviews_total": "pvt",
    "pageviews_visit": "pvv",
    "landing_path": "lp",
    "first_referrer": "fr",
    "first_utm": "fu",
    "visit_landing_path": "vlp",
    "visit_referrer": "vr",
    "utm": "u",
    "device": "dev",
    "country": "cc",
    "user_id": "uid",
    "email": "em",
    "consent": "cs",
    "cart_changed_at": "cct",
    "cart_visit": "cv",
    "orders_count": "oc",
    "total_spent": "ts",
    "first_order_at": "fo",
    "last_order_at": "lo",
    "merged_into": "mi",
}
SHORT_TO_FIELD = {short: name for name, short in SCALAR_FIELDS.items()}

INT_FIELDS = frozenset(
    {"visit_count", "pageviews_total", "pageviews_visit", "cart_visit", "orders_count"}
)
FLOAT_FIELDS = frozenset(
    {"first_seen", "last_seen", "visit_started_at", "cart_changed_at", "total_spent"}
)
OPTIONAL_FLOAT_FIELDS = frozenset({"first_order_at", "last_order_at"})
JSON_FIELDS = frozenset({"first_utm", "utm"})

# Bounded "member -> timestamp" collections (Redis sorted sets).
Collection = Literal[
    "viewed_products",
    "viewed_categories",
    "searches",
    "purchased_products",
    "purchased_categories",
]
COLLECTIONS: dict[str, str] = {
    "viewed_products": "vp",
    "viewed_categories": "vcat",
    "searches": "s",
    "purchased_products": "pp",
    "purchased_categories": "pc",
}


@dataclass
class CartLine:
    quantity: int
    price: float
    category: str = ""

    @property
    def value(self) -> float:
        return self.quantity * self.price


@dataclass(frozen=True)
class ProfileOp:
    """One atomic change to a profile.

    ``kind`` is one of ``incr``, ``incrfloat``, ``set``, ``setnx``, ``zadd``,
    ``zincr``, ``cart_add``, ``cart_del``, ``cart_clear``, ``ext``.
    """

    kind: str
    name: str = ""
    value: Any = None
    member: str = ""
    limit: int = 0
    extra: tuple[Any, ...] = ()


@dataclass
class Profile:
    """Everything the app knows about one visitor."""

    visitor_id: str
    first_seen: float = 0.0
    last_seen: float = 0.0
    visit_count: int = 0
    visit_started_at: float = 0.0
    pageviews_total: int = 0
    pageviews_visit: int = 0
    landing_path: str = ""
    first_referrer: str = ""
    first_utm: dict[str, str] = field(default_factory=dict)
    visit_landing_path: str = ""
    visit_referrer: str = ""
    utm: dict[str, str] = field(default_factory=dict)
    device: str = ""
    country: str = ""
    user_id: str = ""
    email: str = ""
    consent: str = ""
    cart_changed_at: float = 0.0
    cart_visit: int = 0
    orders_count: int = 0
    total_spent: float = 0.0
    first_order_at: float | None = None
    last_order_at: float | None = None
    merged_into: str = ""
    viewed_products: dict[str, float] = field(default_factory=dict)
    viewed_categories: dict[str, float] = field(default_factory=dict)
    searches: dict[str, float] = field(default_factory=dict)
    purchased_products: dict[str, float] = field(default_factory=dict)
    purchased_categories: dict[str, float] = field(default_factory=dict)
    affinity_raw: dict[str, float] = field(default_factory=dict)
    cart: dict[str, CartLine] = field(default_factory=dict)
    # Extension documents written by other parts of the app (RFM scores,
    # sticky experiment assignments...), each a JSON-serialisable value.
    ext: dict[str, Any] = field(default_factory=dict)

    # Reading --------------------------------------------------------------

    @property
    def exists(self) -> bool:
        """Whether the visitor has been seen before this request."""
        return self.first_seen > 0

    def recent(self, collection: Collection) -> list[str]:
        """Members of a collection, most recent first."""
        items: dict[str, float] = getattr(self, collection)
        return [member for member, _ in sorted(items.items(), key=lambda kv: (-kv[1], kv[0]))]

    def affinity(self, now: float | None = None, half_life_days: float = 30.0) -> dict[str, float]:
        """Time-decayed category affinity scores, highest first."""
        now = time.time() if now is None else now
        scale = 2.0 ** (-(now - AFFINITY_EPOCH) / (half_life_days * 86400.0))
        scores = {cat: round(raw * scale, 4) for cat, raw in self.affinity_raw.items()}
        return dict(sorted(scores.items(), key=lambda kv: (-kv[1], kv[0])))

    @property
    def cart_quantity(self) -> int:
        return sum(line.quantity for line in self.cart.values())

    @property
    def cart_value(self) -> float:
        return round(float(sum(line.value for line in self.cart.values())), 2)

    # Changing -------------------------------------------------------------

    def apply(self, ops: list[ProfileOp]) -> None:
        """Apply ops in order, exactly as the Redis store does atomically."""
        for op in ops:
            self._apply_one(op)

    def _apply_one(self, op: ProfileOp) -> None:
        kind = op.kind
        if kind == "incr":
            setattr(self, op.name, int(getattr(self, op.name)) + int(op.value))
        elif kind == "incrfloat":
            setattr(self, op.name, float(getattr(self, op.name)) + float(op.value))
        elif kind == "set":
            setattr(self, op.name, op.value)
        elif kind == "setnx":
            if not getattr(self, op.name):
                setattr(self, op.name, op.value)
        elif kind == "zadd":
            items: dict[str, float] = getattr(self, op.name)
            items[op.member] = float(op.value)
            if op.limit and len(items) > op.limit:
                keep = sorted(items.items(), key=lambda kv: (-kv[1], kv[0]))[: op.limit]
                items.clear()
                items.update(keep)
        elif kind == "zincr":
            self.affinity_raw[op.member] = self.affinity_raw.get(op.member, 0.0) + float(op.value)
            if op.limit and len(self.affinity_raw) > op.limit:
                keep = sorted(self.affinity_raw.items(), key=lambda kv: (-kv[1], kv[0]))
                self.affinity_raw = dict(keep[: op.limit])
        elif kind == "cart_add":
            price, category = op.extra
            line = self.cart.get(op.member)
            quantity = (line.quantity if line else 0) + int(op.value)
            self.cart[op.member] = CartLine(quantity, float(price), str(category))
        elif kind == "cart_del":
            self.cart.pop(op.member, None)
        elif kind == "cart_clear":
            self.cart.clear()
        elif kind == "ext":
            self.ext[op.name] = op.value
        else:
            raise ValueError(f"Unknown profile op {kind!r}.")

    # Serialisation ----------------------------------------------------------

    def to_document(self) -> dict[str, Any]:
        """A JSON-serialisable document (database store, export)."""
        doc: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "cart":
                value = {
                    pid: [line.quantity, line.price, line.category] for pid, line in value.items()
                }
            doc[f.name] = value
        return doc

    @classmethod
    def from_document(cls, doc: dict[str, Any]) -> Profile:
        known = {f.name for f in fields(cls)}
        kwargs = {k: v for k, v in doc.items() if k in known}
        cart = kwargs.pop("cart", {}) or {}
        profile = cls(**kwargs)
        profile.cart = {
            str(pid): CartLine(int(q), float(p), str(c)) for pid, (q, p, c) in cart.items()
        }
        return profile

    def merge_from(self, other: Profile) -> None:
        """Fold another visitor's profile into this one: counters add, lists merge."""
        for name in ("visit_count", "pageviews_total", "orders_count"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.total_spent = round(self.total_spent + other.total_spent, 2)
        if other.first_seen and (not self.first_seen or other.first_seen < self.first_seen):
            self.first_seen = other.first_seen
            self.landing_path = other.landing_path or self.landing_path
            self.first_referrer = other.first_referrer or self.first_referrer
            self.first_utm = other.first_utm or self.first_utm
        if other.last_seen > self.last_seen:
            # The other device is the one in use right now: its visit continues.
            for name in (
                "last_seen",
                "visit_started_at",
                "pageviews_visit",
                "visit_landing_path",
                "visit_referrer",
                "utm",
                "device",
                "country",
            ):
                setattr(self, name, getattr(other, name))
        self.email = self.email or other.email
        self.consent = other.consent or self.consent
        for name in ("first_order_at",):
            values = [v for v in (self.first_order_at, other.first_order_at) if v]
            setattr(self, name, min(values) if values else None)
        values = [v for v in (self.last_order_at, other.last_order_at) if v]
        self.last_order_at = max(values) if values else None
        for collection in COLLECTIONS:
            mine: dict[str, float] = getattr(self, collection)
            for member, at in getattr(other, collection).items():
                mine[member] = max(at, mine.get(member, 0.0))
        for cat, raw in other.affinity_raw.items():
            self.affinity_raw[cat] = self.affinity_raw.get(cat, 0.0) + raw
        if other.cart and other.cart_changed_at >= self.cart_changed_at:
            for pid, line in other.cart.items():
                mine_line = self.cart.get(pid)
                if mine_line is None or mine_line.quantity < line.quantity:
                    self.cart[pid] = line
            self.cart_changed_at = other.cart_changed_at
        self.cart_visit = self.visit_count
        for key, value in other.ext.items():
            self.ext.setdefault(key, value)


def decayed_weight(weight: float, at: float, half_life_days: float) -> float:
    """The raw affinity increment for ``weight`` points earned at time ``at``."""
    exponent = (at - AFFINITY_EPOCH) / (half_life_days * 86400.0)
    return weight * math.pow(2.0, exponent)
