"""Erasure and export of a person (personalize.privacy), on the database and Redis stores.

The person browses on a laptop (signed in: the profile is linked to the user), a phone
(anonymous, then merged into the user's profile at login) and a tablet (never signed
in, identified by email); their email is in events, a lead, a static segment list; a
coupon was handed out to them. A second person does the same things. After erasing
the first person by email, no row of any personalize table and no Redis key or value
holds their email, user id or any of their visitor ids; the second person is intact.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
import redis
from django.apps import apps
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model, login
from django.contrib.auth.models import Permission
from django.core.management import CommandError, call_command
from django.http import HttpRequest, HttpResponse
from django.test import Client, override_settings
from django.urls import path
from django.utils import timezone
from redis.cluster import RedisCluster

from personalize.campaigns.models import Campaign, CouponCode, Lead
from personalize.conf import settings
from personalize.models import DeferredChange, Event, PrivacyRequest
from personalize.privacy.person import Identifier, InvalidIdentifier, resolve_person
from personalize.privacy.service import COMMAND_LINE, erase_person, export_person, look_up
from personalize.privacy.sources import get_sources, register_source, unregister_source
from personalize.profiles import backlog
from personalize.profiles.base import BaseProfileStore, get_store, reset_store
from personalize.profiles.profile import ProfileOp
from personalize.segments.models import Segment, SegmentMember
from personalize.tracking.events import MERGE_EVENT, EventRecord, new_event_id, validate_event
from personalize.webhooks.models import Webhook, WebhookDelivery
from tests import urls as test_urls
from tests.conftest import DB_STORE, _need

pytestmark = [pytest.mark.django_db(databases="__all__"), pytest.mark.urls("tests.urls")]

CHROME = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0 Safari/537.36"
)
EMAIL = "jane.privacy@example.com"
OTHER_EMAIL = "otto.keep@example.com"
USER_PK = 987_654_321
OTHER_PK = 987_654_322


def browser() -> Client:
    return Client(headers={"User-Agent": CHROME, "Accept": "text/html"})


def visitor_json(client: Client) -> dict[str, Any]:
    response = client.get("/personalize/api/visitor/")
    assert response.status_code == 200
    data: dict[str, Any] = response.json()
    return data


@dataclass
class Backend:
    store: BaseProfileStore
    alias: str
    redis_url: str | None
    redis_prefix: str | None
    cluster: bool = False

    def redis(self) -> Any:
        """A client seeing every key: on a cluster, one that scans every primary."""
        assert self.redis_url
        if self.cluster:
            return RedisCluster.from_url(self.redis_url, decode_responses=True)  # type: ignore[no-untyped-call]
        return redis.Redis.from_url(self.redis_url, decode_responses=True)


@pytest.fixture(params=["sqlite", "postgres", "redis", "redis-cluster"])
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    """The database store (on SQLite and PostgreSQL) and the Redis store (one server
    and a Redis Cluster with several event stream shards)."""
    if request.param in ("redis", "redis-cluster"):
        cluster = request.param == "redis-cluster"
        store = request.getfixturevalue("use_redis_cluster_store" if cluster else "use_redis_store")
        url, prefix = settings.REDIS_URL, settings.REDIS_PREFIX
        yield Backend(store, "default", url, prefix, cluster)
        return
    if request.param == "postgres":
        _need(django_settings.POSTGRES_AVAILABLE, "PostgreSQL")
    alias = "default" if request.param == "sqlite" else "postgres"
    reset_store()
    with override_settings(PERSONALIZE_STORE=DB_STORE, PERSONALIZE_DATABASE_ALIAS=alias):
        yield Backend(get_store(), alias, None, None)
    reset_store()


@dataclass
class World:
    laptop: str  # the user's profile (signed in on the laptop first)
    phone: str  # anonymous, merged into the user's profile at login
    tablet: str  # never signed in; identified by email
    other: str  # the second person's profile
    clerk: str  # a shop clerk who searched for the person's email


def identify(store: BaseProfileStore, visitor_id: str, email: str) -> None:
    store.apply(
        visitor_id,
        [ProfileOp("set", "email", email)],
        [event(visitor_id, "identify", {"email": email})],
    )


def event(visitor_id: str, name: str, props: dict[str, Any], user_id: str = "") -> EventRecord:
    return EventRecord(new_event_id(), visitor_id, name, props, time.time(), 1, user_id)


def build_world(backend: Backend) -> World:
    """Two people's data in every place personalize keeps personal data."""
    using = backend.alias
    users = get_user_model().objects
    jane = users.create_user("jane", EMAIL, "pw-12345678", pk=USER_PK)
    otto = users.create_user("otto", OTHER_EMAIL, "pw-12345678", pk=OTHER_PK)
    store = get_store()

    laptop = browser()
    laptop.get("/p/1/")
    laptop_vid = laptop.get(f"/login-as/{jane.pk}/").json()["visitor"]
    laptop.get("/p/2/")  # logged with the user id
    phone = browser()
    phone.get("/p/3/")
    phone_vid = visitor_json(phone)["id"]
    assert phone.get(f"/login-as/{jane.pk}/").json()["visitor"] == laptop_vid  # merged

    tablet = browser()
    tablet.get("/p/4/")
    tablet_vid = visitor_json(tablet)["id"]
    identify(store, tablet_vid, EMAIL)

    other = browser()
    other.get("/p/1/")
    other_vid = other.get(f"/login-as/{otto.pk}/").json()["visitor"]
    identify(store, other_vid, OTHER_EMAIL)

    clerk = browser()
    clerk_vid = visitor_json(clerk)["id"]
    store.apply(clerk_vid, [], [event(clerk_vid, "search", {"query": EMAIL.upper()})])

    if backend.redis_url:
        # Half the history reaches the database log, the rest waits in the stream.
        stream = store.event_stream()
        assert stream is not None
        # One shard at a time, in this thread: a worker thread per shard would wait for
        # SQLite's write lock, which this test's transaction holds.
        for shard in range(len(stream.names)):
            call_command(
                "personalize_worker",
                "--until-empty",
                "--no-webhooks",
                "--shard",
                shard,
                stdout=StringIO(),
            )
        limiter = store.rate_limiter()
        assert limiter is not None
        assert limiter.allow(laptop_vid, 1, 100)  # a pz:v:{V}:rl key
        client = backend.redis()
        client.set(f"{backend.redis_prefix}:user:{USER_PK}", laptop_vid)  # a legacy link
        client.close()
    tablet.get("/p/5/")  # buffered on Redis
    store.apply(laptop_vid, [], [event(laptop_vid, "search", {"query": "cat food"}, str(USER_PK))])

    campaign = Campaign.objects.using(using).create(name="Welcome", slug="welcome")
    Lead.objects.using(using).create(email=EMAIL, visitor_id=tablet_vid, campaign=campaign)
    Lead.objects.using(using).create(email=EMAIL.title(), campaign=campaign)  # no visitor
    Lead.objects.using(using).create(email=OTHER_EMAIL, visitor_id=other_vid, campaign=campaign)
    CouponCode.objects.using(using).create(campaign=campaign, code="POOL-1", visitor_id=phone_vid)
    CouponCode.objects.using(using).create(campaign=campaign, code="POOL-2", visitor_id=other_vid)
    CouponCode.objects.using(using).create(campaign=campaign, code="POOL-3")
    segment = Segment.objects.using(using).create(name="VIP list", slug="vip-list")
    for kind, value in [
        ("email", EMAIL.upper()),
        ("user", str(USER_PK)),
        ("visitor", tablet_vid),
        ("email", OTHER_EMAIL),
        ("user", str(OTHER_PK)),
    ]:
        SegmentMember.objects.using(using).create(segment=segment, kind=kind, value=value)
    # Changes a degraded request deferred for replay, for each person.
    backlog.defer(
        phone_vid, [event(phone_vid, "page_view", {"path": "/"})], maybe_applied=False, visit=None
    )
    backlog.defer(
        other_vid, [event(other_vid, "page_view", {"path": "/"})], maybe_applied=False, visit=None
    )
    # Webhook deliveries naming each person.
    hook = Webhook.objects.using(using).create(
        name="CRM", url="https://crm.example/hooks", events=["segment.entered"]
    )
    for n, (vid, email) in enumerate([(laptop_vid, EMAIL), (other_vid, OTHER_EMAIL)]):
        WebhookDelivery.objects.using(using).create(
            webhook=hook,
            event_type="segment.entered",
            event_key=f"test:{n}",
            body={"data": {"visitor": {"id": vid, "email": email}}},
            next_attempt_at=timezone.now(),
            created_at=timezone.now(),
        )
    return World(laptop_vid, phone_vid, tablet_vid, other_vid, clerk_vid)


