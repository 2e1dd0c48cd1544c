"""What the events endpoint needs to know about widgets, compiled once per configuration.

The runtime reports ``rec_view`` and ``rec_click`` for a widget by its slot name;
the endpoint accepts only slots of active widgets. The set is rebuilt when the
configuration version changes (saving or deleting a widget bumps it), so checking a
report costs no query.
"""

from __future__ import annotations

from personalize.conf import settings
from personalize.configuration import Compiled


def build_active_widget_slots() -> frozenset[str]:
    from personalize.recommendations.models import Widget

    slots = (
        Widget.objects.using(settings.DATABASE_ALIAS)
        .filter(is_active=True)
        .values_list("slot", flat=True)
    )
    return frozenset(slots)


_active_slots = Compiled(build_active_widget_slots)


def active_widget_slots() -> frozenset[str]:
    """The slot names of every active widget (no SQL once compiled for this version)."""
    return _active_slots.get()
