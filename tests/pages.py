"""Reading rendered pages in tests: text with entities decoded, or without tags."""

from __future__ import annotations

import html
import re
from typing import Any


def text_of(response: Any) -> str:
    """The response body with HTML entities decoded, for matching messages."""
    body: str = response.content.decode()
    return html.unescape(body).replace("\xa0", " ")


def plain(response: Any) -> str:
    """The response body without tags, for matching sentences that contain markup."""
    return re.sub(r"\s+", " ", re.sub(r"</?[a-zA-Z!][^>]*>", " ", text_of(response)))
