"""``POST /personalize/api/v1/events/``: server-to-server events with an API key.

Idempotency is the promise integrators rely on: a batch re-sent after a timeout must
change neither the profile nor the log a second time, on every store.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.test import Client, override_settings

from personalize.api.models import ApiKey
from personalize.conf import settings
from personalize.models import Event
from personalize.profiles.base import BaseProfileStore, StoreUnavailable, get_store
from personalize.profiles.profile import Profile
from personalize.tracking.context import VisitContext
from personalize.tracking.events import EventRecord, event_ops, new_event_id
from personalize.tracking.server import (
    Identity,
    derived_visitor_id,
    parse_batch,
    record_events,
    stored_event_id,
)

URL = "/personalize/api/v1/events/"
VISITOR = "ab" * 16


def make_key(*scopes: str, rate_limit: int = 600) -> str:
    key = ApiKey(name="test", scopes=list(scopes), rate_limit=rate_limit)
    token = key.issue().token
    key.save()
    return token


def send(body: Any, token: str | None, client: Client | None = None, **headers: str) -> Any:
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return (client or Client()).post(
        URL,
        data=body if isinstance(body, (str, bytes)) else json.dumps(body),
        content_type="application/json",
        headers=headers,
    )


def shopping_batch(**identity: Any) -> dict[str, Any]:
    return {
        **identity,
        "events": [
            {
                "event_id": "view-1",
                "name": "product_view",
                "props": {"product_id": "7", "category": "cats", "price": 12.5},
            },
            {
                "event_id": "cart-1",
                "name": "add_to_cart",
                "props": {"product_id": "9", "price": 4.0, "quantity": 2, "category": "dogs"},
            },
            {
                "event_id": "order-1001",
                "name": "purchase",
                "props": {
                    "order_id": "1001",
                    "value": 37.5,
                    "items": [{"product_id": "7", "price": 12.5, "quantity": 3}],
                },
            },
        ],
    }


def logged(visitor_id: str) -> list[str]:
    return sorted(
        Event.objects.using(settings.DATABASE_ALIAS)
        .filter(visitor_id=visitor_id)
        .values_list("name", flat=True)
    )


# Idempotency on every store ---------------------------------------------------------


@pytest.mark.django_db(databases="__all__")
def test_a_batch_sent_three_times_changes_profile_and_log_once(store: BaseProfileStore) -> None:
    token = make_key("events:write")
    answers = [send(shopping_batch(user_id="42"), token) for _ in range(3)]

    assert [a.status_code for a in answers] == [200, 200, 200]
    assert [(a.json()["recorded"], a.json()["duplicates"]) for a in answers] == [
        (3, 0),
        (0, 3),
        (0, 3),
    ]
    visitor_id = answers[0].json()["visitor_id"]
    assert {a.json()["visitor_id"] for a in answers} == {visitor_id}
    assert store.visitor_for_user("42") == visitor_id
    profile = store.load(visitor_id)
    assert profile is not None
    assert profile.user_id == "42"
    assert profile.orders_count == 1
    assert profile.total_spent == 37.5
    assert set(profile.viewed_products) == {"7"}
    assert profile.cart == {}  # the purchase emptied what the add_to_cart put in
    assert logged(visitor_id) == ["add_to_cart", "product_view", "purchase"]


@pytest.mark.redis
@pytest.mark.django_db
def test_a_resend_after_a_lost_reply_counts_once(use_redis_store: BaseProfileStore) -> None:
    """Redis applied the batch, its reply was lost: the log rolled back, the client
    sends the batch again, and the batch's mark keeps it from counting twice."""
    token = make_key("events:write")
    original = use_redis_store.apply_once

    def applied_then_lost(visitor_id: str, batch_id: str, ops: Any) -> bool:
        original(visitor_id, batch_id, ops)
        raise StoreUnavailable("Timeout reading from socket")

    use_redis_store.apply_once = applied_then_lost  # type: ignore[method-assign]
    try:
        first = send(shopping_batch(user_id="77"), token)
    finally:
        use_redis_store.apply_once = original  # type: ignore[method-assign]
    assert first.status_code == 503
    visitor_id = derived_visitor_id(Identity("user_id", "77"))
    assert logged(visitor_id) == []  # rolled back: the client must send it again
    again = send(shopping_batch(user_id="77"), token)
    assert again.status_code == 200 and again.json()["recorded"] == 3
    profile = use_redis_store.load(visitor_id)
    assert profile is not None
    assert (profile.orders_count, profile.total_spent) == (1, 37.5)
    assert logged(visitor_id) == ["add_to_cart", "product_view", "purchase"]


