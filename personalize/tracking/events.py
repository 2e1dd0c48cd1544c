"""The event vocabulary: validation of each event's props and the profile ops it causes."""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from personalize.conf import settings
from personalize.profiles.profile import Profile, ProfileOp, decayed_weight

MAX_ID = 64
MAX_TEXT = 200
MAX_ITEMS = 200
_EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}\.[^@\s]{2,}$")
_CURRENCY_RE = re.compile(r"^[A-Z]{3}$")


@dataclass(frozen=True)
class EventRecord:
    """One event as written to the durable log."""

    event_id: str
    visitor_id: str
    name: str
    props: dict[str, Any]
    at: float
    visit: int = 0
    user_id: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.event_id,
            "v": self.visitor_id,
            "n": self.name,
            "p": self.props,
            "t": self.at,
            "vn": self.visit,
            "u": self.user_id,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> EventRecord:
        return cls(
            event_id=str(data["id"]),
            visitor_id=str(data["v"]),
            name=str(data["n"]),
            props=dict(data.get("p") or {}),
            at=float(data["t"]),
            visit=int(data.get("vn") or 0),
            user_id=str(data.get("u") or ""),
        )


def new_event_id() -> str:
    return uuid.uuid4().hex


#: Logged by the server when a browser's anonymous profile is merged into a user's
#: (``props["from"]``: the merged visitor id). Not in :data:`EVENTS`, so no client can
#: report one: privacy requests trust it to find every device a user ever had.
MERGE_EVENT = "visitor_merged"


# Prop validators -------------------------------------------------------------


class PropError(ValueError):
    """An invalid prop; ``field`` is its path below ``props`` (``"items[2].price"``)."""

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.field = field


class EventError(ValueError):
    """An invalid event: ``field`` is the prop's path (``"items[2].price"``), or ``""``
    when the event name itself is unknown."""

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.field = field


