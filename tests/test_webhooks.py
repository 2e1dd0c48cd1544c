"""Webhooks end to end: a real HTTP receiver, signatures, retries, disabling, two workers,
segment changes detected on real requests, and the hot path's query budget."""

from __future__ import annotations

import http.client
import io
import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import connection, connections
from django.test import AsyncClient, Client, override_settings
from django.test.utils import CaptureQueriesContext

from personalize import configuration
from personalize.campaigns.models import Campaign, Lead
from personalize.models import Event, Segment, Widget
from personalize.profiles.base import get_store
from personalize.webhooks.delivery import WebhookSender, retry_delay
from personalize.webhooks.models import DeliveryStatus, Webhook, WebhookDelivery
from personalize.webhooks.orders import queue_attributed_orders
from personalize.webhooks.privacy import deliveries_about, erase_deliveries
from personalize.webhooks.signing import SIGNATURE_HEADER, verify_signature
from personalize.webhooks.subscriptions import WebhookEvent, enqueue
from tests.conftest import free_port

UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36"
pytestmark = [pytest.mark.urls("tests.urls")]


class Receiver:
    """A local HTTP endpoint that verifies signatures and answers from a script."""

    def __init__(self, secret: str = "") -> None:
        self.secret = secret
        self.script: list[int] = []  # status codes to answer, then 200 for ever
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with receiver.lock:
                    status = receiver.script.pop(0) if receiver.script else 200
                    receiver.requests.append(
                        {
                            "body": body,
                            "json": json.loads(body),
                            "headers": dict(self.headers),
                            "signed": verify_signature(
                                receiver.secret,
                                self.headers.get(SIGNATURE_HEADER, ""),
                                body,
                                now=time.time(),
                            ),
                            "status": status,
                        }
                    )
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b"ok" if status < 300 else b"receiver is down")

            def log_message(self, *args: Any) -> None:
                pass

        self.port = free_port()
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def accepted(self) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["status"] < 300]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.server.shutdown()
    server.server.server_close()


def make_webhook(receiver: Receiver, events: list[str], **fields: Any) -> Webhook:
    webhook = Webhook.objects.create(name="CRM", url=receiver.url, events=events, **fields)
    receiver.secret = webhook.secret
    return webhook


class FakeClock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def queue_one(webhook: Webhook, clock: FakeClock, key: str = "") -> WebhookDelivery:
    assert enqueue([WebhookEvent("lead.captured", {"n": key}, key=key)], now=clock()) == 1
    return WebhookDelivery.objects.filter(webhook=webhook).latest("pk")


# Configuration and validation ---------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url", ["ftp://example.com/x", "javascript:alert(1)", "file:///etc/passwd"]
)
def test_a_webhook_url_must_be_http_or_https(url: str) -> None:
    webhook = Webhook(name="x", url=url, events=["lead.captured"])
    with pytest.raises(ValidationError) as excinfo:
        webhook.full_clean()
    assert "https://" in " ".join(excinfo.value.message_dict["url"])


@pytest.mark.django_db
def test_unknown_or_missing_event_types_are_refused_by_name() -> None:
    with pytest.raises(ValidationError) as excinfo:
        Webhook(name="x", url="https://e.example/h", events=["order.shipped"]).full_clean()
    assert "order.shipped" in " ".join(excinfo.value.message_dict["events"])
    with pytest.raises(ValidationError) as excinfo:
        Webhook(name="x", url="https://e.example/h", events=[]).full_clean()
    assert "at least one event" in " ".join(excinfo.value.message_dict["events"])


@pytest.mark.django_db
@pytest.mark.urls("shop_demo.urls")
def test_the_admin_generates_and_shows_the_secret(admin_client: Client) -> None:
    response = admin_client.post(
        "/admin/personalize/webhook/add/",
        {
            "name": "CRM",
            "url": "ftp://crm.example/h",
            "events": ["lead.captured"],
            "is_active": "on",
        },
    )
    assert response.status_code == 200
    assert "must start with https://" in response.content.decode()
    response = admin_client.post(
        "/admin/personalize/webhook/add/",
        {
            "name": "CRM",
            "url": "https://crm.example/h",
            "events": ["lead.captured"],
            "is_active": "on",
        },
    )
    assert response.status_code == 302
    webhook = Webhook.objects.get()
    assert webhook.secret.startswith("whsec_") and len(webhook.secret) > 40
    page = admin_client.get(f"/admin/personalize/webhook/{webhook.pk}/change/").content.decode()
    assert webhook.secret in page
    old = webhook.secret
    admin_client.post(
        "/admin/personalize/webhook/",
        {"action": "rotate_secret", "_selected_action": [webhook.pk]},
    )
    webhook.refresh_from_db()
    assert webhook.secret != old and webhook.secret.startswith("whsec_")