def table_text(alias: str) -> str:
    """Every field of every row of every personalize table, as text."""
    chunks = []
    for model in apps.get_app_config("personalize").get_models():
        for row in model._default_manager.using(alias).all():
            values = [getattr(row, f.attname) for f in model._meta.concrete_fields]
            chunks.append(f"{model.__name__}: {json.dumps(values, default=str)}")
    return "\n".join(chunks).lower()


def redis_text(backend: Backend) -> str:
    """Every key under the prefix and its value, read the way its type is read."""
    client = backend.redis()
    prefix = backend.redis_prefix
    chunks = []
    for key in client.scan_iter(match=f"{prefix}:*", count=1000):
        kind = client.type(key)
        value: Any
        if kind == "string":
            value = client.get(key)
        elif kind == "hash":
            value = client.hgetall(key)
        elif kind == "zset":
            value = client.zrange(key, 0, -1, withscores=True)
        elif kind == "set":
            value = sorted(client.smembers(key))
        elif kind == "list":
            value = client.lrange(key, 0, -1)
        elif kind == "stream":
            value = client.xrange(key)
        else:
            raise AssertionError(f"unexpected Redis type {kind} of {key}")
        chunks.append(f"{key} {json.dumps(value, default=str)}")
    client.close()
    return "\n".join(chunks).lower()


