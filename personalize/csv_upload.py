"""Reading CSV files merchandisers upload (segment members, coupon codes).

One place decides what a usable upload is: at most ``max_bytes``, UTF-8 (a BOM
from Excel is fine), not binary, not empty, comma-, semicolon- or tab-separated.
Each problem raises :class:`CSVFileError` with a message that says how to fix it.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import QuerySet

T = TypeVar("T")


class CSVFileError(ValueError):
    """The uploaded file as a whole cannot be used; the message says why and what to do."""


def too_big(size: int, max_bytes: int) -> str:
    return (
        f"The file is {size / (1024 * 1024):.1f} MB; the limit is "
        f"{max_bytes // (1024 * 1024)} MB. Split it into smaller files."
    )


def read_upload(upload: UploadedFile, max_bytes: int) -> bytes:
    """The file's bytes, refusing files over ``max_bytes`` before reading them whole."""
    if upload.size is not None and upload.size > max_bytes:
        raise CSVFileError(too_big(upload.size, max_bytes))
    data = bytes(upload.read(max_bytes + 1))
    if len(data) > max_bytes:
        raise CSVFileError(too_big(len(data), max_bytes))
    return data


def parse_csv(
    data: bytes,
    parse_rows: Callable[[Iterator[list[str]]], T],
    *,
    empty_message: str = "The file is empty.",
) -> T:
    """Decode and split ``data``, then hand the rows to ``parse_rows``."""
    if b"\x00" in data:
        raise CSVFileError(
            "This does not look like a CSV file (it contains binary data). "
            "Save the sheet as “CSV UTF-8” and upload that."
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise CSVFileError(
            "The file is not UTF-8 text. Save it as “CSV UTF-8” and upload it again."
        ) from None
    if not text.strip():
        raise CSVFileError(empty_message)
    first_line = text.lstrip("\r\n").split("\n", 1)[0]
    delimiter = max(",;\t", key=first_line.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        return parse_rows(reader)
    except csv.Error as error:
        raise CSVFileError(
            f"The file could not be read as CSV near row {reader.line_num}: {error}."
        ) from None


def insert_new(queryset: QuerySet[Any], objects: list[Any], *, using: str) -> int:
    """Insert ``objects``, skipping ones a unique constraint already holds; return how many
    were new. ``queryset`` is the set they join (counted before and after, atomically).

    ``bulk_create`` sends no signals, so a caller whose rows are configuration bumps
    the configuration version itself when this returns more than 0.
    """
    with transaction.atomic(using=using):
        before = queryset.count()
        queryset.model.objects.using(using).bulk_create(
            objects, batch_size=1000, ignore_conflicts=True
        )
        return int(queryset.count() - before)
