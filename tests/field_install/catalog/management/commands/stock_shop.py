"""Fill the field shop: its catalogue, and what a merchandiser would set up in the admin."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.core.management.base import BaseCommand
from django.utils import timezone

from catalog.models import Aisle, Item
from personalize.campaigns.models import Campaign, Variant
from personalize.models import Segment
from personalize.recommendations.models import Strategy, Widget

AISLES = {"seeds": "Seeds", "tools": "Tools", "pots": "Pots"}


class Command(BaseCommand):
    help = "Create the field shop's aisles, items, welcome popup and recommendation widgets."

    def handle(self, *args: Any, **options: Any) -> None:
        aisles = {
            code: Aisle.objects.create(code=code, label=label) for code, label in AISLES.items()
        }
        now = timezone.now()
        for number in range(1, 13):
            code = list(AISLES)[number % 3]
            Item.objects.create(
                sku=f"GRD-{number:03d}",
                title=f"{AISLES[code]} item {number}",
                aisle=aisles[code],
                unit_price=Decimal("4.50") + number,
                stock=0 if number == 12 else 10,
                picture=f"/media/items/{number}.jpg",
                listed_at=now - timedelta(days=number),
            )
        welcome = Campaign.objects.create(
            name="Welcome",
            slug="field-welcome",
            kind=Campaign.Kind.POPUP,
            status=Campaign.Status.ACTIVE,
            trigger=Campaign.Trigger.IMMEDIATE,
            frequency=Campaign.Frequency.ONCE_PER_VISIT,
            capture_email=True,
        )
        welcome.include_segments.set(Segment.objects.filter(slug="new-visitors"))
        Variant.objects.create(
            campaign=welcome, key="a", title="Welcome to the field shop", body="<p>Hello!</p>"
        )
        Widget.objects.create(
            slot="item-viewed",
            name="Viewed together",
            title="Gardeners who viewed this also viewed",
            strategy=Strategy.VIEWED_TOGETHER,
            fallback="",
            count=4,
            minimum=1,
        )
        Widget.objects.create(
            slot="home-bestsellers",
            name="Bestsellers",
            title="Our bestsellers",
            strategy=Strategy.BESTSELLERS,
            fallback="",
            count=3,
            minimum=1,
        )
        self.stdout.write(f"{Item.objects.count()} items, 1 campaign, 2 widgets")
