"""Look up, export and erase a person: what the commands, the admin page and the API call.

Each function takes an :class:`~personalize.privacy.person.Identifier` (build one with
``Identifier.parse(kind, value)``, which raises ``InvalidIdentifier`` with a message
for the user) and who asks (:func:`requester` for a user, :data:`COMMAND_LINE`).
They raise :class:`~personalize.profiles.base.StoreUnavailable` when the profile
store cannot be reached: nothing is erased then, and nothing is audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.db import transaction

from personalize.conf import settings
from personalize.privacy.models import PrivacyRequest
from personalize.privacy.person import Identifier, Person, resolve_person
from personalize.privacy.sources import Counts, get_sources

#: ``requested_by`` of requests made with ``manage.py``.
COMMAND_LINE = "command line"
#: The ``format`` of export documents; bumped if their shape changes.
EXPORT_FORMAT = "personalize-export/1"


def requester(user: Any) -> str:
    """How the audit trail names a signed-in user (their username)."""
    return str(user.get_username()) if user is not None else COMMAND_LINE


@dataclass(frozen=True)
class Lookup:
    """What a request would export or erase, counted (no personal data in ``counts``)."""

    person: Person
    counts: Counts

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass(frozen=True)
class Erasure:
    """What an erasure removed (or, dry run, would remove) and its audit record."""

    person: Person
    counts: Counts
    dry_run: bool
    audit: PrivacyRequest | None

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def look_up(identifier: Identifier) -> Lookup:
    """Find the person and count their records in every source; changes nothing."""
    person = resolve_person(identifier)
    counts: Counts = {}
    for source in get_sources():
        counts.update(source.count(person))
    return Lookup(person=person, counts=counts)


def export_person(identifier: Identifier, *, requested_by: str) -> dict[str, Any]:
    """Everything an erasure would remove, as one JSON-serialisable document; audited."""
    person = resolve_person(identifier)
    data: dict[str, list[dict[str, Any]]] = {}
    for source in get_sources():
        data.update(source.export(person))
    counts = {kind: len(records) for kind, records in data.items()}
    _audit(PrivacyRequest.Kind.EXPORT, identifier, requested_by, counts)
    return {
        "format": EXPORT_FORMAT,
        "generated_at": datetime.now(tz=UTC).isoformat(),
        "identified_by": identifier.kind,
        "person": person.to_json(),
        "counts": counts,
        "data": data,
    }


def erase_person(identifier: Identifier, *, requested_by: str, dry_run: bool = False) -> Erasure:
    """Erase the person from every source; audited. ``dry_run`` only counts.

    The database part runs in one transaction (with the audit record), after the
    store's: if the database fails, the store's erasure is done and a retry finishes
    the rest (every step can run again).
    """
    if dry_run:
        lookup = look_up(identifier)
        return Erasure(lookup.person, lookup.counts, dry_run=True, audit=None)
    person = resolve_person(identifier)
    counts: Counts = {}
    with transaction.atomic(using=settings.DATABASE_ALIAS):
        for source in get_sources():
            counts.update(source.erase(person))
        audit = _audit(PrivacyRequest.Kind.ERASE, identifier, requested_by, counts)
    return Erasure(person, counts, dry_run=False, audit=audit)


def _audit(
    kind: PrivacyRequest.Kind, identifier: Identifier, requested_by: str, counts: Counts
) -> PrivacyRequest:
    return PrivacyRequest.objects.using(settings.DATABASE_ALIAS).create(
        kind=kind,
        requested_by=requested_by[:150],
        identifier_kind=identifier.kind,
        counts=dict(counts),
    )
