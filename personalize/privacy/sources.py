"""Where personal data lives: a registry of sources, each able to count, export and erase it.

A source is any object with a ``name`` and three methods (:class:`PersonalDataSource`).
The built-in ones cover the profile store, the event log (and events still buffered
in the store), campaign leads, coupon assignments and static segment members. Another
module adds its own from its ``AppConfig.ready()``, without this module knowing it::

    from personalize.privacy.sources import register_source

    register_source(WebhookDeliverySource())

Every source reports counts per *kind* of record (``{"events": 12}``); ``count`` and
``export`` report the same kinds and numbers that ``erase`` then removes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

from django.db import transaction
from django.db.models import Q, QuerySet

from personalize.campaigns.models import CouponCode, Lead
from personalize.conf import settings
from personalize.models import DeferredChange, Event
from personalize.privacy.person import Person
from personalize.profiles.base import get_store
from personalize.segments.models import SegmentMember
from personalize.tracking.events import EventRecord

Records = dict[str, list[dict[str, Any]]]
Counts = dict[str, int]

#: Rows per ``pk IN (...)`` statement (SQLite limits bound parameters).
BATCH = 500


@runtime_checkable
class PersonalDataSource(Protocol):
    """Personal data of one kind, found from a :class:`Person`'s ids."""

    #: Unique and stable: the source's section in exports.
    name: str

    def count(self, person: Person) -> Counts:
        """How many records of each kind this source holds about the person."""
        ...

    def export(self, person: Person) -> Records:
        """Those records as JSON-serialisable documents, by kind."""
        ...

    def erase(self, person: Person) -> Counts:
        """Remove (or anonymise) those records; how many of each kind."""
        ...


_registry: dict[str, PersonalDataSource] = {}


def register_source(source: PersonalDataSource) -> None:
    """Add a source (or replace the one with the same name)."""
    if not isinstance(source, PersonalDataSource) or not source.name:
        raise TypeError(
            f"{source!r} is not a personal-data source: give it a name and count(), "
            "export() and erase() methods."
        )
    _registry[source.name] = source


def unregister_source(name: str) -> None:
    _registry.pop(name, None)


def get_sources() -> list[PersonalDataSource]:
    """Every registered source: the built-in ones first, in registration order."""
    return list(_registry.values())


def _using() -> str:
    return settings.DATABASE_ALIAS


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


class ProfileSource:
    """Every profile of the person in the active store, and the store's user links."""

    name = "profiles"

    def _profiles(self, person: Person) -> list[dict[str, Any]]:
        store = get_store()
        documents = []
        for visitor_id in sorted(person.visitor_ids):
            profile = store.load(visitor_id)
            if profile is not None:
                documents.append({**profile.to_document(), "visitor_id": visitor_id})
        return documents

    def _links(self, person: Person) -> list[dict[str, Any]]:
        store = get_store()
        links = []
        for user_id in sorted(person.user_ids):
            visitor_id = store.visitor_for_user(user_id)
            if visitor_id:
                links.append({"user_id": user_id, "visitor_id": visitor_id})
        return links

    def _email_links(self, person: Person) -> list[dict[str, Any]]:
        store = get_store()
        links = []
        for email in sorted(person.emails):
            visitor_id = store.visitor_for_email(email)
            if visitor_id:
                links.append({"email": email, "visitor_id": visitor_id})
        return links

    def count(self, person: Person) -> Counts:
        return {k: len(v) for k, v in self.export(person).items()}

    def export(self, person: Person) -> Records:
        return {
            "profiles": self._profiles(person),
            "user_links": self._links(person),
            "email_links": self._email_links(person),
        }

    def erase(self, person: Person) -> Counts:
        store = get_store()
        # Links first: a link must never point at a profile that is already gone.
        links = sum(store.unlink_user(user_id) for user_id in sorted(person.user_ids))
        email_links = sum(store.unlink_email(email) for email in sorted(person.emails))
        profiles = sum(store.erase_profile(v) for v in sorted(person.visitor_ids))
        return {"profiles": profiles, "user_links": links, "email_links": email_links}


# What may stand right before an email's local part, or right after its domain, in a
# longer one: "jane@example.com" is not in "mary.jane@example.com" or "jane@example.com.au".
_LOCAL_CHARS = r"A-Za-z0-9!#$%&'*+/=?^_`{|}~.-"
_DOMAIN_CONTINUES = r"[A-Za-z0-9-]|\.[A-Za-z0-9]"


