"""Visit bookkeeping: when a request starts a new visit and what that visit records.

The Redis store runs the same rules inside a Lua script (``TOUCH_SCRIPT`` in
``personalize/profiles/redis.py``) so that they hold atomically; the contract
tests check both agree.
"""

from __future__ import annotations

from personalize.profiles.profile import Profile, ProfileOp
from personalize.tracking.context import VisitContext


def touch(profile: Profile, ctx: VisitContext, timeout: int) -> bool:
    """Record activity at ``ctx.now``; return True when it starts a new visit."""
    new_visit = not profile.exists or ctx.now - profile.last_seen > timeout
    profile.apply(touch_ops(profile, ctx, timeout))
    return new_visit


def touch_ops(profile: Profile, ctx: VisitContext, timeout: int) -> list[ProfileOp]:
    """The changes a request at ``ctx.now`` makes to ``profile``'s visit bookkeeping.

    Also how a request the store never saw (it was down) is recorded later, from
    ``personalize.profiles.backlog``: ``last_seen`` only moves forward, so a request
    replayed after newer ones starts no visit and moves no clock back.
    """
    ops: list[ProfileOp] = []
    if not profile.exists:
        ops += [
            ProfileOp("set", "first_seen", ctx.now),
            ProfileOp("set", "landing_path", ctx.path),
            ProfileOp("set", "first_referrer", ctx.referrer),
            ProfileOp("set", "first_utm", dict(ctx.utm)),
        ]
    if not profile.exists or ctx.now - profile.last_seen > timeout:
        ops += [
            ProfileOp("incr", "visit_count", 1),
            ProfileOp("set", "visit_started_at", ctx.now),
            ProfileOp("set", "pageviews_visit", 0),
            ProfileOp("set", "visit_landing_path", ctx.path),
            ProfileOp("set", "visit_referrer", ctx.referrer),
            ProfileOp("set", "utm", dict(ctx.utm)),
        ]
    ops.append(ProfileOp("set", "device", ctx.device))
    if ctx.country:
        ops.append(ProfileOp("set", "country", ctx.country))
    ops.append(ProfileOp("set", "last_seen", max(profile.last_seen, ctx.now)))
    return ops
