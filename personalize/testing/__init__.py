"""Test helpers for shops that use personalize, in the style of django-waffle's ``override_flag``.

>>> from personalize.testing import override_segment
>>> @override_segment("vip")                      # the visitor is in "vip"
... def test_vip_banner(client): ...
>>> with override_segment("new-visitors", active=False):
...     ...                                       # the visitor is never in "new-visitors"
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

from django.test.utils import TestContextDecorator

from personalize.segments import overrides


class override_segment(TestContextDecorator):  # named like override_settings
    """Force one or more segments on (``active=True``) or off for every request."""

    def __init__(self, *slugs: str, active: bool = True) -> None:
        if not slugs:
            raise TypeError("override_segment() needs at least one segment slug.")
        self.slugs = slugs
        self.active = active
        super().__init__()

    def enable(self) -> None:
        if self.active:
            overrides.push(self.slugs, ())
        else:
            overrides.push((), self.slugs)

    def disable(self) -> None:
        overrides.pop()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> Any:
        self.disable()
