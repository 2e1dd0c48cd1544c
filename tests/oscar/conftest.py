"""An Oscar shop's catalogue, built with Oscar's own test factories, and its personalize setup."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone
from oscar.apps.catalogue.categories import create_from_breadcrumbs
from oscar.core.loading import get_model
from oscar.test.factories import create_product, create_product_image, create_stockrecord
from PIL import Image

from personalize.campaigns.models import Campaign, Variant
from personalize.models import Event, Widget
from personalize.recommendations.training import train
from personalize.segments.models import Segment

ProductCategory = get_model("catalogue", "ProductCategory")
Country = get_model("address", "Country")

SHOPPER_UA = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)


@dataclass
class Shop:
    books: list[Any]  # standalone, in Books > Fiction; books[5] is out of stock
    shirt: Any  # a parent product in Clothing with two variants
    small: Any
    large: Any
    fiction: Any
    clothing: Any


def png(colour: str) -> ContentFile[bytes]:
    buffer = io.BytesIO()
    Image.new("RGB", (400, 300), colour).save(buffer, format="PNG")
    return ContentFile(buffer.getvalue(), name=f"{colour}.png")


def build_shop() -> Shop:
    fiction = create_from_breadcrumbs("Books > Fiction")
    clothing = create_from_breadcrumbs("Clothing")
    now = timezone.now()
    books = []
    for n in range(6):
        book = create_product(
            title=f"Novel {n}",
            product_class="Book",
            price=Decimal("10.00") + n,
            num_in_stock=0 if n == 5 else 5,
            partner_name="Warehouse",
        )
        ProductCategory.objects.create(product=book, category=fiction)
        book.date_created = now - timedelta(days=n)
        book.save()
        books.append(book)
    create_product_image(books[0], original=png("teal"))
    shirt = create_product(title="T-shirt", product_class="Clothing", structure="parent")
    ProductCategory.objects.create(product=shirt, category=clothing)
    small = create_product(title="T-shirt S", parent=shirt, product_class="Clothing")
    large = create_product(title="T-shirt L", parent=shirt, product_class="Clothing")
    small.product_class = large.product_class = None  # Oscar: variants inherit the class
    small.save()
    large.save()
    create_stockrecord(small, price=Decimal("15.00"), num_in_stock=3, partner_name="Warehouse")
    create_stockrecord(large, price=Decimal("12.00"), num_in_stock=0, partner_name="Warehouse")
    return Shop(books, shirt, small, large, fiction, clothing)


def train_from_history(shop: Shop) -> None:
    """Past shoppers viewed books 0+1 together and bought book 2 and the shirt most."""
    at = timezone.now() - timedelta(days=2)
    events = []
    for n in range(4):
        for index in (0, 1):
            events.append(
                Event(
                    event_id=f"v{n}-{index}",
                    visitor_id=f"past-{n}",
                    name="product_view",
                    props={"product_id": str(shop.books[index].pk)},
                    visit=1,
                    occurred_at=at,
                )
            )
        events.append(
            Event(
                event_id=f"o{n}",
                visitor_id=f"past-{n}",
                name="purchase",
                props={
                    "order_id": f"old-{n}",
                    "value": 40.0,
                    "items": [
                        {"product_id": str(shop.books[2].pk), "price": 12, "quantity": 2},
                        {"product_id": str(shop.shirt.pk), "price": 15, "quantity": 1},
                        {"product_id": str(shop.books[5].pk), "price": 15, "quantity": 1},
                    ],
                },
                occurred_at=at,
            )
        )
    Event.objects.bulk_create(events)
    train()


def install_personalization() -> None:
    """The product page widget and a welcome popup for first-time visitors."""
    from personalize import configuration
    from personalize.segments.builtin import install_builtin_segments

    install_builtin_segments()  # transactional tests flush what the migration created
    Widget.objects.create(
        slot="product-detail",
        name="Product page",
        title="You may also like",
        strategy="viewed_together",
        fallback="bestsellers",
        count=4,
        minimum=1,
    )
    campaign = Campaign.objects.create(
        name="Welcome",
        slug="welcome",
        kind="popup",
        status="active",
        trigger="delay",
        trigger_value=1,
    )
    Variant.objects.create(
        campaign=campaign,
        key="a",
        weight=1,
        title="Welcome to the shop",
        body="<p>10% off your first order.</p>",
        cta_label="Browse fiction",
        cta_url="/catalogue/",
    )
    campaign.include_segments.set(Segment.objects.filter(slug="new-visitors"))
    configuration.bump()


@pytest.fixture
def shop(db: None) -> Shop:
    return build_shop()


@pytest.fixture
def personalized_shop(shop: Shop) -> Shop:
    train_from_history(shop)
    install_personalization()
    return shop


@pytest.fixture
def shipping_country(db: None) -> Any:
    return Country.objects.create(
        iso_3166_1_a2="GB", name="United Kingdom", printable_name="UK", is_shipping_country=True
    )


def pytest_configure(config: pytest.Config) -> None:
    # Oscar 4.2 calls treebeard's deprecated helpers and haystack's simple backend warns
    # on every save: their noise, not ours.
    config.addinivalue_line("filterwarnings", "ignore::DeprecationWarning:oscar")
    config.addinivalue_line("filterwarnings", "ignore:update is not implemented:UserWarning")
