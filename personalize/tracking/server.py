"""Events sent by a shop's servers (order systems, CRMs, headless storefronts).

The reusable half of ``POST /personalize/api/v1/events/``: :func:`parse_batch` checks a
batch as sent over HTTP, :func:`record_events` logs its events and applies them to the
person's profile exactly as on-site events are applied. A batch sent again changes
nothing: each event's stored id derives from the client's ``event_id`` alone (a
UUID 5), and the profile changes only for the events the log did not hold yet.

Other modules (an importer, a management command) call them directly::

    identity, events = parse_batch({"email": "ann@example.com", "events": [...]})
    result = record_events(identity, events)
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from django.db import transaction

from personalize.conf import settings
from personalize.identity.cookies import is_valid_visitor_id
from personalize.profiles.base import BaseProfileStore, get_store
from personalize.profiles.profile import Profile, ProfileOp
from personalize.tracking.events import (
    EVENTS,
    MAX_ID,
    EventError,
    EventRecord,
    PropError,
    clean_email,
    event_ops,
    validate_event,
)
from personalize.tracking.log import insert_new_events

#: Events in one batch.
MAX_EVENTS = 500
#: Characters of a client ``event_id``.
MAX_EVENT_ID = 128
#: How far in the future a timestamp may be (clocks of two servers disagree a little).
CLOCK_SKEW = 300.0
#: Namespace of the stored event ids: ``uuid5(EVENT_ID_NAMESPACE, event_id).hex``.
EVENT_ID_NAMESPACE = uuid.UUID("6f1d3c0e-8d55-4a8e-9a57-2c1b1f0a3e11")
#: Namespace of the visitor ids made for a user or an email the store does not know.
VISITOR_ID_NAMESPACE = uuid.UUID("b0b6a4f4-35e3-4a52-8f0d-7d1e6b8f2c90")

IdentityKind = Literal["visitor_id", "user_id", "email"]
IDENTITY_KINDS: tuple[IdentityKind, ...] = ("visitor_id", "user_id", "email")


@dataclass(frozen=True)
class Identity:
    """The person a batch is about: one of a visitor id, the shop's user id, an email."""

    kind: IdentityKind
    value: str


@dataclass(frozen=True)
class ServerEvent:
    """A validated event: ``props`` cleaned by ``validate_event``, ``at`` in epoch seconds."""

    event_id: str
    name: str
    props: dict[str, Any]
    at: float

    @property
    def stored_id(self) -> str:
        return stored_event_id(self.event_id)


@dataclass(frozen=True)
class FieldError:
    """One problem of a batch: ``index`` of the event (``None`` for the batch itself)
    and the ``field`` path within it (``"props.items[0].price"``)."""

    index: int | None
    field: str
    message: str

    def to_json(self) -> dict[str, Any]:
        return {"index": self.index, "field": self.field, "message": self.message}


class BatchInvalid(ValueError):
    """The batch was refused whole; ``errors`` lists every problem found."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(f"{e.index}:{e.field}: {e.message}" for e in errors))
        self.errors = errors


@dataclass(frozen=True)
class RecordResult:
    visitor_id: str
    #: Events in the batch.
    received: int
    #: Events logged and applied to the profile by this call.
    recorded: int
    #: Events the log held already (sent before): not applied again.
    duplicates: int
    #: Whether this call created the person's profile.
    created_profile: bool = field(default=False)


def stored_event_id(client_event_id: str) -> str:
    """The log's id for a client ``event_id``: the same whatever key or identity sent it."""
    return uuid.uuid5(EVENT_ID_NAMESPACE, client_event_id).hex


# Parsing ----------------------------------------------------------------------------


def parse_identity(data: Mapping[str, Any]) -> Identity:
    """The batch's identity: exactly one of ``visitor_id``, ``user_id``, ``email``."""
    given = [kind for kind in IDENTITY_KINDS if data.get(kind) not in (None, "")]
    if len(given) != 1:
        raise BatchInvalid(
            [
                FieldError(
                    None,
                    given[1] if len(given) > 1 else "visitor_id",
                    "Give exactly one of visitor_id, user_id or email for the whole batch"
                    + (f" (got {', '.join(given)})." if given else "."),
                )
            ]
        )
    kind = given[0]
    raw = data[kind]
    if kind == "visitor_id":
        if not is_valid_visitor_id(raw):
            raise BatchInvalid(
                [FieldError(None, kind, "Must be a visitor id: 32 lowercase hex characters.")]
            )
        return Identity(kind, str(raw))
    if kind == "user_id":
        if isinstance(raw, bool) or not isinstance(raw, (str, int)):
            raise BatchInvalid([FieldError(None, kind, "Must be a string or an integer id.")])
        text = str(raw).strip()
        if not text or len(text) > MAX_ID:
            raise BatchInvalid([FieldError(None, kind, f"Must be 1 to {MAX_ID} characters long.")])
        return Identity(kind, text)
    try:
        return Identity(kind, clean_email(kind, raw))
    except PropError as exc:
        raise BatchInvalid([FieldError(None, kind, str(exc))]) from None