# Delivery -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_new_lead_is_delivered_signed(receiver: Receiver) -> None:
    webhook = make_webhook(receiver, ["lead.captured"])
    campaign = Campaign.objects.create(name="Welcome", slug="welcome", kind="popup")
    lead = Lead.objects.create(email="ann@example.com", consent=True, campaign=campaign)
    assert WebhookSender().run_once() == 1
    [request] = receiver.requests
    assert request["signed"]
    assert request["headers"]["X-Personalize-Event"] == "lead.captured"
    assert request["json"]["type"] == "lead.captured"
    assert request["json"]["data"]["lead"]["email"] == "ann@example.com"
    assert request["json"]["data"]["lead"]["campaign"] == "welcome"
    assert request["json"]["data"]["lead"]["id"] == lead.pk
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == DeliveryStatus.DELIVERED
    assert delivery.last_response_code == 200
    assert webhook.deliveries.count() == 1
    # A receiver with the wrong secret would refuse it.
    assert not verify_signature(
        "whsec_other", request["headers"][SIGNATURE_HEADER], request["body"], now=time.time()
    )
    assert not verify_signature(
        webhook.secret,
        request["headers"][SIGNATURE_HEADER],
        request["body"],
        now=time.time() + 3600,
    )


@pytest.mark.django_db
def test_nothing_is_queued_for_inactive_or_unsubscribed_webhooks(receiver: Receiver) -> None:
    make_webhook(receiver, ["segment.entered"])
    make_webhook(receiver, ["lead.captured"], is_active=False)
    Lead.objects.create(email="ann@example.com")
    assert not WebhookDelivery.objects.exists()


@pytest.mark.django_db
def test_a_receiver_failing_twice_gets_the_event_exactly_once(receiver: Receiver) -> None:
    webhook = make_webhook(receiver, ["lead.captured"])
    clock = FakeClock()
    sender = WebhookSender(clock=clock)
    delivery = queue_one(webhook, clock, "lead:1")
    receiver.script = [500, 503]
    assert sender.run_once() == 1
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.PENDING
    assert delivery.attempts == 1
    assert delivery.last_response_code == 500
    assert "receiver is down" in delivery.last_error
    assert delivery.next_attempt_at > clock()
    assert sender.run_once() == 0  # not due yet: no hammering
    clock.advance(hours=1)
    assert sender.run_once() == 1
    clock.advance(hours=1)
    assert sender.run_once() == 1
    clock.advance(hours=1)
    assert sender.run_once() == 0
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED
    assert delivery.attempts == 3
    assert [entry["status"] for entry in delivery.attempt_log] == [500, 503, 200]
    assert len(receiver.requests) == 3
    assert len(receiver.accepted()) == 1
    # Every attempt carried the same event (receivers deduplicate on its id).
    assert len({r["json"]["id"] for r in receiver.requests}) == 1
    assert all(r["signed"] for r in receiver.requests)


@pytest.mark.django_db
def test_a_delivery_gives_up_after_the_retry_period(receiver: Receiver) -> None:
    webhook = make_webhook(receiver, ["lead.captured"])
    clock = FakeClock()
    sender = WebhookSender(clock=clock)
    delivery = queue_one(webhook, clock)
    receiver.script = [500] * 100
    attempts = 0
    while sender.run_once():
        attempts += 1
        clock.advance(hours=5)
        assert attempts < 50
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.next_attempt_at > delivery.created_at + timedelta(hours=24)
    assert delivery.attempts == attempts


def test_retry_delays_grow_with_jitter_and_stay_capped() -> None:
    import random

    rng = random.Random(7)
    delays = [retry_delay(n, rng) for n in range(1, 15)]
    assert 15 <= delays[0] <= 30
    assert 30 <= delays[1] <= 60
    assert delays[5] > delays[1]
    assert max(delays) <= 4 * 3600
    assert len({round(d, 3) for d in delays[-3:]}) == 3  # jittered, not identical


