"""Attribute hooks used by the tests, as a shop would write them."""

from __future__ import annotations

from typing import Any


def loyalty_tier(request: Any, profile: Any) -> dict[str, Any]:
    return {"loyalty_tier": "gold"}


def broken(request: Any, profile: Any) -> dict[str, Any]:
    raise RuntimeError("the shop's hook has a bug")