def parse_timestamp(value: Any, now: float) -> float:
    """Epoch seconds from an ISO 8601 string with a timezone or a number of seconds,
    within the retention period and not in the future; ``ValueError`` otherwise."""
    if value is None:
        return now
    if isinstance(value, bool):
        raise ValueError("Must be an ISO 8601 string or a number of seconds since the epoch.")
    if isinstance(value, (int, float)):
        at = float(value)
        if not math.isfinite(at) or at < 0:
            raise ValueError("Must be a non-negative number of seconds since the epoch.")
        if at > 1e11:
            raise ValueError("Looks like milliseconds: send seconds since the epoch.")
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(
                "Not an ISO 8601 date-time: use e.g. '2026-12-01T09:30:00Z'."
            ) from None
        if moment.tzinfo is None:
            raise ValueError("Give a timezone, e.g. '2026-12-01T09:30:00Z' or '+01:00'.")
        at = moment.timestamp()
    else:
        raise ValueError("Must be an ISO 8601 string or a number of seconds since the epoch.")
    if at > now + CLOCK_SKEW:
        raise ValueError(
            f"In the future: events may be at most {CLOCK_SKEW:g} s ahead of the server's clock."
        )
    oldest = now - settings.RETENTION_DAYS * 86400
    if at < oldest:
        raise ValueError(
            f"Older than the retention period (PERSONALIZE_RETENTION_DAYS = "
            f"{settings.RETENTION_DAYS} days): such an event would be purged at once."
        )
    return at


