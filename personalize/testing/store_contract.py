"""The contract every profile store keeps, as a pytest suite a store's authors can run.

Subclass :class:`ProfileStoreContract` in your own tests (pytest with pytest-django)
and provide a ``store`` fixture that returns your store, configured as
``PERSONALIZE_STORE`` (the suite calls ``personalize`` code that reads it)::

    from personalize.testing.store_contract import ProfileStoreContract

    class TestMyStore(ProfileStoreContract):
        @pytest.fixture
        def store(self):
            with override_settings(PERSONALIZE_STORE="myshop.stores.MyStore"):
                reset_store()
                yield get_store()
            reset_store()

Each test behaves like requests do: touch the profile, compute the event's ops,
apply them with the events, read the profile back. The tests need a database
(events go to the log) and use transactions and threads, hence
``django_db(transaction=True)``.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connections
from django.test import override_settings

from personalize.conf import settings as personalize_settings
from personalize.models import Event
from personalize.profiles.base import BaseProfileStore
from personalize.profiles.profile import Profile
from personalize.tracking.context import VisitContext
from personalize.tracking.events import EventRecord, event_ops, new_event_id, validate_event

T0 = 1_764_000_000.0


def ctx(now: float = T0, **kwargs: Any) -> VisitContext:
    return VisitContext(now=now, **kwargs)


def track(
    store: BaseProfileStore, visitor_id: str, name: str, now: float = T0, **props: Any
) -> Profile:
    """Do what a request does: touch, compute ops, apply them."""
    profile, _ = store.touch(visitor_id, ctx(now))
    cleaned = validate_event(name, props)
    ops = event_ops(profile, name, cleaned, now)
    record = EventRecord(new_event_id(), visitor_id, name, cleaned, now, profile.visit_count)
    store.apply(visitor_id, ops, [record])
    loaded = store.load(visitor_id)
    assert loaded is not None
    return loaded


VID = "a" * 32
OTHER = "b" * 32


@pytest.mark.django_db(transaction=True, databases="__all__")
class ProfileStoreContract:
    """The store contract: subclass it and provide a ``store`` fixture."""

    def test_touch_creates_profile_and_first_visit(self, store: BaseProfileStore) -> None:
        profile, new_visit = store.touch(
            VID,
            ctx(
                path="/landing/",
                referrer="https://google.com/",
                utm={"source": "google"},
                device="mobile",
                country="DE",
            ),
        )
        assert new_visit
        assert profile.visit_count == 1
        assert profile.first_seen == T0 == profile.last_seen
        assert profile.landing_path == "/landing/" == profile.visit_landing_path
        assert profile.first_referrer == "https://google.com/"
        assert profile.first_utm == {"source": "google"} == profile.utm
        assert profile.device == "mobile"
        assert profile.country == "DE"

    def test_visit_continues_within_timeout_and_restarts_after(
        self, store: BaseProfileStore
    ) -> None:
        store.touch(VID, ctx(path="/a/", utm={"source": "google"}))
        profile, new_visit = store.touch(VID, ctx(T0 + 1700, path="/b/"))
        assert not new_visit
        assert profile.visit_count == 1
        assert profile.visit_landing_path == "/a/"
        profile, new_visit = store.touch(
            VID, ctx(T0 + 1700 + 1801, path="/c/", utm={"source": "newsletter"})
        )
        assert new_visit
        assert profile.visit_count == 2
        assert profile.visit_landing_path == "/c/"
        assert profile.landing_path == "/a/"
        assert profile.first_utm == {"source": "google"}
        assert profile.utm == {"source": "newsletter"}
        assert profile.visit_started_at == T0 + 1700 + 1801

    def test_page_views_count_per_visit(self, store: BaseProfileStore) -> None:
        for _ in range(3):
            track(store, VID, "page_view", path="/")
        profile = track(store, VID, "page_view", T0 + 4000, path="/")
        assert profile.pageviews_total == 4
        assert profile.pageviews_visit == 1
        assert profile.visit_count == 2

    def test_browsing_and_cart_events(self, store: BaseProfileStore) -> None:
        track(store, VID, "product_view", product_id=1, category="cats")
        track(store, VID, "product_view", T0 + 10, product_id=2, category="dogs")
        track(store, VID, "product_view", T0 + 20, product_id=1, category="cats")
        track(store, VID, "search", T0 + 30, query="  Cat   Tree ")
        track(
            store,
            VID,
            "add_to_cart",
            T0 + 40,
            product_id=1,
            quantity=2,
            price=10.5,
            category="cats",
        )
        profile = track(store, VID, "add_to_cart", T0 + 50, product_id=3, price=4.0)
        assert profile.recent("viewed_products") == ["1", "2"]
        assert profile.recent("viewed_categories") == ["cats", "dogs"]
        assert profile.recent("searches") == ["cat tree"]
        assert profile.cart_quantity == 3
        assert profile.cart_value == 25.0
        assert profile.cart["1"].category == "cats"
        assert profile.cart_changed_at == T0 + 50
        assert profile.cart_visit == 1
        affinity = profile.affinity(T0 + 50)
        assert list(affinity) == ["cats", "dogs"]
        profile = track(store, VID, "remove_from_cart", T0 + 60, product_id=1, quantity=1)
        assert profile.cart["1"].quantity == 1
        profile = track(store, VID, "remove_from_cart", T0 + 70, product_id=1)
        assert "1" not in profile.cart
        assert profile.cart_value == 4.0

    def test_purchase_updates_orders_and_clears_cart(self, store: BaseProfileStore) -> None:
        track(store, VID, "add_to_cart", product_id=1, price=30.0, category="cats")
        items = [
            {"product_id": 1, "category": "cats", "price": 30.0, "quantity": 1},
            {"product_id": 9, "category": "litter", "price": 12.25, "quantity": 2},
        ]
        profile = track(store, VID, "purchase", T0 + 100, order_id="A1", value=54.5, items=items)
        profile = track(
            store,
            VID,
            "purchase",
            T0 + 200,
            order_id="A2",
            value=10.0,
            items=[{"product_id": 9, "category": "litter", "price": 10.0, "quantity": 1}],
        )
        assert profile.orders_count == 2
        assert profile.total_spent == pytest.approx(64.5)
        assert profile.first_order_at == T0 + 100
        assert profile.last_order_at == T0 + 200
        assert profile.cart == {}
        assert profile.recent("purchased_products") == ["9", "1"]
        assert profile.purchased_categories == {"cats": T0 + 100, "litter": T0 + 200}

    def test_identify_stores_email(self, store: BaseProfileStore) -> None:
        profile = track(store, VID, "identify", email="Ann@Example.COM")
        assert profile.email == "ann@example.com"

    def test_lists_are_bounded(self, store: BaseProfileStore) -> None:
        with override_settings(PERSONALIZE_MAX_VIEWED_PRODUCTS=3):
            for i in range(6):
                profile = track(store, VID, "product_view", T0 + i, product_id=i)
        assert profile.recent("viewed_products") == ["5", "4", "3"]

    def test_affinity_decays_with_half_life(self, store: BaseProfileStore) -> None:
        profile = track(store, VID, "category_view", category="cats")
        fresh = profile.affinity(T0)["cats"]
        assert fresh == pytest.approx(0.5, rel=1e-3)
        assert profile.affinity(T0 + 30 * 86400)["cats"] == pytest.approx(fresh / 2, rel=1e-3)

    def test_save_load_round_trip(self, store: BaseProfileStore) -> None:
        track(store, VID, "product_view", product_id=5, category="cats")
        track(store, VID, "add_to_cart", product_id=5, price=3.0, category="cats")
        original = store.load(VID)
        assert original is not None
        original.ext["rfm"] = {"r": 5, "f": 4, "m": 3, "segment": "champions"}
        store.save(original)
        again = store.load(VID)
        assert again == original
        assert store.load(OTHER) is None

    def test_delete(self, store: BaseProfileStore) -> None:
        store.touch(VID, ctx())
        store.delete(VID)
        assert store.load(VID) is None

    def test_link_user_and_merge(self, store: BaseProfileStore) -> None:
        track(store, VID, "product_view", product_id=1, category="cats")
        store.link_user(VID, "7")
        assert store.visitor_for_user("7") == VID
        assert store.visitor_for_user("8") is None
        track(store, OTHER, "product_view", T0 + 5000, product_id=2, category="dogs")
        track(store, OTHER, "add_to_cart", T0 + 5001, product_id=2, price=8.0)
        merged = store.merge(OTHER, VID)
        assert merged.visit_count == 2
        assert set(merged.viewed_products) == {"1", "2"}
        assert merged.cart_value == 8.0
        assert merged.user_id == "7"
        assert store.load(OTHER) is None
        loaded = store.load(VID)
        assert loaded is not None
        assert loaded.visit_count == 2
        assert store.visitor_for_user("7") == VID

    # Privacy requests: find every profile of a person, erase it, unlink it.

    def test_find_visitors_of_a_user(self, store: BaseProfileStore) -> None:
        store.touch(VID, ctx())
        store.link_user(VID, "7")
        store.touch(OTHER, ctx())
        assert store.find_visitors(user_ids=["7"]) == {VID}
        assert store.find_visitors(user_ids=["8"]) == set()
        assert store.find_visitors() == set()

    def test_erase_profile(self, store: BaseProfileStore) -> None:
        track(store, VID, "product_view", product_id=1, category="cats")
        store.touch(OTHER, ctx())
        assert store.erase_profile(VID) is True
        assert store.load(VID) is None
        assert store.erase_profile(VID) is False
        assert store.load(OTHER) is not None

    def test_unlink_and_erase_leave_no_profile_for_the_user(self, store: BaseProfileStore) -> None:
        store.touch(VID, ctx())
        store.link_user(VID, "7")
        assert store.unlink_user("7") is True
        store.erase_profile(VID)
        assert all(store.load(v) is None for v in store.find_visitors(user_ids=["7"]))
        assert store.unlink_user("8") is False

    def test_events_are_logged_or_buffered_until_dropped(self, store: BaseProfileStore) -> None:
        record = EventRecord(new_event_id(), VID, "page_view", {"path": "/"}, T0, 1)
        store.apply(VID, [], [record])
        alias = personalize_settings.DATABASE_ALIAS
        logged = Event.objects.using(alias).filter(event_id=record.event_id).exists()
        mine = store.buffered_events(lambda r: r.visitor_id == VID)
        assert logged or mine == [record]
        assert store.buffered_events(lambda r: r.visitor_id == OTHER) == []
        assert store.drop_buffered_events(lambda r: r.visitor_id == VID) == len(mine)
        assert store.buffered_events(lambda r: r.visitor_id == VID) == []

    def test_iter_profiles(self, store: BaseProfileStore) -> None:
        store.touch(VID, ctx(T0))
        store.touch(OTHER, ctx(T0 + 100))
        assert {p.visitor_id for p in store.iter_profiles()} == {VID, OTHER}
        assert [p.visitor_id for p in store.iter_profiles(seen_since=T0 + 50)] == [OTHER]

    def test_load_many(self, store: BaseProfileStore) -> None:
        store.touch(VID, ctx(T0))
        store.touch(OTHER, ctx(T0 + 100))
        found = store.load_many([VID, OTHER, "f" * 32])
        assert found == {VID: store.load(VID), OTHER: store.load(OTHER)}
        assert store.load_many([]) == {}

    def test_import_profiles(self, store: BaseProfileStore) -> None:
        profile = Profile(
            visitor_id=VID,
            first_seen=T0,
            last_seen=T0,
            visit_count=3,
            viewed_products={"1": T0},
            user_id="12",
        )
        record = EventRecord(new_event_id(), VID, "page_view", {"path": "/"}, T0, 3, "12")
        store.import_profiles([profile], [record])
        assert store.load(VID) == profile
        alias = personalize_settings.DATABASE_ALIAS
        assert Event.objects.using(alias).filter(event_id=record.event_id).count() == 1
        assert store.visitor_for_user("12") == VID

    def test_concurrent_increments_lose_nothing(self, store: BaseProfileStore) -> None:
        store.touch(VID, ctx())
        threads, per_thread = 6, 15
        errors: list[BaseException] = []

        def worker() -> None:
            try:
                for _ in range(per_thread):
                    profile, _ = store.touch(VID, ctx())
                    ops = event_ops(profile, "page_view", {}, T0)
                    ops += event_ops(
                        profile,
                        "purchase",
                        validate_event("purchase", {"order_id": "x", "value": 1.5, "items": []}),
                        T0,
                    )
                    store.apply(VID, ops, [])
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)
            finally:
                connections.close_all()

        pool = [threading.Thread(target=worker) for _ in range(threads)]
        for thread in pool:
            thread.start()
        for thread in pool:
            thread.join()
        assert errors == []
        profile = store.load(VID)
        assert profile is not None
        assert profile.pageviews_total == threads * per_thread
        assert profile.orders_count == threads * per_thread
        assert profile.total_spent == pytest.approx(1.5 * threads * per_thread)

    def test_events_reach_the_log(self, store: BaseProfileStore) -> None:
        track(store, VID, "product_view", product_id=1)
        stream = store.event_stream()
        if stream is not None:  # the worker moves them to the log later
            client = stream.connect(100)
            entries: list[Any] = []
            for name in stream.names:  # one visitor's events all wait in one of them
                found: Any = client.xrange(name)
                entries += found
            assert len(entries) == 1
            assert '"product_view"' in entries[0][1]["e"]
        else:
            alias = personalize_settings.DATABASE_ALIAS
            assert list(Event.objects.using(alias).values_list("name", flat=True)) == [
                "product_view"
            ]

    def test_python_and_store_agree_on_a_session(self, store: BaseProfileStore) -> None:
        """The Redis Lua touch and the Python rules build the same profile."""
        from personalize.profiles.visits import touch

        expected = Profile(visitor_id=VID)
        steps = [
            (T0, "/a/", {"source": "google"}),
            (T0 + 60, "/b/", {}),
            (T0 + 4000, "/c/", {"source": "mail"}),
            (T0 + 4001, "/d/", {}),
        ]
        for now, path, utm in steps:
            visit_ctx = ctx(now, path=path, utm=utm, device="tablet")
            touch(expected, visit_ctx, 1800)
            store.touch(VID, visit_ctx)
        assert store.load(VID) == expected

    def test_apply_once_applies_each_batch_once(self, store: BaseProfileStore) -> None:
        if not store.replays_changes:
            pytest.skip("the store does not replay deferred changes (replays_changes)")
        event = EventRecord(new_event_id(), VID, "page_view", {"path": "/"}, T0)
        ops = event_ops(Profile(visitor_id=VID), "page_view", {"path": "/"}, T0)
        store.apply(VID, ops, [event])  # apply() marks the batch by its first event
        assert store.apply_once(VID, event.event_id, ops) is False
        assert store.apply_once(VID, "another-batch", ops) is True
        assert store.apply_once(VID, "another-batch", ops) is False
        profile = store.load(VID)
        assert profile is not None and profile.pageviews_total == 2

    def test_unknown_visitor_load_is_none(self, store: BaseProfileStore) -> None:
        assert store.load("c" * 32) is None

    def test_write_ext_sets_one_key_and_keeps_the_rest(self, store: BaseProfileStore) -> None:
        track(store, VID, "product_view", product_id=3, category="cats")
        track(store, OTHER, "page_view", path="/")
        store.write_ext("rfm", {VID: {"r": 5, "segment": "champions"}, OTHER: {"r": 1}})
        store.write_ext("other", {VID: [1, 2]})
        mine = store.load(VID)
        assert mine is not None
        assert mine.ext == {"rfm": {"r": 5, "segment": "champions"}, "other": [1, 2]}
        assert mine.recent("viewed_products") == ["3"]
        theirs = store.load(OTHER)
        assert theirs is not None and theirs.ext == {"rfm": {"r": 1}}
        assert theirs.pageviews_total == 1