def traces(backend: Backend, needles: list[str]) -> list[str]:
    text = table_text(backend.alias)
    if backend.redis_url:
        text += "\n" + redis_text(backend)
    return [needle for needle in needles if needle.lower() in text]


def test_resolving_the_email_finds_every_device(backend: Backend) -> None:
    world = build_world(backend)
    person = resolve_person(Identifier.parse("email", EMAIL.upper()))
    # The clerk's search for the email is erased with the person; the clerk is not them.
    assert person.visitor_ids == {world.laptop, world.phone, world.tablet}
    assert person.user_ids == {str(USER_PK)}
    assert person.emails == {EMAIL}
    # From the user id alone: the same devices, through the log and the merge record.
    by_user = resolve_person(Identifier.parse("user_id", str(USER_PK)))
    assert {world.laptop, world.phone, world.tablet} <= by_user.visitor_ids
    assert world.other not in by_user.visitor_ids


def test_a_login_merge_records_the_merged_device_for_the_user() -> None:
    user = get_user_model().objects.create_user("jane", EMAIL, "pw-12345678", pk=USER_PK)
    laptop = browser()
    laptop_vid = laptop.get(f"/login-as/{user.pk}/").json()["visitor"]
    phone = browser()
    phone.get("/p/3/")
    phone_vid = visitor_json(phone)["id"]
    phone.get(f"/login-as/{user.pk}/")
    merge = Event.objects.get(name=MERGE_EVENT)
    assert (merge.visitor_id, merge.user_id, merge.props) == (
        laptop_vid,
        str(USER_PK),
        {"from": phone_vid},
    )
    # The phone's earlier events carry neither the user id nor the user's visitor id.
    assert Event.objects.get(name="product_view").user_id == ""
    assert phone_vid in resolve_person(Identifier.parse("user_id", str(USER_PK))).visitor_ids
    # Only the server writes it: a client reporting one is refused.
    with pytest.raises(ValueError, match="Unknown event 'visitor_merged'"):
        validate_event(MERGE_EVENT, {"from": "c" * 32})


