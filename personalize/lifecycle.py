"""Lifecycle stage from orders and time since the last order."""

from __future__ import annotations

from personalize.conf import settings

STAGES = ("prospect", "first_time_buyer", "repeat", "loyal", "at_risk", "lapsed")


def lifecycle_stage(orders_count: int, days_since_last_order: int | None) -> str:
    """``prospect`` → ``first_time_buyer`` → ``repeat`` → ``loyal``, or ``at_risk`` / ``lapsed``.

    Thresholds (days) are settings: ``PERSONALIZE_LIFECYCLE_AT_RISK_DAYS`` (60),
    ``PERSONALIZE_LIFECYCLE_LAPSED_DAYS`` (120), and the order counts
    ``PERSONALIZE_LIFECYCLE_LOYAL_ORDERS`` (4).
    """
    if orders_count <= 0 or days_since_last_order is None:
        return "prospect"
    if days_since_last_order > settings.LIFECYCLE_LAPSED_DAYS:
        return "lapsed"
    if days_since_last_order >= settings.LIFECYCLE_AT_RISK_DAYS:
        return "at_risk"
    if orders_count >= settings.LIFECYCLE_LOYAL_ORDERS:
        return "loyal"
    if orders_count >= 2:
        return "repeat"
    return "first_time_buyer"
