"""The recommendation admin: widget list numbers, change form, preview, results, training."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.core.cache import cache
from django.db import connection
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from personalize.models import ConfigVersion, Event, Segment, TrainedModel, Widget, WidgetRule
from personalize.recommendations import admin as rec_admin
from personalize.recommendations.models import Strategy
from personalize.recommendations.training import train
from personalize.tracking.history import HistoricalEvent, import_history
from shop_demo.models import Category, Product
from tests.pages import plain, text_of

pytestmark = pytest.mark.django_db
DATABASES = ["default", "postgres"] if "postgres" in django_settings.DATABASES else ["default"]

LIST_URL = "/admin/personalize/widget/"
ADD_URL = "/admin/personalize/widget/add/"
MODELS_URL = "/admin/personalize/trainedmodel/"
SHOPPER = "c" * 32  # browsed dog toys, has a food bowl in the cart


@pytest.fixture(autouse=True)
def _empty_cache() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()


def form_errors(response: Any) -> str:
    body = response.content.decode()
    lists = re.findall(r'<ul class="errorlist[^"]*"[^>]*>(.*?)</ul>', body, re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", " ".join(lists)))


def version() -> int:
    row = ConfigVersion.objects.filter(pk=1).first()
    return row.version if row else 0


def vid(n: int) -> str:
    return f"{n:032x}"


@pytest.fixture
def products() -> dict[str, Product]:
    food = Category.objects.create(name="Cat food", slug="cat-food", position=0)
    toys = Category.objects.create(name="Dog toys", slug="dog-toys", position=1)
    now = timezone.now()
    names = {
        "kibble": (food, "Salmon kibble", 12),
        "pouches": (food, "Tuna pouches", 8),
        "treats": (food, "Chicken treats", 5),
        "bowl": (food, "Steel food bowl", 15),
        "ball": (toys, "Squeaky ball", 6),
        "rope": (toys, "Rope tug", 9),
    }
    return {
        key: Product.objects.create(
            category=category,
            name=name,
            slug=key,
            price=Decimal(price),
            stock=10,
            created_at=now - timedelta(days=40 - index),
        )
        for index, (key, (category, name, price)) in enumerate(names.items())
    }


def view(n: int, product: Product, at: datetime) -> HistoricalEvent:
    return HistoricalEvent(
        vid(n), "product_view", at, {"product_id": str(product.pk), "category": "x"}
    )


def order(n: int, items: list[Product], at: datetime) -> HistoricalEvent:
    lines = [{"product_id": str(p.pk), "price": float(p.price), "quantity": 1} for p in items]
    return HistoricalEvent(
        vid(n),
        "purchase",
        at,
        {"order_id": f"o{n}", "value": sum(float(p.price) for p in items), "items": lines},
    )


@pytest.fixture
def trained(products: dict[str, Product]) -> TrainedModel:
    """Kibble is bought with pouches (5 orders) and treats (3); views link the dog toys."""
    at = timezone.now() - timedelta(days=2)
    kibble, pouches, treats = products["kibble"], products["pouches"], products["treats"]
    events = []
    for n in range(1, 6):
        events += [view(n, kibble, at), view(n, pouches, at), order(n, [kibble, pouches], at)]
    for n in range(6, 9):
        events += [view(n, kibble, at), view(n, treats, at), order(n, [kibble, treats], at)]
    for n in range(9, 12):
        events += [view(n, products["ball"], at), view(n, products["rope"], at)]
    events += [
        view(12, products["ball"], at),
        HistoricalEvent(
            SHOPPER,
            "product_view",
            at,
            {"product_id": str(products["ball"].pk), "category": "dog-toys"},
        ),
        HistoricalEvent(
            SHOPPER,
            "add_to_cart",
            at + timedelta(minutes=1),
            {"product_id": str(products["bowl"].pk), "price": 15, "quantity": 1},
        ),
    ]
    import_history(events)
    train()
    return TrainedModel.objects.get(is_active=True)


def make_widget(**fields: Any) -> Widget:
    defaults: dict[str, Any] = {
        "slot": "product-bought",
        "name": "Product page: bought together",
        "title": "Frequently bought together",
        "strategy": Strategy.BOUGHT_TOGETHER,
        "fallback": "",
        "count": 4,
        "minimum": 1,
    }
    return Widget.objects.create(**{**defaults, **fields})


def rec_events(slot: str, views: int, clicks: int, at: datetime) -> list[HistoricalEvent]:
    events = [
        HistoricalEvent(vid(500 + n), "rec_view", at, {"widget": slot, "strategy": "similar"})
        for n in range(views)
    ]
    events += [
        HistoricalEvent(
            vid(500 + n),
            "rec_click",
            at,
            {"widget": slot, "product_id": "1", "position": 1, "strategy": "similar"},
        )
        for n in range(clicks)
    ]
    return events


def form_data(
    widget: Widget | None = None, rules: list[dict[str, Any]] | None = None, **fields: Any
) -> dict[str, Any]:
    """A complete, valid POST for the change form; ``fields`` replace widget fields."""
    data: dict[str, Any] = {
        "name": "Home: for you",
        "slot": "home",
        "title": "Recommended for you",
        "is_active": "on",
        "strategy": "personalised",
        "fallback": "bestsellers",
        "count": "4",
        "minimum": "2",
        "exclude_cart": "on",
        "exclude_out_of_stock": "on",
        "attribution_days": "7",
        "holdout_percent": "0",
    }
    data.update(fields)
    existing = list(widget.rules.order_by("order", "pk")) if widget else []
    rows = rules or []
    data.update(
        {
            "rules-TOTAL_FORMS": str(max(len(rows), len(existing))),
            "rules-INITIAL_FORMS": str(len(existing)),
            "rules-MIN_NUM_FORMS": "0",
            "rules-MAX_NUM_FORMS": "1000",
        }
    )
    for index, row in enumerate(rows):
        values = {"order": "0", "segment": "", "strategy": "bestsellers", "title": "", **row}
        if index < len(existing):
            values["id"] = str(existing[index].pk)
            values["widget"] = str(widget.pk) if widget else ""
        for name, value in values.items():
            data[f"rules-{index}-{name}"] = value
    return data


def make_segment(slug: str, condition: dict[str, Any], name: str = "") -> Segment:
    return Segment.objects.create(name=name or slug.title(), slug=slug, condition=condition)


# --- change list ----------------------------------------------------------------------------


def test_changelist_shows_numbers_links_and_training_banner(
    admin_client: Client, trained: TrainedModel
) -> None:
    widget = make_widget()
    make_widget(slot="home", name="Home", strategy=Strategy.PERSONALISED, fallback="bestsellers")
    segment = make_segment("dog-people", {"top_category": "dog-toys"})
    WidgetRule.objects.create(widget=widget, segment=segment, strategy=Strategy.SIMILAR)
    now = timezone.now()
    import_history(
        rec_events("product-bought", 200, 7, now - timedelta(days=1))
        + rec_events("product-bought", 50, 50, now - timedelta(days=40))  # too old
        + rec_events("elsewhere", 10, 1, now - timedelta(days=1))
    )
    response = admin_client.get(LIST_URL)
    assert response.status_code == 200
    page = plain(response)
    assert "Product page: bought together product-bought Bought together 1" in page
    assert "For you else Bestsellers" in page
    assert " 200 7 3.5% Preview · Results" in page  # views, clicks, CTR of the last 30 days
    assert f"{LIST_URL}{widget.pk}/preview/" in text_of(response)
    assert f"{LIST_URL}{widget.pk}/results/" in text_of(response)
    assert re.search(r'<td class="field-rules_count">1</td>', text_of(response))
    assert re.search(r'<td class="field-active"><img src="[^"]*icon-yes.svg"', text_of(response))
    banner = re.search(
        r'<ul class="messagelist pz-training"[^>]*>\s*<li class="info">(.*?)</li>',
        text_of(response),
        re.S,
    )
    assert banner is not None
    events = trained.events
    assert f"Trained just now from {events:,} events; 6 products" in banner.group(1)
    assert "Training history" in banner.group(1)


def test_changelist_queries_do_not_grow_with_widgets(
    admin_client: Client, django_assert_max_num_queries: Any
) -> None:
    make_widget()
    admin_client.get(LIST_URL)  # session and user rows warmed up
    cache.clear()
    with CaptureQueriesContext(connection) as few:
        assert admin_client.get(LIST_URL).status_code == 200
    for n in range(12):
        make_widget(slot=f"slot-{n}", name=f"Widget {n}")
    import_history(rec_events("slot-3", 4, 1, timezone.now()))
    cache.clear()
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = admin_client.get(LIST_URL)
    assert "25.0%" in plain(response)


def test_list_stats_one_grouped_query_then_the_cache(django_assert_num_queries: Any) -> None:
    now = timezone.now()
    import_history(rec_events("a", 3, 1, now) + rec_events("b", 2, 0, now))
    with django_assert_num_queries(1):
        stats = rec_admin.list_stats(["a", "b", "c"])
    assert stats["a"] == rec_admin.WidgetStats(3, 1)
    assert stats["a"].ctr == pytest.approx(1 / 3)
    assert stats["b"].ctr == 0.0
    assert stats["c"] == rec_admin.WidgetStats(0, 0) and stats["c"].ctr is None
    with django_assert_num_queries(0):
        assert rec_admin.list_stats(["a", "c"])["a"].views == 3


@pytest.mark.django_db(databases=DATABASES)
@pytest.mark.parametrize("alias", ["default", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_list_stats_on_each_database(alias: str, django_assert_num_queries: Any) -> None:
    if alias not in django_settings.DATABASES:
        pytest.skip("PostgreSQL not available")  # the conftest fails this in CI instead
    now = timezone.now()
    rows = [
        ("rec_view", {"widget": "home"}, now),
        ("rec_view", {"widget": "home"}, now - timedelta(days=29)),
        ("rec_view", {"widget": "home"}, now - timedelta(days=31)),  # too old
        ("rec_click", {"widget": "home", "product_id": "7", "position": 1}, now),
        ("rec_view", {"widget": "123"}, now),  # a slot JSON would read as a number
        ("rec_view", {"widget": "other"}, now),
        ("product_view", {"product_id": "7"}, now),
    ]
    Event.objects.using(alias).bulk_create(
        Event(event_id=f"e{n}", visitor_id=vid(n), name=name, props=props, occurred_at=at)
        for n, (name, props, at) in enumerate(rows)
    )
    with (
        override_settings(PERSONALIZE_DATABASE_ALIAS=alias),
        django_assert_num_queries(1, using=alias),
    ):
        stats = rec_admin.list_stats(["home", "123", "none"])
    assert stats == {
        "home": rec_admin.WidgetStats(2, 1),
        "123": rec_admin.WidgetStats(1, 0),
        "none": rec_admin.WidgetStats(0, 0),
    }


def test_banner_says_when_nothing_is_trained(admin_client: Client) -> None:
    make_widget()
    page = plain(admin_client.get(LIST_URL))
    assert "No trained model yet: run manage.py personalize_train." in page
    assert "No trained model yet" in plain(admin_client.get(ADD_URL))


def test_training_status_texts() -> None:
    now = timezone.now()
    model = TrainedModel(created_at=now - timedelta(hours=3), events=68061, items=326, visitors=1)
    status = rec_admin.TrainingStatus(model, now)
    assert status.text.startswith(
        "Trained 3 hours ago from 68,061 events; 326 products, 1 shopper."
    )
    assert status.tone == "info" and not status.stale
    old = rec_admin.TrainingStatus(model, now + timedelta(days=3))
    assert (
        old.stale and old.tone == "warning" and "run manage.py personalize_train again" in old.text
    )
    empty = rec_admin.TrainingStatus(TrainedModel(created_at=now, events=0), now)
    assert empty.tone == "warning" and "No product views" in empty.text
    none = rec_admin.TrainingStatus(None, now)
    assert none.tone == "warning" and not none.trained


def test_filters_search_and_actions(
    admin_client: Client, django_capture_on_commit_callbacks: Any
) -> None:
    on = make_widget()
    off = make_widget(
        slot="cart", name="Cart cross-sell", strategy="cart_cross_sell", is_active=False
    )

    def listed(query: str) -> list[str]:
        body = text_of(admin_client.get(LIST_URL + query))
        return re.findall(r'<th class="field-name"><a href="[^"]*">([^<]*)</a>', body)

    assert listed("?is_active__exact=1") == ["Product page: bought together"]
    assert listed("?strategy=cart_cross_sell") == ["Cart cross-sell"]
    assert listed("?q=cart") == ["Cart cross-sell"]
    before = version()
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            LIST_URL,
            {"action": "activate_widgets", "_selected_action": [on.pk, off.pk]},
            follow=True,
        )
    assert "Activated 1 widget(s)." in plain(response)
    assert Widget.objects.filter(is_active=True).count() == 2
    assert version() > before
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            LIST_URL, {"action": "deactivate_widgets", "_selected_action": [on.pk]}, follow=True
        )
    assert "Deactivated 1 widget(s): their slots now render nothing." in plain(response)
    assert not Widget.objects.get(pk=on.pk).is_active


# --- change form ----------------------------------------------------------------------------


def test_add_form_groups_fields_and_explains_strategies(admin_client: Client) -> None:
    response = admin_client.get(ADD_URL)
    assert response.status_code == 200
    body = text_of(response)
    headings = re.findall(r'<h2 id="fieldset-[^"]*"[^>]*>(.*?)</h2>', body)
    assert headings[:4] == ["What", "Which products", "Leave out", "Measurement"]
    guide = plain(response)
    assert "Which strategy where?" in guide
    assert (
        "Frequently bought together Products bought in the same orders as the product on "
        "screen. Product pages, the added-to-cart confirmation." in guide
    )
    assert "Cart cross-sell (bought with the cart's items) Products bought together" in guide
    assert 'name="rules-TOTAL_FORMS"' in body  # the per-segment rules inline
    assert 'data-model-name="segment"' in body or "admin-autocomplete" in body


def test_every_strategy_is_explained() -> None:
    assert set(rec_admin.STRATEGY_GUIDE) == set(Strategy.values)
    assert set(rec_admin.SHORT_LABELS) == set(Strategy.values)


def test_create_a_widget_with_rules(
    admin_client: Client, django_capture_on_commit_callbacks: Any
) -> None:
    dogs = make_segment("dog-people", {"top_category": "dog-toys"})
    new = make_segment("first-timers", {"visit_count": 1})
    before = version()
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            ADD_URL,
            form_data(
                rules=[
                    {
                        "order": "1",
                        "segment": str(new.pk),
                        "strategy": "bestsellers",
                        "title": "Popular now",
                    },
                    {"order": "0", "segment": str(dogs.pk), "strategy": "similar", "title": ""},
                ]
            ),
            follow=True,
        )
    assert response.status_code == 200, form_errors(response)
    widget = Widget.objects.get(slot="home")
    assert (widget.strategy, widget.fallback, widget.count, widget.minimum) == (
        "personalised",
        "bestsellers",
        4,
        2,
    )
    rules = [(r.segment.slug, r.strategy, r.title) for r in widget.rules.all()]
    assert rules == [("dog-people", "similar", ""), ("first-timers", "bestsellers", "Popular now")]
    assert version() > before
    # Saved before any training: a warning, not an error.
    assert "No trained model yet: run manage.py personalize_train" in plain(response)


def test_change_a_widget_and_its_rules(admin_client: Client, trained: TrainedModel) -> None:
    widget = make_widget(slot="home", strategy="personalised", fallback="bestsellers")
    dogs = make_segment("dog-people", {"top_category": "dog-toys"})
    WidgetRule.objects.create(widget=widget, segment=dogs, strategy="similar")
    response = admin_client.post(
        f"{LIST_URL}{widget.pk}/change/",
        form_data(
            widget,
            rules=[{"segment": str(dogs.pk), "strategy": "trending", "title": "Hot for dogs"}],
            slot="home-page",
            count="6",
        ),
        follow=True,
    )
    assert response.status_code == 200, form_errors(response)
    widget.refresh_from_db()
    assert (widget.slot, widget.count) == ("home-page", 6)
    assert [(r.strategy, r.title) for r in widget.rules.all()] == [("trending", "Hot for dogs")]
    page = plain(response)
    assert (
        'The slot changed from “home” to “home-page”: update {% recommendations "home" %}' in page
    )
    assert "No trained model yet" not in page


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        (
            {"count": "3", "minimum": "5"},
            "minimum",
            "The minimum (5) cannot exceed the item count (3): lower the minimum or show "
            "more items.",
        ),
        (
            {"strategy": "bestsellers", "fallback": "bestsellers"},
            "fallback",
            "Pick a different fallback strategy, or none.",
        ),
        (
            {"slot": "Product Page!"},
            "slot",
            "only contain letters, digits, hyphens and underscores: try “product-page”.",
        ),
        ({"count": "30"}, "count", "less than or equal to 24"),
        ({"attribution_days": "0"}, "attribution_days", "greater than or equal to 1"),
    ],
)
def test_field_errors_name_the_field_and_the_fix(
    admin_client: Client, fields: dict[str, str], field: str, message: str
) -> None:
    response = admin_client.post(ADD_URL, form_data(**fields))
    assert response.status_code == 200
    assert not Widget.objects.exists()
    match = re.search(
        rf'<ul class="errorlist"[^>]*id="id_{field}_error">(.*?)</ul>', text_of(response), re.S
    )
    assert match is not None, form_errors(response)
    assert message in match.group(1)


def test_a_segment_can_only_have_one_rule(admin_client: Client) -> None:
    dogs = make_segment("dog-people", {"top_category": "dog-toys"}, name="Dog people")
    response = admin_client.post(
        ADD_URL,
        form_data(
            rules=[
                {"order": "0", "segment": str(dogs.pk), "strategy": "similar"},
                {"order": "1", "segment": str(dogs.pk), "strategy": "trending"},
            ]
        ),
    )
    assert response.status_code == 200
    assert not Widget.objects.exists()
    assert (
        "“Dog people” already has a rule above (Similar items); only the first rule that "
        "matches a visitor counts, so this one would never apply." in form_errors(response)
    )


# --- preview --------------------------------------------------------------------------------


def preview_url(widget: Widget) -> str:
    return f"{LIST_URL}{widget.pk}/preview/"


def test_preview_for_a_product(
    admin_client: Client, trained: TrainedModel, products: dict[str, Product]
) -> None:
    widget = make_widget()
    response = admin_client.get(preview_url(widget), {"product": products["kibble"].pk})
    assert response.status_code == 200
    body = text_of(response)
    assert 'href="/static/personalize/runtime.css"' in body
    section = re.search(r'<section class="pz-recs[^"]*".*?</section>', body, re.S)
    assert section is not None
    assert "data-pz-endpoint" not in section.group(0)  # previews never count
    assert section.group(0).index("Tuna pouches") < section.group(0).index("Chicken treats")
    assert "Salmon kibble" not in section.group(0)  # the product on screen
    page = plain(response)
    assert (
        "Strategy Frequently bought together with the title “Frequently bought together”: "
        "the widget's own." in page
    )
    assert "2 of 4 places filled; no fallback is set." in page
    assert "Left out: the product on screen, products in the cart, out-of-stock products." in page
    assert "Few orders contain this product together with others yet." in page
    # Suggestions: bestsellers first, then the rest of the catalogue.
    options = re.findall(r'<option value="(\d+)" label="([^"]*)">', body)
    assert options[0] == (str(products["kibble"].pk), "Salmon kibble · cat-food")
    assert len(options) == 6
    assert '<option value="dog-toys">' in body


def test_preview_shows_what_the_fallback_filled(
    admin_client: Client, trained: TrainedModel, products: dict[str, Product]
) -> None:
    widget = make_widget(fallback="new_arrivals", count=3, minimum=2)
    response = admin_client.get(preview_url(widget), {"product": products["kibble"].pk})
    page = plain(response)
    assert "3 of 3 places filled, 1 of them by the fallback (New arrivals)." in page
    assert "It would hide with fewer than 2 products." in page
    rows = re.findall(r"<tr>\s*<td class=\"pz-num\">(\d)</td>(.*?)</tr>", text_of(response), re.S)
    chosen = [re.sub(r"<[^>]+>", "", cells).split()[-1] for _, cells in rows]
    assert chosen == ["together", "together", "arrivals"]
    assert "Rope tug" in rows[2][1]  # the newest product


def test_preview_hidden_below_the_minimum_says_why(
    admin_client: Client, trained: TrainedModel, products: dict[str, Product]
) -> None:
    widget = make_widget(count=4, minimum=3)
    page = plain(admin_client.get(preview_url(widget), {"product": products["kibble"].pk}))
    assert (
        "Hidden: only 2 products found, fewer than the minimum of 3, so shoppers see nothing "
        "here rather than a half-empty box." in page
    )
    assert "Products, in order" not in page
    page = plain(admin_client.get(preview_url(widget)))
    assert "Hidden: no products found, so shoppers see nothing here." in page
    assert (
        "starts from the product on screen (or the visitor's latest viewed products): "
        "enter a product id." in page
    )


def test_preview_as_a_segment_uses_its_rule(
    admin_client: Client, trained: TrainedModel, products: dict[str, Product]
) -> None:
    widget = make_widget(slot="home", strategy="new_arrivals", title="New in", fallback="")
    buyers = make_segment("buyers", {"orders_count": {"$gte": 1}}, name="Buyers")
    make_segment("unused", {}, name="Unused")
    WidgetRule.objects.create(
        widget=widget, segment=buyers, strategy="bestsellers", title="Best for you"
    )
    response = admin_client.get(preview_url(widget))
    body = text_of(response)
    assert re.search(
        r'<optgroup label="Segments with a rule on this widget">\s*'
        r'<option value="buyers">Buyers \(rule: Bestsellers\)',
        body,
    )
    assert '<optgroup label="Other segments (the widget\'s own strategy)">' in body
    assert (
        "Strategy New arrivals with the title “New in”: the widget's own (no segment rule applies)."
        in plain(response)
    )
    response = admin_client.get(preview_url(widget), {"segment": "buyers"})
    page = plain(response)
    assert (
        "Strategy Bestsellers with the title “Best for you”: the rule for segment “Buyers”." in page
    )
    section = re.search(r'<section class="pz-recs.*?</section>', text_of(response), re.S)
    assert section is not None and "Best for you" in section.group(0)
    assert section.group(0).index("Salmon kibble") < section.group(0).index("Tuna pouches")
    page = plain(admin_client.get(preview_url(widget), {"segment": "unused"}))
    assert "the widget's own, as segment “Unused” has no rule here." in page


def test_preview_for_a_visitor_uses_their_history_cart_and_segments(
    admin_client: Client, trained: TrainedModel, products: dict[str, Product]
) -> None:
    widget = make_widget(slot="home", strategy="personalised", title="For you", fallback="")
    carts = make_segment("cart-holders", {"cart.items": {"$gte": 1}}, name="Cart holders")
    WidgetRule.objects.create(
        widget=widget, segment=carts, strategy="recently_viewed", title="Seen lately"
    )
    response = admin_client.get(preview_url(widget), {"visitor": SHOPPER})
    assert response.status_code == 200, form_errors(response)
    page = plain(response)
    assert (
        "Strategy Recently viewed with the title “Seen lately”: the rule for segment "
        "“Cart holders”, as the visitor is in it." in page
    )
    assert "The visitor: 1 product viewed, 1 in the cart, 0 orders; in segments: " in page
    assert "Cart holders" in page
    section = re.search(r'<section class="pz-recs.*?</section>', text_of(response), re.S)
    assert section is not None and "Squeaky ball" in section.group(0)
    # Their personal recommendations, with the rule overridden by a chosen segment.
    WidgetRule.objects.all().delete()
    response = admin_client.get(preview_url(widget), {"visitor": SHOPPER})
    section = re.search(r'<section class="pz-recs.*?</section>', text_of(response), re.S)
    assert section is not None and "Rope tug" in section.group(0)
    assert "Steel food bowl" not in section.group(0)  # in their cart
    assert "cold start" not in plain(response)
    # The same widget for a first-time visitor: trending products, said so.
    assert "cold start" in plain(admin_client.get(preview_url(widget)))


def test_preview_cart_cross_sell_needs_a_cart(admin_client: Client, trained: TrainedModel) -> None:
    widget = make_widget(slot="cart", strategy="cart_cross_sell", fallback="")
    page = plain(admin_client.get(preview_url(widget)))
    assert "Cart cross-sell starts from the cart: enter a visitor who has items in theirs." in page


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ({"product": "999999"}, "product", "No product with id “999999”."),
        ({"product": "not a number"}, "product", "No product with id “not a number”."),
        ({"product": "9" * 40}, "product", "No product with id"),
        ({"category": "cat food!"}, "category", "A category is written as in the shop's URLs"),
        ({"visitor": "f" * 32}, "visitor", f"No visitor profile found for “{'f' * 32}”."),
        ({"visitor": "nobody@example.com"}, "visitor", "or the email of a customer"),
        ({"segment": "no-such-segment"}, "segment", "Pick a segment from the list."),
    ],
)
def test_preview_bad_inputs_are_form_errors(
    admin_client: Client,
    products: dict[str, Product],
    query: dict[str, str],
    field: str,
    message: str,
) -> None:
    widget = make_widget()
    response = admin_client.get(preview_url(widget), query)
    assert response.status_code == 200
    row = re.search(
        rf'<div class="form-row errors field-{field}">(.*?)</div>', text_of(response), re.S
    )
    assert row is not None
    assert message in row.group(1)
    assert "What the shopper sees" not in plain(response)


def test_preview_of_an_inactive_widget_says_so(admin_client: Client) -> None:
    widget = make_widget(is_active=False)
    page = plain(admin_client.get(preview_url(widget)))
    assert "This widget is inactive: shoppers see nothing in the “product-bought” slot" in page
    assert "No trained model yet: run manage.py personalize_train." in page


def test_preview_without_a_product_model_explains(admin_client: Client) -> None:
    widget = make_widget()
    with override_settings(PERSONALIZE_PRODUCT_MODEL=""):
        response = admin_client.get(preview_url(widget), {"product": "1"})
    assert response.status_code == 200
    assert (
        "The preview cannot read the product catalogue: PERSONALIZE_PRODUCT_MODEL is not set"
        in (plain(response))
    )


# --- results --------------------------------------------------------------------------------


def test_results_page_with_a_choice_of_period(admin_client: Client) -> None:
    widget = make_widget()
    import_history(rec_events("product-bought", 10, 2, timezone.now() - timedelta(days=20)))
    response = admin_client.get(f"{LIST_URL}{widget.pk}/results/")
    assert response.status_code == 200
    body = text_of(response)
    assert 'aria-current="page">30 days</a>' in body
    assert "Results: the last 30 days" in plain(response)
    assert re.search(r"Views\s*</th>\s*<td class=\"pz-num\">10</td>", body)
    response = admin_client.get(f"{LIST_URL}{widget.pk}/results/", {"days": "7"})
    assert 'aria-current="page">7 days</a>' in text_of(response)
    assert "No one has seen this widget in the last 7 days." in plain(response)
    for bad in ("0", "abc", "-1", "9" * 30):
        response = admin_client.get(f"{LIST_URL}{widget.pk}/results/", {"days": bad})
        assert response.status_code == 200
        assert "Results: the last 30 days" in plain(response)


def test_pages_need_staff_and_unknown_widgets_are_404(admin_client: Client) -> None:
    widget = make_widget()
    for suffix in ("preview/", "results/"):
        assert Client().get(f"{LIST_URL}{widget.pk}/{suffix}").status_code == 302
        assert admin_client.get(f"{LIST_URL}999/{suffix}").status_code == 404


def test_merchandiser_text_is_escaped(admin_client: Client, products: dict[str, Product]) -> None:
    xss = '<script>alert("x")</script>'
    widget = make_widget(name=xss, title=xss, strategy="new_arrivals")
    for url in (LIST_URL, preview_url(widget), f"{LIST_URL}{widget.pk}/results/"):
        assert "<script>alert" not in admin_client.get(url).content.decode()


# --- trained models -------------------------------------------------------------------------


def test_trained_models_are_listed_read_only(admin_client: Client, trained: TrainedModel) -> None:
    response = admin_client.get(MODELS_URL)
    assert response.status_code == 200
    page = plain(response)
    assert f"{trained.events:,}" in page and "database" in page
    assert "Trained just now" in page  # the banner
    assert "Each row is one run of manage.py personalize_train" in page
    response = admin_client.get(f"{MODELS_URL}{trained.pk}/change/")
    assert response.status_code == 200
    page = plain(response)
    assert "Table Products Pairs Similar items 6 8 Viewed together 6 8 Bought together 3 4" in page
    assert "Bestsellers" in page and "What it learnt from" in page
    assert "6 of 6" in page  # products with activity, of the catalogue
    assert 'name="_save"' not in text_of(response)
    assert admin_client.get(f"{MODELS_URL}add/").status_code == 403
    assert admin_client.post(f"{MODELS_URL}{trained.pk}/delete/").status_code == 403
    assert TrainedModel.objects.filter(pk=trained.pk).exists()


@pytest.mark.django_db
def test_buy_again_cannot_leave_out_what_was_bought() -> None:
    from django.core.exceptions import ValidationError

    from personalize.models import Widget

    widget = Widget(
        slot="usual",
        name="Usual",
        title="Your usual",
        strategy="buy_again",
        fallback="",
        exclude_purchased=True,
    )
    with pytest.raises(ValidationError) as error:
        widget.full_clean()
    assert "exclude_purchased" in error.value.message_dict
    assert "untick" in error.value.message_dict["exclude_purchased"][0]


@pytest.mark.django_db
def test_a_campaign_variant_names_an_existing_widget_slot() -> None:
    from personalize.campaigns.forms import VariantForm

    Widget.objects.create(slot="usual", name="Usual", title="Your usual", strategy="buy_again")
    data = {"key": "a", "weight": 1, "title": "Running low?", "products": "nope"}
    form = VariantForm(data=data)
    assert not form.is_valid()
    assert "No recommendation widget has the slot “nope”" in form.errors["products"][0]
    assert "usual" in form.errors["products"][0]
    form = VariantForm(data={**data, "products": "usual"})
    assert form.is_valid(), form.errors