def test_erase_by_email_leaves_no_trace_and_keeps_the_other_person(backend: Backend) -> None:
    world = build_world(backend)
    store = get_store()
    needles = [EMAIL, str(USER_PK), world.laptop, world.phone, world.tablet]
    assert traces(backend, needles) == needles  # the scan sees them before
    other_before = store.load(world.other)
    assert other_before is not None and other_before.email == OTHER_EMAIL
    other_events = Event.objects.using(backend.alias).filter(visitor_id=world.other).count()

    exported = json.loads(_export(EMAIL))
    call_command("personalize_erase", "--email", EMAIL, stdout=StringIO())

    assert traces(backend, needles) == []
    erased = PrivacyRequest.objects.using(backend.alias).get(kind="erase")
    # The export held everything the erasure removed, kind by kind.
    assert exported["counts"] == erased.counts
    assert erased.counts["profiles"] == 2 and erased.counts["leads"] == 2
    assert erased.counts["coupons"] == 1 and erased.counts["segment_members"] == 3
    assert erased.counts["user_links"] == 1
    assert erased.counts["deferred_changes"] == 1
    assert erased.counts["webhook_deliveries"] == 1
    assert erased.counts["events"] + erased.counts["buffered_events"] >= 8
    if backend.redis_url:
        assert erased.counts["buffered_events"] > 0
    data = exported["data"]
    assert {p["visitor_id"] for p in data["profiles"]} == {world.laptop, world.tablet}
    # The clerk's search for the email goes, without the clerk's id in the export.
    searches = [e for e in _all(data) if e["name"] == "search" and not e["user_id"]]
    assert [e["visitor_id"] for e in searches] == [""]
    assert world.clerk not in json.dumps(exported)

    # The second person is untouched.
    assert store.load(world.other) == other_before
    assert store.visitor_for_user(str(OTHER_PK)) == world.other
    assert Event.objects.using(backend.alias).filter(visitor_id=world.other).count() == (
        other_events
    )
    assert Lead.objects.using(backend.alias).filter(email=OTHER_EMAIL).count() == 1
    assert CouponCode.objects.using(backend.alias).get(code="POOL-2").visitor_id == world.other
    assert SegmentMember.objects.using(backend.alias).count() == 2
    assert DeferredChange.objects.using(backend.alias).get().visitor_id == world.other
    assert WebhookDelivery.objects.using(backend.alias).count() == 1
    # The person's code stays handed out (never reissued), without its holder.
    assert CouponCode.objects.using(backend.alias).get(code="POOL-1").visitor_id == "erased"
    assert CouponCode.objects.using(backend.alias).get(code="POOL-3").visitor_id == ""


def _all(data: dict[str, Any]) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = data["events"]
    buffered = [
        {"name": e["n"], "visitor_id": e["v"], "user_id": e["u"]} for e in data["buffered_events"]
    ]
    return events + buffered


def _export(email: str) -> str:
    out = StringIO()
    call_command("personalize_export", "--email", email, stdout=out)
    return out.getvalue()


def test_the_audit_trail_holds_no_personal_data(backend: Backend) -> None:
    world = build_world(backend)
    export_person(Identifier.parse("user_id", str(USER_PK)), requested_by=COMMAND_LINE)
    erase_person(Identifier.parse("visitor_id", world.tablet), requested_by="dpo")
    records = PrivacyRequest.objects.using(backend.alias).order_by("pk")
    assert [(r.kind, r.identifier_kind, r.requested_by) for r in records] == [
        ("export", "user_id", COMMAND_LINE),
        ("erase", "visitor_id", "dpo"),
    ]
    text = json.dumps(
        [[getattr(r, f.attname) for f in PrivacyRequest._meta.concrete_fields] for r in records],
        default=str,
    )
    for needle in (EMAIL, str(USER_PK), world.laptop, world.phone, world.tablet):
        assert needle not in text


def test_a_dry_run_counts_and_changes_nothing(backend: Backend) -> None:
    world = build_world(backend)
    before = look_up(Identifier.parse("email", EMAIL))
    erasure = erase_person(
        Identifier.parse("email", EMAIL), requested_by=COMMAND_LINE, dry_run=True
    )
    assert erasure.counts == before.counts and erasure.total > 0 and erasure.audit is None
    assert get_store().load(world.laptop) is not None
    assert not PrivacyRequest.objects.using(backend.alias).exists()
    assert look_up(Identifier.parse("email", EMAIL)).counts == before.counts


# --- the service's extension point ----------------------------------------------------


class NoteSource:
    """A module's own personal data: notes keyed by email (a webhook log, say)."""

    name = "notes"

    def __init__(self) -> None:
        self.notes = {EMAIL: ["called"], OTHER_EMAIL: ["wrote"]}

    def count(self, person: Any) -> dict[str, int]:
        return {"notes": sum(len(self.notes.get(e, [])) for e in person.emails)}

    def export(self, person: Any) -> dict[str, list[dict[str, Any]]]:
        return {"notes": [{"text": n} for e in person.emails for n in self.notes.get(e, [])]}

    def erase(self, person: Any) -> dict[str, int]:
        counts = self.count(person)
        for email in person.emails:
            self.notes.pop(email, None)
        return counts


