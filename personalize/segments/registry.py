"""Compiled segments, rebuilt only when the configuration version changes."""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from personalize.conditions import CompiledCondition, compile_condition, validate_condition
from personalize.conf import settings
from personalize.configuration import Compiled

logger = logging.getLogger("personalize.segments")


@dataclass(frozen=True)
class CompiledSegment:
    slug: str
    name: str
    condition: dict[str, Any]
    matches: CompiledCondition


@dataclass(frozen=True)
class SegmentRegistry:
    """Every enabled segment, compiled, in evaluation order, with static member groups."""

    segments: tuple[CompiledSegment, ...] = ()
    groups: dict[str, list[str]] = field(default_factory=dict)
    known_slugs: frozenset[str] = frozenset()

    def evaluate(self, attributes: dict[str, Any]) -> list[str]:
        """Slugs of the segments the attributes match, in order.

        ``attributes["segments"]`` grows as segments match, so a segment can
        build on the ones evaluated before it.
        """
        matched: list[str] = []
        attributes["segments"] = matched
        for segment in self.segments:
            if segment.matches(attributes, self.groups):
                matched.append(segment.slug)
        return matched


def build_registry() -> SegmentRegistry:
    from personalize.segments.models import Segment, SegmentMember

    using = settings.DATABASE_ALIAS
    compiled = []
    for row in Segment.objects.using(using).filter(enabled=True).order_by("position", "pk"):
        condition = row.condition if isinstance(row.condition, dict) else {}
        errors = validate_condition(condition)
        if errors:
            # Saved through the admin this cannot happen; rows written by hand can.
            logger.error(
                "Segment %r has an invalid condition and is skipped: %s",
                row.slug,
                "; ".join(errors),
            )
            continue
        compiled.append(
            CompiledSegment(row.slug, row.name, condition, compile_condition(condition))
        )
    groups: dict[str, list[str]] = defaultdict(list)
    members = SegmentMember.objects.using(using).select_related("segment")
    for member in members.iterator(chunk_size=5000):
        groups[member.segment.slug].append(member.key)
    slugs = frozenset(Segment.objects.using(using).values_list("slug", flat=True))
    return SegmentRegistry(tuple(compiled), dict(groups), slugs)


registry = Compiled(build_registry)


def get_registry() -> SegmentRegistry:
    return registry.get()
