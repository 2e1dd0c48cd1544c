"""Demo data: the catalogue, users, and 18 months of synthetic shopper behaviour.

Everything is deterministic for a given seed (and ``now``): the catalogue is
upserted by slug, users are created only when missing, and the history (visits,
views, searches, carts, orders) is generated from one seeded RNG, written as
``Order`` rows and fed to personalize with :func:`import_history`, so the
purchase events and the orders always agree. Each product has companions (what
goes with it) and look-alikes (what shoppers compare it with), so the history
holds the co-views and co-purchases that "viewed together" and "bought together"
recommendations learn from.

The last 60 days also hold what the demo's campaigns and recommendation widgets
did: exposures, clicks, captures and the orders they led to, with three A/B stories
and widget holdouts (see :mod:`shop_demo.campaign_history`), so every results page
has numbers on the first run.

The command ``manage.py seed_demo`` wraps :func:`run`; tests call it with small
sizes.
"""

from __future__ import annotations

import bisect
import itertools
import random
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Protocol

from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from personalize.campaigns.models import Campaign, Lead
from personalize.profiles.base import get_store
from personalize.recommendations.training import train
from personalize.rfm.run import run_rfm
from personalize.segments.sizes import estimate_segment_sizes
from personalize.tracking.history import HistoricalEvent, import_history
from shop_demo.campaign_history import (
    LIVE_DAYS,
    LeadRecord,
    LiveSetup,
    VisitorCampaigns,
    live_setup,
)
from shop_demo.catalogue import (
    CATEGORIES,
    CATEGORY_BY_SLUG,
    PETS,
    SHARED_CATEGORIES,
    generate_products,
)
from shop_demo.models import Category, Order, OrderItem, Product
from shop_demo.orders import currency, free_shipping_threshold, purchase_props, shipping_for
from shop_demo.personalization import (
    install_demo_campaigns,
    install_demo_segments,
    install_demo_widgets,
)

ADMIN_USERNAME = "admin"
ADMIN_PASSWORD = "admin"
CUSTOMER_PASSWORD = "demo-pass-123"
DAY = 86400.0
MAX_VISITS = 30
LAPSED_AFTER_DAYS = 120
# After viewing a product, how often the next view is one of its look-alikes or companions
# (and, of those, how often a look-alike), and how often buying a product adds a companion.
CO_VIEW_RATE = 0.45
LOOK_ALIKE_SHARE = 0.6
CO_PURCHASE_RATE = 0.35
# The recommendation widgets went live this many days before "now" (with the campaigns):
# since then, pages report widget views, and some related-product views came from a
# widget click.
WIDGETS_LIVE_DAYS = LIVE_DAYS
# (slot, strategy, share of pages where the widget is scrolled into view, items shown)
PRODUCT_WIDGETS = (
    ("product-bought", "bought_together", 0.8, 3),
    ("product-viewed", "viewed_together", 0.6, 4),
    ("product-similar", "similar", 0.4, 4),
)
# Of category pages, how many show "inspired by your browsing" in view; of cart pages,
# how many show the cross-sell, and how often a product is added from it.
CATEGORY_WIDGET_SEEN = 0.5
CART_WIDGET_SEEN = 0.7
CART_WIDGET_ADD = 0.2
# Of the related products viewed next, how many were reached through a widget click.
WIDGET_CLICK_SHARE = 0.55
# Of visits landing on the home page, how many click a "Recommended for you" product.
HOME_CLICK_RATE = 0.18


class Progress(Protocol):
    """Opens a progress report for a phase; the callback takes how many steps were done."""

    def __call__(
        self, phase: str, total: int | None
    ) -> AbstractContextManager[Callable[[int], None]]: ...


@contextmanager
def no_progress(phase: str, total: int | None) -> Iterator[Callable[[int], None]]:
    yield lambda n: None


@dataclass
class PhaseResult:
    phase: str
    detail: str
    seconds: float


@dataclass
class SeedReport:
    phases: list[PhaseResult] = field(default_factory=list)
    history_skipped: str = ""
    visitors: int = 0
    events: int = 0
    orders: int = 0


# Catalogue ---------------------------------------------------------------------


@dataclass
class CatalogueResult:
    categories_created: int = 0
    categories_updated: int = 0
    products_created: int = 0
    products_updated: int = 0


PRODUCT_FIELDS = [
    "category",
    "name",
    "description",
    "price",
    "stock",
    "created_at",
    "hue",
    "shape",
    "is_active",
]


def seed_catalogue(
    seed: int, now: datetime, progress: Callable[[int], None] = lambda n: None
) -> CatalogueResult:
    """Create or update every category and product of the catalogue, matched by slug."""
    result = CatalogueResult()
    with transaction.atomic():
        existing_categories = Category.objects.in_bulk(field_name="slug")
        categories: dict[str, Category] = {}
        for position, spec in enumerate(CATEGORIES):
            category = existing_categories.get(spec.slug) or Category(slug=spec.slug)
            created = category.pk is None
            category.name = spec.name
            category.description = spec.description
            category.consumable = spec.consumable
            category.hue = spec.hue
            category.position = position
            category.save()
            categories[spec.slug] = category
            if created:
                result.categories_created += 1
            else:
                result.categories_updated += 1
        progress(len(CATEGORIES))

        specs = generate_products(seed, now)
        existing = Product.objects.in_bulk(field_name="slug")
        to_create: list[Product] = []
        to_update: list[Product] = []
        for item in specs:
            product = existing.get(item.slug) or Product(slug=item.slug)
            product.category = categories[item.category]
            product.name = item.name
            product.description = item.description
            product.price = item.price
            product.stock = item.stock
            product.created_at = item.created_at
            product.hue = item.hue
            product.shape = item.shape
            product.is_active = True
            (to_update if product.pk else to_create).append(product)
        Product.objects.bulk_create(to_create, batch_size=500)
        Product.objects.bulk_update(to_update, PRODUCT_FIELDS, batch_size=500)
        result.products_created = len(to_create)
        result.products_updated = len(to_update)
        progress(len(specs))
    return result


