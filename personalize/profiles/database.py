"""The embedded store: profiles as JSON documents in the project's database."""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Iterable, Iterator
from typing import Any

from django.conf import settings as django_settings
from django.core.checks import CheckMessage, Warning
from django.db import IntegrityError, connections, transaction
from django.db.models import Q

from personalize.conf import settings
from personalize.models import VisitorProfile
from personalize.profiles.base import BaseProfileStore
from personalize.profiles.profile import Profile, ProfileOp
from personalize.profiles.visits import touch
from personalize.tracking.context import VisitContext
from personalize.tracking.events import EventRecord
from personalize.tracking.log import write_events

EXT_KEY_RE = re.compile(r"^[a-z0-9_:-]{1,80}$")
#: Visitor ids per ``IN (...)`` of :meth:`DatabaseProfileStore.load_many`.
LOAD_BATCH = 500


class DatabaseProfileStore(BaseProfileStore):
    """Profiles in the ``VisitorProfile`` table; events straight into the ``Event`` table.

    Every change runs in a transaction holding the profile's row lock
    (``SELECT ... FOR UPDATE`` on PostgreSQL; on SQLite use
    ``"transaction_mode": "IMMEDIATE"`` so writers queue instead of failing).
    """

    @property
    def using(self) -> str:
        return settings.DATABASE_ALIAS

    def _locked_row(self, visitor_id: str) -> VisitorProfile:
        rows = VisitorProfile.objects.using(self.using).select_for_update()
        row = rows.filter(pk=visitor_id).first()
        if row is None:
            try:
                with transaction.atomic(using=self.using):
                    row = VisitorProfile.objects.using(self.using).create(
                        visitor_id=visitor_id, data={}
                    )
            except IntegrityError:  # another request created it first
                row = rows.get(pk=visitor_id)
        return row

    def _write(self, row: VisitorProfile, profile: Profile) -> None:
        row.data = profile.to_document()
        row.last_seen = profile.last_seen
        row.user_id = profile.user_id
        row.email = profile.email
        row.save(using=self.using)

    @staticmethod
    def _profile(row: VisitorProfile) -> Profile:
        return Profile.from_document({**row.data, "visitor_id": row.visitor_id})

    def touch(self, visitor_id: str, ctx: VisitContext) -> tuple[Profile, bool]:
        with transaction.atomic(using=self.using):
            row = self._locked_row(visitor_id)
            profile = self._profile(row)
            new_visit = touch(profile, ctx, settings.VISIT_TIMEOUT)
            self._write(row, profile)
        return profile, new_visit

    def apply(self, visitor_id: str, ops: list[ProfileOp], events: list[EventRecord]) -> None:
        with transaction.atomic(using=self.using):
            if ops:
                row = self._locked_row(visitor_id)
                profile = self._profile(row)
                profile.apply(ops)
                self._write(row, profile)
            write_events(events, using=self.using)

    def load(self, visitor_id: str) -> Profile | None:
        row = VisitorProfile.objects.using(self.using).filter(pk=visitor_id).first()
        return None if row is None else self._profile(row)

    def load_many(self, visitor_ids: Collection[str]) -> dict[str, Profile]:
        ids = sorted(visitor_ids)
        found: dict[str, Profile] = {}
        for start in range(0, len(ids), LOAD_BATCH):
            rows = VisitorProfile.objects.using(self.using).filter(
                pk__in=ids[start : start + LOAD_BATCH]
            )
            found.update((row.visitor_id, self._profile(row)) for row in rows)
        return found

    def save(self, profile: Profile) -> None:
        with transaction.atomic(using=self.using):
            row = self._locked_row(profile.visitor_id)
            self._write(row, profile)

    def delete(self, visitor_id: str) -> None:
        VisitorProfile.objects.using(self.using).filter(pk=visitor_id).delete()

    def visitor_for_user(self, user_id: str) -> str | None:
        row = (
            VisitorProfile.objects.using(self.using)
            .filter(user_id=user_id)
            .values_list("visitor_id", flat=True)
            .first()
        )
        return row

    def visitor_for_email(self, email: str) -> str | None:
        return (
            VisitorProfile.objects.using(self.using)
            .filter(email__iexact=email)
            .order_by("-last_seen")
            .values_list("visitor_id", flat=True)
            .first()
        )

    def find_visitors(
        self, *, user_ids: Collection[str] = (), emails: Collection[str] = ()
    ) -> set[str]:
        query = Q(user_id__in=[u for u in user_ids if u])
        for email in emails:
            query |= Q(email__iexact=email)
        rows = VisitorProfile.objects.using(self.using).filter(query)
        return set(rows.values_list("visitor_id", flat=True))

    def erase_profile(self, visitor_id: str) -> bool:
        deleted, _ = VisitorProfile.objects.using(self.using).filter(pk=visitor_id).delete()
        return deleted > 0

    def check(self) -> list[CheckMessage]:
        database = django_settings.DATABASES.get(self.using)
        if database is None:
            return []  # personalize.E005 reports a missing alias for every store
        if (
            database.get("ENGINE") == "django.db.backends.sqlite3"
            and database.get("OPTIONS", {}).get("transaction_mode") != "IMMEDIATE"
        ):
            return [
                Warning(
                    "The database profile store on SQLite needs IMMEDIATE transactions, or "
                    "concurrent requests of one visitor can fail with 'database is locked'.",
                    hint='Add "OPTIONS": {"transaction_mode": "IMMEDIATE"} to the SQLite database.',
                    id="personalize.W004",
                )
            ]
        return []

    def link_user(self, visitor_id: str, user_id: str) -> None:
        with transaction.atomic(using=self.using):
            # A user has one profile: release the id from any other row first.
            (
                VisitorProfile.objects.using(self.using)
                .filter(user_id=user_id)
                .exclude(pk=visitor_id)
                .update(user_id="")
            )
            row = self._locked_row(visitor_id)
            profile = self._profile(row)
            profile.user_id = user_id
            self._write(row, profile)

    def iter_profiles(self, *, seen_since: float = 0.0) -> Iterator[Profile]:
        rows = (
            VisitorProfile.objects.using(self.using)
            .filter(last_seen__gte=seen_since)
            .order_by("pk")
        )
        for row in rows.iterator(chunk_size=2000):
            yield self._profile(row)

    def iter_profiles_by_id(self, *, after: str = "") -> Iterator[Profile]:
        rows = VisitorProfile.objects.using(self.using).filter(pk__gt=after).order_by("pk")
        for row in rows.iterator(chunk_size=2000):
            yield self._profile(row)

    def write_ext(self, key: str, values: dict[str, Any]) -> None:
        # One UPDATE per profile that sets just this key inside the JSON document,
        # batched with executemany: no read, and no lost update if a request writes
        # the same profile meanwhile (it holds the row lock, or SQLite's write lock).
        if not EXT_KEY_RE.match(key):
            raise ValueError(f"Extension key {key!r} must match {EXT_KEY_RE.pattern}.")
        connection = connections[self.using]
        # Only the quoted table name is formatted in; every value is a bound parameter.
        table = connection.ops.quote_name(VisitorProfile._meta.db_table)
        if connection.vendor == "postgresql":
            sql = (
                f"UPDATE {table} SET data = jsonb_set(data, %s, %s::jsonb, true) "  # noqa: S608
                "WHERE visitor_id = %s"
            )
            path: Any = ["ext", key]
        else:
            sql = f"UPDATE {table} SET data = json_set(data, %s, json(%s)) WHERE visitor_id = %s"  # noqa: S608
            path = f'$.ext."{key}"'
        rows = [(path, json.dumps(value), visitor_id) for visitor_id, value in values.items()]
        with transaction.atomic(using=self.using), connection.cursor() as cursor:
            for start in range(0, len(rows), 5000):
                cursor.executemany(sql, rows[start : start + 5000])

    def import_profiles(self, profiles: Iterable[Profile], events: Iterable[EventRecord]) -> None:
        rows = [
            VisitorProfile(
                visitor_id=p.visitor_id,
                user_id=p.user_id,
                email=p.email,
                last_seen=p.last_seen,
                data=p.to_document(),
            )
            for p in profiles
        ]
        with transaction.atomic(using=self.using):
            ids = [r.visitor_id for r in rows]
            for start in range(0, len(ids), 500):
                (
                    VisitorProfile.objects.using(self.using)
                    .filter(pk__in=ids[start : start + 500])
                    .delete()
                )
            VisitorProfile.objects.using(self.using).bulk_create(rows, batch_size=500)
            write_events(events, using=self.using)