def _identifier(name: str, value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise PropError(f"'{name}' must be a string or an integer id, got {type(value).__name__}.")
    text = str(value).strip()
    if not text or len(text) > MAX_ID:
        raise PropError(f"'{name}' must be 1 to {MAX_ID} characters long.")
    return text


def _text(name: str, value: Any, *, max_length: int = MAX_TEXT) -> str:
    if not isinstance(value, str):
        raise PropError(f"'{name}' must be a string, got {type(value).__name__}.")
    return value.strip()[:max_length]


def _number(name: str, value: Any, *, minimum: float = 0.0) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        raise PropError(f"'{name}' must be a number, got {type(value).__name__}.")
    number = float(value)
    if not math.isfinite(number) or number < minimum:
        raise PropError(f"'{name}' must be a finite number of at least {minimum:g}.")
    return round(number, 2)


def _quantity(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 10_000:
        raise PropError(f"'{name}' must be a whole number from 1 to 10000.")
    return int(value)


def _flag(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise PropError(f"'{name}' must be true or false, got {type(value).__name__}.")
    return value


@dataclass(frozen=True)
class Prop:
    clean: Callable[[str, Any], Any]
    required: bool = False


@dataclass(frozen=True)
class EventSpec:
    props: dict[str, Prop] = field(default_factory=dict)


def _items(name: str, value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, (list, tuple)) or len(value) > MAX_ITEMS:
        raise PropError(f"'{name}' must be a list of at most {MAX_ITEMS} items.")
    items = []
    for index, raw in enumerate(value):
        if not isinstance(raw, Mapping):
            raise PropError(
                f"'{name}[{index}]' must be a dict with product_id, price, quantity.",
                field=f"[{index}]",
            )
        try:
            items.append(_clean_props(ITEM_SPEC, raw))
        except PropError as exc:
            raise PropError(f"'{name}[{index}]': {exc}", field=f"[{index}].{exc.field}") from None
    return items


def clean_email(name: str, value: Any) -> str:
    text = _text(name, value, max_length=320).lower()
    if not _EMAIL_RE.match(text):
        raise PropError(f"'{name}' must be a valid email address.")
    return text


def _currency(name: str, value: Any) -> str:
    text = _text(name, value).upper()
    if not _CURRENCY_RE.match(text):
        raise PropError(f"'{name}' must be a three-letter ISO 4217 code such as 'EUR'.")
    return text


ITEM_SPEC = EventSpec(
    {
        "product_id": Prop(_identifier, required=True),
        "category": Prop(_identifier),
        "price": Prop(_number, required=True),
        "quantity": Prop(_quantity, required=True),
    }
)

EVENTS: dict[str, EventSpec] = {
    "page_view": EventSpec({"path": Prop(_text), "title": Prop(_text)}),
    "product_view": EventSpec(
        {
            "product_id": Prop(_identifier, required=True),
            "category": Prop(_identifier),
            "price": Prop(_number),
        }
    ),
    "category_view": EventSpec({"category": Prop(_identifier, required=True)}),
    "search": EventSpec({"query": Prop(_text, required=True), "results": Prop(_number)}),
    "add_to_cart": EventSpec(
        {
            "product_id": Prop(_identifier, required=True),
            "quantity": Prop(_quantity),
            "price": Prop(_number, required=True),
            "category": Prop(_identifier),
        }
    ),
    "remove_from_cart": EventSpec(
        {
            "product_id": Prop(_identifier, required=True),
            "quantity": Prop(_quantity),
        }
    ),
    "checkout_started": EventSpec({"value": Prop(_number)}),
    "purchase": EventSpec(
        {
            "order_id": Prop(_identifier, required=True),
            "value": Prop(_number, required=True),
            "currency": Prop(_currency),
            "items": Prop(_items, required=True),
        }
    ),
    "identify": EventSpec({"email": Prop(clean_email, required=True)}),
}

CAMPAIGN_EVENTS = ("exposure", "impression", "click", "close", "convert")
for _name in CAMPAIGN_EVENTS:
    EVENTS[f"campaign_{_name}"] = EventSpec(
        {
            "campaign": Prop(_identifier, required=True),
            "variant": Prop(_identifier, required=True),
            "kind": Prop(_identifier),
            "path": Prop(_text),
        }
    )


def _position(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 100:
        raise PropError(f"'{name}' must be a whole number from 1 to 100.")
    return int(value)


# Recommendation widgets: ``rec_view`` when a widget is seen (its slot, the strategy that
# filled it and how many items it showed), ``rec_click`` when one of its items is clicked.
# A visitor in the widget's holdout reports ``rec_view`` with ``holdout: true`` (no strategy,
# no count): the widget would have been seen there.
EVENTS["rec_view"] = EventSpec(
    {
        "widget": Prop(_identifier, required=True),
        "strategy": Prop(_identifier),
        "count": Prop(_position),
        "holdout": Prop(_flag),
        "path": Prop(_text),
    }
)
EVENTS["rec_click"] = EventSpec(
    {
        "widget": Prop(_identifier, required=True),
        "strategy": Prop(_identifier),
        "product_id": Prop(_identifier, required=True),
        "position": Prop(_position, required=True),
        "path": Prop(_text),
    }
)


def _clean_props(spec: EventSpec, props: Mapping[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(props) - set(spec.props))
    if unknown:
        raise PropError(
            f"unknown prop(s) {', '.join(map(repr, unknown))}; "
            f"allowed: {', '.join(sorted(spec.props)) or 'none'}.",
            field=str(unknown[0]),
        )
    cleaned: dict[str, Any] = {}
    for name, prop in spec.props.items():
        if name not in props or props[name] is None:
            if prop.required:
                raise PropError(f"'{name}' is required.", field=name)
            continue
        try:
            cleaned[name] = prop.clean(name, props[name])
        except PropError as exc:
            raise PropError(str(exc), field=name + exc.field) from None
    return cleaned


def validate_event(name: str, props: Mapping[str, Any]) -> dict[str, Any]:
    """Check an event name and its props; return the cleaned props or raise ``ValueError``
    (an :class:`EventError` naming the invalid prop)."""
    spec = EVENTS.get(name)
    if spec is None:
        raise EventError(f"Unknown event {name!r}; known events: {', '.join(sorted(EVENTS))}.")
    try:
        return _clean_props(spec, props)
    except PropError as exc:
        raise EventError(f"Invalid props for event {name!r}: {exc}", field=exc.field) from None


# Profile ops -----------------------------------------------------------------


def _affinity(category: str, event: str, now: float) -> list[ProfileOp]:
    weight = settings.AFFINITY_WEIGHTS.get(event, 0.0)
    if not category or weight <= 0:
        return []
    raw = decayed_weight(weight, now, settings.AFFINITY_HALF_LIFE_DAYS)
    return [ProfileOp("zincr", member=category, value=raw, limit=settings.MAX_AFFINITY_CATEGORIES)]


def event_ops(profile: Profile, name: str, props: Mapping[str, Any], now: float) -> list[ProfileOp]:
    """The profile changes caused by one validated event."""
    ops: list[ProfileOp] = []
    if name == "page_view":
        ops += [ProfileOp("incr", "pageviews_total", 1), ProfileOp("incr", "pageviews_visit", 1)]
    elif name == "product_view":
        ops.append(
            ProfileOp(
                "zadd",
                "viewed_products",
                now,
                member=props["product_id"],
                limit=settings.MAX_VIEWED_PRODUCTS,
            )
        )
        if props.get("category"):
            ops.append(
                ProfileOp(
                    "zadd",
                    "viewed_categories",
                    now,
                    member=props["category"],
                    limit=settings.MAX_VIEWED_CATEGORIES,
                )
            )
            ops += _affinity(props["category"], name, now)
    elif name == "category_view":
        ops.append(
            ProfileOp(
                "zadd",
                "viewed_categories",
                now,
                member=props["category"],
                limit=settings.MAX_VIEWED_CATEGORIES,
            )
        )
        ops += _affinity(props["category"], name, now)
    elif name == "search":
        query = " ".join(props["query"].lower().split())[:100]
        if query:
            ops.append(
                ProfileOp("zadd", "searches", now, member=query, limit=settings.MAX_SEARCHES)
            )
    elif name == "add_to_cart":
        ops.append(
            ProfileOp(
                "cart_add",
                member=props["product_id"],
                value=props.get("quantity", 1),
                extra=(props["price"], props.get("category", "")),
            )
        )
        ops += _cart_changed(profile, now)
        ops += _affinity(props.get("category", ""), name, now)
    elif name == "remove_from_cart":
        line = profile.cart.get(props["product_id"])
        quantity = props.get("quantity")
        if line is not None:
            if quantity is None or line.quantity <= quantity:
                ops.append(ProfileOp("cart_del", member=props["product_id"]))
            else:
                ops.append(
                    ProfileOp(
                        "cart_add",
                        member=props["product_id"],
                        value=-quantity,
                        extra=(line.price, line.category),
                    )
                )
            ops += _cart_changed(profile, now)
    elif name == "purchase":
        ops += [
            ProfileOp("incr", "orders_count", 1),
            ProfileOp("incrfloat", "total_spent", props["value"]),
            ProfileOp("setnx", "first_order_at", now),
            ProfileOp("set", "last_order_at", now),
            ProfileOp("cart_clear"),
        ]
        ops += _cart_changed(profile, now)
        for item in props["items"]:
            ops.append(
                ProfileOp(
                    "zadd",
                    "purchased_products",
                    now,
                    member=item["product_id"],
                    limit=settings.MAX_PURCHASED_PRODUCTS,
                )
            )
            if item.get("category"):
                ops.append(
                    ProfileOp(
                        "zadd",
                        "purchased_categories",
                        now,
                        member=item["category"],
                        limit=settings.MAX_PURCHASED_PRODUCTS,
                    )
                )
                ops += _affinity(item["category"], name, now)
    elif name == "identify":
        ops.append(ProfileOp("set", "email", props["email"]))
    elif name.startswith("campaign_"):
        ops.append(_campaign_state_op(profile, name.removeprefix("campaign_"), props, now))
    return ops


def _campaign_state_op(
    profile: Profile, kind: str, props: Mapping[str, Any], now: float
) -> ProfileOp:
    """The per-campaign state frequency caps read: shows, last show, closed, converted."""
    key = f"c:{props['campaign']}"
    state = dict(profile.ext.get(key) or {})
    state["v"] = props["variant"]
    if kind in ("impression", "exposure"):
        state["n"] = int(state.get("n", 0)) + 1
        state["last"] = now
        state["lv"] = profile.visit_count
        state.setdefault("first", now)
    elif kind == "close":
        state["closed"] = True
    elif kind == "convert":
        state["converted"] = True
    return ProfileOp("ext", key, state)


def _cart_changed(profile: Profile, now: float) -> list[ProfileOp]:
    return [
        ProfileOp("set", "cart_changed_at", now),
        ProfileOp("set", "cart_visit", profile.visit_count),
    ]
