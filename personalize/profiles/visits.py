"""Visit bookkeeping: when a request starts a new visit and what that visit records.

The Redis store runs the same rules inside a Lua script (``TOUCH_SCRIPT`` in
``personalize/profiles/redis.py``) so that they hold atomically; the contract
tests check both agree.
"""

from __future__ import annotations

from personalize.profiles.profile import Profile
from personalize.tracking.context import VisitContext


def touch(profile: Profile, ctx: VisitContext, timeout: int) -> bool:
    """Record activity at ``ctx.now``; return True when it starts a new visit."""
    new_visit = not profile.exists or ctx.now - profile.last_seen > timeout
    if not profile.exists:
        profile.first_seen = ctx.now
        profile.landing_path = ctx.path
        profile.first_referrer = ctx.referrer
        profile.first_utm = dict(ctx.utm)
    if new_visit:
        profile.visit_count += 1
        profile.visit_started_at = ctx.now
        profile.pageviews_visit = 0
        profile.visit_landing_path = ctx.path
        profile.visit_referrer = ctx.referrer
        profile.utm = dict(ctx.utm)
    profile.device = ctx.device
    if ctx.country:
        profile.country = ctx.country
    profile.last_seen = max(profile.last_seen, ctx.now)
    return new_visit
