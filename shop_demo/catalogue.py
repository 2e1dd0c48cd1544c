"""The Pawsome pet-shop catalogue, generated deterministically from a seed.

Names follow an "adjective + material/flavour + noun" pattern per category, so
a seed of 42 always yields the same 300+ products with the same slugs, prices
and stock, and re-seeding upserts instead of duplicating.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.utils.text import slugify

# The pets a visitor can own, and the categories each one shops in.
PETS: dict[str, tuple[str, ...]] = {
    "cat": ("cat-food", "cat-toys", "cat-litter"),
    "dog": ("dog-food", "dog-toys", "dog-walking"),
    "fish": ("aquarium",),
    "bird": ("bird",),
    "small": ("small-pets",),
}
# Categories every pet owner shops in now and then.
SHARED_CATEGORIES: tuple[str, ...] = ("pet-health", "grooming", "beds")


@dataclass(frozen=True)
class CategorySpec:
    """How to make one category's products: ``nouns`` maps each noun to its picture."""

    slug: str
    name: str
    description: str
    hue: int
    consumable: bool
    nouns: dict[str, str]
    materials: tuple[str, ...]
    adjectives: tuple[str, ...]
    price_range: tuple[float, float]
    count: int
    blurb: str  # "{material}" / "{Material}" are filled in

    @property
    def shapes(self) -> tuple[str, ...]:
        """The category's glyphs, most common first (for its tile)."""
        counts: dict[str, int] = {}
        for shape in self.nouns.values():
            counts[shape] = counts.get(shape, 0) + 1
        return tuple(sorted(counts, key=lambda s: -counts[s]))