@pytest.mark.django_db
@override_settings(PERSONALIZE_WEBHOOK_MAX_FAILURES=3)
@pytest.mark.urls("shop_demo.urls")
def test_repeated_failures_disable_the_webhook_and_the_admin_says_why(
    receiver: Receiver, admin_client: Client, django_capture_on_commit_callbacks: Any
) -> None:
    webhook = make_webhook(receiver, ["lead.captured"])
    clock = FakeClock()
    sender = WebhookSender(clock=clock)
    for n in range(5):
        queue_one(webhook, clock, f"k{n}")
    receiver.script = [500] * 10
    with django_capture_on_commit_callbacks(execute=True):
        assert sender.run_once() == 5
    webhook.refresh_from_db()
    assert not webhook.is_active
    assert "3 failed attempts in a row" in webhook.disabled_reason
    assert "HTTP 500" in webhook.disabled_reason
    # Three attempts were made; the rest waits for the webhook to be re-activated.
    assert len(receiver.requests) == 3
    assert WebhookDelivery.objects.filter(attempts=0, status=DeliveryStatus.PENDING).count() == 2
    clock.advance(hours=2)
    assert sender.run_once() == 0
    # No new events are queued for it either.
    assert enqueue([WebhookEvent("lead.captured", {})]) == 0
    for page in ("/admin/personalize/webhook/", f"/admin/personalize/webhook/{webhook.pk}/change/"):
        html = admin_client.get(page).content.decode()
        assert "is disabled" in html and "3 failed attempts in a row" in html
    # Re-activating in the admin resets the count and sends what waited.
    response = admin_client.post(
        f"/admin/personalize/webhook/{webhook.pk}/change/",
        {"name": "CRM", "url": receiver.url, "events": ["lead.captured"], "is_active": "on"},
    )
    assert response.status_code == 302
    webhook.refresh_from_db()
    assert webhook.is_active and webhook.consecutive_failures == 0
    receiver.script = []
    clock.advance(hours=5)
    while sender.run_once():
        pass
    assert len(receiver.accepted()) == 5


@pytest.mark.django_db
@pytest.mark.urls("shop_demo.urls")
def test_the_delivery_log_is_read_only_and_retries_now(
    receiver: Receiver, admin_client: Client
) -> None:
    webhook = make_webhook(receiver, ["lead.captured"])
    clock = FakeClock()
    delivery = queue_one(webhook, clock)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        status=DeliveryStatus.FAILED, next_attempt_at=clock() + timedelta(days=3)
    )
    listing = admin_client.get("/admin/personalize/webhookdelivery/?status__exact=failed")
    assert listing.status_code == 200 and "lead.captured" in listing.content.decode()
    assert admin_client.get("/admin/personalize/webhookdelivery/add/").status_code == 403
    admin_client.post(
        "/admin/personalize/webhookdelivery/",
        {"action": "retry_now", "_selected_action": [delivery.pk]},
    )
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.PENDING
    assert WebhookSender().run_once() == 1
    assert len(receiver.accepted()) == 1
    page = admin_client.get(f"/admin/personalize/webhookdelivery/{delivery.pk}/change/")
    html = page.content.decode()
    assert "<td>200</td>" in html
    assert 'name="_save"' not in html  # a record, not a form


@pytest.mark.django_db
def test_a_worker_that_read_rows_another_claimed_meanwhile_takes_none(
    receiver: Receiver,
) -> None:
    webhook = make_webhook(receiver, ["lead.captured"])
    clock = FakeClock()
    for n in range(3):
        queue_one(webhook, clock, f"k{n}")
    first, second = WebhookSender(clock=clock), WebhookSender(clock=clock)
    seen = first.due_ids(10, clock())  # read, as SQLite's readers do, without a row lock
    assert len(seen) == 3
    token, claimed = second.claim(10)
    assert len(claimed) == 3
    assert first.take(seen, clock(), "other-token") == 0
    assert set(WebhookDelivery.objects.values_list("claim_token", flat=True)) == {token}
    # Once the lease runs out (a worker died mid-send), the rows are due again.
    clock.advance(minutes=5)
    assert first.take(first.due_ids(10, clock()), clock(), "other-token") == 3