def test_another_module_registers_its_own_source() -> None:
    source = NoteSource()
    register_source(source)
    try:
        assert source in get_sources()
        identifier = Identifier.parse("email", EMAIL)
        assert export_person(identifier, requested_by="x")["data"]["notes"] == [{"text": "called"}]
        assert erase_person(identifier, requested_by="x").counts["notes"] == 1
        assert source.notes == {OTHER_EMAIL: ["wrote"]}
    finally:
        unregister_source("notes")
    assert source not in get_sources()
    with pytest.raises(TypeError, match="not a personal-data source"):
        register_source(object())  # type: ignore[arg-type]


# --- commands ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "exactly one of --email, --user-id, --visitor-id \\(none given\\)"),
        (["--email", EMAIL, "--user-id", "3"], "\\(--email and --user-id given\\)"),
        (["--email", "not-an-email"], "--email: email 'not-an-email' is not a valid email"),
        (["--visitor-id", "xyz"], "--visitor-id: visitor_id must be 32 hexadecimal"),
        (["--user-id", "a b"], "--user-id: user_id must be the user's primary key"),
        (["--email", "  "], "--email: email is empty"),
    ],
)
@pytest.mark.parametrize("command", ["personalize_erase", "personalize_export"])
def test_commands_reject_bad_input(command: str, args: list[str], message: str) -> None:
    with pytest.raises(CommandError, match=message):
        call_command(command, *args)
    assert not PrivacyRequest.objects.exists()


def test_export_writes_a_file_and_says_so(tmp_path: Path) -> None:
    get_user_model().objects.create_user("jane", EMAIL, "pw-12345678", pk=USER_PK)
    Lead.objects.create(email=EMAIL)
    target = tmp_path / "jane.json"
    err = StringIO()
    call_command("personalize_export", "--email", EMAIL, "--output", str(target), stderr=err)
    document = json.loads(target.read_text())
    assert document["counts"]["leads"] == 1 and document["identified_by"] == "email"
    assert document["person"]["user_ids"] == [str(USER_PK)]
    assert f"to {target}" in err.getvalue()
    with pytest.raises(CommandError, match="give a file path in an existing directory"):
        call_command("personalize_export", "--email", EMAIL, "--output", str(tmp_path / "no/x"))


def test_erase_dry_run_prints_counts() -> None:
    Lead.objects.create(email=EMAIL)
    out = StringIO()
    call_command("personalize_erase", "--email", EMAIL, "--dry-run", stdout=out)
    assert "Would erase 1 record(s)" in out.getvalue() and "leads: 1" in out.getvalue()
    assert Lead.objects.count() == 1 and not PrivacyRequest.objects.exists()


def test_identifiers_are_validated() -> None:
    assert Identifier.parse("email", " Jane@Example.COM ").value == "jane@example.com"
    assert Identifier.parse("visitor_id", "A" * 32).value == "a" * 32
    with pytest.raises(InvalidIdentifier, match="Unknown identifier kind 'phone'"):
        Identifier.parse("phone", "123")


# --- GET /personalize/api/visitor/: personal fields for the owner only -------------------

PERSONAL = ("ids", "searches", "orders_count", "total_spent", "purchased_products")


def test_the_signed_in_owner_sees_their_personal_fields() -> None:
    user = get_user_model().objects.create_user("jane", EMAIL, "pw-12345678", pk=USER_PK)
    laptop = browser()
    laptop.get("/p/1/")
    laptop.get(f"/login-as/{user.pk}/")
    data = visitor_json(laptop)
    assert data["personal"] is True
    assert f"u:{USER_PK}" in data["attributes"]["ids"]
    for field in PERSONAL:
        assert field in data["attributes"]


def test_an_anonymous_cookie_holder_gets_only_non_personal_fields() -> None:
    user = get_user_model().objects.create_user("jane", EMAIL, "pw-12345678", pk=USER_PK)
    laptop = browser()
    laptop.get("/p/1/")
    laptop.get(f"/login-as/{user.pk}/")
    # Someone with the same visitor cookie but no session (a copied cookie, an expired
    # session on a shared computer): the profile is the user's, the request is not.
    stranger = browser()
    stranger.cookies["pz_vid"] = laptop.cookies["pz_vid"].value
    data = visitor_json(stranger)
    assert data["id"] == visitor_json(laptop)["id"]
    assert data["personal"] is False
    for field in PERSONAL:
        assert field not in data["attributes"]
    assert data["visit_count"] >= 1 and "segments" in data["attributes"]
    assert data["attributes"]["viewed_products"] == ["1"]