# fmt: off
CATEGORIES: tuple[CategorySpec, ...] = (
    CategorySpec(
        slug="cat-food", name="Cat food", hue=18, consumable=True,
        description="Complete meals, pates and kibble for cats of every age.",
        nouns={"Dry Food": "bag", "Pate": "bowl", "Kibble": "bowl", "Wet Food Pouches": "fish",
               "Kitten Food": "bag", "Senior Mix": "bag", "Gravy Chunks": "bowl",
               "Terrine": "fish"},
        materials=("Salmon", "Chicken", "Tuna", "Duck", "Turkey", "Rabbit", "Trout", "Lamb"),
        adjectives=("Grain-free", "Premium", "Organic", "Sensitive", "Indoor",
                    "Hairball Control", "High-protein", "Classic"),
        price_range=(3.5, 38.0), count=30,
        blurb="A complete, balanced recipe with {material} as the first ingredient. "
              "No artificial colours or preservatives.",
    ),
    CategorySpec(
        slug="cat-toys", name="Cat toys", hue=320, consumable=False,
        description="Wands, mice and puzzles that keep indoor cats busy.",
        nouns={"Mouse": "mouse", "Feather Wand": "feather", "Tunnel": "house",
               "Puzzle Feeder": "bowl", "Kicker": "fish", "Ball Track": "ball",
               "Scratching Post": "rope", "Laser Chaser": "ball"},
        materials=("Felt", "Catnip", "Sisal", "Wool", "Canvas", "Cork", "Bamboo", "Corduroy"),
        adjectives=("Crinkly", "Jingly", "Interactive", "Wobbly", "Glow", "Tiny", "Giant",
                    "Zippy"),
        price_range=(2.9, 49.0), count=28,
        blurb="Made from {material} for hours of stalking, pouncing and batting. "
              "Safe, durable and easy to clean.",
    ),
    CategorySpec(
        slug="cat-litter", name="Cat litter", hue=42, consumable=True,
        description="Clumping, natural and low-dust litter, trays and scoops.",
        nouns={"Clumping Litter": "bag", "Litter Tray": "litter", "Litter Scoop": "litter",
               "Litter Mat": "litter", "Pellets": "bag", "Deodoriser": "bottle",
               "Litter Liners": "litter"},
        materials=("Clay", "Pine", "Corn", "Silica", "Paper", "Wheat", "Tofu", "Walnut"),
        adjectives=("Unscented", "Lavender", "Low-dust", "Extra-strength", "Compact", "Eco",
                    "Fresh", "Lightweight"),
        price_range=(4.5, 32.0), count=26,
        blurb="{Material}-based and easy to use. Locks away odours and keeps the floor tidy.",
    ),
    CategorySpec(
        slug="dog-food", name="Dog food", hue=28, consumable=True,
        description="Kibble, wet food and treats for puppies to seniors.",
        nouns={"Kibble": "bag", "Wet Food": "bowl", "Puppy Food": "bag", "Senior Food": "bag",
               "Training Treats": "bone", "Dental Chews": "bone", "Stew": "bowl",
               "Biscuits": "bone"},
        materials=("Beef", "Chicken", "Lamb", "Venison", "Salmon", "Turkey", "Duck", "Pork"),
        adjectives=("Grain-free", "Premium", "Working Dog", "Small Breed", "Large Breed",
                    "Light", "Hypoallergenic", "Farmhouse"),
        price_range=(3.0, 59.0), count=30,
        blurb="Slow-cooked with {material} and vegetables for strong muscles, "
              "shiny coats and happy tummies.",
    ),
    CategorySpec(
        slug="dog-toys", name="Dog toys", hue=200, consumable=False,
        description="Balls, ropes and chews that survive the zoomies.",
        nouns={"Ball": "ball", "Rope Tug": "rope", "Frisbee": "ball", "Squeaky Toy": "ball",
               "Chew Bone": "bone", "Treat Ball": "ball", "Plush Toy": "paw",
               "Fetch Stick": "bone"},
        materials=("Rubber", "Cotton", "Nylon", "Latex", "Canvas", "Hemp", "Fleece",
                   "Natural Rubber"),
        adjectives=("Indestructible", "Bouncy", "Floating", "Squeaky", "Mega", "Mini", "Tough",
                    "Glow-in-the-dark"),
        price_range=(3.5, 29.0), count=28,
        blurb="Tough {material} built for fetch, tug and chew sessions. "
              "Dishwasher safe and gentle on teeth.",
    ),
    CategorySpec(
        slug="dog-walking", name="Leads & collars", hue=152, consumable=False,
        description="Leads, collars and harnesses for comfortable walks in any weather.",
        nouns={"Lead": "leash", "Collar": "collar", "Harness": "collar",
               "Retractable Lead": "leash", "Long Line": "leash", "Poop Bag Holder": "bag",
               "Rain Jacket": "paw", "Reflective Vest": "paw"},
        materials=("Leather", "Nylon", "Rope", "Biothane", "Neoprene", "Cotton Webbing",
                   "Hemp", "Recycled"),
        adjectives=("Padded", "Reflective", "Adjustable", "No-pull", "Classic", "Waterproof",
                    "Trail", "City"),
        price_range=(6.0, 65.0), count=26,
        blurb="{Material} with sturdy hardware and a comfortable fit. Built for daily walks.",
    ),
    CategorySpec(
        slug="aquarium", name="Fish", hue=192, consumable=False,
        description="Tanks, filters, plants and food for happy fish.",
        nouns={"Aquarium Kit": "fish", "Filter": "fish", "Heater": "fish", "LED Light": "plant",
               "Fish Flakes": "bag", "Plant Set": "plant", "Gravel": "plant",
               "Water Conditioner": "bottle"},
        materials=("Glass", "Acrylic", "Tropical", "Coldwater", "Nano", "Planted", "Marine",
                   "Aquascape"),
        adjectives=("Starter", "Silent", "Compact", "Deluxe", "Crystal", "Eco", "Panorama",
                    "Pro"),
        price_range=(4.0, 119.0), count=26,
        blurb="{Material} quality for clear water and healthy fish. "
              "Easy to set up and maintain.",
    ),
    CategorySpec(
        slug="bird", name="Birds", hue=88, consumable=False,
        description="Seed mixes, cages and perches for birds of all sizes.",
        nouns={"Seed Mix": "bag", "Cage": "house", "Perch": "bird", "Swing": "bird",
               "Bird Bath": "bowl", "Millet Spray": "feather", "Nest Box": "house",
               "Mirror Toy": "bird"},
        materials=("Budgie", "Canary", "Parrot", "Finch", "Cockatiel", "Wild Bird", "Lovebird",
                   "Wooden"),
        adjectives=("Colourful", "Natural", "Deluxe", "Hanging", "Garden", "Cosy", "Vitamin",
                    "Classic"),
        price_range=(2.5, 89.0), count=26,
        blurb="A {Material} favourite, carefully chosen for chirpy, active birds.",
    ),
    CategorySpec(
        slug="small-pets", name="Small pets", hue=105, consumable=False,
        description="Hay, hutches and treats for rabbits, guinea pigs and hamsters.",
        nouns={"Hay": "carrot", "Hutch": "house", "Hideout": "house", "Chew Stick": "carrot",
               "Exercise Wheel": "ball", "Pellets": "bag", "Tunnel": "house",
               "Water Bottle": "bottle"},
        materials=("Timothy", "Meadow", "Willow", "Wooden", "Seagrass", "Apple Wood",
                   "Dandelion", "Hazel"),
        adjectives=("Rabbit", "Guinea Pig", "Hamster", "Cosy", "Natural", "Crunchy", "Double",
                    "Outdoor"),
        price_range=(2.5, 139.0), count=26,
        blurb="{Material} goodness for nibbling, hiding and exploring.",
    ),
    CategorySpec(
        slug="pet-health", name="Health", hue=350, consumable=True,
        description="Flea, worm and vitamin care recommended by vets.",
        nouns={"Flea Drops": "bottle", "Wormer": "pill", "Multivitamin": "pill",
               "Joint Supplement": "heart", "Probiotic": "pill", "Ear Cleaner": "bottle",
               "Tooth Gel": "heart", "Calming Spray": "bottle"},
        materials=("Herbal", "Omega-3", "Chamomile", "Salmon Oil", "Green-lipped Mussel",
                   "Coconut", "Aloe", "Pumpkin"),
        adjectives=("Vet-approved", "Gentle", "Daily", "Monthly", "Natural", "Advanced",
                    "Puppy", "Senior"),
        price_range=(4.9, 42.0), count=28,
        blurb="{Material} formula recommended by vets for everyday health and wellbeing.",
    ),
    CategorySpec(
        slug="grooming", name="Grooming", hue=270, consumable=False,
        description="Brushes, shampoos and clippers for a shiny coat.",
        nouns={"Brush": "brush", "Shampoo": "bottle", "Comb": "comb", "Nail Clipper": "comb",
               "Deshedding Tool": "comb", "Grooming Glove": "brush",
               "Detangling Spray": "bottle", "Towel": "bed"},
        materials=("Bamboo", "Oatmeal", "Aloe Vera", "Steel", "Microfibre", "Boar Bristle",
                   "Coconut", "Silicone"),
        adjectives=("Gentle", "Professional", "Travel", "Soothing", "Deshedding", "Puppy",
                    "Fresh", "Salon"),
        price_range=(3.9, 45.0), count=26,
        blurb="{Material} grooming essential for a soft, shiny, tangle-free coat.",
    ),
    CategorySpec(
        slug="beds", name="Beds", hue=230, consumable=False,
        description="Cushions, caves and baskets for the perfect nap.",
        nouns={"Bed": "bed", "Cave": "house", "Cushion": "bed", "Basket": "bed",
               "Blanket": "bed", "Window Perch": "bed", "Crate Mat": "bed", "Donut Bed": "bed"},
        materials=("Fleece", "Wool", "Velvet", "Faux Fur", "Corduroy", "Willow", "Cotton",
                   "Memory Foam"),
        adjectives=("Cosy", "Orthopaedic", "Calming", "Cooling", "Plush", "Travel", "Deluxe",
                    "Snug"),
        price_range=(12.0, 129.0), count=26,
        blurb="Soft {material} with a washable cover. The perfect spot for long, happy naps.",
    ),
)
# fmt: on

