"""Training from the event log into each model store; atomic swaps; the management command."""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import redis
from django.core.management import CommandError, call_command

from personalize.conf import settings
from personalize.models import Event, TrainedModel, TrainedRow
from personalize.profiles.base import BaseProfileStore
from personalize.recommendations.storage import (
    DatabaseModelStore,
    ModelStore,
    RedisModelStore,
    model_store,
    pack_row,
    unpack_row,
)
from personalize.recommendations.training import train
from shop_demo.models import Category, Product

pytestmark = pytest.mark.django_db(databases=["default", "postgres"], transaction=False)

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)


@pytest.fixture
def products() -> dict[str, Product]:
    toys = Category.objects.create(name="Toys", slug="toys", hue=1, position=0)
    food = Category.objects.create(name="Food", slug="food", hue=2, position=1)
    made = {}
    for index, (name, category) in enumerate(
        [("ball", toys), ("rope", toys), ("bone", toys), ("kibble", food), ("bowl", food)]
    ):
        made[name] = Product.objects.create(
            category=category,
            name=name.title(),
            slug=name,
            price=Decimal("5.00") + index,
            stock=10,
            created_at=NOW - timedelta(days=30 - index),  # bowl is the newest
        )
    return made


def log(visitor: str, name: str, props: dict[str, Any], at: datetime, visit: int = 1) -> None:
    Event.objects.using(settings.DATABASE_ALIAS).create(
        event_id=uuid.uuid4().hex,
        visitor_id=visitor,
        name=name,
        props=props,
        visit=visit,
        occurred_at=at,
    )


def pid(products: dict[str, Product], name: str) -> str:
    return str(products[name].pk)


def history(products: dict[str, Product]) -> None:
    """Ball and rope are viewed together; kibble and bowl bought together; bone trends."""
    ball, rope, bone, kibble, bowl = (
        pid(products, n) for n in ("ball", "rope", "bone", "kibble", "bowl")
    )
    day = timedelta(days=1)
    for n in range(4):
        visitor = f"v{n}"
        at = NOW - 20 * day + n * day
        log(visitor, "product_view", {"product_id": ball, "category": "toys"}, at)
        log(visitor, "product_view", {"product_id": rope, "category": "toys"}, at)
    for n in range(3):
        visitor = f"b{n}"
        at = NOW - 10 * day + n * day
        items = [
            {"product_id": kibble, "price": 8.0, "quantity": 2},
            {"product_id": bowl, "price": 9.0, "quantity": 1},
        ]
        log(visitor, "purchase", {"order_id": f"o{n}", "value": 25.0, "items": items}, at)
    for n in range(6):
        log(f"t{n}", "product_view", {"product_id": bone}, NOW - timedelta(hours=n))
    # Noise the reader must skip, not crash on.
    log("x", "purchase", {"order_id": "bad", "value": 1.0, "items": "nope"}, NOW - day)
    log("x", "product_view", {"category": "toys"}, NOW - day)
    log("x", "page_view", {"path": "/"}, NOW - day)


def test_row_packing_round_trips_and_tolerates_garbage() -> None:
    packed = pack_row(["1", 2], [0.123456, 3])
    assert unpack_row(packed) == (["1", "2"], [0.1235, 3.0])
    assert unpack_row(None) is None
    assert unpack_row("not json") is None
    assert unpack_row('{"a": 1}') is None


def test_train_builds_every_table_in_each_store(
    store: BaseProfileStore, products: dict[str, Product]
) -> None:
    history(products)
    report = train(as_of=NOW)
    models = model_store()
    assert isinstance(
        models, RedisModelStore if "Redis" in type(store).__name__ else DatabaseModelStore
    )
    ball, rope, bone, kibble, bowl = (
        pid(products, n) for n in ("ball", "rope", "bone", "kibble", "bowl")
    )
    assert report.events == 4 * 2 + 3 + 6 + 2  # the page view is not read
    assert report.interactions == 8 + 6 + 6 + 0  # purchases: one per order line
    assert report.catalogue_items == 5
    rows = models.read(
        [
            ("viewed", ball),
            ("bought", kibble),
            ("similar", ball),
            ("bestsellers", ""),
            ("bestsellers", "food"),
            ("trending", ""),
            ("new", ""),
            ("new", "toys"),
            ("viewed", "no-such-item"),
        ]
    )
    assert rows[("viewed", ball)][0] == [rope]
    assert rows[("viewed", ball)][1] == [1.0]  # cosine of identical visit sets
    assert rows[("bought", kibble)][0] == [bowl]
    assert rows[("similar", ball)][0][0] == rope
    # Units sold in the last 30 days: kibble 2 x 3 orders, bowl 1 x 3.
    assert rows[("bestsellers", "")] == ([kibble, bowl], [6.0, 3.0])
    assert rows[("bestsellers", "food")][0] == [kibble, bowl]
    assert rows[("trending", "")][0][0] == bone  # six views in the last hours
    assert rows[("new", "")][0] == [bowl, kibble, bone, rope, ball]
    assert rows[("new", "toys")][0] == [bone, rope, ball]
    assert ("viewed", "no-such-item") not in rows
    model = TrainedModel.objects.using(settings.DATABASE_ALIAS).get(pk=report.model_id)
    assert model.is_active and model.events == report.events and model.items == 5
    assert model.summary["pairs"]["viewed"] == 2