def _client_event_id(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ValueError("Required: a string (or integer) unique to this event, e.g. a UUID.")
    text = str(value).strip()
    if not text or len(text) > MAX_EVENT_ID:
        raise ValueError(f"Must be 1 to {MAX_EVENT_ID} characters long.")
    return text


def parse_event(index: int, raw: Any, now: float) -> tuple[ServerEvent | None, list[FieldError]]:
    """One item of ``events``: the event, or the errors naming its fields."""
    if not isinstance(raw, Mapping):
        return None, [FieldError(index, "", "Each event must be an object with event_id and name.")]
    errors: list[FieldError] = []
    unknown = sorted(set(raw) - {"event_id", "name", "props", "timestamp"})
    if unknown:
        errors.append(
            FieldError(
                index,
                str(unknown[0]),
                f"Unknown field(s) {', '.join(map(repr, unknown))}; "
                "an event has event_id, name, props and timestamp.",
            )
        )
    event_id = ""
    try:
        event_id = _client_event_id(raw.get("event_id"))
    except ValueError as exc:
        errors.append(FieldError(index, "event_id", str(exc)))
    at = now
    try:
        at = parse_timestamp(raw.get("timestamp"), now)
    except ValueError as exc:
        errors.append(FieldError(index, "timestamp", str(exc)))
    name = raw.get("name")
    props = raw.get("props", {})
    cleaned: dict[str, Any] = {}
    if not isinstance(name, str) or name not in EVENTS:
        errors.append(
            FieldError(index, "name", f"Unknown event; use one of {', '.join(sorted(EVENTS))}.")
        )
    elif props is not None and not isinstance(props, Mapping):
        errors.append(FieldError(index, "props", "Must be an object of the event's props."))
    else:
        try:
            cleaned = validate_event(name, props or {})
        except EventError as exc:
            errors.append(FieldError(index, f"props.{exc.field}".rstrip("."), str(exc)))
    if errors:
        return None, errors
    assert isinstance(name, str)
    return ServerEvent(event_id=event_id, name=name, props=cleaned, at=at), []


def parse_batch(data: Any, *, now: float | None = None) -> tuple[Identity, list[ServerEvent]]:
    """Check a whole batch; raise :class:`BatchInvalid` listing every problem.

    One invalid event refuses the batch: nothing of it is recorded, so the client can
    fix it and send the same batch again.
    """
    now = time.time() if now is None else now
    if not isinstance(data, Mapping):
        raise BatchInvalid([FieldError(None, "", "The body must be a JSON object.")])
    errors: list[FieldError] = []
    unknown = sorted(set(data) - {*IDENTITY_KINDS, "events"})
    if unknown:
        errors.append(
            FieldError(
                None,
                str(unknown[0]),
                f"Unknown field(s) {', '.join(map(repr, unknown))}; a batch has one of "
                "visitor_id, user_id or email, and events.",
            )
        )
    identity: Identity | None = None
    try:
        identity = parse_identity(data)
    except BatchInvalid as exc:
        errors += exc.errors
    raw_events = data.get("events")
    if not isinstance(raw_events, list) or not raw_events:
        errors.append(FieldError(None, "events", "Required: a list of 1 to 500 events."))
        raise BatchInvalid(errors)
    if len(raw_events) > MAX_EVENTS:
        errors.append(
            FieldError(
                None,
                "events",
                f"{len(raw_events)} events: at most {MAX_EVENTS} per batch; split it.",
            )
        )
        raise BatchInvalid(errors)
    events: list[ServerEvent] = []
    first_index: dict[str, int] = {}
    for index, raw in enumerate(raw_events):
        event, event_errors = parse_event(index, raw, now)
        errors += event_errors
        if event is None:
            continue
        if event.event_id in first_index:
            errors.append(
                FieldError(
                    index,
                    "event_id",
                    f"Repeats the event_id of event {first_index[event.event_id]}: "
                    "each event needs its own.",
                )
            )
            continue
        first_index[event.event_id] = index
        events.append(event)
    if errors or identity is None:
        raise BatchInvalid(errors)
    return identity, events


# Recording --------------------------------------------------------------------------


def derived_visitor_id(identity: Identity) -> str:
    """The visitor id a profile created for this user or email gets: the same every
    time, so batches sent before the store can look the person up land together."""
    return uuid.uuid5(VISITOR_ID_NAMESPACE, f"{identity.kind}:{identity.value}").hex


def resolve_visitor(identity: Identity, store: BaseProfileStore | None = None) -> str:
    """The visitor id holding this person's profile (a derived one if there is none)."""
    store = store or get_store()
    if identity.kind == "visitor_id":
        return identity.value
    if identity.kind == "user_id":
        found = store.visitor_for_user(identity.value)
    else:
        found = store.visitor_for_email(identity.value)
    return found or derived_visitor_id(identity)


def record_events(
    identity: Identity, events: Sequence[ServerEvent], *, now: float | None = None
) -> RecordResult:
    """Log ``events`` for the person and apply the new ones to their profile.

    The profile is created (and linked to the user) when there is none. Events are
    applied in the order given, each at its own timestamp (affinity decays from it).
    With the database store, the log and the profile change in one transaction; with
    another store, a store failure rolls the log back, so sending the batch again
    records it, and a store that :attr:`replays_changes` marks the batch, so a
    resend after a lost reply does not count it twice.
    """
    now = time.time() if now is None else now
    store = get_store()
    visitor_id = resolve_visitor(identity, store)
    profile = store.load(visitor_id)
    created = profile is None
    if profile is None:
        profile = Profile(visitor_id=visitor_id, first_seen=now, last_seen=now)
        if identity.kind == "user_id":
            profile.user_id = identity.value
        elif identity.kind == "email":
            profile.email = identity.value
    records = [
        EventRecord(
            event_id=event.stored_id,
            visitor_id=visitor_id,
            name=event.name,
            props=event.props,
            at=event.at,
            visit=profile.visit_count,
            user_id=profile.user_id,
        )
        for event in events
    ]
    with transaction.atomic(using=settings.DATABASE_ALIAS):
        inserted = insert_new_events(records, using=settings.DATABASE_ALIAS)
        if not inserted:
            return RecordResult(visitor_id, len(events), 0, len(events))
        if created:
            store.save(profile)
            if profile.user_id:
                store.link_user(visitor_id, profile.user_id)
        ops: list[ProfileOp] = []
        first_new = ""
        for event in events:
            if event.stored_id in inserted:
                first_new = first_new or event.stored_id
                event_ops_ = event_ops(profile, event.name, event.props, event.at)
                profile.apply(event_ops_)  # the next event sees this one (cart lines...)
                ops += event_ops_
        if ops and store.replays_changes:
            # Marked by its first new event: if the store applied the changes but its
            # reply was lost, the log rolls back, and the client's resend re-inserts
            # the same events and finds the batch marked instead of counting it twice.
            store.apply_once(visitor_id, first_new, ops)
        elif ops:
            store.apply(visitor_id, ops, [])
    return RecordResult(
        visitor_id,
        received=len(events),
        recorded=len(inserted),
        duplicates=len(events) - len(inserted),
        created_profile=created,
    )