# Users ---------------------------------------------------------------------------


@dataclass
class UsersResult:
    admin_created: bool = False
    customers_created: int = 0
    customers_total: int = 0


def customer_email(index: int) -> str:
    return f"customer{index}@example.com"


def seed_users(
    customers: int,
    progress: Callable[[int], None] = lambda n: None,
) -> UsersResult:
    """The demo admin and ``customers`` customer accounts; existing ones are left alone."""
    result = UsersResult(customers_total=customers)
    if not User.objects.filter(username=ADMIN_USERNAME).exists():
        User.objects.create_superuser(ADMIN_USERNAME, "admin@example.com", ADMIN_PASSWORD)
        result.admin_created = True
    emails = [customer_email(i) for i in range(1, customers + 1)]
    existing = set(User.objects.filter(username__in=emails).values_list("username", flat=True))
    # One hash for all: hashing 200 passwords one by one would take a minute.
    password = make_password(CUSTOMER_PASSWORD)
    new = [
        User(username=email, email=email, password=password)
        for email in emails
        if email not in existing
    ]
    User.objects.bulk_create(new, batch_size=500)
    result.customers_created = len(new)
    progress(customers)
    return result


# History ---------------------------------------------------------------------------


USER_AGENTS = {
    "mobile": (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/124.0.0.0 Mobile Safari/537.36",
        "Mozilla/5.0 (Linux; Android 13; SM-S911B) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/123.0.0.0 Mobile Safari/537.36",
    ),
    "desktop": (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/124.0.0.0 Safari/537.36",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.4 Safari/605.1.15",
        "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
    ),
    "tablet": (
        "Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.4 Mobile/15E148 Safari/604.1",
    ),
}
DEVICES = (("mobile", 55), ("desktop", 38), ("tablet", 7))
COUNTRIES = (
    ("DE", 34),
    ("FR", 16),
    ("NL", 12),
    ("AT", 8),
    ("BE", 7),
    ("ES", 8),
    ("IT", 8),
    ("IE", 4),
    ("FI", 3),
)
PET_SHARE = (("cat", 38), ("dog", 38), ("fish", 9), ("bird", 7), ("small", 8))
ARCHETYPES = (("browser", 50), ("one_time", 20), ("repeat", 14), ("lapsed", 9), ("champion", 7))
SEARCHES = {
    "cat": (
        "salmon",
        "catnip",
        "scratching post",
        "kitten food",
        "litter",
        "feather wand",
        "cat cave",
        "hairball",
    ),
    "dog": ("dog lead", "chew", "puppy food", "harness", "ball", "dental chews", "beef", "frisbee"),
    "fish": ("aquarium filter", "fish flakes", "heater", "plants"),
    "bird": ("budgie", "seed mix", "cage", "perch"),
    "small": ("hay", "hutch", "guinea pig", "hamster wheel"),
}
CAMPAIGNS = {
    "google": ("https://www.google.com/", {"source": "google", "medium": "cpc"}),
    "facebook": (
        "https://www.facebook.com/",
        {"source": "facebook", "medium": "social", "campaign": "spring-pets"},
    ),
    "newsletter": ("", {"source": "newsletter", "medium": "email", "campaign": "weekly-picks"}),
    "organic": ("https://www.google.com/", {}),
}


def history_rng(seed: int) -> random.Random:
    return random.Random(f"pawsome-history-{seed}")


def first_visitor_id(seed: int) -> str:
    """The id of the first generated visitor: its profile marks that the history exists."""
    return f"{history_rng(seed).getrandbits(128):032x}"