def test_bestsellers_fall_back_to_all_time_without_recent_sales(
    products: dict[str, Product],
) -> None:
    history(products)
    report = train(as_of=NOW + timedelta(days=100))
    assert report.covered["bestsellers"] == 2
    assert model_store().read([("bestsellers", "")])[("bestsellers", "")][0][0] == pid(
        products, "kibble"
    )


def test_signed_in_shoppers_are_one_across_devices(products: dict[str, Product]) -> None:
    ball, bone = pid(products, "ball"), pid(products, "bone")
    Event.objects.create(
        event_id="1",
        visitor_id="phone",
        user_id="7",
        name="product_view",
        props={"product_id": ball},
        occurred_at=NOW - timedelta(days=1),
    )
    Event.objects.create(
        event_id="2",
        visitor_id="laptop",
        user_id="7",
        name="product_view",
        props={"product_id": bone},
        occurred_at=NOW - timedelta(days=1),
    )
    report = train(as_of=NOW)
    assert report.shoppers == 1
    # Same shopper, different visits: similar, not viewed together.
    rows = model_store().read([("similar", ball), ("viewed", ball)])
    assert rows[("similar", ball)][0] == [bone]
    assert ("viewed", ball) not in rows


class SpyingStore:
    """Wraps a model store; reads the live model in the middle of writing a new one."""

    def __init__(self, inner: ModelStore, probe: tuple[str, str]) -> None:
        self.inner = inner
        self.name = inner.name
        self.probe = probe
        self.seen_mid_write: list[Any] = []

    def write(self, model_id: int, rows: Any) -> int:
        def spying() -> Iterator[tuple[str, str, str]]:
            for n, row in enumerate(rows):
                if n == 3:
                    self.seen_mid_write.append(self.inner.read([self.probe]).get(self.probe))
                yield row

        written = self.inner.write(model_id, spying())
        self.seen_after = self.inner.read([self.probe]).get(self.probe)
        return written


def test_swap_is_atomic_readers_see_old_model_until_the_switch(
    store: BaseProfileStore, products: dict[str, Product]
) -> None:
    history(products)
    train(as_of=NOW)
    ball, bone = pid(products, "ball"), pid(products, "bone")
    # New evidence: ball is now viewed with bone, a lot.
    for n in range(10):
        log(f"n{n}", "product_view", {"product_id": ball}, NOW + timedelta(minutes=n))
        log(f"n{n}", "product_view", {"product_id": bone}, NOW + timedelta(minutes=n))
    spy = SpyingStore(model_store(), ("viewed", ball))
    report = train(as_of=NOW + timedelta(hours=1), store=spy)  # type: ignore[arg-type]
    old = spy.seen_mid_write[0]
    assert old is not None and old[0] == [pid(products, "rope")]  # the old model, whole
    assert spy.seen_after is not None and spy.seen_after[0][0] == bone
    active = TrainedModel.objects.using(settings.DATABASE_ALIAS).filter(is_active=True)
    assert list(active.values_list("pk", flat=True)) == [report.model_id]
    if isinstance(spy.inner, DatabaseModelStore):
        # Old rows are gone once the new model is live.
        rows = TrainedRow.objects.using(settings.DATABASE_ALIAS)
        assert set(rows.values_list("model_id", flat=True)) == {report.model_id}
    else:
        keys = list(spy.inner.client.scan_iter(match=spy.inner.pattern))
        versions = {key.split(":")[-2] for key in keys if not key.endswith("active")}
        assert versions == {str(report.model_id)}