@pytest.mark.django_db(databases="__all__")
def test_a_resent_batch_with_one_new_event_applies_only_that_one(store: BaseProfileStore) -> None:
    identity = Identity("visitor_id", VISITOR)
    _, events = parse_batch(shopping_batch(visitor_id=VISITOR))
    record_events(identity, events)
    _, more = parse_batch(
        {
            "visitor_id": VISITOR,
            "events": [
                *shopping_batch()["events"],
                {"event_id": "order-1002", "name": "purchase",
                 "props": {"order_id": "1002", "value": 10, "items": []}},
            ],
        }
    )  # fmt: skip

    result = record_events(identity, more)

    assert (result.recorded, result.duplicates) == (1, 3)
    profile = store.load(VISITOR)
    assert profile is not None
    assert (profile.orders_count, profile.total_spent) == (2, 47.5)
    assert logged(VISITOR).count("purchase") == 2


# Identities -------------------------------------------------------------------------


@pytest.mark.django_db(databases="__all__")
def test_an_email_batch_lands_on_the_visitor_who_identified_on_the_site(
    store: BaseProfileStore,
) -> None:
    if type(store).visitor_for_email is BaseProfileStore.visitor_for_email:
        pytest.skip("this third-party store has no email lookup (the safe default)")
    site = "cd" * 16
    identify = EventRecord(new_event_id(), site, "identify", {"email": "Bea@Example.com"}, 1e9)
    store.touch(site, VisitContext(now=1e9))
    store.apply(site, event_ops(Profile(visitor_id=site), "identify",
                                {"email": "bea@example.com"}, 1e9), [identify])  # fmt: skip
    assert store.visitor_for_email("bea@example.com") == site
    answer = send(
        {"email": "BEA@example.com",
         "events": [{"event_id": "b1", "name": "search", "props": {"query": "bed"}}]},
        make_key("events:write"),
    )  # fmt: skip
    assert answer.status_code == 200 and answer.json()["visitor_id"] == site
    profile = store.load(site)
    assert profile is not None and set(profile.searches) == {"bed"}


@pytest.mark.django_db
def test_email_batches_land_on_one_profile_that_carries_the_email() -> None:
    token = make_key("events:write")
    first = send(
        {"email": "Ann@Example.com",
         "events": [{"event_id": "s1", "name": "search", "props": {"query": "cat tree"}}]},
        token,
    )  # fmt: skip
    second = send(
        {"email": "ann@example.com",
         "events": [{"event_id": "s2", "name": "search", "props": {"query": "litter"}}]},
        token,
    )  # fmt: skip

    assert first.status_code == second.status_code == 200
    visitor_id = first.json()["visitor_id"]
    assert second.json()["visitor_id"] == visitor_id
    profile = get_store().load(visitor_id)
    assert profile is not None
    assert profile.email == "ann@example.com"
    assert set(profile.searches) == {"cat tree", "litter"}


@pytest.mark.django_db
def test_a_known_user_gets_the_events_on_their_existing_profile() -> None:
    store = get_store()
    from personalize.profiles.profile import Profile

    store.save(Profile(visitor_id=VISITOR, visit_count=4))
    store.link_user(VISITOR, "7")

    answer = send(
        {"user_id": 7, "events": [{"event_id": "c1", "name": "category_view",
                                    "props": {"category": "cats"}}]},
        make_key("events:write"),
    )  # fmt: skip

    assert answer.json()["visitor_id"] == VISITOR
    profile = store.load(VISITOR)
    assert profile is not None
    assert profile.visit_count == 4
    assert "cats" in profile.viewed_categories
    assert Event.objects.get().visit == 4


@pytest.mark.django_db
def test_unknown_users_get_a_stable_derived_visitor_id() -> None:
    identity = Identity("user_id", "99")
    _, events = parse_batch({"user_id": "99", "events": [{"event_id": "x", "name": "search",
                                                          "props": {"query": "q"}}]})  # fmt: skip
    assert record_events(identity, events).visitor_id == derived_visitor_id(identity)
    assert derived_visitor_id(identity) != derived_visitor_id(Identity("email", "99"))


def test_stored_event_ids_depend_on_the_client_id_alone() -> None:
    assert stored_event_id("order-1") == stored_event_id("order-1")
    assert stored_event_id("order-1") != stored_event_id("order-2")
    assert len(stored_event_id("order-1")) == 32


# Timestamps -------------------------------------------------------------------------