def mentions_email(emails: frozenset[str]) -> Callable[[str], bool]:
    """Whether a text holds one of these emails as a whole address (case-insensitive)."""
    if not emails:
        return lambda text: False
    pattern = re.compile(
        "|".join(
            rf"(?<![{_LOCAL_CHARS}]){re.escape(email)}(?!{_DOMAIN_CONTINUES})"
            for email in sorted(emails)
        ),
        re.IGNORECASE,
    )
    return lambda text: pattern.search(text) is not None


def event_matcher(person: Person) -> Callable[[EventRecord], bool]:
    """Whether an event is the person's: their visitor or user id, or an email in its props."""
    mentions = mentions_email(person.emails)

    def match(record: EventRecord) -> bool:
        if record.visitor_id in person.visitor_ids or record.user_id in person.user_ids:
            return True
        return mentions(json.dumps(record.props))

    return match


def _someone_else(person: Person, visitor_id: str, user_id: str) -> bool:
    """An event that only mentions the person's email (someone searched for it): its
    visitor and user ids are another person's, so the export leaves them out."""
    return visitor_id not in person.visitor_ids and user_id not in person.user_ids


def _event_json(row: Event, person: Person) -> dict[str, Any]:
    other = _someone_else(person, row.visitor_id, row.user_id)
    return {
        "event_id": row.event_id,
        "visitor_id": "" if other else row.visitor_id,
        "user_id": "" if other else row.user_id,
        "name": row.name,
        "props": row.props,
        "visit": row.visit,
        "occurred_at": _iso(row.occurred_at),
    }


class EventLogSource:
    """Rows of the durable event log: by visitor id, by user id, or an email in the props.

    An email can be in any prop (an ``identify`` event, a search for one), so that part
    reads the props of the whole log as text: a privacy request is rare, the log large.
    """

    name = "events"

    def _pks(self, person: Person) -> list[int]:
        events = Event.objects.using(_using())
        by_id = Q(visitor_id__in=person.visitor_ids) | Q(user_id__in=person.user_ids)
        pks = set(events.filter(by_id).values_list("pk", flat=True))
        if person.emails:
            # The database narrows by substring; the whole address is checked here.
            mentions = mentions_email(person.emails)
            text = Q()
            for email in person.emails:
                text |= Q(props__icontains=email)
            candidates = events.filter(text).values_list("pk", "props")
            pks |= {pk for pk, props in candidates.iterator() if mentions(json.dumps(props))}
        return sorted(pks)

    def count(self, person: Person) -> Counts:
        return {"events": len(self._pks(person))}

    def export(self, person: Person) -> Records:
        pks = self._pks(person)
        rows: list[Event] = []
        for start in range(0, len(pks), BATCH):
            rows += Event.objects.using(_using()).filter(pk__in=pks[start : start + BATCH])
        rows.sort(key=lambda row: (row.occurred_at, row.pk))
        return {"events": [_event_json(row, person) for row in rows]}

    def erase(self, person: Person) -> Counts:
        pks = self._pks(person)
        deleted = 0
        for start in range(0, len(pks), BATCH):
            batch = pks[start : start + BATCH]
            deleted += Event.objects.using(_using()).filter(pk__in=batch).delete()[0]
        return {"events": deleted}


class BufferedEventSource:
    """Events the store holds for ``personalize_worker`` (the Redis store's streams)."""

    name = "buffered_events"

    def count(self, person: Person) -> Counts:
        return {"buffered_events": len(get_store().buffered_events(event_matcher(person)))}

    def export(self, person: Person) -> Records:
        records = get_store().buffered_events(event_matcher(person))
        documents = []
        for record in records:
            document = record.to_json()
            if _someone_else(person, record.visitor_id, record.user_id):
                document.update(v="", u="")
            documents.append(document)
        return {"buffered_events": documents}

    def erase(self, person: Person) -> Counts:
        return {"buffered_events": get_store().drop_buffered_events(event_matcher(person))}


class LeadSource:
    """Emails captured by campaign forms: with the person's email or from their devices."""

    name = "leads"

    def _rows(self, person: Person) -> QuerySet[Lead]:
        query = Q(visitor_id__in=[v for v in person.visitor_ids if v])
        for email in person.emails:
            query |= Q(email__iexact=email)
        return Lead.objects.using(_using()).filter(query).select_related("campaign")

    def count(self, person: Person) -> Counts:
        return {"leads": self._rows(person).count()}

    def export(self, person: Person) -> Records:
        return {
            "leads": [
                {
                    "email": lead.email,
                    "consent": lead.consent,
                    "campaign": lead.campaign.slug if lead.campaign else None,
                    "variant": lead.variant,
                    "visitor_id": lead.visitor_id,
                    "created_at": _iso(lead.created_at),
                }
                for lead in self._rows(person).order_by("created_at", "pk")
            ]
        }

    def erase(self, person: Person) -> Counts:
        deleted, _ = self._rows(person).delete()
        return {"leads": deleted}


