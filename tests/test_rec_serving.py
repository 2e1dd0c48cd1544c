"""Serving widgets on real requests: query and round-trip budgets, rules, lazy loading, outages."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test import Client, RequestFactory, override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

import personalize
from personalize.models import Event, Widget, WidgetRule
from personalize.profiles.base import BaseProfileStore, reset_store
from personalize.recommendations.catalogue import CatalogueItem
from personalize.recommendations.training import train
from personalize.segments.models import Segment
from shop_demo.models import Category, Product
from tests.conftest import REDIS_STORE
from tests.test_redis_store import RoundTrips

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.urls")]

CHROME = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0 Safari/537.36"
)


def browser() -> Client:
    return Client(headers={"User-Agent": CHROME, "Accept": "text/html"})


@pytest.fixture
def round_trips(monkeypatch: pytest.MonkeyPatch) -> RoundTrips:
    return RoundTrips(monkeypatch)


@pytest.fixture
def catalogue() -> list[Product]:
    """Twelve products; 1-6 are viewed together in pairs (1+2, 3+4, 5+6), 12 sells best."""
    toys = Category.objects.create(name="Toys", slug="toys", hue=1, position=0)
    food = Category.objects.create(name="Food", slug="food", hue=2, position=1)
    now = timezone.now()
    products = [
        Product.objects.create(
            category=toys if n <= 6 else food,
            name=f"Product {n}",
            slug=f"product-{n}",
            price=Decimal("3.00") + n,
            stock=0 if n == 11 else 5,
            created_at=now - timedelta(days=n),
        )
        for n in range(1, 13)
    ]
    at = now - timedelta(days=2)
    events = []
    for visitor in range(5):
        # Different shoppers per pair, so that "similar" (shared shoppers) is as clear-cut
        # as "viewed together" (shared visits).
        for visit, pair in enumerate(((0, 1), (2, 3), (4, 5), (0, 6)), 1):
            for index in pair:
                events.append(
                    Event(
                        event_id=f"{visitor}-{visit}-{index}",
                        visitor_id=f"h{visitor}-{visit}",
                        name="product_view",
                        props={"product_id": str(products[index].pk)},
                        visit=visit,
                        occurred_at=at,
                    )
                )
        events.append(
            Event(
                event_id=f"{visitor}-buy",
                visitor_id=f"h{visitor}",
                name="purchase",
                props={
                    "order_id": f"o{visitor}",
                    "value": 10.0,
                    "items": [
                        {"product_id": str(products[11].pk), "price": 15, "quantity": 3},
                        {"product_id": str(products[10].pk), "price": 14, "quantity": 1},
                        {"product_id": str(products[9].pk), "price": 13, "quantity": 1},
                    ],
                },
                occurred_at=at,
            )
        )
    Event.objects.bulk_create(events)
    return products


def ids(html: str) -> list[int]:
    return [int(value) for value in re.findall(r'data-pz-item="(\d+)"', html)]


def make_widget(**kwargs: Any) -> Widget:
    defaults: dict[str, Any] = {
        "slot": "product-viewed",
        "name": "Viewed together",
        "title": "Customers also viewed",
        "strategy": "viewed_together",
        "fallback": "bestsellers",
        "count": 3,
        "minimum": 1,
    }
    defaults.update(kwargs)
    return Widget.objects.create(**defaults)


def test_redis_hot_path_is_one_product_query(
    use_redis_store: BaseProfileStore,
    catalogue: list[Product],
    django_assert_num_queries: Any,
    round_trips: RoundTrips,
) -> None:
    train()
    make_widget()
    client = browser()
    first = catalogue[0].pk
    client.get(f"/recs/product-viewed/?product={first}")  # warm up: scripts, compiled config
    round_trips.count = 0
    with django_assert_num_queries(1) as captured:
        response = client.get(f"/recs/product-viewed/?product={first}")
    assert "shop_demo_product" in captured.captured_queries[0]["sql"]
    # Touch, the recommendation rows, then the response's profile write.
    assert round_trips.count == 3
    html = response.content.decode()
    assert 'data-pz-widget="product-viewed"' in html
    assert 'data-pz-strategy="viewed_together"' in html
    # Viewed together: 2 (same visits, 5 times) and 7; then the bestseller 12 fills.
    assert ids(html) == [catalogue[1].pk, catalogue[6].pk, catalogue[11].pk]
    assert 'data-pz-position="1"' in html and 'data-pz-position="3"' in html
    assert "Customers also viewed" in html and "€5.00" in html


def _tables(captured: Any) -> list[str]:
    return [
        query["sql"].split(" FROM ")[1].split()[0] for query in captured if " FROM " in query["sql"]
    ]


def test_database_store_reads_a_models_rows_once_per_process(
    catalogue: list[Product], django_assert_num_queries: Any
) -> None:
    train()
    make_widget()
    client = browser()
    first = catalogue[0].pk
    with CaptureQueriesContext(connection) as cold:
        client.get(f"/recs/product-viewed/?product={first}")
    assert '"personalize_trainedrow"' in _tables(cold)
    with django_assert_num_queries(10) as captured:
        response = client.get(f"/recs/product-viewed/?product={first}")
    # The widget: its products (its rows come from the process's cache of the active
    # model). The rest is the profile's touch and write.
    assert _tables(captured) == [
        '"personalize_visitorprofile"',
        '"shop_demo_product"',
        '"personalize_visitorprofile"',
    ]
    assert ids(response.content.decode())[0] == catalogue[1].pk

    # A newly trained model replaces the cached rows at once in this process (the swap
    # bumps the configuration version; other processes follow within the poll period).
    train()
    with CaptureQueriesContext(connection) as after:
        client.get(f"/recs/product-viewed/?product={first}")
    assert '"personalize_trainedrow"' in _tables(after)


def test_personalised_follows_what_the_visitor_views(
    use_redis_store: BaseProfileStore, catalogue: list[Product]
) -> None:
    train()
    make_widget(slot="home", strategy="personalised", fallback="", count=4)
    client = browser()
    # A first-time visitor gets trending products (cold start): 12, 11 sold; views follow.
    cold = ids(client.get("/recs/home/").content.decode())
    assert catalogue[11].pk in cold and catalogue[10].pk not in cold  # 11 is out of stock
    client.get(f"/p/{catalogue[2].pk}/")  # views product 3
    warm = ids(client.get("/recs/home/").content.decode())
    assert warm[0] == catalogue[3].pk  # viewed together with 3, so similar
    assert catalogue[2].pk not in warm  # never what they just saw


def test_rules_choose_strategy_and_title_by_segment(
    use_redis_store: BaseProfileStore, catalogue: list[Product]
) -> None:
    train()
    widget = make_widget(slot="home", strategy="new_arrivals", fallback="", count=2)
    WidgetRule.objects.create(
        widget=widget,
        segment=Segment.objects.get(slug="new-visitors"),
        strategy="bestsellers",
        title="Bestsellers this month",
    )
    client = browser()
    html = client.get("/recs/home/").content.decode()
    assert "Bestsellers this month" in html and 'data-pz-strategy="bestsellers"' in html
    assert ids(html) == [catalogue[11].pk, catalogue[9].pk]  # 11 sold as much but is out


def test_category_page_and_in_category(catalogue: list[Product]) -> None:
    train()
    make_widget(slot="category", strategy="bestsellers", fallback="", in_category=True, count=5)
    make_widget(slot="new", strategy="new_arrivals", fallback="", in_category=True, count=3)
    client = browser()
    in_toys = ids(client.get("/recs/category/?category=toys").content.decode())
    # No toy sold: the category row is missing, so the overall bestsellers fill.
    assert in_toys == [catalogue[11].pk, catalogue[9].pk]
    newest_food = ids(client.get("/recs/new/?category=food").content.decode())
    assert newest_food == [catalogue[6].pk, catalogue[7].pk, catalogue[8].pk]


def test_widget_hidden_when_inactive_untrained_or_below_minimum(catalogue: list[Product]) -> None:
    make_widget(minimum=2)
    client = browser()
    page = f"/recs/product-viewed/?product={catalogue[0].pk}"
    assert "pz-recs" not in client.get(page).content.decode()  # no trained model yet
    train()
    assert "pz-recs" in client.get(page).content.decode()
    Widget.objects.filter(slot="product-viewed").update(is_active=False)
    from personalize import configuration

    configuration.reset_all()
    assert "pz-recs" not in client.get(page).content.decode()
    assert client.get("/recs/nope/").status_code == 200


def test_lazy_placeholder_and_endpoint(catalogue: list[Product]) -> None:
    from django.template import RequestContext, Template

    train()
    make_widget()
    request = RequestFactory().get("/")
    html = Template(
        '{% load personalize %}{% recommendations "product-viewed" product=p lazy=True %}'
    ).render(RequestContext(request, {"p": catalogue[0]}))
    url = re.search(r'hx-get="([^"]+)"', html)
    assert url is not None and 'hx-trigger="load"' in html
    assert "data-pz-lazy " in html  # the runtime loads it where the page has no htmx
    endpoint = url.group(1).replace("&amp;", "&")
    assert (
        endpoint
        == f"/personalize/recommendations/product-viewed/?product={catalogue[0].pk}&category=toys"
    )
    client = browser()
    response = client.get(endpoint)
    assert response.status_code == 200 and response["Cache-Control"] == "private, no-store"
    assert ids(response.content.decode())[0] == catalogue[1].pk
    assert 'data-pz-token="' in response.content.decode()
    assert client.get("/personalize/recommendations/unknown/").status_code == 204
    bad = client.get("/personalize/recommendations/product-viewed/?product=%3Cscript%3E")
    assert bad.status_code == 400
    assert "product" in bad.json()["errors"]
    bad = client.get("/personalize/recommendations/product-viewed/?category=" + "x" * 65)
    assert bad.status_code == 400 and "category" in bad.json()["errors"]
    assert client.post("/personalize/recommendations/product-viewed/").status_code == 405


def test_redis_down_hides_widgets_but_serves_the_page(
    throwaway_redis: dict[str, Any], catalogue: list[Product]
) -> None:
    with override_settings(
        PERSONALIZE_STORE=REDIS_STORE,
        PERSONALIZE_REDIS_URL=throwaway_redis["url"],
        PERSONALIZE_REDIS_RETRY_AFTER=60,
    ):
        train()
        make_widget()
        client = browser()
        page = f"/recs/product-viewed/?product={catalogue[0].pk}"
        assert "pz-recs" in client.get(page).content.decode()
        throwaway_redis["process"].kill()
        throwaway_redis["process"].wait()
        response = client.get(page)
        assert response.status_code == 200 and "pz-recs" not in response.content.decode()
    reset_store()


def test_recommend_api_returns_catalogue_items(catalogue: list[Product]) -> None:
    train()
    items = personalize.recommend(None, "viewed_together", product=catalogue[0], limit=2)
    assert [item.obj for item in items] == [catalogue[1], catalogue[6]]
    assert all(isinstance(item, CatalogueItem) for item in items)
    assert items.strategy == "viewed_together" and items.title == ""
    assert items[0].title == "Product 2" and items[0].category == "toys"
    assert items[0].url == catalogue[1].get_absolute_url()
    # Out-of-stock products are never recommended through the API.
    best = personalize.recommend(None, "bestsellers", limit=5)
    assert [item.obj for item in best] == [catalogue[11], catalogue[9]]
    assert personalize.recommend(None, "no-such-widget") == []
    with pytest.raises(ValueError, match="limit must be from 1 to 100"):
        personalize.recommend(None, "bestsellers", limit=0)


def test_everything_rendered_is_escaped(catalogue: list[Product]) -> None:
    product = catalogue[1]
    product.name = '<img src=x onerror="alert(1)">'
    product.save()
    train()
    make_widget(title="Ours")
    html = browser().get(f"/recs/product-viewed/?product={catalogue[0].pk}").content.decode()
    assert "<img src=x" not in html and "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in html


def test_widgets_on_one_page_never_repeat_a_product(catalogue: list[Product]) -> None:
    from django.template import RequestContext, Template

    train()
    make_widget(slot="first", strategy="viewed_together", fallback="", count=1)
    make_widget(slot="second", strategy="viewed_together", fallback="bestsellers", count=2)
    request = RequestFactory().get("/")
    html = Template(
        '{% load personalize %}{% recommendations "first" product=p %}|'
        '{% recommendations "second" product=p %}'
    ).render(RequestContext(request, {"p": catalogue[0]}))
    first, second = html.split("|")
    assert ids(first) == [catalogue[1].pk]
    assert ids(second) == [catalogue[6].pk, catalogue[11].pk]


def test_a_campaign_shows_the_visitors_usual_products(
    use_redis_store: BaseProfileStore, catalogue: list[Product]
) -> None:
    from personalize.campaigns.models import Campaign, Variant
    from tests.test_campaigns import make

    make_widget(slot="usual", strategy="buy_again", fallback="", count=3, minimum=1)
    campaign = make("restock", kind="slot", slot_name="hero")
    Variant.objects.filter(campaign=campaign).update(products="usual")
    client = browser()
    html = client.get("/shop/").content.decode()
    assert 'data-pz-campaign="restock"' in html and "pz-products" not in html  # bought nothing
    purchase = {
        "order_id": "A1",
        "value": 20.0,
        "items": [
            {"product_id": str(catalogue[4].pk), "price": 8.0, "quantity": 1},
            {"product_id": str(catalogue[10].pk), "price": 14.0, "quantity": 1},
        ],
    }
    visitor_id = client.cookies["pz_vid"].value.split(":")[0]
    from personalize.profiles.base import get_store
    from personalize.tracking.events import event_ops

    store = get_store()
    profile = store.load(visitor_id)
    assert profile is not None
    store.apply(visitor_id, event_ops(profile, "purchase", purchase, 1.0e9), [])
    html = client.get("/shop/").content.decode()
    section = html.split('class="pz-products"')[1]
    # Bought: product 5 and 11; 11 is out of stock, so only 5 is offered again.
    assert ids(section) == [catalogue[4].pk]
    assert 'data-pz-widget="usual"' in section and 'data-pz-strategy="buy_again"' in section
    assert Campaign.objects.get(slug="restock").variants.get().products == "usual"


def test_refreshable_widget_refetches_itself_and_waits_when_empty(
    catalogue: list[Product],
) -> None:
    from django.template import RequestContext, Template

    train()
    make_widget(slot="cart", strategy="viewed_together", fallback="", minimum=1)
    request = RequestFactory().get("/")
    html = Template(
        '{% load personalize %}{% recommendations "cart" product=p refresh=True %}'
    ).render(RequestContext(request, {"p": catalogue[0]}))
    query = f"product={catalogue[0].pk}&amp;category=toys&amp;refresh=1"
    url = f"/personalize/recommendations/cart/?{query}"
    assert f'data-pz-refresh hx-get="{url}" hx-trigger="pz:refresh from:body"' in html
    client = browser()
    again = client.get(url.replace("&amp;", "&")).content.decode()
    assert 'data-pz-widget="cart"' in again and "data-pz-refresh hx-get=" in again
    # Nothing to show: a hidden placeholder that keeps listening, not a 204.
    empty = client.get("/personalize/recommendations/cart/?product=999999&refresh=1")
    assert empty.status_code == 200
    assert (
        'hidden data-pz-refresh hx-get="/personalize/recommendations/cart/?product=999999&amp;'
        'refresh=1"' in empty.content.decode()
    )
    assert client.get("/personalize/recommendations/cart/?product=999999").status_code == 204


def render_widget(slot: str, product: Any) -> str:
    from django.template import RequestContext, Template

    request = RequestFactory().get("/")
    return Template("{% load personalize %}{% recommendations slot product=p %}").render(
        RequestContext(request, {"slot": slot, "p": product})
    )


@pytest.mark.parametrize("count", [2, 8])
def test_widget_render_costs_one_query_whatever_its_size(
    catalogue: list[Product], django_assert_num_queries: Any, count: int
) -> None:
    train()
    make_widget(slot="picks", strategy="bestsellers", fallback="new_arrivals", count=count)
    page_product = Product.objects.select_related("category").get(pk=catalogue[0].pk)
    # The first render compiles the widget configuration and caches the model's rows.
    with CaptureQueriesContext(connection) as cold:
        render_widget("picks", page_product)
    assert any("personalize_trainedrow" in q["sql"] for q in cold.captured_queries)
    with django_assert_num_queries(1) as captured:
        html = render_widget("picks", page_product)
    # The products with their category joined.
    assert 'INNER JOIN "shop_demo_category"' in captured.captured_queries[0]["sql"]
    assert len(ids(html)) == count


def test_prefetched_relations_cost_one_query_each_not_one_per_product(
    catalogue: list[Product], django_assert_num_queries: Any
) -> None:
    train()
    make_widget(slot="picks", strategy="bestsellers", fallback="new_arrivals", count=6)
    page_product = Product.objects.select_related("category").get(pk=catalogue[0].pk)
    # A shop's widget template that shows how often each product sold: a reverse relation.
    template = (
        '{% for item in items %}<i data-pz-item="{{ item.id }}">'
        "{{ item.obj.order_items.all|length }}</i>{% endfor %}"
    )
    with override_settings(
        PERSONALIZE_CATALOGUE_PREFETCH_RELATED=["order_items"],
        TEMPLATES=[
            {
                "BACKEND": "django.template.backends.django.DjangoTemplates",
                "OPTIONS": {
                    "loaders": [
                        (
                            "django.template.loaders.locmem.Loader",
                            {"personalize/recommendations/picks.html": template},
                        ),
                        "django.template.loaders.app_directories.Loader",
                    ]
                },
            }
        ],
    ):
        render_widget("picks", page_product)
        with django_assert_num_queries(2) as captured:
            html = render_widget("picks", page_product)
    assert "shop_demo_orderitem" in captured.captured_queries[1]["sql"]
    assert len(ids(html)) == 6