@pytest.mark.django_db
def test_backfilled_events_keep_their_timestamp() -> None:
    at = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
    now = at.timestamp() + 86400
    _, events = parse_batch(
        {"visitor_id": VISITOR, "events": [
            {"event_id": "a", "name": "search", "props": {"query": "q"},
             "timestamp": "2026-01-05T13:00:00+01:00"},
            {"event_id": "b", "name": "search", "props": {"query": "r"},
             "timestamp": at.timestamp()},
        ]},
        now=now,
    )  # fmt: skip
    record_events(Identity("visitor_id", VISITOR), events, now=now)

    assert {e.occurred_at for e in Event.objects.all()} == {at}
    profile = get_store().load(VISITOR)
    assert profile is not None
    assert profile.searches == {"q": at.timestamp(), "r": at.timestamp()}


@pytest.mark.parametrize(
    ("timestamp", "message"),
    [
        (time.time() + 3600, "In the future"),
        (time.time() - 400 * 86400, "Older than the retention period"),
        ("2026-01-05T13:00:00", "Give a timezone"),
        ("yesterday", "Not an ISO 8601 date-time"),
        (time.time() * 1000, "Looks like milliseconds"),
        (True, "Must be an ISO 8601 string"),
        (float("nan"), "non-negative number"),
    ],
)
def test_bad_timestamps_are_refused_with_the_fix(timestamp: Any, message: str) -> None:
    from personalize.tracking.server import BatchInvalid

    with pytest.raises(BatchInvalid) as caught:
        parse_batch({"visitor_id": VISITOR, "events": [
            {"event_id": "a", "name": "search", "props": {"query": "q"}, "timestamp": timestamp}
        ]})  # fmt: skip
    [error] = caught.value.errors
    assert (error.index, error.field) == (0, "timestamp")
    assert message in error.message


@override_settings(PERSONALIZE_RETENTION_DAYS=30)
def test_the_backfill_window_is_the_retention_period() -> None:
    from personalize.tracking.server import BatchInvalid

    ok = {"event_id": "a", "name": "search", "props": {"query": "q"},
          "timestamp": time.time() - 29 * 86400}  # fmt: skip
    parse_batch({"visitor_id": VISITOR, "events": [ok]})
    with pytest.raises(BatchInvalid, match="30 days"):
        parse_batch(
            {"visitor_id": VISITOR, "events": [{**ok, "timestamp": ok["timestamp"] - 2 * 86400}]}
        )


# Validation errors ------------------------------------------------------------------


@pytest.mark.django_db
def test_one_invalid_event_refuses_the_batch_naming_index_and_field() -> None:
    batch = shopping_batch(visitor_id=VISITOR)
    batch["events"].append(
        {"event_id": "order-2", "name": "purchase",
         "props": {"order_id": "2", "value": "lots", "items": []}}
    )  # fmt: skip

    answer = send(batch, make_key("events:write"))

    assert answer.status_code == 400
    assert answer.json() == {
        "errors": [
            {
                "index": 3,
                "field": "props.value",
                "message": "Invalid props for event 'purchase': 'value' must be a number, got str.",
            }
        ]
    }
    assert Event.objects.count() == 0
    assert get_store().load(VISITOR) is None


@pytest.mark.parametrize(
    ("event", "field", "message"),
    [
        ({"name": "search", "props": {"query": "q"}}, "event_id", "Required"),
        ({"event_id": "a", "name": "nope"}, "name", "Unknown event"),
        ({"event_id": "a", "name": "search", "props": []}, "props", "Must be an object"),
        ({"event_id": "a", "name": "search"}, "props.query", "'query' is required"),
        ({"event_id": "a", "name": "search", "props": {"query": "q", "x": 1}}, "props.x",
         "unknown prop"),
        ({"event_id": "a", "name": "purchase", "props": {"order_id": "1", "value": 1,
          "items": [{"product_id": "1", "price": -1, "quantity": 1}]}},
         "props.items[0].price", "at least 0"),
        ({"event_id": "a", "name": "purchase", "props": {"order_id": "1", "value": 1,
          "items": ["x"]}}, "props.items[0]", "must be a dict"),
        ({"event_id": "a", "name": "search", "props": {"query": "q"}, "when": 1}, "when",
         "Unknown field"),
        ("search", "", "must be an object"),
    ],
)  # fmt: skip
def test_event_errors_name_the_field(event: Any, field: str, message: str) -> None:
    from personalize.tracking.server import BatchInvalid

    with pytest.raises(BatchInvalid) as caught:
        parse_batch({"visitor_id": VISITOR, "events": [{"event_id": "ok", "name": "search",
                     "props": {"query": "fine"}}, event]})  # fmt: skip
    [error] = caught.value.errors
    assert (error.index, error.field) == (1, field)
    assert message in error.message


