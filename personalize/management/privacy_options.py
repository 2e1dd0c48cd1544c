"""The person options ``personalize_erase`` and ``personalize_export`` share."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError, CommandParser

from personalize.privacy.person import Identifier, InvalidIdentifier

OPTIONS = {"email": "--email", "user_id": "--user-id", "visitor_id": "--visitor-id"}


def add_person_arguments(parser: CommandParser) -> None:
    group = parser.add_argument_group("the person (exactly one)")
    group.add_argument("--email", help="An email address: of an account, a lead or a profile.")
    group.add_argument("--user-id", dest="user_id", help="The user's primary key in the shop.")
    group.add_argument(
        "--visitor-id", dest="visitor_id", help="A visitor id (32 hex characters, pz_vid)."
    )


def identifier_from(options: dict[str, Any]) -> Identifier:
    given = [kind for kind in OPTIONS if options.get(kind) is not None]
    if len(given) != 1:
        names = ", ".join(OPTIONS.values())
        raise CommandError(
            f"Name the person with exactly one of {names} "
            f"({'none' if not given else ' and '.join(OPTIONS[k] for k in given)} given)."
        )
    kind = given[0]
    try:
        return Identifier.parse(kind, str(options[kind]))
    except InvalidIdentifier as exc:
        raise CommandError(f"{OPTIONS[kind]}: {exc}") from None
