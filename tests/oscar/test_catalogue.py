"""OscarCatalogue: Oscar's products through Oscar's pricing strategy, in two queries."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser
from django.test import RequestFactory, override_settings
from oscar.apps.partner import strategy as oscar_strategy
from oscar.core.thumbnails import get_thumbnailer

from personalize.contrib.oscar.catalogue import OscarCatalogue
from personalize.recommendations.catalogue import get_catalogue
from tests.oscar.conftest import Shop

pytestmark = pytest.mark.django_db


class UKSelector:
    """A shop whose strategy adds 20% VAT (Oscar's sample UK strategy)."""

    def strategy(self, request: Any = None, user: Any = None, **kwargs: Any) -> Any:
        return oscar_strategy.UK(request)


class USSelector:
    """A shop whose strategy does not know the tax (Oscar's sample US strategy)."""

    def strategy(self, request: Any = None, user: Any = None, **kwargs: Any) -> Any:
        return oscar_strategy.US(request)


def test_the_configured_catalogue_is_oscars(shop: Shop) -> None:
    assert isinstance(get_catalogue(), OscarCatalogue)


def test_items_in_order_with_prices_stock_categories_and_images(
    shop: Shop, django_assert_num_queries: Any
) -> None:
    catalogue = OscarCatalogue().for_request(None)
    ids = [str(shop.books[1].pk), "999999", str(shop.books[0].pk), "x", str(shop.books[5].pk)]
    catalogue.items(ids)  # the thumbnail of books[0] is made once, then known
    with django_assert_num_queries(2):
        items = catalogue.items(ids)
    assert [item.id for item in items] == [ids[0], ids[2], ids[4]]
    one, zero, five = items
    assert (one.title, one.price, one.category, one.in_stock) == (
        "Novel 1",
        Decimal("11.00"),
        "fiction",
        True,
    )
    assert one.url == shop.books[1].get_absolute_url()
    assert one.created_at == shop.books[1].date_created
    assert (five.in_stock, five.price) == (False, Decimal("15.00"))  # no stock, still priced
    # books[0] has an image: the thumbnail Oscar's product lists show (sorl, "x155");
    # the others show the thumbnail of Oscar's "image not found" picture.
    thumbnailer = get_thumbnailer()
    thumb = thumbnailer.generate_thumbnail(
        shop.books[0].primary_image().original, size="x155", upscale=False
    )
    assert zero.image_url == thumb.url and zero.image_url.startswith("/media/cache/")
    missing = shop.books[1].primary_image()["original"]
    assert missing == "image_not_found.jpg"
    assert one.image_url == thumbnailer.generate_thumbnail(missing, size="x155", upscale=False).url
    assert zero.obj == shop.books[0]


def test_price_incl_tax_when_known_else_excl_tax(shop: Shop) -> None:
    book = str(shop.books[0].pk)
    with override_settings(OSCAR_STRATEGY=None):
        uk = OscarCatalogue(strategy=UKSelector().strategy()).items([book])[0]
        us = OscarCatalogue(strategy=USSelector().strategy()).items([book])[0]
    assert uk.price == Decimal("12.0000")  # 10.00 + 20% VAT
    assert us.price == Decimal("10.00")  # tax unknown until checkout: excl. tax


def test_request_strategy_is_used(shop: Shop) -> None:
    request = RequestFactory().get("/")
    request.user = AnonymousUser()
    request.strategy = UKSelector().strategy(request)
    item = OscarCatalogue().for_request(request).items([str(shop.books[0].pk)])[0]
    assert item.price == Decimal("12.0000")
    # Without one (a management command, the admin preview): the Selector's default.
    assert OscarCatalogue().for_request(None).items([str(shop.books[0].pk)])[0].price == Decimal(
        "10.00"
    )


def test_parent_is_priced_from_its_variants_and_variants_are_not_shown(shop: Shop) -> None:
    catalogue = OscarCatalogue().for_request(None)
    items = catalogue.items([str(shop.small.pk), str(shop.shirt.pk), str(shop.large.pk)])
    assert [item.id for item in items] == [str(shop.shirt.pk)]
    shirt = items[0]
    # Priced and stocked as Oscar's own parent policy says ("from" the first variant's
    # price; available because S is in stock), without a query per variant.
    oscar = oscar_strategy.Default().fetch_for_parent(
        type(shop.shirt).objects.get(pk=shop.shirt.pk)
    )
    assert (shirt.title, shirt.category, shirt.in_stock) == ("T-shirt", "clothing", True)
    assert shirt.price == oscar.price.excl_tax == Decimal("12.00")
    assert catalogue.ref(shop.small) == (str(shop.shirt.pk), "clothing")


def test_parent_without_variants_in_stock_is_unavailable(shop: Shop) -> None:
    shop.small.stockrecords.update(num_in_stock=0)
    shirt = OscarCatalogue().for_request(None).items([str(shop.shirt.pk)])[0]
    assert shirt.in_stock is False


def test_non_public_products_are_never_recommended(shop: Shop) -> None:
    shop.books[3].is_public = False
    shop.books[3].save()
    assert OscarCatalogue().for_request(None).items([str(shop.books[3].pk)]) == []


def test_whole_catalogue_for_training_in_bounded_queries(
    shop: Shop, django_assert_max_num_queries: Any
) -> None:
    catalogue = OscarCatalogue().for_request(None)
    facts = sorted(catalogue.training_facts())
    assert [fact[:2] for fact in facts] == sorted(
        [(str(b.pk), "fiction") for b in shop.books] + [(str(shop.shirt.pk), "clothing")]
    )
    list(catalogue.all_items())  # sorl makes and remembers each thumbnail once
    with django_assert_max_num_queries(3):  # products, variants, stock records
        items = list(catalogue.all_items())
    assert {item.id: item.in_stock for item in items}[str(shop.shirt.pk)] is True
    assert len(items) == 7


def test_original_image_without_a_thumbnailer(shop: Shop) -> None:
    class Originals(OscarCatalogue):
        thumbnail_size = None

    item = Originals().for_request(None).items([str(shop.books[0].pk)])[0]
    assert item.image_url == shop.books[0].primary_image().original.url
    with override_settings(OSCAR_THUMBNAILER="oscar.core.thumbnails.EasyThumbnails"):
        # easy-thumbnails is not installed here: the original, never an error.
        item = OscarCatalogue().for_request(None).items([str(shop.books[0].pk)])[0]
    assert item.image_url == shop.books[0].primary_image().original.url
