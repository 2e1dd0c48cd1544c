"""``manage.py personalize_erase``: erase a person everywhere (right to erasure)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from personalize.management.privacy_options import add_person_arguments, identifier_from
from personalize.privacy.service import COMMAND_LINE, erase_person
from personalize.profiles.base import StoreUnavailable


class Command(BaseCommand):
    help = (
        "Erase everything personalize holds about a person, found by email, user id or "
        "visitor id: every profile (all their devices), the store's user links, their "
        "events (logged and still buffered), leads, coupon assignments and static segment "
        "memberships. Writes an audit record with the counts, never the identifier."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        add_person_arguments(parser)
        parser.add_argument(
            "--dry-run", action="store_true", help="Count what would be erased; erase nothing."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        identifier = identifier_from(options)
        try:
            erasure = erase_person(
                identifier, requested_by=COMMAND_LINE, dry_run=options["dry_run"]
            )
        except StoreUnavailable as exc:
            raise CommandError(
                f"The profile store is unreachable ({exc}); nothing was erased. Try again "
                "when it is back."
            ) from None
        verb = "Would erase" if erasure.dry_run else "Erased"
        self.stdout.write(f"{verb} {erasure.total} record(s):")
        for kind, count in erasure.counts.items():
            self.stdout.write(f"  {kind}: {count}")
        if erasure.audit is not None:
            self.stdout.write(f"Audit record #{erasure.audit.pk}.")
