"""Unique coupon codes for a campaign's pool, uploaded as a CSV file.

A merchandiser exports a batch of single-use codes from the shop's discount tool
and uploads it. Every row is checked on its own: valid codes are added, invalid
ones are reported by row number ("row 12: 'AB' is too short ..."), codes already
in the file or in the pool are skipped and counted, so one typo never blocks a
batch of thousands.
"""

from __future__ import annotations

import re
import reprlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Final

from django.core.files.uploadedfile import UploadedFile
from django.db.models import Count, Q

from personalize import configuration
from personalize.campaigns.models import Campaign, CouponCode
from personalize.conf import settings
from personalize.csv_upload import CSVFileError, insert_new, parse_csv, read_upload

__all__ = [
    "MAX_BYTES",
    "MAX_CODES",
    "CSVFileError",
    "CouponImport",
    "ParsedCodes",
    "PoolStatus",
    "import_codes",
    "parse_codes",
    "pool_status",
    "read_codes",
    "validate_code",
]

MAX_BYTES: Final = 1024 * 1024
MAX_CODES: Final = 50_000
MIN_LENGTH: Final = 3
MAX_LENGTH: Final = 40
#: Row errors kept for the report; the rest are only counted.
MAX_REPORTED_ERRORS: Final = 100
#: Header cells (lower-cased) that name the code column.
HEADER_NAMES: Final = frozenset({"code", "codes", "coupon", "coupon_code", "coupon code"})

_CODE_RE: Final = re.compile(r"[A-Za-z0-9_-]+")
_short = reprlib.Repr()
_short.maxstring = 50


@dataclass
class ParsedCodes:
    """Valid codes in file order (duplicates included), and the rows that were not valid."""

    codes: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    error_count: int = 0
    rows: int = 0

    def error(self, message: str) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append(message)


@dataclass(frozen=True)
class CouponImport:
    """What an upload did: ``duplicates`` counts codes repeated in the file or already pooled."""

    imported: int
    duplicates: int
    errors: list[str]
    error_count: int
    rows: int

    @property
    def more_errors(self) -> int:
        """Row errors counted but not listed."""
        return self.error_count - len(self.errors)


@dataclass(frozen=True)
class PoolStatus:
    total: int
    handed_out: int

    @property
    def left(self) -> int:
        return self.total - self.handed_out

    @property
    def exhausted(self) -> bool:
        return self.left <= 0


def validate_code(value: str) -> str:
    """Return ``value`` without surrounding spaces, or raise ``ValueError`` saying why not."""
    code = value.strip()
    shown = _short.repr(code)
    if len(code) < MIN_LENGTH:
        raise ValueError(
            f"{shown} is too short (codes have {MIN_LENGTH} to {MAX_LENGTH} characters)"
        )
    if len(code) > MAX_LENGTH:
        raise ValueError(
            f"{shown} is too long (codes have {MIN_LENGTH} to {MAX_LENGTH} characters)"
        )
    if not _CODE_RE.fullmatch(code):
        raise ValueError(f"{shown} may only contain letters A-Z, digits, _ and -")
    return code


def read_codes(upload: UploadedFile) -> ParsedCodes:
    """Read an uploaded file (size-checked before reading) into rows and row errors."""
    return parse_codes(read_upload(upload, MAX_BYTES))


def parse_codes(data: bytes) -> ParsedCodes:
    """Parse CSV bytes; raise :class:`CSVFileError` when the file as a whole is unusable.

    The codes are in a column headed ``code`` (or ``coupon_code``...), or in the only
    column of a file without a header.
    """
    return parse_csv(
        data,
        _parse_rows,
        empty_message="The file is empty: put one code per row, under a header “code”.",
    )


def _non_blank(reader: Iterator[list[str]]) -> Iterator[tuple[int, list[str]]]:
    for number, row in enumerate(reader, start=1):
        if any(cell.strip() for cell in row):
            yield number, row


def _parse_rows(reader: Iterator[list[str]]) -> ParsedCodes:
    rows = _non_blank(reader)
    first_number, first = next(rows)  # the text is not blank, so some row has a cell
    header = [cell.strip().lower() for cell in first]
    named = [index for index, name in enumerate(header) if name in HEADER_NAMES]
    parsed = ParsedCodes()
    if named:
        column = named[0]
    elif len(first) == 1:
        column = 0
        _parse_row(parsed, first_number, first, column)  # no header: the first row is a code
    else:
        found = ", ".join(_short.repr(name) for name in header[:10])
        raise CSVFileError(
            "The file has several columns but none is headed “code”; found "
            f"{found}. Name the column of codes “code”, or upload a single column."
        )
    for number, row in rows:
        _parse_row(parsed, number, row, column)
    if parsed.rows == 0:
        raise CSVFileError("The file has a header row but no codes below it.")
    return parsed


def _parse_row(parsed: ParsedCodes, number: int, row: list[str], column: int) -> None:
    parsed.rows += 1
    if parsed.rows > MAX_CODES:
        raise CSVFileError(
            f"The file has more than {MAX_CODES:,} codes; split it into smaller files."
        )
    value = row[column] if column < len(row) else ""
    if not value.strip():
        parsed.error(f"row {number}: no code in the code column")
        return
    try:
        parsed.codes.append(validate_code(value))
    except ValueError as error:
        parsed.error(f"row {number}: {error}")


def import_codes(campaign: Campaign, parsed: ParsedCodes) -> CouponImport:
    """Add the valid codes to the campaign's pool, skipping ones it already has."""
    using = settings.DATABASE_ALIAS
    unique = list(dict.fromkeys(parsed.codes))
    imported = insert_new(
        CouponCode.objects.using(using).filter(campaign=campaign),
        [CouponCode(campaign=campaign, code=code) for code in unique],
        using=using,
    )
    if imported:
        # bulk_create sends no signals; an exhausted pool may be showing again now.
        configuration.bump()
    return CouponImport(
        imported=imported,
        duplicates=len(parsed.codes) - imported,
        errors=parsed.errors,
        error_count=parsed.error_count,
        rows=parsed.rows,
    )


def pool_status(campaign: Campaign) -> PoolStatus:
    """How many codes the campaign's pool holds and how many were handed out (one query)."""
    counts = (
        CouponCode.objects.using(settings.DATABASE_ALIAS)
        .filter(campaign=campaign)
        .aggregate(total=Count("pk"), handed_out=Count("pk", filter=~Q(visitor_id="")))
    )
    return PoolStatus(total=counts["total"] or 0, handed_out=counts["handed_out"] or 0)