def test_an_anonymous_profile_is_not_personal_to_its_cookie_either() -> None:
    client = browser()
    client.get("/p/1/")
    data = visitor_json(client)
    assert data["personal"] is False and "ids" not in data["attributes"]


def test_logout_still_rotates_the_visitor_id() -> None:
    user = get_user_model().objects.create_user("jane", EMAIL, "pw-12345678", pk=USER_PK)
    client = browser()
    client.get("/p/1/")
    customer = client.get(f"/login-as/{user.pk}/").json()["visitor"]
    assert client.get("/logout/").json()["visitor"] != customer
    data = visitor_json(client)
    assert data["id"] != customer and data["personal"] is False


# --- the admin page ----------------------------------------------------------------------

PERSON_URL = "/admin/personalize/privacyrequest/person/"
LIST_URL = "/admin/personalize/privacyrequest/"


def staff(*codenames: str) -> Client:
    user = get_user_model().objects.create_user("dpo", "dpo@shop.example", "pw-12345678")
    user.is_staff = True
    user.save()
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.urls("shop_demo.urls")
def test_the_page_needs_the_dedicated_permission() -> None:
    client = staff("view_privacyrequest")
    assert client.get(LIST_URL).status_code == 200  # the audit trail, read-only
    assert PERSON_URL.encode() not in client.get(LIST_URL).content
    assert client.get(PERSON_URL).status_code == 403
    response = client.post(PERSON_URL, {"kind": "email", "value": EMAIL, "action": "export"})
    assert response.status_code == 403
    assert not PrivacyRequest.objects.exists()


@pytest.mark.urls("shop_demo.urls")
def test_look_up_export_then_erase_after_confirming() -> None:
    Lead.objects.create(email=EMAIL)
    Lead.objects.create(email=OTHER_EMAIL)
    client = staff("view_privacyrequest", "handle_privacy_requests")
    assert PERSON_URL.encode() in client.get(LIST_URL).content
    assert client.get(PERSON_URL).status_code == 200

    form = {"kind": "email", "value": EMAIL}
    page = client.post(PERSON_URL, {**form, "action": "lookup"})
    assert page.status_code == 200 and page.context["lookup"].counts["leads"] == 1
    assert not PrivacyRequest.objects.exists()  # a lookup only counts

    download = client.post(PERSON_URL, {**form, "action": "export"})
    assert download["Content-Type"] == "application/json"
    assert "attachment" in download["Content-Disposition"]
    assert EMAIL not in download["Content-Disposition"]
    assert json.loads(download.content)["data"]["leads"][0]["email"] == EMAIL

    confirm = client.post(PERSON_URL, {**form, "action": "erase"})
    assert confirm.status_code == 200 and confirm.context["confirming"] is True
    assert b"Yes, erase this person" in confirm.content
    assert Lead.objects.filter(email=EMAIL).exists()  # not before the confirmation

    done = client.post(PERSON_URL, {**form, "action": "erase", "confirmed": "yes"})
    assert done.status_code == 302 and done["Location"] == LIST_URL
    assert not Lead.objects.filter(email=EMAIL).exists()
    assert Lead.objects.filter(email=OTHER_EMAIL).exists()
    audit = list(PrivacyRequest.objects.order_by("pk").values_list("kind", "requested_by"))
    assert audit == [("export", "dpo"), ("erase", "dpo")]

    record = PrivacyRequest.objects.get(kind="erase")
    detail = client.get(f"{LIST_URL}{record.pk}/change/")
    assert detail.status_code == 200 and b"leads: 1" in detail.content
    assert client.post(f"{LIST_URL}{record.pk}/delete/").status_code == 403
    assert client.get(f"{LIST_URL}add/").status_code == 403


@pytest.mark.urls("shop_demo.urls")
def test_the_page_explains_a_bad_identifier_and_needs_csrf() -> None:
    client = staff("handle_privacy_requests")
    # The permission alone shows the audit trail and the way to the page.
    assert PERSON_URL.encode() in client.get(LIST_URL).content
    page = client.post(PERSON_URL, {"kind": "visitor_id", "value": "nope", "action": "erase"})
    assert page.status_code == 200
    assert b"visitor_id must be 32 hexadecimal characters" in page.content
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(get_user_model().objects.get(username="dpo"))
    response = strict.post(
        PERSON_URL, {"kind": "email", "value": EMAIL, "action": "erase", "confirmed": "yes"}
    )
    assert response.status_code == 403 and not PrivacyRequest.objects.exists()


