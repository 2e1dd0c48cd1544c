"""``manage.py personalize_export``: a person's data as JSON (access and portability)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from personalize.management.privacy_options import add_person_arguments, identifier_from
from personalize.privacy.service import COMMAND_LINE, export_person
from personalize.profiles.base import StoreUnavailable


class Command(BaseCommand):
    help = (
        "Export, as JSON, everything personalize_erase would erase for a person found by "
        "email, user id or visitor id. Writes an audit record with the counts."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        add_person_arguments(parser)
        parser.add_argument(
            "--output", "-o", help="Write the JSON to this file (default: standard output)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        identifier = identifier_from(options)
        output = options.get("output")
        if output:
            target = Path(output)
            if target.is_dir() or not target.parent.is_dir():
                raise CommandError(
                    f"--output {output!r}: give a file path in an existing directory."
                )
        try:
            document = export_person(identifier, requested_by=COMMAND_LINE)
        except StoreUnavailable as exc:
            raise CommandError(
                f"The profile store is unreachable ({exc}); nothing was exported. Try again "
                "when it is back."
            ) from None
        text = json.dumps(document, indent=2, sort_keys=True, default=str)
        if output:
            try:
                Path(output).write_text(text + "\n", encoding="utf-8")
            except OSError as exc:
                raise CommandError(f"--output {output!r}: cannot write it ({exc}).") from None
            total = sum(document["counts"].values())
            # Status on stderr: stdout stays clean for a shell redirect of the JSON.
            self.stderr.write(f"Exported {total} record(s) to {output}.")
        else:
            self.stdout.write(text)