def _two_workers_deliver(receiver: Receiver, alias: str) -> None:
    with override_settings(PERSONALIZE_DATABASE_ALIAS=alias):
        webhook = Webhook.objects.using(alias).create(
            name="CRM", url=receiver.url, events=["lead.captured"]
        )
        receiver.secret = webhook.secret
        configuration.reset_all()  # the subscriptions were compiled from the other database
        events = [WebhookEvent("lead.captured", {"n": n}, key=f"k{n}") for n in range(40)]
        assert enqueue(events) == 40
        errors: list[BaseException] = []
        start = threading.Barrier(2)

        def work() -> None:
            try:
                sender = WebhookSender(using=alias)
                start.wait()
                while sender.run_once(limit=3):
                    pass
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)
            finally:
                connections.close_all()

        threads = [threading.Thread(target=work) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert not errors
        ids = [r["json"]["data"]["n"] for r in receiver.requests]
        assert sorted(ids) == list(range(40))  # every one, none twice
        assert WebhookDelivery.objects.using(alias).filter(status="delivered").count() == 40


@pytest.mark.django_db(transaction=True)
def test_two_workers_never_deliver_twice_on_sqlite(receiver: Receiver) -> None:
    _two_workers_deliver(receiver, "default")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, databases=["default", "postgres"])
def test_two_workers_never_deliver_twice_on_postgresql(receiver: Receiver) -> None:
    if not django_settings.POSTGRES_AVAILABLE:
        pytest.skip("PostgreSQL not available")
    _two_workers_deliver(receiver, "postgres")


@pytest.mark.django_db
def test_the_database_store_command_sends_and_exits_when_nothing_is_due(
    receiver: Receiver,
) -> None:
    make_webhook(receiver, ["lead.captured"])
    Lead.objects.create(email="ann@example.com")
    out = io.StringIO()
    call_command("personalize_webhooks", "--until-empty", stdout=out)
    assert len(receiver.accepted()) == 1
    assert "1 delivered" in out.getvalue()


# order.attributed ---------------------------------------------------------------------


def _event(name: str, visitor: str, at: datetime, **props: Any) -> Event:
    return Event.objects.create(
        event_id=f"{name}-{visitor}-{at.timestamp()}"[:32],
        visitor_id=visitor,
        name=name,
        props=props,
        occurred_at=at,
    )


@pytest.mark.django_db
def test_attributed_orders_are_queued_once_from_the_event_log(receiver: Receiver) -> None:
    make_webhook(receiver, ["order.attributed"])
    Campaign.objects.create(name="Welcome", slug="welcome", kind="popup", attribution_days=7)
    now = datetime.now(tz=UTC)
    assert queue_attributed_orders(now=now) == 0  # starts at the end of the log
    day = timedelta(days=1)
    _event("campaign_impression", "v1", now - 3 * day, campaign="welcome", variant="a")
    _event("campaign_exposure", "v2", now - 3 * day, campaign="welcome", variant="control")
    _event("campaign_impression", "v3", now - 30 * day, campaign="welcome", variant="a")
    Widget.objects.create(slot="product-detail", name="PDP", title="You may also like")
    _event("rec_click", "v4", now - 2 * day, widget="product-detail", product_id="17", position=1)
    _event("rec_click", "v5", now - 2 * day, widget="product-detail", product_id="99", position=1)
    line = {"product_id": "17", "price": 12.5, "quantity": 2, "category": "cats"}
    other = {"product_id": "3", "price": 5.0, "quantity": 1, "category": "dogs"}
    for visitor in ("v1", "v2", "v3", "v4", "v5"):
        _event(
            "purchase",
            visitor,
            now - day,
            order_id=f"o-{visitor}",
            value=30.0,
            items=[line, other],
        )
    Event.objects.update(logged_at=now - timedelta(minutes=1))
    assert queue_attributed_orders(now=now) >= 1
    assert queue_attributed_orders(now=now) == 0  # the cursor moved on
    bodies = {d.body["data"]["order"]["id"]: d.body["data"] for d in WebhookDelivery.objects.all()}
    # v2 was in the control group, v3 out of the window, v5 clicked a product not bought.
    assert sorted(bodies) == ["o-v1", "o-v4"]
    assert bodies["o-v1"]["order"]["value"] == 30.0
    assert [c["slug"] for c in bodies["o-v1"]["campaigns"]] == ["welcome"]
    assert bodies["o-v1"]["widgets"] == []
    [widget] = bodies["o-v4"]["widgets"]
    assert widget["slot"] == "product-detail" and widget["product_id"] == "17"
    assert widget["revenue"] == 25.0  # the clicked product's lines only
    while WebhookSender().run_once():
        pass
    assert [r["json"]["type"] for r in receiver.accepted()] == ["order.attributed"] * 2