def test_train_with_an_empty_log_stores_new_arrivals_only(products: dict[str, Product]) -> None:
    report = train(as_of=NOW)
    assert report.events == 0 and report.pairs == {"similar": 0, "viewed": 0, "bought": 0}
    assert model_store().read([("new", "")])[("new", "")][0][0] == pid(products, "bowl")


def test_command_prints_a_summary_and_progress(products: dict[str, Product]) -> None:
    history(products)
    out, err = io.StringIO(), io.StringIO()
    call_command("personalize_train", "--k", "10", "--as-of", "2026-06-01", stdout=out, stderr=err)
    text = out.getvalue()
    assert "Trained model #" in text and "from 19 events" in text
    assert "viewed together  2 products, 2 pairs" in text
    assert "Reading events: 19/19 (100%)" in err.getvalue()
    assert "\n\n" not in err.getvalue()  # one line per step, no blank lines between
    assert TrainedModel.objects.get(is_active=True).k == 10


def test_command_rejects_bad_options_with_the_fix() -> None:
    with pytest.raises(CommandError, match="--k must be a whole number from 1 to 500"):
        call_command("personalize_train", "--k", "0")
    with pytest.raises(CommandError, match="--as-of must be a date like 2026-01-31"):
        call_command("personalize_train", "--as-of", "yesterday")


def test_command_warns_on_an_empty_log_and_clear_forgets(products: dict[str, Product]) -> None:
    out = io.StringIO()
    call_command("personalize_train", stdout=out, stderr=io.StringIO())
    assert "No product views, cart adds or purchases were logged yet" in out.getvalue()
    assert model_store().read([("new", "")])
    call_command("personalize_train", "--clear", stdout=io.StringIO())
    assert model_store().read([("new", "")]) == {}


def test_a_failed_store_write_leaves_the_live_model_and_no_trace(
    use_redis_store: BaseProfileStore, products: dict[str, Product]
) -> None:
    history(products)
    live = train(as_of=NOW)
    store = model_store()
    assert isinstance(store, RedisModelStore)

    def broken_rows() -> Iterator[tuple[str, str, str]]:
        yield from [("viewed", str(n), pack_row(["x"], [1.0])) for n in range(2500)]
        raise redis.ConnectionError("Redis went away mid-write")

    with pytest.raises(redis.ConnectionError):
        store.write(live.model_id + 1, broken_rows())
    keys = list(store.client.scan_iter(match=store.pattern))
    assert {key.split(":")[-2] for key in keys if not key.endswith("active")} == {
        str(live.model_id)
    }
    ball = pid(products, "ball")
    assert store.read([("viewed", ball)])[("viewed", ball)][0] == [pid(products, "rope")]


def test_a_failed_training_run_is_not_kept_in_the_history(
    products: dict[str, Product], monkeypatch: pytest.MonkeyPatch
) -> None:
    history(products)
    first = train(as_of=NOW)

    def fail(*args: Any, **kwargs: Any) -> int:
        raise RuntimeError("disk full")

    monkeypatch.setattr(DatabaseModelStore, "write", fail)
    with pytest.raises(RuntimeError, match="disk full"):
        train(as_of=NOW)
    assert list(TrainedModel.objects.values_list("pk", "is_active")) == [(first.model_id, True)]


def test_orphans_of_a_killed_run_are_removed_by_the_next_swap(
    use_redis_store: BaseProfileStore, products: dict[str, Product]
) -> None:
    store = model_store()
    assert isinstance(store, RedisModelStore)
    store.client.hset(store.table_key("999", "similar"), mapping={"1": pack_row(["2"], [1.0])})
    history(products)
    report = train(as_of=NOW)
    keys = list(store.client.scan_iter(match=store.pattern))
    assert {key.split(":")[-2] for key in keys if not key.endswith("active")} == {
        str(report.model_id)
    }


def test_overlong_keys_are_skipped_not_fatal(
    store: BaseProfileStore, caplog: pytest.LogCaptureFixture
) -> None:
    models = model_store()
    model = TrainedModel.objects.using(settings.DATABASE_ALIAS).create()
    long_key = "c" * 200
    rows = [
        ("bestsellers", long_key, pack_row(["1"], [1.0])),
        ("bestsellers", "", pack_row(["2"], [2.0])),
    ]
    models.write(model.pk, iter(rows))
    assert models.read([("bestsellers", "")])[("bestsellers", "")][0] == ["2"]
    if isinstance(models, DatabaseModelStore):
        assert models.read([("bestsellers", long_key)]) == {}
        assert "Skipped 1 recommendation rows" in caplog.text
