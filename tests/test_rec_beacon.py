"""The events API takes recommendation widget events beside campaign events."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from personalize import configuration
from personalize.campaigns.models import Campaign, Variant
from personalize.models import Event, Widget
from personalize.recommendations.beacon import active_widget_slots

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.urls")]

UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36"
VIEW = {
    "type": "rec_view",
    "widget": "product-detail",
    "strategy": "viewed_together",
    "count": 4,
    "path": "/products/7/",
}
CLICK = {
    "type": "rec_click",
    "widget": "product-detail",
    "strategy": "viewed_together",
    "product_id": "12",
    "position": 2,
    "path": "/products/7/",
}


@pytest.fixture
def widget() -> Widget:
    return Widget.objects.create(
        slot="product-detail", name="PDP", title="Customers also viewed", strategy="similar"
    )


@pytest.fixture
def shopper() -> Client:
    return Client(headers={"User-Agent": UA, "Accept": "text/html", "Sec-Fetch-Dest": "document"})


def token_of(client: Client) -> str:
    html = client.get("/shop/").content.decode()
    found = re.search(r'data-pz-token="([^"]+)"', html)
    assert found is not None
    return found.group(1)


def report(client: Client, events: list[Any]) -> Any:
    body = json.dumps({"token": token_of(client), "events": events})
    return client.post(
        "/personalize/api/events/",
        body,
        content_type="text/plain",
        headers={"Origin": "http://testserver"},
    )


def errors_of(response: Any) -> Any:
    """The errors of the first refused event."""
    assert response.status_code == 400, response.content
    return next(e for e in response.json()["events"] if e)


def logged(name: str) -> list[dict[str, Any]]:
    return list(Event.objects.filter(name=name).values_list("props", flat=True))


def test_views_and_clicks_are_logged_with_campaign_events(widget: Widget, shopper: Client) -> None:
    campaign = Campaign.objects.create(name="Promo", slug="promo", kind="popup", status="active")
    Variant.objects.create(campaign=campaign, key="a", weight=1, title="Hi", body="<p>Hi</p>")
    configuration.bump()
    impression = {"type": "impression", "campaign": "promo", "variant": "a"}
    response = report(shopper, [VIEW, CLICK, impression])
    assert response.status_code == 200, response.content
    assert response.json() == {"accepted": 3}
    assert logged("rec_view") == [
        {
            "widget": "product-detail",
            "strategy": "viewed_together",
            "count": 4,
            "path": "/products/7/",
        }
    ]
    assert logged("rec_click") == [
        {
            "widget": "product-detail",
            "strategy": "viewed_together",
            "product_id": "12",
            "position": 2,
            "path": "/products/7/",
        }
    ]
    assert logged("campaign_impression") == [
        {"campaign": "promo", "variant": "a", "kind": "popup", "path": ""}
    ]


def test_optional_props_may_be_left_out_and_ids_may_be_numbers(
    widget: Widget, shopper: Client
) -> None:
    click = {"type": "rec_click", "widget": "product-detail", "product_id": 12, "position": 1}
    view = {"type": "rec_view", "widget": "product-detail", "strategy": ""}
    assert report(shopper, [view, click]).status_code == 200
    assert logged("rec_view") == [{"widget": "product-detail"}]
    assert logged("rec_click") == [{"widget": "product-detail", "product_id": "12", "position": 1}]


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"type": "rec_hover"}, "type", "Unknown event type 'rec_hover'"),
        ({"type": ["rec_view"]}, "type", "Unknown event type"),
        ({"widget": "sidebar"}, "widget", "Not an active widget: 'sidebar'"),
        ({"widget": "no spaces"}, "widget", "letters, numbers, underscores or hyphens"),
        ({"position": 0}, "position", "from 1 (the first item) to 100"),
        ({"position": 101}, "position", "from 1 (the first item) to 100"),
        ({"position": "first"}, "position", "A valid integer is required"),
        ({"position": None}, "position", "may not be null"),
        ({"product_id": ""}, "product_id", "may not be blank"),
        ({"product_id": "x" * 65}, "product_id", "no more than 64 characters"),
        ({"strategy": "magic"}, "strategy", '"magic" is not a valid choice'),
    ],
)
def test_bad_clicks_get_errors_named_after_the_field(
    widget: Widget, shopper: Client, change: dict[str, Any], field: str, message: str
) -> None:
    errors = errors_of(report(shopper, [VIEW, {**CLICK, **change}]))
    assert message in " ".join(errors[field])
    assert not logged("rec_view")  # a bad report is refused whole


def test_other_bad_reports_are_400s_never_500s(
    widget: Widget, shopper: Client, django_capture_on_commit_callbacks: Any
) -> None:
    assert "count" in errors_of(report(shopper, [{**VIEW, "count": 0}]))
    no_product = {k: v for k, v in CLICK.items() if k != "product_id"}
    assert "product_id" in errors_of(report(shopper, [no_product]))
    assert "non_field_errors" in errors_of(report(shopper, ["rec_view"]))
    assert errors_of(report(shopper, [None])) == ["This field may not be null."]
    assert "widget" not in errors_of(report(shopper, [VIEW, {**CLICK, "position": 0}]))
    with django_capture_on_commit_callbacks(execute=True):
        widget.is_active = False
        widget.save()  # bumps the configuration version once committed
    assert "widget" in errors_of(report(shopper, [VIEW]))


def test_a_slot_too_long_for_the_log_is_a_clear_400(shopper: Client) -> None:
    slot = "w" * 70
    Widget.objects.create(slot=slot, name="Long", title="Long")
    errors = errors_of(report(shopper, [{**VIEW, "widget": slot}]))
    assert "no more than 64 characters" in errors["widget"][0]
    # And the admin never saves such a slot in the first place.
    with pytest.raises(ValidationError) as error:
        Widget(slot=slot, name="Long", title="Long").full_clean()
    assert "slot" in error.value.message_dict


def test_cross_origin_and_foreign_tokens_are_still_refused(widget: Widget, shopper: Client) -> None:
    body = json.dumps({"token": token_of(shopper), "events": [VIEW]})
    evil = shopper.post(
        "/personalize/api/events/",
        body,
        content_type="text/plain",
        headers={"Origin": "https://evil.example"},
    )
    assert evil.status_code == 403
    other = Client(headers={"User-Agent": UA, "Accept": "text/html", "Sec-Fetch-Dest": "document"})
    body = json.dumps({"token": token_of(other), "events": [VIEW]})
    foreign = shopper.post(
        "/personalize/api/events/",
        body,
        content_type="text/plain",
        headers={"Origin": "http://testserver"},
    )
    assert foreign.status_code == 403
    assert not logged("rec_view")


def test_active_slots_cost_no_query_once_compiled_and_follow_changes(
    widget: Widget, django_assert_num_queries: Any, django_capture_on_commit_callbacks: Any
) -> None:
    Widget.objects.create(slot="cart", name="Cart", title="Add these", is_active=False)
    assert active_widget_slots() == frozenset({"product-detail"})
    with django_assert_num_queries(0):
        for _ in range(3):
            assert "product-detail" in active_widget_slots()
    with django_capture_on_commit_callbacks(execute=True):
        widget.delete()  # bumps the configuration version once committed
    assert active_widget_slots() == frozenset()
