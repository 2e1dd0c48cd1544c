"""A dependency-free progress line for management commands."""

from __future__ import annotations

import sys
import time
from typing import Any

from django.core.management.base import OutputWrapper


class Progress:
    """``label: 1,200/5,000 (24%) 3.1s`` redrawn in place on a terminal, every 10% otherwise."""

    def __init__(self, label: str, total: int | None = None, stream: Any = None) -> None:
        self.label = label
        self.total = total
        self.done = 0
        self.stream = stream or sys.stderr
        self.started = time.monotonic()
        self._last_decile = -1
        self._tty = bool(getattr(self.stream, "isatty", lambda: False)())

    def __call__(self, amount: int = 1) -> None:
        self.done += amount
        if self._tty:
            self._draw("\r")
        elif self.total:
            decile = 10 * self.done // self.total
            if decile != self._last_decile:
                self._last_decile = decile
                self._draw("")
                self._write("\n")

    def _write(self, text: str) -> None:
        # Django's OutputWrapper (a command's self.stderr) ends every write with a newline
        # unless told otherwise, which would break the in-place redraw.
        if isinstance(self.stream, OutputWrapper):
            self.stream.write(text, ending="")
        else:
            self.stream.write(text)

    def _draw(self, prefix: str) -> None:
        total = f"/{self.total:,}" if self.total else ""
        share = f" ({100 * self.done // self.total}%)" if self.total else ""
        elapsed = time.monotonic() - self.started
        self._write(f"{prefix}{self.label}: {self.done:,}{total}{share} {elapsed:.1f}s")
        self.stream.flush()

    def close(self) -> None:
        if self._tty:
            self._draw("\r")
            self._write("\n")
            self.stream.flush()