def _weighted(rng: random.Random, options: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([o for o, _ in options], weights=[w for _, w in options])[0]


def _noun(product: Product) -> str:
    """The product's kind within its category ("Kibble", "Retractable Lead"), from its name."""
    nouns = CATEGORY_BY_SLUG[product.category.slug].nouns
    return max((n for n in nouns if product.name.endswith(n)), key=len, default="")


def complementary_categories(slug: str) -> list[tuple[str, float]]:
    """Where shoppers find what goes with a product of category ``slug``, with weights.

    Mostly the other categories of the same pet (cat food with litter and toys, leads
    with dog toys); a pet with a single category (fish, birds, small pets) completes a
    product with other kinds of product from it (a tank with a filter). Less often,
    health, grooming and beds, which in turn go with each other.
    """
    for categories in PETS.values():
        if slug in categories:
            same_pet = [c for c in categories if c != slug] or [slug]
            return [(c, 3.0) for c in same_pet] + [(c, 0.5) for c in SHARED_CATEGORIES]
    return [(c, 1.0) for c in SHARED_CATEGORIES if c != slug]


def relate_products(
    products: list[Product], rng: random.Random
) -> tuple[dict[int, tuple[Product, ...]], dict[int, tuple[Product, ...]]]:
    """Each product's companions (1-3 products that go with it) and look-alikes.

    Companions come from :func:`complementary_categories` and are never the same kind
    of product; look-alikes are up to three products of the same category and kind
    (else the same picture), closest in price: the ones shoppers compare. Both are the
    same for the same products and RNG state, so the history stays reproducible.
    """
    ordered = sorted(products, key=lambda p: p.slug)
    by_category: dict[str, list[Product]] = {}
    for product in ordered:
        by_category.setdefault(product.category.slug, []).append(product)
    nouns = {p.pk: _noun(p) for p in ordered}
    companions: dict[int, tuple[Product, ...]] = {}
    look_alikes: dict[int, tuple[Product, ...]] = {}
    for product in ordered:
        slug, noun = product.category.slug, nouns[product.pk]
        options = [(c, w) for c, w in complementary_categories(slug) if c in by_category]
        wanted = rng.choice((1, 2, 2, 3))
        chosen: list[Product] = []
        for _ in range(wanted * 4):
            if len(chosen) == wanted or not options:
                break
            category = rng.choices([c for c, _ in options], weights=[w for _, w in options])[0]
            candidates = [
                p
                for p in by_category[category]
                if (category != slug or nouns[p.pk] != noun) and p not in chosen
            ]
            if candidates:
                chosen.append(rng.choice(candidates))
        companions[product.pk] = tuple(chosen)

        siblings = [p for p in by_category[slug] if p.pk != product.pk]
        alike = [p for p in siblings if nouns[p.pk] == noun]
        if len(alike) < 2:
            alike += [p for p in siblings if p.shape == product.shape and p not in alike]
        alike.sort(key=lambda p: (abs(p.price - product.price), p.slug))
        look_alikes[product.pk] = tuple(alike[:3])
    return companions, look_alikes


class Shelf:
    """The catalogue as the simulation sees it: what existed at a time, and how popular."""

    def __init__(
        self, products: list[Product], rng: random.Random, companions_rng: random.Random
    ) -> None:
        self.by_category: dict[str, list[Product]] = {}
        self.created: dict[str, list[float]] = {}
        self.cum_weights: dict[str, list[float]] = {}
        products = sorted(products, key=lambda p: (p.created_at, p.pk))
        for product in products:
            self.by_category.setdefault(product.category.slug, []).append(product)
        for slug, items in self.by_category.items():
            self.created[slug] = [p.created_at.timestamp() for p in items]
            # A long tail: a few products sell much more than the rest.
            weights = [rng.paretovariate(1.3) for _ in items]
            self.cum_weights[slug] = list(itertools.accumulate(weights))
        self.texts = {p.pk: f"{p.name} {p.description}".lower() for p in products}
        self.all = products
        self.since = {p.pk: p.created_at.timestamp() for p in products}
        self.companions, self.look_alikes = relate_products(products, companions_rng)

    def pick(self, rng: random.Random, category: str, at: float) -> Product | None:
        items = self.by_category.get(category)
        if not items:
            return None
        available = bisect.bisect_right(self.created[category], at)
        if available == 0:
            return None
        return rng.choices(items[:available], cum_weights=self.cum_weights[category][:available])[0]

    def companion(self, rng: random.Random, product: Product, at: float) -> Product | None:
        """One of the products that go with ``product``, if one was on sale at ``at``."""
        return self._one_of(rng, self.companions.get(product.pk, ()), at)

    def look_alike(self, rng: random.Random, product: Product, at: float) -> Product | None:
        """A product shoppers compare ``product`` with, if one was on sale at ``at``."""
        return self._one_of(rng, self.look_alikes.get(product.pk, ()), at)

    def _one_of(
        self, rng: random.Random, options: tuple[Product, ...], at: float
    ) -> Product | None:
        available = [p for p in options if self.since[p.pk] <= at]
        return rng.choice(available) if available else None

    def search_count(self, query: str) -> int:
        """The same rule as ``ProductQuerySet.search``: every word in name or description."""
        words = query.lower().split()
        return sum(1 for p in self.all if p.is_active and all(w in self.texts[p.pk] for w in words))


@dataclass
class VisitorPlan:
    visitor_id: str
    pet: str
    archetype: str
    device: str
    user_agent: str
    country: str
    affinity: list[tuple[str, float]]
    visit_times: list[tuple[float, str]]  # (start, kind): kind is browse, buy or abandon
    user: User | None = None
    email: str = ""
    staples: list[Product] = field(default_factory=list)


@dataclass
class History:
    events: list[HistoricalEvent] = field(default_factory=list)
    orders: list[tuple[Order, list[OrderItem]]] = field(default_factory=list)
    leads: list[LeadRecord] = field(default_factory=list)
    visitors: int = 0
    linked_users: int = 0


class Simulation:
    """Generates one visitor after another from a single seeded RNG."""

    def __init__(
        self,
        seed: int,
        months: int,
        now: datetime,
        products: list[Product],
        users: list[User],
        setup: LiveSetup | None = None,
    ) -> None:
        self.rng = history_rng(seed)
        self.setup = setup or LiveSetup(campaigns={}, widgets={})
        self.now = now.timestamp()
        self.start = self.now - months * 30 * DAY
        self.shelf = Shelf(
            products,
            random.Random(f"pawsome-popularity-{seed}"),
            random.Random(f"pawsome-companions-{seed}"),
        )
        self.users = list(users)
        self.history = History()
        self.numbers: set[str] = set()
        self.consumables = {spec.slug for spec in CATEGORIES if spec.consumable}
        self.guests = 0
        self.leads = 0

    # Planning ----------------------------------------------------------------

    def _affinity(self, rng: random.Random, pet: str) -> list[tuple[str, float]]:
        weights = [(slug, rng.uniform(3, 6)) for slug in PETS[pet]]
        weights += [(slug, rng.uniform(0.4, 1.2)) for slug in SHARED_CATEGORIES]
        if rng.random() < 0.2:  # a second pet in the house
            other = rng.choice([p for p in PETS if p != pet])
            weights += [(slug, rng.uniform(0.5, 1.5)) for slug in PETS[other]]
        return weights

    def _plan(self, rng: random.Random, visitor_id: str) -> VisitorPlan:
        pet = _weighted(rng, PET_SHARE)
        archetype = _weighted(rng, ARCHETYPES)
        span = self.now - self.start
        # Archetypes that need a long past fall back to simpler ones in a short history.
        if archetype == "lapsed" and span < (LAPSED_AFTER_DAYS + 60) * DAY:
            archetype = "repeat"
        if archetype in ("repeat", "champion") and span < 50 * DAY:
            archetype = "one_time"
        device = _weighted(rng, DEVICES)
        plan = VisitorPlan(
            visitor_id=visitor_id,
            pet=pet,
            archetype=archetype,
            device=device,
            user_agent=rng.choice(USER_AGENTS[device]),
            country=_weighted(rng, COUNTRIES),
            affinity=self._affinity(rng, pet),
            visit_times=[],
        )
        times: list[tuple[float, str]] = []
        if archetype == "browser":
            first = rng.uniform(self.start, self.now - DAY)
            times.append((first, "browse"))
            for _ in range(min(int(rng.expovariate(0.6)), 5)):
                times.append((rng.uniform(first, self.now - 3600), "browse"))
        elif archetype == "one_time":
            first = rng.uniform(self.start, self.now - 2 * DAY)
            order_at = first + rng.choice((0, 0, rng.uniform(1, 20) * DAY))
            times.append((first, "browse" if order_at > first else "buy"))
            if order_at > first:
                times.append((min(order_at, self.now - 3600), "buy"))
            for _ in range(rng.randint(0, 4)):
                times.append((rng.uniform(first, self.now - 3600), "browse"))
        else:
            if archetype == "lapsed":
                oldest = min(300.0, span / DAY)
                last_order = self.now - rng.uniform(LAPSED_AFTER_DAYS + 5, oldest) * DAY
                gap_range = (30.0, 60.0)
                count = rng.randint(2, 5)
            elif archetype == "champion":
                last_order = self.now - rng.uniform(0.2, 18) * DAY
                gap_range = (14.0, 35.0)
                count = rng.randint(4, 14)
            else:
                last_order = self.now - rng.uniform(5, 100) * DAY
                gap_range = (30.0, 45.0)  # replenishing food or litter every month or so
                count = rng.randint(2, 6)
            orders = [last_order]
            while len(orders) < count:
                previous = orders[-1] - rng.uniform(*gap_range) * DAY
                if previous < self.start + DAY:
                    break
                orders.append(previous)
            orders.reverse()
            first = max(self.start, orders[0] - rng.uniform(0, 20) * DAY)
            times.append((first, "browse"))
            times += [(t, "buy") for t in orders]
            for _ in range(rng.randint(0, 8)):
                times.append((rng.uniform(first, orders[-1]), "browse"))
            if archetype != "lapsed" and rng.random() < 0.5:
                times.append((rng.uniform(orders[-1], self.now - 3600), "browse"))
        times.sort()
        buys = [t for t in times if t[1] == "buy"]
        browses = [t for t in times if t[1] != "buy"]
        # At most 30 visits: keep every order, drop browsing visits first.
        if len(times) > MAX_VISITS:
            browses = browses[: max(MAX_VISITS - len(buys), 0)]
            times = sorted(buys + browses)[:MAX_VISITS]
        # Some visitors leave a full cart on their last, recent visit.
        if archetype != "lapsed" and rng.random() < 0.16:
            last = times[-1][0] if times else self.start
            at = max(last + DAY, self.now - rng.uniform(0.5, 20) * DAY)
            if at < self.now - 3600:
                times.append((at, "abandon"))
        plan.visit_times = times
        return plan

    # Simulating --------------------------------------------------------------

    def pick_category(self, rng: random.Random, plan: VisitorPlan) -> str:
        return rng.choices([c for c, _ in plan.affinity], weights=[w for _, w in plan.affinity])[0]

    def run_visitor(self) -> None:
        visitor_id = f"{self.rng.getrandbits(128):032x}"
        rng = random.Random(self.rng.getrandbits(64))
        plan = self._plan(rng, visitor_id)
        buys = any(kind == "buy" for _, kind in plan.visit_times)
        if buys and self.users and rng.random() < 0.45:
            plan.user = self.users.pop(0)
            plan.email = plan.user.email
            self.history.linked_users += 1
        elif buys:
            self.guests += 1
            plan.email = f"guest{self.guests}@example.org"
        visitor = _VisitorRun(self, rng, plan)
        previous_end = 0.0
        for index, (start, kind) in enumerate(plan.visit_times):
            at = max(start, previous_end + rng.uniform(1, 48) * 3600)
            if at > self.now - 600:
                break
            previous_end = visitor.visit(at, kind, first=index == 0)
        self.history.visitors += 1


class _VisitorRun:
    """One visitor's visits, turned into events (and orders)."""

    def __init__(self, sim: Simulation, rng: random.Random, plan: VisitorPlan) -> None:
        self.sim = sim
        self.rng = rng
        self.plan = plan
        self.t = 0.0
        self.path = "/"
        self.referrer = ""
        self.utm: dict[str, str] = {}
        self.user_id = ""
        self.cart: dict[int, tuple[Product, int]] = {}
        self.identified = False
        self.last_viewed: Product | None = None
        # Widget behaviour has its own stream, so the rest of the history does not depend
        # on it. ``via`` is the widget the next product view may come from.
        self.widget_rng = random.Random(f"pawsome-widgets-{plan.visitor_id}")
        self.via: tuple[str, str, int] | None = None
        self.campaigns = VisitorCampaigns(sim.setup, plan.visitor_id, self._report)
        # What campaign targeting reads, as the visitor's profile would have it.
        self.product_views = 0
        self.ever_added = False
        self.orders = 0
        self.last_order = 0.0
        self.last_consumable_order = 0.0

    def _emit(self, name: str, props: dict[str, Any]) -> None:
        self.sim.history.events.append(
            HistoricalEvent(
                visitor_id=self.plan.visitor_id,
                name=name,
                at=datetime.fromtimestamp(self.t, tz=UTC),
                props=props,
                user_id=self.user_id,
                path=self.path,
                referrer=self.referrer,
                utm=self.utm,
                user_agent=self.plan.user_agent,
                country=self.plan.country,
            )
        )

    def _report(self, name: str, props: dict[str, Any]) -> None:
        """What the runtime reports about a campaign or widget on the current page."""
        self._emit(name, {**props, "path": self.path})

    def _live(self) -> bool:
        return self.t >= self.sim.now - WIDGETS_LIVE_DAYS * DAY

    def _step(self, low: float = 8, high: float = 140) -> None:
        self.t += self.rng.uniform(low, high)

    def page(self, path: str) -> None:
        self._step()
        self.path = path
        self._emit("page_view", {"path": path})
        # Only a visit's first request carries the referrer and campaign.
        self.referrer = ""
        self.utm = {}

    def view_category(self, slug: str) -> None:
        self.via = None
        self.page(f"/c/{slug}/")
        self._emit("category_view", {"category": slug})
        if (
            self._live()
            and self.widget_rng.random() < CATEGORY_WIDGET_SEEN
            and self.campaigns.widget_view("category", "personalised", 4)
        ):
            self.via = ("category", "personalised", 4)

    def view_product(self, product: Product) -> None:
        widgets_live = self.t >= self.sim.now - WIDGETS_LIVE_DAYS * DAY
        via, self.via = self.via, None
        if widgets_live and via is not None:
            widget, strategy, items = via
            if self.widget_rng.random() < (
                WIDGET_CLICK_SHARE if widget.startswith("product-") else HOME_CLICK_RATE
            ):
                self._emit(
                    "rec_click",
                    {
                        "widget": widget,
                        "strategy": strategy,
                        "product_id": product.pk,
                        "position": self.widget_rng.randint(1, items),
                        "path": self.path,
                    },
                )
        self.last_viewed = product
        self.product_views += 1
        self.page(f"/p/{product.slug}/")
        self._emit(
            "product_view",
            {
                "product_id": product.pk,
                "category": product.category.slug,
                "price": float(product.price),
            },
        )
        if widgets_live:
            for widget, strategy, seen, items in PRODUCT_WIDGETS:
                if self.widget_rng.random() < seen:
                    self.campaigns.widget_view(widget, strategy, items)

    def add(self, product: Product, quantity: int) -> None:
        self.ever_added = True
        self._step(5, 40)
        self._emit(
            "add_to_cart",
            {
                "product_id": product.pk,
                "quantity": quantity,
                "price": float(product.price),
                "category": product.category.slug,
            },
        )
        _, had = self.cart.get(product.pk, (product, 0))
        self.cart[product.pk] = (product, had + quantity)

    def remove(self, product: Product) -> None:
        self._step(5, 60)
        self._emit("remove_from_cart", {"product_id": product.pk})
        self.cart.pop(product.pk, None)

    def search(self) -> None:
        query = self.rng.choice(SEARCHES[self.plan.pet])
        self.via = None
        self.page("/search/")
        results = self.sim.shelf.search_count(query)
        self._emit("search", {"query": query, "results": results})
        if not results and self._live():
            self.campaigns.widget_view("empty-search", "trending", 4)

    def _land(self, at: float, first: bool) -> None:
        self.t = at
        self.last_viewed = None
        rng = self.rng
        source = ""
        if first and rng.random() < 0.45:
            source = rng.choice(("google", "google", "facebook", "newsletter", "organic"))
        elif self.identified and rng.random() < 0.2:
            source = "newsletter"
        self.referrer, utm = CAMPAIGNS.get(source, ("", {}))
        self.utm = dict(utm)
        if source == "google" and utm:
            self.utm["campaign"] = f"{self.plan.pet}-supplies"
        landing = rng.random()
        category = self.sim.pick_category(rng, self.plan)
        product = self.sim.shelf.pick(rng, category, at)
        self.t -= 1  # page() steps forward again
        if source in ("google", "organic") and product is not None and landing < 0.6:
            self.view_product(product)
        elif landing < 0.35:
            self.view_category(category)
        else:
            self.page("/")
            if self._live():
                strategy = "bestsellers" if first else "personalised"
                if self.campaigns.widget_view("home", strategy, 4):
                    self.via = ("home", strategy, 4)

    def visit(self, at: float, kind: str, *, first: bool) -> float:
        """Simulate one visit starting at ``at``; return when it ended."""
        rng = self.rng
        live = at >= self.sim.now - LIVE_DAYS * DAY
        views_before = self.product_views
        if live:
            self.campaigns.begin_visit()
        self._land(at, first)
        if live:
            self._landing_campaigns(first)
        for _ in range(rng.randint(0, 2)):
            self.view_category(self.sim.pick_category(rng, self.plan))
        viewed: list[Product] = []
        for _ in range(rng.randint(1, 4)):
            product = self.next_product()
            if product is not None:
                self.view_product(product)
                viewed.append(product)
        if rng.random() < 0.25:
            self.search()
        if live and kind == "browse":
            # "Browse abandoners" leaving a product page on a desktop meet the exit offer.
            if (
                not first
                and viewed
                and views_before >= 3
                and not self.ever_added
                and self.plan.device == "desktop"
            ):
                self.campaigns.show("exit-intent-offer", self.t)
            if self.campaigns.converts():
                kind = "buy"  # what they were shown made them buy this time
        if kind == "buy":
            self.buy(viewed)
        elif kind == "abandon":
            for product in viewed[: rng.randint(1, 2)]:
                self.add(product, 1)
            self.cart_page()
        elif viewed and rng.random() < 0.2:
            # Tried something in the cart, then changed their mind.
            product = rng.choice(viewed)
            self.add(product, 1)
            self.cart_page()
            self.remove(product)
        return self.t

    def _landing_campaigns(self, first: bool) -> None:
        """The campaigns of the visit's first page, each for the visitors it targets."""
        shows, now = self.campaigns, self.t
        if first:
            shown = shows.show("welcome-popup", now)
            if shown is not None and shown[1]:
                self.capture("welcome-popup", shown[0])
        else:
            shows.show("welcome-back-bar", now)
            if not self.user_id:
                shows.show("sign-in-bar", now)
        if self.cart:
            shows.show("cart-reminder-bar", now)
        since = now - self.last_consumable_order
        if (
            self.last_consumable_order
            and 30 * DAY <= since <= 120 * DAY
            and not shows.shows_since("replenish-reminder", now - 7 * DAY)
            and shows.show("replenish-reminder", now) is not None
        ):
            shows.widget_view("replenish", "buy_again", 3)  # inside the slide-in
        if self.plan.archetype == "champion" and self.orders >= 3:
            shows.show("vip-early-access", now)
        if (
            self.orders >= 2
            and now - self.last_order >= 60 * DAY
            and not shows.shows_since("win-back-offer", now - 7 * DAY)
        ):
            shows.show("win-back-offer", now)
        if self.path == "/" and not first and self.plan.pet in ("cat", "dog"):
            shows.show("home-hero", now)

    def capture(self, slug: str, variant: str) -> None:
        """The visitor sends a campaign's email form: a lead, and now known by email."""
        plan = self.plan
        if not plan.email:
            self.sim.leads += 1
            plan.email = f"lead{self.sim.leads}@example.org"
        self._step(10, 40)
        self.sim.history.leads.append(
            LeadRecord(
                email=plan.email,
                campaign=slug,
                variant=variant,
                visitor_id=plan.visitor_id,
                at=datetime.fromtimestamp(self.t, tz=UTC),
            )
        )
        self._emit("identify", {"email": plan.email})
        self.campaigns.captured(slug, variant)

    def cart_page(self) -> None:
        """The cart page: the free-shipping bar below the threshold, and the cross-sell."""
        self.page("/cart/")
        if not self._live():
            return
        subtotal = sum((p.price * q for p, q in self.cart.values()), Decimal("0.00"))
        if 0 < subtotal < free_shipping_threshold():
            self.campaigns.show("free-shipping-bar", self.t)
        wrng = self.widget_rng
        if not self.cart or wrng.random() >= CART_WIDGET_SEEN:
            return
        if not self.campaigns.widget_view("cart", "cart_cross_sell", 4):
            return
        if wrng.random() < CART_WIDGET_ADD:
            product, _ = self.cart[wrng.choice(sorted(self.cart))]
            companion = self.sim.shelf.companion(wrng, product, self.t)
            if companion is not None and companion.pk not in self.cart:
                self._emit(
                    "rec_click",
                    {
                        "widget": "cart",
                        "strategy": "cart_cross_sell",
                        "product_id": companion.pk,
                        "position": wrng.randint(1, 4),
                        "path": self.path,
                    },
                )
                self.add(companion, 1)  # the card's button: no product page

    def next_product(self) -> Product | None:
        """What the visitor looks at next: often something related to the last product."""
        rng, shelf, last = self.rng, self.sim.shelf, self.last_viewed
        if last is not None and rng.random() < CO_VIEW_RATE:
            # Shoppers compare similar items and look at what goes with the one they saw.
            look_alike = rng.random() < LOOK_ALIKE_SHARE
            related = shelf.look_alike if look_alike else shelf.companion
            product = related(rng, last, self.t)
            if product is not None:
                # Look-alikes are in "viewed together" and "similar" alike.
                which = (1 + (self.widget_rng.random() < 0.4)) if look_alike else 0
                slot, strategy, _, items = PRODUCT_WIDGETS[which]
                if self.campaigns.sees(slot):
                    self.via = (slot, strategy, items)
                return product
        return shelf.pick(rng, self.sim.pick_category(rng, self.plan), self.t)

    def buy(self, viewed: list[Product]) -> None:
        rng = self.rng
        plan = self.plan
        if not plan.staples:
            consumable = [c for c, _ in plan.affinity if c in self.sim.consumables]
            for category in consumable[:2]:
                product = self.sim.shelf.pick(rng, category, self.t)
                if product is not None:
                    plan.staples.append(product)
        # Repeat buyers re-order their staples (food, litter), plus a treat or two.
        wanted: list[tuple[Product, int]] = [
            (p, rng.randint(1, 3)) for p in plan.staples if rng.random() < 0.85
        ]
        for product in viewed[: rng.randint(0, 2)]:
            wanted.append((product, 1))
        if not wanted:
            product = viewed[0] if viewed else None
            if product is None:
                product = self.sim.shelf.pick(rng, self.sim.pick_category(rng, plan), self.t)
            if product is None:
                return
            wanted.append((product, 1))
        in_order = {p.pk for p, _ in wanted} | set(self.cart)
        for product, quantity in wanted:
            if product.pk not in self.cart:
                self.view_product(product)
            self.add(product, quantity)
            # "Goes well with": food with litter, a lead with a toy. Added with a product
            # card's button, without opening its page, which keeps the event volume down.
            if rng.random() < CO_PURCHASE_RATE:
                companion = self.sim.shelf.companion(rng, product, self.t)
                if companion is not None and companion.pk not in in_order:
                    in_order.add(companion.pk)
                    self.add(companion, 1)
        self.cart_page()
        lines = list(self.cart.values())
        subtotal = sum((p.price * q for p, q in lines), Decimal("0.00"))
        shipping = shipping_for(subtotal)
        self.page("/checkout/")
        self._emit("checkout_started", {"value": float(subtotal + shipping)})
        if plan.user is not None:
            self.user_id = str(plan.user.pk)  # they log in (or sign up) to check out
        if not plan.email:  # a browsing visit a campaign or widget turned into an order
            self.sim.guests += 1
            plan.email = f"guest{self.sim.guests}@example.org"
        self._step(30, 240)
        self._emit("identify", {"email": plan.email})
        self.identified = True
        order = Order(
            user=plan.user,
            email=plan.email,
            visitor_id=plan.visitor_id,
            number=self._order_number(),
            subtotal=subtotal,
            shipping=shipping,
            total=subtotal + shipping,
            currency=currency(),
            created_at=datetime.fromtimestamp(self.t, tz=UTC),
            status=self._status(self.t),
            country=plan.country,
        )
        items = [
            OrderItem(order=order, product=p, product_name=p.name, unit_price=p.price, quantity=q)
            for p, q in lines
        ]
        self._emit("purchase", purchase_props(order, items))
        self.sim.history.orders.append((order, items))
        self.orders += 1
        self.last_order = self.t
        if any(p.category.slug in self.sim.consumables for p, _ in lines):
            self.last_consumable_order = self.t
        self.cart.clear()
        self.page(f"/checkout/done/{order.number}/")

    def _order_number(self) -> str:
        while True:
            number = f"PW-{self.rng.getrandbits(40):010X}"
            if number not in self.sim.numbers:
                self.sim.numbers.add(number)
                return number

    def _status(self, at: float) -> str:
        age = self.sim.now - at
        if age > 7 * DAY:
            return Order.Status.DELIVERED
        if age > 2 * DAY:
            return Order.Status.SHIPPED
        return Order.Status.PAID


def simulate_history(
    seed: int,
    visitors: int,
    months: int,
    now: datetime,
    users: list[User],
    progress: Callable[[int], None] = lambda n: None,
) -> History:
    """Generate ``visitors`` visitors' behaviour over ``months`` months before ``now``."""
    products = list(Product.objects.select_related("category").filter(is_active=True))
    sim = Simulation(seed, months, now, products, users, live_setup())
    for _ in range(visitors):
        sim.run_visitor()
        progress(1)
    return sim.history


def write_orders(history: History, progress: Callable[[int], None] = lambda n: None) -> int:
    orders = [order for order, _ in history.orders]
    with transaction.atomic():
        for start in range(0, len(orders), 500):
            batch = orders[start : start + 500]
            Order.objects.bulk_create(batch)
            items = []
            for order, order_items in history.orders[start : start + 500]:
                for item in order_items:
                    item.order_id = order.pk
                    items.append(item)
            OrderItem.objects.bulk_create(items, batch_size=1000)
            progress(len(batch))
    return len(orders)


def write_leads(history: History) -> int:
    """The email captures, as the capture view stores them (with the time they happened)."""
    campaigns = dict(Campaign.objects.values_list("slug", "pk"))
    leads = [
        Lead(
            email=lead.email,
            consent=True,
            campaign_id=campaigns.get(lead.campaign),
            variant=lead.variant,
            visitor_id=lead.visitor_id,
        )
        for lead in history.leads
    ]
    with transaction.atomic():
        Lead.objects.bulk_create(leads, batch_size=500)
        for lead, record in zip(leads, history.leads, strict=True):
            lead.created_at = record.at  # auto_now_add stamped "now" on insert
        Lead.objects.bulk_update(leads, ["created_at"], batch_size=500)
    return len(leads)


# Orchestration ---------------------------------------------------------------


def history_exists(seed: int) -> str:
    """Why the history should not be generated again, or ``""``."""
    orders = Order.objects.count()
    if orders:
        return f"{orders} orders already exist"
    if get_store().load(first_visitor_id(seed)) is not None:
        return "the seeded visitor profiles already exist"
    return ""


def reset_history() -> dict[str, int]:
    """Delete every order, lead and visitor profile and logged event."""
    from personalize.models import Event, VisitorProfile

    with transaction.atomic():
        Lead.objects.all().delete()
        _, orders = Order.objects.all().delete()
        _, events = Event.objects.all().delete()
        _, profiles = VisitorProfile.objects.all().delete()
    return {
        "orders": orders.get("shop_demo.Order", 0),
        "events": events.get("personalize.Event", 0),
        "profiles": profiles.get("personalize.VisitorProfile", 0),
    }


def run(
    *,
    seed: int = 42,
    visitors: int = 3000,
    months: int = 18,
    customers: int = 200,
    reset: bool = False,
    now: datetime | None = None,
    progress: Progress = no_progress,
) -> SeedReport:
    """Seed the catalogue, users and (unless it exists) the history. Safe to run again."""
    now = now or timezone.now()
    report = SeedReport()

    started = time.perf_counter()
    with progress("Catalogue", len(CATEGORIES) + sum(c.count for c in CATEGORIES)) as step:
        catalogue = seed_catalogue(seed, now, step)
    report.phases.append(
        PhaseResult(
            "Catalogue",
            f"{catalogue.categories_created + catalogue.categories_updated} categories, "
            f"{catalogue.products_created} products created, "
            f"{catalogue.products_updated} updated",
            time.perf_counter() - started,
        )
    )

    started = time.perf_counter()
    with progress("Users", customers) as step:
        users = seed_users(customers, step)
    report.phases.append(
        PhaseResult(
            "Users",
            f"admin {'created' if users.admin_created else 'kept'}, "
            f"{users.customers_created} of {customers} customers created",
            time.perf_counter() - started,
        )
    )

    started = time.perf_counter()
    created = install_demo_segments()
    campaigns = install_demo_campaigns()
    widgets = install_demo_widgets()
    report.phases.append(
        PhaseResult(
            "Personalization",
            f"{created} demo segments, {campaigns} demo campaigns, "
            f"{widgets} recommendation widgets created",
            time.perf_counter() - started,
        )
    )

    if reset:
        started = time.perf_counter()
        deleted = reset_history()
        report.phases.append(
            PhaseResult(
                "Reset",
                f"deleted {deleted['orders']} orders, {deleted['profiles']} profiles, "
                f"{deleted['events']} events",
                time.perf_counter() - started,
            )
        )
    else:
        report.history_skipped = history_exists(seed)
        if report.history_skipped:
            from personalize.models import TrainedModel

            if not TrainedModel.objects.filter(is_active=True).exists():
                train_recommendations(report, progress)
            return report

    store = get_store()
    candidates = list(
        User.objects.filter(
            username__in=[customer_email(i) for i in range(1, customers + 1)]
        ).order_by("pk")
    )
    # A user already linked to a live visitor keeps that profile.
    free_users = [u for u in candidates if store.visitor_for_user(str(u.pk)) is None]

    started = time.perf_counter()
    with progress("Behaviour", visitors) as step:
        history = simulate_history(seed, visitors, months, now, free_users, step)
    report.phases.append(
        PhaseResult(
            "Behaviour",
            f"{history.visitors} visitors, {len(history.events)} events, "
            f"{history.linked_users} linked to customers",
            time.perf_counter() - started,
        )
    )

    started = time.perf_counter()
    with progress("Orders", len(history.orders)) as step:
        report.orders = write_orders(history, step)
    leads = write_leads(history)
    report.phases.append(
        PhaseResult(
            "Orders", f"{report.orders} orders, {leads} leads", time.perf_counter() - started
        )
    )

    started = time.perf_counter()
    with progress("Profiles", history.visitors) as step:
        imported = import_history(history.events, progress=step)
    report.visitors, report.events = imported.visitors, imported.events
    report.phases.append(
        PhaseResult(
            "Profiles",
            f"{imported.visitors} profiles, {imported.events} events logged",
            time.perf_counter() - started,
        )
    )

    # What the nightly and hourly jobs would have computed by now.
    started = time.perf_counter()
    rfm = run_rfm()
    sizes = estimate_segment_sizes()
    report.phases.append(
        PhaseResult(
            "Scores",
            f"RFM for {rfm.customers} customers, sizes of {len(sizes.sizes)} segments",
            time.perf_counter() - started,
        )
    )
    train_recommendations(report, progress)
    return report


def train_recommendations(report: SeedReport, progress: Progress) -> None:
    """What the nightly ``personalize_train`` would have built by now."""
    started = time.perf_counter()
    with ExitStack() as bars:

        def step(label: str, total: int | None) -> Callable[[int], None]:
            return bars.enter_context(progress(label, total))

        trained = train(progress=step)
    report.phases.append(
        PhaseResult(
            "Recommendations",
            f"trained from {trained.events} events: {trained.rows} rows "
            f"({trained.covered.get('similar', 0)} products with similar items, "
            f"{trained.covered.get('bought', 0)} with bought-together)",
            time.perf_counter() - started,
        )
    )
