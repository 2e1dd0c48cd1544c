"""The demo's campaigns and widgets at work: their last 60 days, woven into the history.

``seeding.py`` simulates shoppers; this module says what those shoppers met on the
way during the last :data:`LIVE_DAYS` days and how they reacted: campaign exposures
(``campaign_impression``, or ``campaign_exposure`` for the control group), clicks,
closes, email captures (``campaign_convert``, an ``identify`` and a ``Lead`` row),
and orders that happened because of what they saw — a browsing visit that ends in
an order instead (a real order, written like every other one).

Everything the server would decide is decided the server's way, from the live
configuration: a visitor's variant is :func:`personalize.bucketing.assign_variant`
over the campaign's compiled weights (so the seeded visitor sees the same variant
when the demo runs), and a widget's holdout is :meth:`WidgetSpec.holds_out`.

The stories the results pages tell (:data:`STORIES`):

* ``home-hero`` — an A/B test with a control and a real winner: the "bundle" hero
  turns far more home-page visitors into buyers than no hero at all, on enough
  traffic that the (sequential, always-valid) test says so;
* ``exit-intent-offer`` — an A/B test with no significant difference: variant B
  ("today only") does a little better than A, on too few browse abandoners to tell;
* ``welcome-back-bar`` — a sample-ratio mismatch: configured 50/50, but B's
  impressions are lost for about one visitor in five (say, a script blocked on some
  browsers), so about 55/45 of the exposed visitors are A/B, and the page should
  not be trusted;
* the ``product-viewed`` and ``home`` widgets hold visitors out, and shoppers who
  see them order a little more often than the held-out ones.

Reactions draw from their own random stream per visitor, so the shopping history
changes only where a campaign or a widget turns a visit into an order.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from personalize.bucketing import assign_variant
from personalize.campaigns.registry import get_campaign_registry
from personalize.recommendations.serving import WidgetSpec, get_widgets

DAY: Final = 86400.0
#: The campaigns and widgets went live this many days before "now".
LIVE_DAYS: Final = 60
CONTROL: Final = "control"


@dataclass(frozen=True)
class Arm:
    """How visitors shown one variant (or the control group) behave."""

    click: float = 0.0  # chance an impression is clicked
    close: float = 0.0  # chance it is closed instead (overlays and bars)
    capture: float = 0.0  # chance the email form is sent (capture campaigns)
    order: float = 0.0  # chance a browsing visit with this exposure ends in an order
    unreported: float = 0.0  # share of its visitors whose impressions never reach the log


QUIET: Final = Arm(click=0.05, close=0.3)
STORIES: Final[dict[str, dict[str, Arm]]] = {
    "welcome-popup": {"a": Arm(close=0.55, capture=0.16, order=0.03)},
    "welcome-back-bar": {
        "a": Arm(click=0.05, close=0.2),
        "b": Arm(click=0.05, close=0.2, unreported=0.18),
    },
    "sign-in-bar": {"a": Arm(click=0.06, close=0.25)},
    "exit-intent-offer": {
        "a": Arm(click=0.06, close=0.75, order=0.04),
        "b": Arm(click=0.08, close=0.7, order=0.05),
    },
    "cart-reminder-bar": {"a": Arm(click=0.3, close=0.1, order=0.25)},
    "free-shipping-bar": {"a": Arm(click=0.1)},
    "replenish-reminder": {"a": Arm(click=0.25, close=0.3, order=0.2)},
    "vip-early-access": {"a": Arm(click=0.3, close=0.2, order=0.1)},
    "win-back-offer": {"a": Arm(click=0.15, close=0.6, order=0.15)},
    "home-hero": {CONTROL: Arm(), "picks": Arm(click=0.06), "bundle": Arm(click=0.12, order=0.45)},
}
#: Widgets that make a browsing visit end in an order, for visitors who see them.
WIDGET_LIFT: Final = {"product-viewed": 0.06, "home": 0.04}


@dataclass(frozen=True)
class LiveCampaign:
    slug: str
    kind: str
    weights: list[float]  # the control first
    variants: tuple[str, ...]
    stop_after_close: bool
    capture: bool

    def assign(self, visitor_id: str) -> str:
        """The visitor's variant key, or ``"control"``: as ``selection.assign`` decides."""
        index = assign_variant(self.slug, visitor_id, self.weights)
        return CONTROL if index <= 0 else self.variants[index - 1]


@dataclass(frozen=True)
class LiveSetup:
    """The active campaigns and widgets, as the server compiles them."""

    campaigns: dict[str, LiveCampaign]
    widgets: dict[str, WidgetSpec]