@pytest.mark.django_db
def test_queueing_costs_no_query_when_nobody_subscribes(
    receiver: Receiver, django_assert_num_queries: Any
) -> None:
    make_webhook(receiver, ["lead.captured"], is_active=False)
    enqueue([])  # compiles the subscriptions
    with django_assert_num_queries(0):
        assert enqueue([WebhookEvent("segment.entered", {}, segment="vip")]) == 0
        assert enqueue([WebhookEvent("lead.captured", {})]) == 0
        assert queue_attributed_orders() == 0


# Segment changes on real requests -----------------------------------------------------


def shopper(ua: str = UA) -> Client:
    return Client(headers={"User-Agent": ua, "Accept": "text/html", "Sec-Fetch-Dest": "document"})


def early_pages_segment() -> Segment:
    # In the segment for the first two page views of a visit, out from the third.
    return Segment.objects.create(
        name="Early pages", slug="early-pages", condition={"pageviews_visit": {"$lte": 2}}
    )


def segment_events() -> list[tuple[str, str]]:
    return [
        (d.event_type, d.body["data"]["segment"]["slug"])
        for d in WebhookDelivery.objects.order_by("pk")
    ]


@pytest.mark.django_db
def test_entering_and_leaving_a_segment_is_detected_on_requests(receiver: Receiver) -> None:
    segment = early_pages_segment()
    webhook = make_webhook(receiver, ["segment.entered", "segment.left"])
    webhook.segments.add(segment)
    client = shopper()
    client.get("/page/")
    assert segment_events() == [("segment.entered", "early-pages")]
    client.get("/page/")
    assert len(segment_events()) == 1  # still in it: nothing new
    client.get("/page/")
    assert segment_events() == [
        ("segment.entered", "early-pages"),
        ("segment.left", "early-pages"),
    ]
    left = WebhookDelivery.objects.order_by("pk").last()
    assert left is not None
    assert left.body["data"]["visitor"]["id"] in client.cookies["pz_vid"].value
    profile = get_store().load(left.body["data"]["visitor"]["id"])
    assert profile is not None and "early-pages" not in profile.ext["segments"]
    while WebhookSender().run_once():
        pass
    assert [r["json"]["type"] for r in receiver.accepted()] == ["segment.entered", "segment.left"]


@pytest.mark.django_db
def test_the_async_stack_detects_segment_changes_too(receiver: Receiver) -> None:
    segment = early_pages_segment()
    webhook = make_webhook(receiver, ["segment.entered", "segment.left"])
    webhook.segments.add(segment)
    client = AsyncClient()
    headers = {"User-Agent": UA, "Accept": "text/html", "Sec-Fetch-Dest": "document"}
    for _ in range(3):
        assert async_to_sync(client.get)("/page/", headers=headers).status_code == 200
    assert segment_events() == [
        ("segment.entered", "early-pages"),
        ("segment.left", "early-pages"),
    ]


@pytest.mark.django_db
def test_bots_untracked_visitors_and_staff_previews_never_trigger_segment_events(
    receiver: Receiver, admin_client: Client
) -> None:
    early_pages_segment()
    make_webhook(receiver, ["segment.entered", "segment.left"])
    bot = shopper("Googlebot/2.1 (+http://www.google.com/bot.html)")
    for _ in range(4):
        bot.get("/page/")
    assert not WebhookDelivery.objects.exists()
    with override_settings(PERSONALIZE_REQUIRE_CONSENT=True):
        untracked = shopper()  # no consent cookie: nothing is stored, nothing is sent
        for _ in range(4):
            untracked.get("/page/")
    assert not WebhookDelivery.objects.exists()
    user = get_user_model().objects.get(username="admin")
    staff = shopper()
    staff.force_login(user)
    staff.get("/page/?pz_preview=early-pages")
    staff.get("/page/")  # the preview cookie keeps the forced segments
    assert not WebhookDelivery.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_the_redis_hot_path_stays_free_of_sql_without_subscribers(
    use_redis_store: Any, receiver: Receiver, django_assert_num_queries: Any
) -> None:
    segment = early_pages_segment()
    client = shopper()
    client.get("/page/")
    client.get("/page/")
    with django_assert_num_queries(0):
        client.get("/page/")  # leaves the segment: remembered, nobody told
    assert not WebhookDelivery.objects.exists()
    # With a subscriber, the change costs exactly one INSERT.
    Segment.objects.filter(slug="early-pages").update(condition={"pageviews_visit": {"$lte": 4}})
    webhook = make_webhook(receiver, ["segment.left"])  # bumps the configuration version
    webhook.segments.add(segment)
    client.get("/page/")  # 4th page view: back in (entered is not subscribed)
    with CaptureQueriesContext(connection) as captured:
        client.get("/page/")  # 5th: leaves
    statements = [q["sql"] for q in captured.captured_queries]
    # One INSERT (SQLite's BEGIN IMMEDIATE/COMMIT around it are not queries of their own).
    assert [sql.split()[0] for sql in statements if sql not in ("BEGIN IMMEDIATE", "COMMIT")] == [
        "INSERT"
    ], statements
    assert segment_events() == [("segment.left", "early-pages")]