class CouponSource:
    """Unique pool codes handed out to the person's devices.

    The code is not personal data, its holder is: erasing keeps the row (so the code is
    never handed out again to someone else while the person may still redeem it) and
    replaces the visitor id with :attr:`CouponCode.ERASED_HOLDER`.
    """

    name = "coupons"

    def _rows(self, person: Person) -> QuerySet[CouponCode]:
        return (
            CouponCode.objects.using(_using())
            .filter(visitor_id__in=[v for v in person.visitor_ids if v])
            .select_related("campaign")
        )

    def count(self, person: Person) -> Counts:
        return {"coupons": self._rows(person).count()}

    def export(self, person: Person) -> Records:
        return {
            "coupons": [
                {
                    "campaign": coupon.campaign.slug,
                    "code": coupon.code,
                    "visitor_id": coupon.visitor_id,
                    "assigned_at": _iso(coupon.assigned_at),
                }
                for coupon in self._rows(person).order_by("assigned_at", "pk")
            ]
        }

    def erase(self, person: Person) -> Counts:
        updated = self._rows(person).update(visitor_id=CouponCode.ERASED_HOLDER)
        return {"coupons": updated}


class SegmentMemberSource:
    """Static segment lists naming the person's visitor id, user id or email."""

    name = "segment_members"

    def _rows(self, person: Person) -> QuerySet[SegmentMember]:
        query = Q(kind=SegmentMember.Kind.VISITOR, value__in=person.visitor_ids) | Q(
            kind=SegmentMember.Kind.USER, value__in=person.user_ids
        )
        for email in person.emails:
            query |= Q(kind=SegmentMember.Kind.EMAIL, value__iexact=email)
        return SegmentMember.objects.using(_using()).filter(query).select_related("segment")

    def count(self, person: Person) -> Counts:
        return {"segment_members": self._rows(person).count()}

    def export(self, person: Person) -> Records:
        return {
            "segment_members": [
                {
                    "segment": member.segment.slug,
                    "kind": member.kind,
                    "value": member.value,
                    "added_at": _iso(member.added_at),
                }
                for member in self._rows(person).order_by("added_at", "pk")
            ]
        }

    def erase(self, person: Person) -> Counts:
        with transaction.atomic(using=_using()):
            deleted = self._rows(person).delete()[1].get(SegmentMember._meta.label, 0)
        return {"segment_members": deleted}


class DeferredChangeSource:
    """Profile changes waiting for replay (``personalize.profiles.backlog``): they hold
    the request's events. Erased, they are never replayed onto a profile again."""

    name = "deferred_changes"

    def _rows(self, person: Person) -> list[DeferredChange]:
        match = event_matcher(person)
        rows = DeferredChange.objects.using(_using()).order_by("created_at", "pk")
        return [
            row
            for row in rows.iterator()
            if row.visitor_id in person.visitor_ids
            or any(match(EventRecord.from_json(doc)) for doc in row.events)
        ]

    def count(self, person: Person) -> Counts:
        return {"deferred_changes": len(self._rows(person))}

    def export(self, person: Person) -> Records:
        return {
            "deferred_changes": [
                {"visitor_id": row.visitor_id, "events": row.events, "visit": row.visit,
                 "created_at": _iso(row.created_at)}
                for row in self._rows(person)
            ]
        }  # fmt: skip

    def erase(self, person: Person) -> Counts:
        pks = [row.pk for row in self._rows(person)]
        deleted = 0
        for start in range(0, len(pks), BATCH):
            batch = pks[start : start + BATCH]
            deleted += DeferredChange.objects.using(_using()).filter(pk__in=batch).delete()[0]
        return {"deferred_changes": deleted}


BUILTIN_SOURCES: tuple[PersonalDataSource, ...] = (
    ProfileSource(),
    BufferedEventSource(),
    DeferredChangeSource(),
    EventLogSource(),
    LeadSource(),
    CouponSource(),
    SegmentMemberSource(),
)
for _source in BUILTIN_SOURCES:
    register_source(_source)