def live_setup() -> LiveSetup:
    registry = get_campaign_registry()
    campaigns = {
        c.slug: LiveCampaign(
            slug=c.slug,
            kind=c.kind,
            weights=c.weights,
            variants=tuple(v.key for v in c.variants),
            stop_after_close=c.stop_after_close,
            capture=c.capture_email,
        )
        for c in registry.campaigns
        if c.variants
    }
    return LiveSetup(campaigns=campaigns, widgets=dict(get_widgets()))


@dataclass(frozen=True)
class LeadRecord:
    email: str
    campaign: str
    variant: str
    visitor_id: str
    at: datetime


@dataclass
class _Seen:
    variant: str
    reported: bool
    closed: bool = False
    last: float = 0.0


@dataclass
class VisitorCampaigns:
    """What one visitor meets: call :meth:`begin_visit`, then :meth:`show` and friends."""

    setup: LiveSetup
    visitor_id: str
    emit: Callable[[str, dict[str, Any]], None]
    rng: random.Random = field(init=False)
    seen: dict[str, _Seen] = field(default_factory=dict)
    order_chance: float = 0.0  # this visit's, from what it was shown
    lifted: set[str] = field(default_factory=set)  # widgets that lifted this visit

    def __post_init__(self) -> None:
        self.rng = random.Random(f"pawsome-campaigns-{self.visitor_id}")

    def begin_visit(self) -> None:
        self.order_chance = 0.0
        self.lifted = set()

    def _lift(self, chance: float) -> None:
        self.order_chance = 1 - (1 - self.order_chance) * (1 - chance)

    def converts(self) -> bool:
        """Whether what this visit showed turns it into an order."""
        return self.order_chance > 0 and self.rng.random() < self.order_chance

    def shows_since(self, slug: str, at: float) -> bool:
        """Whether ``slug`` was shown (or held back for the control) after ``at``."""
        seen = self.seen.get(slug)
        return seen is not None and seen.last > at

    def show(self, slug: str, at: float) -> tuple[str, bool] | None:
        """Show campaign ``slug`` now: ``(variant, captured)``, or ``None`` when it is not
        live or the visitor closed it for good."""
        campaign = self.setup.campaigns.get(slug)
        if campaign is None:
            return None
        seen = self.seen.get(slug)
        if seen is None:
            variant = campaign.assign(self.visitor_id)
            arm = STORIES.get(slug, {}).get(variant, QUIET)
            seen = _Seen(variant, reported=self.rng.random() >= arm.unreported)
            self.seen[slug] = seen
        if seen.closed:
            return None
        seen.last = at
        arm = STORIES.get(slug, {}).get(seen.variant, QUIET)
        props = {"campaign": slug, "variant": seen.variant, "kind": campaign.kind}
        if seen.variant == CONTROL:
            self.emit("campaign_exposure", props)
            self._lift(arm.order)
            return seen.variant, False
        if seen.reported:
            self.emit("campaign_impression", props)
        self._lift(arm.order)
        captured = False
        roll = self.rng.random()
        if campaign.capture and roll < arm.capture:
            captured = True
        elif roll < arm.capture + arm.click:
            if seen.reported:
                self.emit("campaign_click", props)
        elif roll < arm.capture + arm.click + arm.close:
            if seen.reported:
                self.emit("campaign_close", props)
            seen.closed = campaign.stop_after_close
        return seen.variant, captured

    def captured(self, slug: str, variant: str) -> None:
        campaign = self.setup.campaigns[slug]
        self.emit("campaign_convert", {"campaign": slug, "variant": variant, "kind": campaign.kind})

    # Widgets ---------------------------------------------------------------------------

    def sees(self, slot: str) -> bool:
        """Whether the widget in ``slot`` is live and shows this visitor products."""
        spec = self.setup.widgets.get(slot)
        return spec is not None and not spec.holds_out(self.visitor_id)

    def widget_view(self, slot: str, strategy: str, count: int) -> bool:
        """Report ``slot`` seen: ``True`` when it showed products, ``False`` when the
        visitor is held out (a holdout view is logged instead) or it is not live."""
        spec = self.setup.widgets.get(slot)
        if spec is None:
            return False
        if spec.holds_out(self.visitor_id):
            self.emit("rec_view", {"widget": slot, "holdout": True})
            return False
        self.emit("rec_view", {"widget": slot, "strategy": strategy, "count": count})
        if slot in WIDGET_LIFT and slot not in self.lifted:
            self.lifted.add(slot)
            self._lift(WIDGET_LIFT[slot])
        return True
