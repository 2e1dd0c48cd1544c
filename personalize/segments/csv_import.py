"""Static segment members from a CSV file: visitor ids, user ids or emails.

A merchandiser uploads an export from the shop or the newsletter tool. Every row
is checked on its own: valid rows are imported, invalid ones are reported by row
number ("row 7: email 'foo@' is not a valid email address"), so one typo never
blocks a list of thousands.
"""

from __future__ import annotations

import re
import reprlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.core.validators import validate_email

from personalize import configuration
from personalize.conf import settings
from personalize.csv_upload import CSVFileError, insert_new, parse_csv, read_upload
from personalize.identity.cookies import is_valid_visitor_id
from personalize.segments.models import Segment, SegmentMember

__all__ = [
    "MAX_BYTES",
    "MAX_ROWS",
    "CSVFileError",
    "ImportResult",
    "ParsedMembers",
    "import_members",
    "parse_members",
    "read_members",
    "validate_member",
]

MAX_BYTES: Final = 5 * 1024 * 1024
MAX_ROWS: Final = 100_000
#: Row errors kept for the report; the rest are only counted.
MAX_REPORTED_ERRORS: Final = 100

#: Header names (lower-cased) -> member kind.
COLUMNS: Final = {"visitor_id": "visitor", "user_id": "user", "email": "email"}
#: Values accepted in a ``kind`` column.
KIND_NAMES: Final = {
    "visitor": "visitor",
    "visitor_id": "visitor",
    "user": "user",
    "user_id": "user",
    "email": "email",
}
_KIND_LABELS: Final = {"visitor": "visitor id", "user": "user id", "email": "email"}
_USER_ID_RE = re.compile(r"^\d{1,64}\Z")

_short = reprlib.Repr()
_short.maxstring = 60


@dataclass
class ParsedMembers:
    """Valid ``(kind, value)`` members in file order, and the rows that were not."""

    members: list[tuple[str, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    error_count: int = 0
    rows: int = 0

    def error(self, message: str) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append(message)


@dataclass
class ImportResult:
    imported: int
    duplicates: int
    errors: list[str]
    error_count: int
    rows: int

    @property
    def more_errors(self) -> int:
        """Row errors counted but not listed."""
        return self.error_count - len(self.errors)


def validate_member(kind: str, value: str) -> str:
    """Return the stored form of a member value, or raise ``ValueError`` saying why not.

    Visitor ids are 32 lowercase hex characters, user ids are digits, emails are
    valid addresses (stored lower-cased, as targeting compares them).
    """
    value = value.strip()
    label = _KIND_LABELS.get(kind)
    if label is None:
        raise ValueError(f"kind {_short.repr(kind)} is not one of visitor, user, email")
    if kind == "visitor":
        if not is_valid_visitor_id(value):
            raise ValueError(
                f"visitor id {_short.repr(value)} is not valid (expected 32 lowercase "
                "hexadecimal characters, as in the visitor cookie)"
            )
        return value
    if kind == "user":
        if not _USER_ID_RE.match(value):
            raise ValueError(f"user id {_short.repr(value)} is not valid (expected digits)")
        return value
    try:
        validate_email(value)
    except ValidationError:
        raise ValueError(f"email {_short.repr(value)} is not a valid email address") from None
    return value.lower()


def read_members(upload: UploadedFile) -> ParsedMembers:
    """Read an uploaded file (size-checked before reading) into rows and row errors."""
    return parse_members(read_upload(upload, MAX_BYTES))


def parse_members(data: bytes) -> ParsedMembers:
    """Parse CSV bytes; raise :class:`CSVFileError` when the file as a whole is unusable."""
    return parse_csv(data, _parse_rows, empty_message="The file is empty.")


def _parse_rows(reader: Iterable[list[str]]) -> ParsedMembers:
    rows = iter(reader)
    header: list[str] | None = None
    header_row = 0
    for number, row in enumerate(rows, start=1):
        if any(cell.strip() for cell in row):
            header, header_row = [cell.strip().lower() for cell in row], number
            break
    assert header is not None  # the text is not blank, so some row has a cell
    columns = [(index, COLUMNS[name]) for index, name in enumerate(header) if name in COLUMNS]
    kind_column = header.index("kind") if "kind" in header else None
    value_column = header.index("value") if "value" in header else None
    if not columns and (kind_column is None or value_column is None):
        found = ", ".join(_short.repr(name) for name in header[:10])
        raise CSVFileError(
            "The first row must be a header naming a column visitor_id, user_id or email "
            f"(or the two columns value and kind); found {found}."
        )
    parsed = ParsedMembers()
    for number, row in enumerate(rows, start=header_row + 1):
        if not any(cell.strip() for cell in row):
            continue
        parsed.rows += 1
        if parsed.rows > MAX_ROWS:
            raise CSVFileError(
                f"The file has more than {MAX_ROWS:,} rows; split it into smaller files."
            )
        _parse_row(parsed, number, row, columns, kind_column, value_column)
    if parsed.rows == 0:
        raise CSVFileError("The file has a header row but no members below it.")
    return parsed


def _parse_row(
    parsed: ParsedMembers,
    number: int,
    row: list[str],
    columns: list[tuple[int, str]],
    kind_column: int | None,
    value_column: int | None,
) -> None:
    cells: list[tuple[str, str]] = [
        (kind, row[index].strip()) for index, kind in columns if index < len(row)
    ]
    if kind_column is not None and value_column is not None:
        raw_kind = row[kind_column].strip().lower() if kind_column < len(row) else ""
        value = row[value_column].strip() if value_column < len(row) else ""
        if value or raw_kind:
            kind = KIND_NAMES.get(raw_kind)
            if kind is None:
                parsed.error(
                    f"row {number}: kind {_short.repr(raw_kind)} is not one of visitor, user, email"
                )
                return
            cells.append((kind, value))
    cells = [(kind, value) for kind, value in cells if value]
    if not cells:
        parsed.error(f"row {number}: no visitor id, user id or email")
        return
    for kind, value in cells:
        try:
            parsed.members.append((kind, validate_member(kind, value)))
        except ValueError as error:
            parsed.error(f"row {number}: {error}")


def import_members(segment: Segment, parsed: ParsedMembers) -> ImportResult:
    """Insert the valid members, skipping ones the segment already has."""
    using = settings.DATABASE_ALIAS
    unique = list(dict.fromkeys(parsed.members))
    imported = insert_new(
        SegmentMember.objects.using(using).filter(segment=segment),
        [SegmentMember(segment=segment, kind=kind, value=value) for kind, value in unique],
        using=using,
    )
    if imported:
        # bulk_create sends no signals: tell the workers ourselves.
        configuration.bump()
    return ImportResult(
        imported=imported,
        duplicates=len(parsed.members) - imported,
        errors=parsed.errors,
        error_count=parsed.error_count,
        rows=parsed.rows,
    )