@pytest.fixture
def unreachable_redis_store() -> Iterator[None]:
    reset_store()
    with override_settings(
        PERSONALIZE_STORE="personalize.profiles.redis.RedisProfileStore",
        PERSONALIZE_REDIS_URL="redis://127.0.0.1:1/0",
    ):
        yield
    reset_store()


@pytest.mark.urls("shop_demo.urls")
def test_an_unreachable_store_is_reported_and_nothing_is_erased(
    unreachable_redis_store: None,
) -> None:
    Lead.objects.create(email=EMAIL)
    for command in ("personalize_erase", "personalize_export"):
        with pytest.raises(CommandError, match="The profile store is unreachable"):
            call_command(command, "--email", EMAIL)
    client = staff("handle_privacy_requests")
    form = {"kind": "email", "value": EMAIL, "action": "erase", "confirmed": "yes"}
    page = client.post(PERSON_URL, form)
    assert page.status_code == 200 and b"not reachable right now" in page.content
    assert Lead.objects.count() == 1 and not PrivacyRequest.objects.exists()


def test_an_email_inside_a_longer_one_is_someone_else() -> None:
    store = get_store()
    mine = ["Jane.Privacy@Example.com shoes", f"<{EMAIL}>", f"{EMAIL}."]
    theirs = [f"mary{EMAIL}", f"{EMAIL}.au", f"x.{EMAIL}", f"{EMAIL}-uk"]
    for query in mine + theirs:
        vid = new_event_id()
        store.apply(vid, [], [event(vid, "search", {"query": query})])
    person = resolve_person(Identifier.parse("email", EMAIL))
    assert erase_person(Identifier.parse("email", EMAIL), requested_by="x").counts["events"] == 3
    assert sorted(Event.objects.values_list("props__query", flat=True)) == sorted(theirs)
    assert person.visitor_ids == frozenset()  # a search names the email, not its searcher


def login_then_fail(request: HttpRequest, pk: int) -> HttpResponse:
    login(request, get_user_model().objects.get(pk=pk))
    raise RuntimeError("the shop's login view fails after logging in")


urlpatterns = [path("login-then-fail/<int:pk>/", login_then_fail), *test_urls.urlpatterns]


@pytest.mark.urls(__name__)
def test_the_merge_record_survives_a_failing_response() -> None:
    user = get_user_model().objects.create_user("jane", EMAIL, "pw-12345678", pk=USER_PK)
    browser().get(f"/login-as/{user.pk}/")
    phone = Client(headers={"User-Agent": CHROME}, raise_request_exception=False)
    phone.get("/p/3/")
    phone_vid = visitor_json(phone)["id"]
    assert phone.get(f"/login-then-fail/{user.pk}/").status_code == 500
    merge = Event.objects.get(name=MERGE_EVENT)
    assert merge.props == {"from": phone_vid} and merge.user_id == str(USER_PK)


def test_a_second_user_on_the_same_browser_gets_nothing_of_the_first() -> None:
    users = get_user_model().objects
    jane = users.create_user("jane", EMAIL, "pw-12345678", pk=USER_PK)
    otto = users.create_user("otto", OTHER_EMAIL, "pw-12345678", pk=OTHER_PK)
    phone = browser()
    otto_vid = phone.get(f"/login-as/{otto.pk}/").json()["visitor"]  # Otto's own profile
    shared = browser()
    shared.get("/p/1/")
    jane_vid = shared.get(f"/login-as/{jane.pk}/").json()["visitor"]
    shared.get("/p/2/")
    # Otto signs in on the same browser without Jane logging out.
    assert shared.get(f"/login-as/{otto.pk}/").json()["visitor"] == otto_vid
    otto_profile = get_store().load(otto_vid)
    assert otto_profile is not None and otto_profile.viewed_products == {}
    jane_profile = get_store().load(jane_vid)
    assert jane_profile is not None and set(jane_profile.viewed_products) == {"1", "2"}
    assert jane_vid not in resolve_person(Identifier.parse("user_id", str(OTHER_PK))).visitor_ids
    assert store_user(jane_vid) == str(USER_PK)


def store_user(visitor_id: str) -> str:
    profile = get_store().load(visitor_id)
    assert profile is not None
    return profile.user_id