@pytest.mark.parametrize(
    ("identity", "field", "message"),
    [
        ({}, "visitor_id", "exactly one of visitor_id, user_id or email"),
        ({"user_id": "1", "email": "a@b.co"}, "email", "got user_id, email"),
        ({"visitor_id": "not-hex"}, "visitor_id", "32 lowercase hex"),
        ({"user_id": "x" * 65}, "user_id", "1 to 64"),
        ({"user_id": 1.5}, "user_id", "string or an integer"),
        ({"email": "nobody"}, "email", "valid email"),
    ],
)
def test_identity_errors_name_the_field(identity: dict[str, Any], field: str, message: str) -> None:
    from personalize.tracking.server import BatchInvalid

    with pytest.raises(BatchInvalid) as caught:
        parse_batch({**identity, "events": [{"event_id": "a", "name": "search",
                                             "props": {"query": "q"}}]})  # fmt: skip
    [error] = caught.value.errors
    assert (error.index, error.field) == (None, field)
    assert message in error.message


def test_a_repeated_event_id_in_one_batch_is_an_error() -> None:
    from personalize.tracking.server import BatchInvalid

    event = {"event_id": "same", "name": "search", "props": {"query": "q"}}
    with pytest.raises(BatchInvalid) as caught:
        parse_batch({"visitor_id": VISITOR, "events": [event, event]})
    [error] = caught.value.errors
    assert (error.index, error.field) == (1, "event_id")
    assert "event 0" in error.message


@pytest.mark.django_db
def test_more_than_500_events_is_a_400_and_a_huge_body_a_413() -> None:
    token = make_key("events:write")
    events = [{"event_id": str(n), "name": "search", "props": {"query": "q"}} for n in range(501)]

    too_many = send({"visitor_id": VISITOR, "events": events}, token)
    just_right = send({"visitor_id": VISITOR, "events": events[:500]}, token)
    huge = send({"visitor_id": VISITOR, "events": [{"event_id": "x" * 2_000_000}]}, token)

    assert too_many.status_code == 400
    assert too_many.json()["errors"][0]["field"] == "events"
    assert "at most 500" in too_many.json()["errors"][0]["message"]
    assert just_right.status_code == 200
    assert just_right.json()["recorded"] == 500
    assert huge.status_code == 413
    assert "at most 1048576 bytes" in huge.json()["detail"]


@pytest.mark.django_db
def test_bodies_that_are_not_a_json_object_are_400_or_415() -> None:
    token = make_key("events:write")
    broken = send("{", token)
    array = send([], token)
    form = Client().post(URL, {"a": "b"}, headers={"Authorization": f"Bearer {token}"})

    assert broken.status_code == 400
    assert broken.json()["errors"][0]["index"] is None
    assert "JSON parse error" in broken.json()["errors"][0]["message"]
    assert array.status_code == 400
    assert array.json()["errors"][0]["message"] == "The body must be a JSON object."
    assert form.status_code == 415


# Keys, scopes and limits ------------------------------------------------------------


@pytest.mark.django_db
def test_no_unknown_or_malformed_key_is_a_401_with_a_challenge() -> None:
    batch = shopping_batch(visitor_id=VISITOR)
    real = make_key("events:write")
    wrong_secret = real[:-4] + ("aaaa" if not real.endswith("aaaa") else "bbbb")

    none = send(batch, None)
    unknown = send(batch, wrong_secret)
    garbage = send(batch, "not-a-key")
    basic = send(batch, None, Authorization="Basic dXNlcjpwYXNz")

    for answer in (none, unknown, garbage, basic):
        assert answer.status_code == 401
        assert answer.headers["WWW-Authenticate"] == 'Bearer realm="personalize"'
    assert "An API key is required" in none.json()["detail"]
    assert unknown.json()["detail"].startswith("Unknown API key")
    assert garbage.json()["detail"].startswith("Unknown API key")
    assert "Malformed Authorization header" in basic.json()["detail"]
    assert Event.objects.count() == 0


@pytest.mark.django_db
def test_a_revoked_key_is_a_401_that_says_so() -> None:
    token = make_key("events:write")
    ApiKey.objects.update(revoked_at=datetime.now(tz=UTC))

    answer = send(shopping_batch(visitor_id=VISITOR), token)

    assert answer.status_code == 401
    assert "revoked" in answer.json()["detail"]


