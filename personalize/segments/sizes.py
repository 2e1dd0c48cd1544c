"""Estimating how many recent visitors each segment holds."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from django.utils import timezone

from personalize.attributes import attributes_for_profile
from personalize.conf import settings
from personalize.profiles.base import BaseProfileStore, get_store
from personalize.segments.models import Segment
from personalize.segments.registry import build_registry


@dataclass
class SizeEstimate:
    population: int
    sizes: dict[str, int]


def estimate_segment_sizes(
    days: int = 30,
    *,
    store: BaseProfileStore | None = None,
    progress: Callable[[int], None] | None = None,
) -> SizeEstimate:
    """Evaluate every enabled segment on each profile seen in the last ``days`` and save counts."""
    store = store or get_store()
    registry = build_registry()
    now = time.time()
    counts: Counter[str] = Counter()
    population = 0
    for profile in store.iter_profiles(seen_since=now - days * 86400):
        population += 1
        counts.update(registry.evaluate(attributes_for_profile(profile, now)))
        if progress is not None:
            progress(1)
    stamp = timezone.now()
    for segment in Segment.objects.using(settings.DATABASE_ALIAS).all():
        # .update() keeps configuration signals (and worker reloads) out of it.
        Segment.objects.using(settings.DATABASE_ALIAS).filter(pk=segment.pk).update(
            estimated_size=counts.get(segment.slug, 0) if segment.enabled else None,
            estimated_at=stamp,
            estimated_population=population,
        )
    return SizeEstimate(population, dict(counts))
