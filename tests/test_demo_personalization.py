"""The demo home page changes with the visitor's segments, and staff can preview each."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client
from django.utils import timezone

from personalize.recommendations.models import Strategy, Widget
from shop_demo.personalization import DEMO_WIDGETS, install_demo_segments, install_demo_widgets
from shop_demo.seeding import seed_catalogue
from tests.conftest import Clock

pytestmark = pytest.mark.django_db

UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36"


@pytest.fixture
def catalogue(db: None) -> None:
    seed_catalogue(42, timezone.now(), lambda n: None)
    install_demo_segments()


def shopper() -> Client:
    return Client(headers={"User-Agent": UA, "Accept": "text/html", "Sec-Fetch-Dest": "document"})


def hero(client: Client, path: str = "/") -> str:
    html = client.get(path).content.decode()
    found = re.search(r'data-hero="([a-z-]+)"', html)
    assert found is not None
    return found.group(1)


def test_new_visitor_sees_the_default_hero(catalogue: Any) -> None:
    assert hero(shopper()) == "default"


def test_returning_visitor_is_welcomed_back(catalogue: Any, clock: Clock) -> None:
    client = shopper()
    client.get("/")
    clock.advance(2 * 3600)
    assert hero(client) == "returning-visitors"


@pytest.mark.parametrize(
    ("category", "segment"), [("cat-toys", "cat-owners"), ("dog-walking", "dog-owners")]
)
def test_interest_segment_changes_the_hero(catalogue: Any, category: str, segment: str) -> None:
    client = shopper()
    client.get(f"/c/{category}/")
    from shop_demo.models import Product

    for product in Product.objects.filter(category__slug=category)[:2]:
        client.get(product.get_absolute_url())
    assert hero(client) == segment


def test_staff_preview_shows_each_hero(catalogue: Any) -> None:
    staff = get_user_model().objects.create_user(
        "boss", "b@example.com", "pw-12345678", is_staff=True
    )
    staff.user_permissions.add(Permission.objects.get(codename="view_segment"))
    client = shopper()
    client.force_login(staff)
    assert hero(client, "/?pz_preview=dog-owners") == "dog-owners"
    page = client.get("/").content.decode()
    assert 'aria-label="Segment preview"' in page
    assert "Dog owners" in page
    assert hero(client, "/?pz_preview=returning-visitors") == "returning-visitors"
    assert hero(client, "/?pz_preview=off") == "default"
    assert 'aria-label="Segment preview"' not in client.get("/").content.decode()


def test_install_demo_segments_is_idempotent(catalogue: Any) -> None:
    assert install_demo_segments() == 0


def test_install_demo_widgets_is_idempotent_and_keeps_edits(catalogue: Any) -> None:
    assert install_demo_widgets() == len(DEMO_WIDGETS)
    home = Widget.objects.get(slot="home")
    assert [(r.segment.slug, r.strategy, r.title) for r in home.rules.all()] == [
        ("new-visitors", Strategy.BESTSELLERS, "Bestsellers this month")
    ]
    for widget in Widget.objects.all():
        widget.full_clean()  # what the admin would accept
    home.title = "Picked for you"
    home.save()

    assert install_demo_widgets() == 0
    assert Widget.objects.count() == len(DEMO_WIDGETS)
    assert home.rules.count() == 1
    assert Widget.objects.get(slot="home").title == "Picked for you"