@pytest.mark.django_db
def test_a_key_without_the_scope_is_a_403_naming_it() -> None:
    answer = send(shopping_batch(visitor_id=VISITOR), make_key("segments:read"))

    assert answer.status_code == 403
    assert "lacks the scope 'events:write'" in answer.json()["detail"]
    assert Event.objects.count() == 0


@pytest.mark.django_db
def test_past_the_keys_rate_limit_is_a_429_with_retry_after() -> None:
    token = make_key("events:write", rate_limit=2)
    other = make_key("events:write", rate_limit=2)
    batch = shopping_batch(visitor_id=VISITOR)

    answers = [send(batch, token) for _ in range(3)]

    assert [a.status_code for a in answers] == [200, 200, 429]
    assert answers[2].headers["Retry-After"] == "60"
    assert "may make 2 a minute" in answers[2].json()["detail"]
    assert send(batch, other).status_code == 200  # counted per key


@pytest.mark.django_db
def test_the_rate_limit_is_counted_in_the_redis_store_when_there_is_one(
    use_redis_store: BaseProfileStore,
) -> None:
    token = make_key("events:write", rate_limit=1)
    key = ApiKey.objects.get()

    assert send(shopping_batch(visitor_id=VISITOR), token).status_code == 200
    assert send(shopping_batch(visitor_id=VISITOR), token).status_code == 429
    client = use_redis_store.client  # type: ignore[attr-defined]
    assert client.exists(use_redis_store.key(f"apikey-{key.prefix}", "rl"))  # type: ignore[attr-defined]


@pytest.mark.django_db
def test_last_used_is_written_at_most_once_a_minute(django_assert_num_queries: Any) -> None:
    token = make_key("events:write")
    batch = {"visitor_id": VISITOR, "events": [{"event_id": "a", "name": "search",
                                                "props": {"query": "q"}}]}  # fmt: skip
    send(batch, token)
    first = ApiKey.objects.get().last_used_at
    assert first is not None
    send(batch, token)
    assert ApiKey.objects.get().last_used_at == first  # the second request wrote nothing

    key = ApiKey.objects.get()
    with django_assert_num_queries(0):
        key.mark_used(first + timedelta(seconds=59))
    with django_assert_num_queries(1):
        key.mark_used(first + timedelta(seconds=61))
    assert ApiKey.objects.get().last_used_at == first + timedelta(seconds=61)


@pytest.mark.django_db
def test_store_failures_are_a_503_and_record_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    from personalize.profiles.base import StoreUnavailable

    def down(*args: Any) -> None:
        raise StoreUnavailable

    monkeypatch.setattr(type(get_store()), "apply", down)
    answer = send(shopping_batch(visitor_id=VISITOR), make_key("events:write"))

    assert answer.status_code == 503
    assert answer.headers["Retry-After"] == "5"
    assert Event.objects.count() == 0  # the log rolled back: sending again records it


@pytest.mark.django_db
def test_any_store_error_is_a_503_and_logged(monkeypatch: pytest.MonkeyPatch, caplog: Any) -> None:
    def broken(*args: Any) -> None:
        raise ConnectionError("redis went away")

    monkeypatch.setattr(type(get_store()), "apply", broken)
    answer = send(shopping_batch(visitor_id=VISITOR), make_key("events:write"))

    assert answer.status_code == 503
    assert Event.objects.count() == 0
    assert "Could not record a batch of 3 events" in caplog.text


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_concurrent_copies_of_a_batch_are_recorded_once(store: BaseProfileStore) -> None:
    """Four requests racing with the same batch: the log's unique ids decide, once."""
    from concurrent.futures import ThreadPoolExecutor
    from threading import Barrier

    from django.db import connections

    identity = Identity("visitor_id", VISITOR)
    _, events = parse_batch(shopping_batch(visitor_id=VISITOR))
    barrier = Barrier(4)

    def send_once() -> int:
        barrier.wait()
        try:
            return record_events(identity, events).recorded
        finally:
            connections.close_all()

    with ThreadPoolExecutor(4) as pool:
        recorded = list(pool.map(lambda _: send_once(), range(4)))

    assert sorted(recorded) == [0, 0, 0, 3]
    profile = store.load(VISITOR)
    assert profile is not None
    assert (profile.orders_count, profile.total_spent) == (1, 37.5)
    assert len(logged(VISITOR)) == 3