CATEGORY_BY_SLUG: dict[str, CategorySpec] = {spec.slug: spec for spec in CATEGORIES}


@dataclass(frozen=True)
class ProductSpec:
    category: str
    name: str
    slug: str
    description: str
    price: Decimal
    stock: int
    created_at: datetime
    hue: int
    shape: str


def _price(rng: random.Random, low: float, high: float) -> Decimal:
    # Skewed towards the cheap end, ending in .49/.95/.99 like real shelf prices.
    raw = low + (high - low) * rng.random() ** 1.8
    cents = rng.choice((0.49, 0.95, 0.99, 0.50))
    return Decimal(f"{max(int(raw), 1) + cents:.2f}")


def _stock(rng: random.Random) -> int:
    roll = rng.random()
    if roll < 0.06:
        return 0
    if roll < 0.14:
        return rng.randint(1, 5)
    return rng.randint(6, 120)


def generate_products(seed: int, now: datetime) -> list[ProductSpec]:
    """Every product of the catalogue, the same for the same seed."""
    rng = random.Random(f"pawsome-catalogue-{seed}")
    products: list[ProductSpec] = []
    seen: set[str] = set()
    for spec in CATEGORIES:
        made = 0
        attempts = 0
        while made < spec.count and attempts < spec.count * 50:
            attempts += 1
            adjective = rng.choice(spec.adjectives)
            material = rng.choice(spec.materials)
            noun = rng.choice(list(spec.nouns))
            name = f"{adjective} {material} {noun}"
            slug = slugify(name)
            if slug in seen:
                continue
            seen.add(slug)
            made += 1
            # Most products are months old; about one in ten arrived in the last three weeks.
            if rng.random() < 0.1:
                age = timedelta(days=rng.uniform(0.5, 21))
            else:
                age = timedelta(days=rng.uniform(30, 720))
            products.append(
                ProductSpec(
                    category=spec.slug,
                    name=name,
                    slug=slug,
                    description=(
                        f"{spec.blurb.format(material=material.lower(), Material=material)} "
                        f"Our {adjective.lower()} {noun.lower()} is a customer favourite."
                    ),
                    price=_price(rng, *spec.price_range),
                    stock=_stock(rng),
                    created_at=now - age,
                    hue=(spec.hue + rng.randint(-22, 22)) % 360,
                    shape=spec.nouns[noun],
                )
            )
    return products
