"""Device class (mobile / tablet / desktop) from the User-Agent, via ua-parser."""

from __future__ import annotations

from functools import lru_cache

from ua_parser import parse_device, parse_os

_TABLET_FAMILIES = (
    "ipad",
    "tablet",
    "kindle",
    "nexus 7",
    "nexus 9",
    "nexus 10",
    "sm-t",
    "galaxy tab",
    "lenovo tab",
    "surface",
)
_MOBILE_OS = ("android", "ios", "windows phone", "blackberry os", "kaios", "firefox os")


@lru_cache(maxsize=4096)
def device_class(user_agent: str) -> str:
    """``"mobile"``, ``"tablet"`` or ``"desktop"`` (the default for anything unknown)."""
    if not user_agent:
        return "desktop"
    device = parse_device(user_agent)
    family = (device.family if device else "").lower()
    if any(marker in family for marker in _TABLET_FAMILIES):
        return "tablet"
    os = parse_os(user_agent)
    os_family = (os.family if os else "").lower()
    ua = user_agent.lower()
    if os_family == "android" and "mobile" not in ua:
        # Android tablets drop the "Mobile" token from their User-Agent.
        return "tablet"
    if os_family in _MOBILE_OS or "mobile" in ua:
        return "mobile"
    return "desktop"
