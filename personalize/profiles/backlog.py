"""Profile changes a request could not apply: deferred to the database, replayed once.

When the store is slow or down, a request is served without its profile and its
events go to the database log. Its profile changes used to be dropped, so a
visitor's counters fell behind the log for good. Now, for a store that
:attr:`~personalize.profiles.base.BaseProfileStore.replays_changes`:

- :func:`defer` keeps the request's events (and, when the visit itself went
  unrecorded, its visit facts) in a :class:`~personalize.models.DeferredChange`,
  keyed by the request's first event id, the *batch id*;
- :func:`replay` (run by ``personalize_worker``) recomputes the changes from those
  events against the stored profile and hands them to
  :meth:`~personalize.profiles.base.BaseProfileStore.apply_once`, which applies them
  and marks the batch in one atomic step, unless the batch is marked already (its
  first attempt did reach the store before timing out).

So each batch counts exactly once. A batch whose outcome was unknown and whose
mark has expired (the worker was away longer than :data:`BATCH_MARK_SECONDS`) is
dropped rather than risk counting it twice; the worker reports how many.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Any

from django.utils import timezone

from personalize.conf import settings
from personalize.models import DeferredChange
from personalize.profiles.base import BATCH_MARK_SECONDS, BaseProfileStore, StoreUnavailable
from personalize.profiles.profile import Profile, ProfileOp
from personalize.profiles.visits import touch_ops
from personalize.tracking.context import VisitContext
from personalize.tracking.events import EventRecord, event_ops

logger = logging.getLogger("personalize.backlog")

#: A deferred batch is replayed only once it is this old, so a write that timed out
#: but is still on its way to the store has landed (and marked its batch) by then.
SETTLE_SECONDS = 2.0
#: Deferred batches read per call of :func:`replay`.
REPLAY_BATCH = 500


def defer(
    visitor_id: str,
    events: list[EventRecord],
    *,
    maybe_applied: bool,
    visit: VisitContext | None,
) -> None:
    """Keep a request's changes for :func:`replay`. Never raises: the request goes on."""
    if not events:
        return  # nothing to recompute the changes from (and nothing to mark them by)
    row = DeferredChange(
        batch_id=events[0].event_id,
        visitor_id=visitor_id,
        maybe_applied=maybe_applied,
        visit=_visit_document(visit) if visit is not None else None,
        events=[event.to_json() for event in events],
    )
    try:
        # ignore_conflicts: a batch deferred twice (by two layers) is kept once.
        DeferredChange.objects.using(settings.DATABASE_ALIAS).bulk_create(
            [row], ignore_conflicts=True
        )
    except Exception:
        logger.exception("Could not defer the profile changes of visitor %s", visitor_id)


def _visit_document(ctx: VisitContext) -> dict[str, Any]:
    doc = asdict(ctx)
    doc.pop("user_agent", None)  # not stored on profiles: no reason to keep it here
    return doc


def replay_ops(
    profile: Profile, visit: dict[str, Any] | None, events: list[EventRecord]
) -> list[ProfileOp]:
    """The changes of a deferred batch against ``profile`` (which they update)."""
    ops: list[ProfileOp] = []
    if visit is not None:
        step = touch_ops(profile, VisitContext(**visit), settings.VISIT_TIMEOUT)
        profile.apply(step)
        ops += step
    for event in events:
        step = event_ops(profile, event.name, event.props, event.at)
        profile.apply(step)
        ops += step
    return ops


@dataclass
class ReplayStats:
    #: Batches whose changes the store applied now.
    replayed: int = 0
    #: Batches the store had applied already (their first attempt landed).
    already_applied: int = 0
    #: Batches of unknown outcome whose mark expired: dropped, not risked twice.
    expired: int = 0

    @property
    def handled(self) -> int:
        return self.replayed + self.already_applied + self.expired


def replay(store: BaseProfileStore, *, limit: int = REPLAY_BATCH) -> ReplayStats:
    """Apply up to ``limit`` deferred batches, oldest first, each exactly once.

    Stops early (keeping the rest for the next call) when the store is unavailable.
    Safe to run in several workers at once: the store's batch marks decide.
    """
    stats = ReplayStats()
    if not store.replays_changes:
        return stats
    alias = settings.DATABASE_ALIAS
    now = timezone.now()
    rows = list(
        DeferredChange.objects.using(alias)
        .filter(created_at__lte=now - timedelta(seconds=SETTLE_SECONDS))
        .order_by("created_at", "id")[:limit]
    )
    done: list[int] = []
    try:
        for row in rows:
            age = (now - row.created_at).total_seconds()
            if row.maybe_applied and age >= BATCH_MARK_SECONDS - 60:
                # Its mark may be gone: applying now could count it twice.
                stats.expired += 1
                done.append(row.id)
                continue
            events = [EventRecord.from_json(doc) for doc in row.events]
            profile = store.load(row.visitor_id) or Profile(visitor_id=row.visitor_id)
            ops = replay_ops(profile, row.visit, events)
            if store.apply_once(row.visitor_id, row.batch_id, ops):
                stats.replayed += 1
            else:
                stats.already_applied += 1
            done.append(row.id)
    except StoreUnavailable:
        pass  # the store is still away: the rest waits for the next round
    finally:
        if done:
            DeferredChange.objects.using(alias).filter(id__in=done).delete()
    if stats.expired:
        logger.warning(
            "Dropped %d deferred profile changes of unknown outcome older than %d s "
            "(personalize_worker was not running): they may be missing from profiles.",
            stats.expired,
            BATCH_MARK_SECONDS,
        )
    return stats


def pending() -> int:
    """How many deferred batches wait for replay."""
    return DeferredChange.objects.using(settings.DATABASE_ALIAS).count()
