"""Who a privacy request is about: an identifier, and every id that leads to the person."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db.models import Q

from personalize.campaigns.models import Lead
from personalize.conf import settings
from personalize.identity.cookies import is_valid_visitor_id
from personalize.models import Event
from personalize.profiles.base import get_store
from personalize.tracking.events import MERGE_EVENT, EventRecord

IdentifierKind = Literal["email", "user_id", "visitor_id"]
IDENTIFIER_KINDS: tuple[IdentifierKind, ...] = get_args(IdentifierKind)

#: Rounds of "these ids lead to those ids" before the search stops (each round
#: follows every link once: user -> devices -> emails -> devices...).
MAX_ROUNDS = 5


class InvalidIdentifier(ValueError):
    """An identifier a privacy request cannot use; the message names the field and the fix."""


@dataclass(frozen=True)
class Identifier:
    """What the request names the person by. Only ``kind`` is ever written to the audit log."""

    kind: IdentifierKind
    value: str

    @classmethod
    def parse(cls, kind: str, value: str) -> Identifier:
        """A cleaned identifier, or :class:`InvalidIdentifier` saying what to enter."""
        if kind not in IDENTIFIER_KINDS:
            raise InvalidIdentifier(
                f"Unknown identifier kind {kind!r}: use one of {', '.join(IDENTIFIER_KINDS)}."
            )
        value = (value or "").strip()
        if not value:
            raise InvalidIdentifier(f"{kind} is empty: enter the person's {kind}.")
        if kind == "email":
            try:
                validate_email(value)
            except ValidationError:
                raise InvalidIdentifier(
                    f"email {value!r} is not a valid email address: enter one like "
                    "name@example.com."
                ) from None
            return cls("email", value.lower())
        if kind == "user_id":
            if len(value) > 64 or any(c.isspace() for c in value):
                raise InvalidIdentifier(
                    "user_id must be the user's primary key as the shop stores it: at most "
                    "64 characters, no spaces."
                )
            return cls("user_id", value)
        if not is_valid_visitor_id(value.lower()):
            raise InvalidIdentifier(
                "visitor_id must be 32 hexadecimal characters (the pz_vid cookie's id, or "
                "the visitor id in the event log)."
            )
        return cls("visitor_id", value.lower())


@dataclass(frozen=True)
class Person:
    """Every id found for the person: what the personal-data sources look for."""

    identifier_kind: IdentifierKind
    emails: frozenset[str]
    user_ids: frozenset[str]
    visitor_ids: frozenset[str]

    @property
    def found(self) -> bool:
        return bool(self.visitor_ids or self.user_ids or self.emails)

    def to_json(self) -> dict[str, object]:
        return {
            "emails": sorted(self.emails),
            "user_ids": sorted(self.user_ids),
            "visitor_ids": sorted(self.visitor_ids),
        }


def resolve_person(identifier: Identifier) -> Person:
    """Follow every link from the identifier to the person's other ids.

    From an email: profiles identified by it, accounts with it, its leads, and the
    ``identify`` events that reported it. From a user id: the user's profile and every
    profile the store holds for them, the visitor ids of events logged while signed in,
    the devices merged at login (``visitor_merged`` events) and the account's email.
    From a visitor id: its profile's user and email, and the users its events name.
    Each new id is followed in turn, up to :data:`MAX_ROUNDS` times.

    Raises :class:`~personalize.profiles.base.StoreUnavailable` when the store is down.
    """
    emails: set[str] = set()
    user_ids: set[str] = set()
    visitor_ids: set[str] = set()
    {"email": emails, "user_id": user_ids, "visitor_id": visitor_ids}[identifier.kind].add(
        identifier.value
    )
    seen: tuple[int, int, int] = (-1, -1, -1)
    for _ in range(MAX_ROUNDS):
        if seen == (len(emails), len(user_ids), len(visitor_ids)):
            break
        seen = (len(emails), len(user_ids), len(visitor_ids))
        user_ids |= _users_with_emails(emails)
        emails |= _emails_of_users(user_ids)
        visitor_ids |= _visitors_of(user_ids, emails)
        more_users, more_emails = _owners_of(visitor_ids)
        user_ids |= more_users
        emails |= more_emails
        # Events still waiting in the store's stream say the same things as logged ones.
        linked_visitors, linked_users = _buffered_links(user_ids, emails, visitor_ids)
        visitor_ids |= linked_visitors
        user_ids |= linked_users
    # Never an empty id: sources match on these, and "" is every anonymous event's user.
    return Person(
        identifier_kind=identifier.kind,
        emails=frozenset(e for e in emails if e),
        user_ids=frozenset(u for u in user_ids if u),
        visitor_ids=frozenset(v for v in visitor_ids if v),
    )


def _users_with_emails(emails: set[str]) -> set[str]:
    if not emails:
        return set()
    user_model = get_user_model()
    field = user_model.get_email_field_name()
    query = Q()
    for email in emails:
        query |= Q(**{f"{field}__iexact": email})
    return {
        str(pk) for pk in user_model._default_manager.filter(query).values_list("pk", flat=True)
    }


def _emails_of_users(user_ids: set[str]) -> set[str]:
    if not user_ids:
        return set()
    user_model = get_user_model()
    field = user_model.get_email_field_name()
    pks = []
    for user_id in user_ids:
        try:
            pks.append(user_model._meta.pk.to_python(user_id))
        except ValidationError:
            continue  # not a pk of this user model: only the profile store knows it
    found = user_model._default_manager.filter(pk__in=pks).values_list(field, flat=True)
    return {str(email).lower() for email in found if email}


def _visitors_of(user_ids: set[str], emails: set[str]) -> set[str]:
    using = settings.DATABASE_ALIAS
    found = get_store().find_visitors(user_ids=user_ids, emails=emails)
    # Unordered, so DISTINCT is over the one column (the log's default ordering would
    # add its own columns to it).
    events = Event.objects.using(using).order_by()
    if user_ids:
        signed_in = events.filter(user_id__in=user_ids).values_list("visitor_id", flat=True)
        found |= set(signed_in.distinct())
        merged = events.filter(name=MERGE_EVENT, user_id__in=user_ids)
        found |= {str(v) for v in merged.values_list("props__from", flat=True) if v}
    if emails:
        query = Q()
        for email in emails:
            query |= Q(email__iexact=email)
        leads = Lead.objects.using(using).filter(query).exclude(visitor_id="")
        found |= set(leads.values_list("visitor_id", flat=True))
        identified = Q()
        for email in emails:
            identified |= Q(props__email__iexact=email)
        found |= set(
            events.filter(identified, name="identify")
            .values_list("visitor_id", flat=True)
            .distinct()
        )
    return {v for v in found if v}


def _owners_of(visitor_ids: set[str]) -> tuple[set[str], set[str]]:
    if not visitor_ids:
        return set(), set()
    store = get_store()
    users: set[str] = set()
    emails: set[str] = set()
    for visitor_id in visitor_ids:
        profile = store.load(visitor_id)
        if profile is not None:
            if profile.user_id:
                users.add(profile.user_id)
            if profile.email:
                emails.add(profile.email.lower())
    events = (
        Event.objects.using(settings.DATABASE_ALIAS).order_by().filter(visitor_id__in=visitor_ids)
    )
    users |= set(events.exclude(user_id="").values_list("user_id", flat=True).distinct())
    return users, emails


def _buffered_links(
    user_ids: set[str], emails: set[str], visitor_ids: set[str]
) -> tuple[set[str], set[str]]:
    def linked(record: EventRecord) -> bool:
        return (
            record.user_id in user_ids
            or record.visitor_id in visitor_ids
            or (record.name == "identify" and str(record.props.get("email", "")).lower() in emails)
        )

    visitors: set[str] = set()
    users: set[str] = set()
    for record in get_store().buffered_events(linked):
        visitors.add(record.visitor_id)
        if record.user_id:
            users.add(record.user_id)
        if record.name == MERGE_EVENT and record.props.get("from"):
            visitors.add(str(record.props["from"]))
    return visitors, users