@pytest.mark.django_db(transaction=True)
def test_personalize_worker_sends_deliveries_too(use_redis_store: Any, receiver: Receiver) -> None:
    make_webhook(receiver, ["lead.captured"])
    Lead.objects.create(email="ann@example.com")
    out = io.StringIO()
    call_command("personalize_worker", "--until-empty", "--status-every", "0", stdout=out)
    assert len(receiver.accepted()) == 1
    assert "Webhooks: 1 delivered" in out.getvalue()
    assert WebhookDelivery.objects.get().status == DeliveryStatus.DELIVERED


@pytest.mark.django_db
def test_the_purge_deletes_finished_deliveries_past_the_log_period(receiver: Receiver) -> None:
    webhook = make_webhook(receiver, ["lead.captured"])
    clock = FakeClock()
    old = datetime.now(tz=UTC) - timedelta(days=31)
    for n in range(4):
        queue_one(webhook, clock, f"k{n}")
    rows = list(WebhookDelivery.objects.order_by("pk"))
    for row, status in zip(rows, ["delivered", "failed", "pending", "delivered"], strict=True):
        row.status = status
        row.created_at = old if row is not rows[-1] else datetime.now(tz=UTC)
        row.save()
    out = io.StringIO()
    call_command("personalize_purge", stdout=out, stderr=io.StringIO())
    assert "Deleted 2 delivered or failed webhook deliveries older than 30 days" in out.getvalue()
    # A delivery still being retried stays, whatever its age, and so do recent ones.
    assert sorted(WebhookDelivery.objects.values_list("status", flat=True)) == [
        "delivered",
        "pending",
    ]


@pytest.mark.django_db
def test_an_erasure_finds_and_deletes_a_persons_deliveries(receiver: Receiver) -> None:
    make_webhook(receiver, ["lead.captured", "segment.entered"])
    Lead.objects.create(email="ann@example.com", visitor_id="v-ann")
    Lead.objects.create(email="bob@example.com", visitor_id="v-bob")
    visitor = {"id": "v-ann2", "user_id": "", "email": "ann@example.com"}
    enqueue([WebhookEvent("segment.entered", {"visitor": visitor, "segment": {"slug": "x"}})])
    assert deliveries_about("v-ann").count() == 1
    assert deliveries_about("v-ann", email="ann@example.com").count() == 2
    assert erase_deliveries("v-ann", email="ann@example.com") == 2
    [left] = WebhookDelivery.objects.all()
    assert left.body["data"]["lead"]["email"] == "bob@example.com"


@pytest.mark.django_db
def test_unreachable_or_garbled_receivers_are_failed_attempts_not_crashes(
    receiver: Receiver,
) -> None:
    webhook = make_webhook(receiver, ["lead.captured"])
    clock = FakeClock()
    queue_one(webhook, clock, "garbled")
    queue_one(webhook, clock, "refused")

    def garbled(url: str, body: bytes, headers: dict[str, str], timeout: float) -> tuple[int, str]:
        raise http.client.BadStatusLine("HTTP/9 what")

    assert WebhookSender(clock=clock, transport=garbled).run_once(limit=1) == 1
    Webhook.objects.filter(pk=webhook.pk).update(url=f"http://127.0.0.1:{free_port()}/closed")
    assert WebhookSender(clock=clock).run_once() == 1
    errors = dict(WebhookDelivery.objects.values_list("event_key", "last_error"))
    assert errors["garbled"].startswith("BadStatusLine")
    assert errors["refused"].startswith(("ConnectionRefusedError", "URLError"))
    assert Webhook.objects.get().consecutive_failures == 2
