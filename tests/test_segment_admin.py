"""The segment admin, the "test against a visitor" view, static members and the RFM report."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from personalize.models import ConfigVersion, RFMReport, Segment, SegmentMember
from personalize.profiles.base import StoreUnavailable
from personalize.segments import csv_import
from personalize.tracking.history import HistoricalEvent, import_history
from tests.pages import plain, text_of

pytestmark = pytest.mark.django_db

LIST_URL = "/admin/personalize/segment/"
ADD_URL = "/admin/personalize/segment/add/"
RFM_URL = "/admin/personalize/rfmreport/"
VISITOR = "a" * 32
OTHER_VISITOR = "b" * 32


def change_url(segment: Segment) -> str:
    return f"{LIST_URL}{segment.pk}/change/"


def page_url(segment: Segment, suffix: str) -> str:
    return f"{LIST_URL}{segment.pk}/{suffix}"


def version() -> int:
    row = ConfigVersion.objects.filter(pk=1).first()
    return row.version if row else 0


def make_segment(**fields: Any) -> Segment:
    defaults: dict[str, Any] = {
        "name": "Big carts",
        "slug": "big-carts",
        "condition": {"cart.value": {"$gte": 30}},
    }
    return Segment.objects.create(**{**defaults, **fields})


def form_data(segment: Segment | None = None, /, **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": segment.name if segment else "Big carts",
        "slug": segment.slug if segment else "big-carts",
        "description": "",
        "enabled": "on",
        "position": "100",
    }
    data.update(overrides)
    return data


# --- changelist -------------------------------------------------------------------------


def test_changelist_shows_sizes_members_and_hint(admin_client: Client) -> None:
    estimated = make_segment(
        estimated_size=120,
        estimated_population=1000,
        estimated_at=timezone.now() - timedelta(hours=3),
    )
    make_segment(name="Fresh", slug="fresh")
    make_segment(
        name="Was off",
        slug="was-off",
        estimated_size=None,
        estimated_population=1000,
        estimated_at=timezone.now(),
    )
    make_segment(
        name="Empty shop",
        slug="empty-shop",
        estimated_size=0,
        estimated_population=0,
        estimated_at=timezone.now(),
    )
    SegmentMember.objects.create(segment=estimated, kind="email", value="ann@example.com")
    SegmentMember.objects.create(segment=estimated, kind="user", value="7")
    response = admin_client.get(LIST_URL, {"q": "big carts"})
    assert response.status_code == 200
    body = text_of(response)
    assert "120 of 1,000 visitors (12.0%)" in body
    assert "3 hours ago" in body
    assert '<td class="field-member_count">2</td>' in body
    body = text_of(admin_client.get(LIST_URL))
    assert "not estimated yet — run manage.py personalize_segment_sizes" in body.replace(
        "<code>", ""
    ).replace("</code>", "")
    assert "disabled at the time" in body
    assert "0 of 0 visitors (n/a)" in body


def test_changelist_queries_do_not_grow_with_segments(admin_client: Client) -> None:
    def count_queries() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert admin_client.get(LIST_URL).status_code == 200
        return len(queries)

    before = count_queries()
    for number in range(8):
        segment = make_segment(name=f"S{number}", slug=f"s-{number}")
        SegmentMember.objects.create(segment=segment, kind="user", value=str(number))
    assert count_queries() == before


def test_filters_and_search(admin_client: Client) -> None:
    make_segment()
    body = text_of(admin_client.get(LIST_URL, {"builtin__exact": "0"}))
    assert "Big carts" in body
    assert "New visitors" not in body
    body = text_of(admin_client.get(LIST_URL, {"enabled__exact": "1", "q": "new-visitors"}))
    assert "New visitors" in body


# --- adding and changing ----------------------------------------------------------------


def test_add_segment_with_the_rule_builder(admin_client: Client) -> None:
    data = form_data(
        condition_editor="builder",
        condition="ignored in builder mode",
        **{
            "rb-match": "all",
            "rb-0-type": "rule",
            "rb-0-kind": "cart_value_at_least",
            "rb-0-value": "30",
            "rb-1-type": "group",
            "rb-1-match": "any",
            "rb-1-0-type": "rule",
            "rb-1-0-kind": "device",
            "rb-1-0-value": "mobile",
            "rb-1-1-type": "rule",
            "rb-1-1-kind": "utm_source",
            "rb-1-1-value": "newsletter",
            "rb-1-1-negate": "on",
            "rb-2-type": "rule",
            "rb-2-kind": "in_static_list",
            "rb-2-value": "",
            "rb-3-type": "rule",
            "rb-3-kind": "",
            "rb-4-type": "group",
            "rb-4-match": "all",
        },
    )
    response = admin_client.post(ADD_URL, data)
    assert response.status_code == 302, text_of(response)
    segment = Segment.objects.get(slug="big-carts")
    assert segment.condition == {
        "cart.value": {"$gte": 30},
        "$or": [{"device": "mobile"}, {"utm.source": {"$not": "newsletter"}}],
        "ids": {"$inGroup": "big-carts"},
    }
    assert segment.builtin is False


def test_change_form_shows_the_rules_and_the_json(admin_client: Client) -> None:
    segment = make_segment(
        condition={"is_returning": True, "$or": [{"device": "mobile"}, {"country": "DE"}]}
    )
    response = admin_client.get(change_url(segment))
    assert response.status_code == 200
    body = response.content.decode()
    assert 'name="condition_editor" value="builder" checked' in body
    assert '<option value="is_returning" selected>' in body
    # PostgreSQL's jsonb orders keys by length, so the group may come first.
    group = next(index for index in (0, 1) if f'name="rb-{index}-type" value="group"' in body)
    assert f'name="rb-{group}-1-value" value="DE"' in body
    assert "personalize/admin/rule-builder.js" in body
    assert "Advanced: condition JSON" in body
    assert f"{LIST_URL}{segment.pk}/test/" in body
    assert "Static members (0)" in body
    # No inline scripts or handlers: only src= scripts and JSON data blocks.
    for chunk in body.split("<script")[1:]:
        tag = chunk.split(">", 1)[0]
        assert "src=" in tag or 'type="application/json"' in tag, tag
    assert " onclick=" not in body and " onchange=" not in body


def test_rename_slug_moves_the_static_list_rule(admin_client: Client) -> None:
    segment = make_segment(condition={"ids": {"$inGroup": "big-carts"}})
    data = form_data(
        segment,
        slug="large-carts",
        condition_editor="builder",
        **{"rb-0-type": "rule", "rb-0-kind": "in_static_list", "rb-0-value": "big-carts"},
    )
    assert admin_client.post(change_url(segment), data).status_code == 302
    segment.refresh_from_db()
    assert segment.condition == {"ids": {"$inGroup": "large-carts"}}


def test_change_segment_with_raw_json(admin_client: Client) -> None:
    segment = make_segment()
    condition = '{"tags": {"$size": 2}, "$nor": [{"device": "mobile"}]}'
    response = admin_client.post(
        change_url(segment), form_data(segment, condition_editor="json", condition=condition)
    )
    assert response.status_code == 302
    segment.refresh_from_db()
    assert segment.condition == {"tags": {"$size": 2}, "$nor": [{"device": "mobile"}]}
    # The builder cannot show it: the form says so and offers the JSON only.
    body = text_of(admin_client.get(change_url(segment)))
    assert "features the rule builder cannot show" in body
    assert 'name="condition_editor" value="json"' in body
    assert "rb-0-kind" not in body


def test_json_is_used_when_no_editor_is_named(admin_client: Client) -> None:
    segment = make_segment()
    response = admin_client.post(change_url(segment), form_data(segment, condition=""))
    assert response.status_code == 302
    segment.refresh_from_db()
    assert segment.condition == {}


INVALID_JSON: list[tuple[str, str]] = [
    ('{"cart.value": {"$gte": 30}', "not valid JSON: Expecting ',' delimiter (line 1, column 28)"),
    ("[1, 2]", "the condition must be an object"),
    ('"text"', "got a string"),
    ('{"cart.value": {"$gtx": 30}}', "cart.value: unknown operator '$gtx' (did you mean '$gt'?)"),
    ('{"path": {"$regex": "(unclosed"}}', "invalid regular expression"),
    ('{"tags": {"$in": "cats"}}', "tags: $in needs a list"),
    ('{"visit_count": {"$gte": [1]}}', "$gte needs a number or a string"),
    ('{"cart.value": NaN}', "NaN is not a JSON number"),
    ('{"cart.value": 1e999}', "is too large"),
    ('{"cart.value": ' + "9" * 5000 + "}", "not valid JSON"),
    ("[" * 100_000 + "]" * 100_000, "too long"),
    ("[" * 50_000, "nested too deeply"),
    ('{"$not": ' * 70 + '{"a": 1}' + "}" * 70, "nested more than 64 levels deep"),
    (" " * 100_001, "too long"),
]


@pytest.mark.parametrize(("text", "message"), INVALID_JSON)
def test_invalid_json_gives_a_field_error(admin_client: Client, text: str, message: str) -> None:
    segment = make_segment()
    response = admin_client.post(
        change_url(segment), form_data(segment, condition_editor="json", condition=text)
    )
    assert response.status_code == 200
    body = text_of(response)
    assert message in body
    assert "Please correct the error below." in body
    segment.refresh_from_db()
    assert segment.condition == {"cart.value": {"$gte": 30}}


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"rb-0-kind": "cart_value_at_least", "rb-0-value": "lots"}, "needs a number, e.g. 30"),
        ({"rb-0-kind": "no_such_rule"}, "Choose a rule from the list."),
        ({"rb-0-kind": "attribute", "rb-0-attribute": "bad name"}, "Enter an attribute name"),
        (
            {
                "rb-0-kind": "attribute",
                "rb-0-attribute": "x",
                "rb-0-operator": "gt",
                "rb-0-value": "[1]",
            },
            "needs a number or a text",
        ),
        ({"rb-0-kind": "country", "rb-0-value": "Germany"}, "two-letter country code"),
    ],
)
def test_invalid_rows_are_marked(admin_client: Client, row: dict[str, str], message: str) -> None:
    segment = make_segment()
    data = form_data(segment, condition_editor="builder", **{"rb-0-type": "rule", **row})
    response = admin_client.post(change_url(segment), data)
    assert response.status_code == 200
    body = text_of(response)
    assert message in body
    assert "Fix the rule marked below." in body
    assert "pz-rb-row-error" in body
    segment.refresh_from_db()
    assert segment.condition == {"cart.value": {"$gte": 30}}


def test_too_many_rows(admin_client: Client) -> None:
    segment = make_segment()
    rows = {}
    for index in range(60):
        rows[f"rb-{index}-type"] = "rule"
        rows[f"rb-{index}-kind"] = "is_new"
    response = admin_client.post(
        change_url(segment), form_data(segment, condition_editor="builder", **rows)
    )
    assert response.status_code == 200
    assert "At most 50 rules per group" in text_of(response)


def test_builder_and_other_errors_keep_the_posted_rows(admin_client: Client) -> None:
    make_segment(slug="taken")
    data = form_data(
        None,
        slug="taken",
        condition_editor="builder",
        **{"rb-0-type": "rule", "rb-0-kind": "top_category", "rb-0-value": "cats"},
    )
    response = admin_client.post(ADD_URL, data)
    assert response.status_code == 200
    body = text_of(response)
    assert "Segment with this Slug already exists." in body
    assert 'name="rb-0-value" value="cats"' in body


def test_json_errors_keep_the_posted_rules(admin_client: Client) -> None:
    make_segment(slug="taken")
    data = form_data(
        None, slug="taken", condition_editor="json", condition='{"top_category": "cats"}'
    )
    body = text_of(admin_client.post(ADD_URL, data))
    assert 'name="rb-0-value" value="cats"' in body
    assert 'name="condition_editor" value="json" checked' in body
    body = text_of(admin_client.post(ADD_URL, {**data, "condition": '{"a": {"$size": 1}}'}))
    assert "features the rule builder cannot show" not in body  # the add form had rules
    assert 'name="condition_editor" value="json" checked' in body


def test_builder_without_slug_reports_only_the_slug(admin_client: Client) -> None:
    data = form_data(
        None,
        slug="",
        condition_editor="builder",
        **{"rb-0-type": "rule", "rb-0-kind": "in_static_list"},
    )
    response = admin_client.post(ADD_URL, data)
    assert response.status_code == 200
    body = text_of(response)
    assert "This field is required." in body
    assert "$inGroup needs" not in body


def test_unrepresentable_saved_condition_with_json_error(admin_client: Client) -> None:
    segment = make_segment(condition={"a": {"$size": 1}})
    response = admin_client.post(
        change_url(segment), form_data(segment, condition_editor="json", condition="{bad")
    )
    assert response.status_code == 200
    body = text_of(response)
    assert "not valid JSON" in body
    assert "features the rule builder cannot show" in body


# --- actions and deletion ---------------------------------------------------------------


def run_action(client: Client, action: str, segments: list[Segment], **extra: str) -> Any:
    return client.post(
        LIST_URL,
        {"action": action, "_selected_action": [str(s.pk) for s in segments], **extra},
        follow=True,
    )


def test_enable_and_disable_actions(
    admin_client: Client, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    segment = make_segment(enabled=False)
    start = version()
    with django_capture_on_commit_callbacks(execute=True):
        response = run_action(admin_client, "enable_segments", [segment])
    assert "Enabled 1 segment(s)." in text_of(response)
    segment.refresh_from_db()
    assert segment.enabled
    assert version() > start
    with django_capture_on_commit_callbacks(execute=True):
        response = run_action(admin_client, "disable_segments", [segment])
    assert "Disabled 1 segment(s)." in text_of(response)
    segment.refresh_from_db()
    assert not segment.enabled


def test_duplicate_action_copies_rules_and_members(admin_client: Client) -> None:
    segment = make_segment(condition={"ids": {"$inGroup": "big-carts"}, "device": "mobile"})
    SegmentMember.objects.create(segment=segment, kind="email", value="ann@example.com")
    response = run_action(admin_client, "duplicate_segments", [segment])
    assert "Created 1 disabled copy: Copy of Big carts" in text_of(response)
    run_action(admin_client, "duplicate_segments", [segment])
    copy = Segment.objects.get(slug="big-carts-copy")
    assert copy.name == "Copy of Big carts"
    assert copy.enabled is False
    assert copy.condition == {"ids": {"$inGroup": "big-carts-copy"}, "device": "mobile"}
    assert list(copy.members.values_list("kind", "value")) == [("email", "ann@example.com")]
    assert Segment.objects.filter(slug="big-carts-copy-2").exists()


def test_builtin_segments_cannot_be_deleted(admin_client: Client) -> None:
    builtin = Segment.objects.get(slug="new-visitors")
    response = admin_client.get(f"{LIST_URL}{builtin.pk}/delete/")
    assert response.status_code == 403
    body = admin_client.get(change_url(builtin)).content.decode()
    assert "deletelink" not in body
    own = make_segment()
    assert 'class="deletelink"' in admin_client.get(change_url(own)).content.decode()


def test_bulk_delete_skips_builtins(admin_client: Client) -> None:
    builtin = Segment.objects.get(slug="new-visitors")
    own = make_segment()
    response = run_action(admin_client, "delete_selected", [builtin, own])
    body = text_of(response)
    assert "Built-in segments cannot be deleted" in body
    assert "New visitors" in body
    assert "Are you sure" in body
    response = run_action(admin_client, "delete_selected", [own], post="yes")
    assert "Successfully deleted 1 segment" in text_of(response)
    assert Segment.objects.filter(pk=builtin.pk).exists()
    assert not Segment.objects.filter(pk=own.pk).exists()


def test_bulk_delete_of_only_builtins_does_nothing(admin_client: Client) -> None:
    builtin = Segment.objects.get(slug="new-visitors")
    response = run_action(admin_client, "delete_selected", [builtin])
    body = text_of(response)
    assert "Built-in segments cannot be deleted" in body
    assert "Are you sure" not in body
    assert Segment.objects.filter(pk=builtin.pk).exists()


# --- test against a visitor -------------------------------------------------------------


@pytest.fixture
def shopper() -> str:
    """A returning visitor with €42.50 in the cart, a login and an email."""
    now = datetime.now(tz=UTC)
    events = [
        HistoricalEvent(VISITOR, "page_view", now - timedelta(days=3), path="/c/cats/"),
        HistoricalEvent(
            VISITOR,
            "add_to_cart",
            now - timedelta(minutes=5),
            {"product_id": "p1", "price": 42.5, "quantity": 1, "category": "cats"},
            user_id="7",
        ),
        HistoricalEvent(
            VISITOR, "search", now - timedelta(minutes=4), {"query": "<script>alert(1)</script>"}
        ),
        HistoricalEvent(
            VISITOR, "identify", now - timedelta(minutes=3), {"email": "Shopper@Example.com"}
        ),
    ]
    import_history(events)
    return VISITOR


def test_test_view_explains_each_rule(admin_client: Client, shopper: str) -> None:
    segment = make_segment(
        condition={
            "cart.value": {"$gte": 30},
            "$or": [{"device": "mobile"}, {"is_returning": True}],
        }
    )
    response = admin_client.get(page_url(segment, "test/"), {"visitor": shopper})
    assert response.status_code == 200
    body = text_of(response)
    assert f"✓ Visitor {shopper} is in “Big carts”." in body.replace("<code>", "").replace(
        "</code>", ""
    )
    assert "cart.value = 42.5 ≥ 30" in body
    assert "cart value at least 30" in body
    assert 'device = "desktop" (wanted "mobile")' in body
    assert "is_returning = true" in body
    # The attribute document is shown, escaped.
    raw = response.content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in raw
    assert "<script>alert(1)" not in raw
    assert '"visit_count": 2' in body
    assert "new-visitors" not in body.split("In segments now")[1].split("</dd>")[0]
    assert "returning-visitors" in body


def test_test_view_finds_visitors_by_user_id_and_email(admin_client: Client, shopper: str) -> None:
    segment = make_segment(condition={"cart.value": {"$gte": 100}}, enabled=False)
    for query in ("7", "shopper@example.com", shopper.upper()):
        body = text_of(admin_client.get(page_url(segment, "test/"), {"visitor": query}))
        assert "is not in “Big carts”" in body, query
        assert "This segment is disabled" in body
    user = get_user_model().objects.create_user("ann", "ann@example.com", "pw-123456")
    import_history(
        [
            HistoricalEvent(
                OTHER_VISITOR,
                "page_view",
                datetime.now(tz=UTC),
                user_id=str(user.pk),
            )
        ]
    )
    body = text_of(admin_client.get(page_url(segment, "test/"), {"visitor": "ANN@example.com"}))
    assert OTHER_VISITOR in body


@pytest.mark.parametrize("query", ["f" * 32, "999", "nobody@example.com", "hello"])
def test_test_view_unknown_visitor(admin_client: Client, query: str) -> None:
    segment = make_segment()
    response = admin_client.get(page_url(segment, "test/"), {"visitor": query})
    assert response.status_code == 200
    assert f"No visitor profile found for “{query}”" in text_of(response)


def test_test_view_without_query_and_with_store_down(
    admin_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    segment = make_segment()
    response = admin_client.get(page_url(segment, "test/"))
    assert response.status_code == 200
    assert "No visitor profile found" not in text_of(response)

    def down(query: str) -> None:
        raise StoreUnavailable("down")

    monkeypatch.setattr("personalize.segments.admin.find_profile", down)
    response = admin_client.get(page_url(segment, "test/"), {"visitor": VISITOR})
    assert "not reachable right now" in text_of(response)


def test_test_view_reports_an_invalid_saved_condition(admin_client: Client, shopper: str) -> None:
    segment = make_segment(condition={"cart.value": {"$gtx": 1}})
    body = text_of(admin_client.get(page_url(segment, "test/"), {"visitor": shopper}))
    assert "The saved condition is invalid" in body
    assert "unknown operator '$gtx'" in body
    assert "is not in" in body
    Segment.objects.filter(pk=segment.pk).update(condition=["not", "an", "object"])
    body = text_of(admin_client.get(page_url(segment, "test/"), {"visitor": shopper}))
    assert "must be an object" in body


def test_unknown_segment_is_404(admin_client: Client) -> None:
    assert admin_client.get(f"{LIST_URL}999999/test/").status_code == 404
    assert admin_client.get(f"{LIST_URL}999999/members/").status_code == 404


# --- static members ---------------------------------------------------------------------


def upload(client: Client, segment: Segment, content: bytes, name: str = "list.csv") -> Any:
    return client.post(
        page_url(segment, "members/upload/"),
        {"file": SimpleUploadedFile(name, content, content_type="text/csv")},
    )


def test_csv_upload_imports_valid_rows_and_reports_the_rest(
    admin_client: Client, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    segment = make_segment()
    SegmentMember.objects.create(segment=segment, kind="email", value="old@example.com")
    content = (
        "\ufeffemail,user_id\n"
        "ann@example.com,12\n"
        "OLD@example.com,\n"
        "foo@,13\n"
        "\n"
        ",x12\n"
        ",,a note\n"
        "ann@example.com,\n"
    ).encode()
    start = version()
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(admin_client, segment, content)
    assert response.status_code == 200
    body = text_of(response)
    assert "row 4: email 'foo@' is not a valid email address" in body
    assert "row 6: user id 'x12' is not valid (expected digits)" in body
    assert "row 7: no visitor id, user id or email" in body
    assert "Imported 3 member(s); 2 duplicate(s) skipped; 3 row error(s)." in body
    assert set(segment.members.values_list("kind", "value")) == {
        ("email", "old@example.com"),
        ("email", "ann@example.com"),
        ("user", "12"),
        ("user", "13"),
    }
    assert version() > start


def test_csv_upload_with_kind_and_value_columns(admin_client: Client) -> None:
    segment = make_segment()
    content = (f"kind;value\nvisitor;{VISITOR}\nvisitor;ABC\nuser_id;42\nphone;123\n;\n").encode()
    body = text_of(upload(admin_client, segment, content))
    assert "row 3: visitor id 'ABC' is not valid" in body
    assert "row 5: kind 'phone' is not one of visitor, user, email" in body
    assert set(segment.members.values_list("kind", "value")) == {
        ("visitor", VISITOR),
        ("user", "42"),
    }


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "The submitted file is empty."),
        (b"   \n\n", "The file is empty."),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "does not look like a CSV file"),
        ("email\nJosé@example.com\n".encode("latin-1"), "not UTF-8 text"),
        (b"name,phone\nAnn,123\n", "must be a header naming a column visitor_id"),
        (b"email\n", "has a header row but no members"),
        (b'email\n"' + b"x" * 200_000 + b'"\n', "could not be read as CSV near row"),
    ],
)
def test_csv_upload_rejects_unusable_files(
    admin_client: Client, content: bytes, message: str
) -> None:
    segment = make_segment()
    response = upload(admin_client, segment, content)
    assert response.status_code == 200
    assert message in text_of(response)
    assert not segment.members.exists()


def test_csv_upload_limits(admin_client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    segment = make_segment()
    monkeypatch.setattr(csv_import, "MAX_ROWS", 3)
    body = text_of(upload(admin_client, segment, b"user_id\n1\n2\n3\n4\n"))
    assert "more than 3 rows" in body
    monkeypatch.setattr(csv_import, "MAX_BYTES", 1024 * 1024)
    body = text_of(upload(admin_client, segment, b"user_id\n" + b"1\n" * 600_000))
    assert "the limit is 1 MB" in body
    assert not segment.members.exists()


def test_read_members_checks_size_while_reading() -> None:
    class Unsized(SimpleUploadedFile):
        size = None  # type: ignore[assignment]

    data = b"user_id\n" + b"1\n" * 10
    parsed = csv_import.read_members(Unsized("a.csv", data))
    assert parsed.rows == 10
    big = Unsized("a.csv", b"user_id\n" + b"1\n" * (csv_import.MAX_BYTES // 2 + 1))
    with pytest.raises(csv_import.CSVFileError, match="the limit is 5 MB"):
        csv_import.read_members(big)


def test_many_row_errors_are_counted_not_all_listed(admin_client: Client) -> None:
    segment = make_segment()
    content = ("email\n" + "bad\n" * 150).encode()
    body = text_of(upload(admin_client, segment, content))
    assert "row 101: email 'bad'" in body
    assert "row 102: email" not in body
    assert "… and 50 more." in body


def test_validate_member() -> None:
    assert csv_import.validate_member("email", " Ann@Example.COM ") == "ann@example.com"
    with pytest.raises(ValueError, match="kind 'phone'"):
        csv_import.validate_member("phone", "1")


def test_members_page_add_remove_and_clear(
    admin_client: Client, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    segment = make_segment(condition={"ids": {"$inGroup": "big-carts"}})
    url = page_url(segment, "members/")
    response = admin_client.get(url)
    assert response.status_code == 200
    assert "No static members yet." in text_of(response)
    assert "does not use its static list" not in text_of(response)

    response = admin_client.post(url, {"kind": "email", "value": "Ann@Example.com"}, follow=True)
    assert "Member added." in text_of(response)
    response = admin_client.post(url, {"kind": "email", "value": "ann@example.com"}, follow=True)
    assert "Already a member." in text_of(response)
    response = admin_client.post(url, {"kind": "user", "value": "abc"})
    assert response.status_code == 200
    assert "user id 'abc' is not valid" in text_of(response)
    member = segment.members.get()
    assert member.value == "ann@example.com"

    body = text_of(admin_client.get(url, {"q": "nobody"}))
    assert "No member matches “nobody”." in body
    assert "ann@example.com" in text_of(admin_client.get(url, {"q": "ann"}))

    assert admin_client.get(page_url(segment, f"members/{member.pk}/remove/")).status_code == 302
    assert segment.members.exists()
    response = admin_client.post(page_url(segment, f"members/{member.pk}/remove/"), follow=True)
    assert "Removed ann@example.com." in text_of(response)
    assert not segment.members.exists()

    SegmentMember.objects.bulk_create(
        SegmentMember(segment=segment, kind="user", value=str(n)) for n in range(150)
    )
    body = text_of(admin_client.get(url))
    assert "page 1 of 2" in body
    confirm = admin_client.get(page_url(segment, "members/clear/"))
    assert "Remove all 150 static members" in plain(confirm)
    start = version()
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(page_url(segment, "members/clear/"), follow=True)
    assert "Removed all 150 member(s)." in text_of(response)
    assert not segment.members.exists()
    assert version() > start


def test_members_page_warns_when_the_list_is_unused(admin_client: Client) -> None:
    segment = make_segment()
    assert "does not use its static list" in text_of(
        admin_client.get(page_url(segment, "members/"))
    )


def test_upload_url_get_redirects(admin_client: Client) -> None:
    segment = make_segment()
    response = admin_client.get(page_url(segment, "members/upload/"))
    assert response.status_code == 302
    assert response["Location"].endswith(page_url(segment, "members/"))


# --- RFM report -------------------------------------------------------------------------


def test_rfm_page_without_a_report(admin_client: Client) -> None:
    response = admin_client.get(RFM_URL)
    assert response.status_code == 200
    body = text_of(response)
    assert "No RFM report yet" in body
    assert "python manage.py personalize_rfm" in body


def test_rfm_page_shows_the_heat_map_and_segments(admin_client: Client) -> None:
    old = RFMReport.objects.create(
        as_of=datetime(2026, 1, 1, tzinfo=UTC),
        customers=1,
        grid={"1,1": 1},
        segments={"hibernating": 1},
    )
    report = RFMReport.objects.create(
        as_of=datetime(2026, 6, 1, tzinfo=UTC),
        customers=200,
        grid={"5,5": 40, "5,1": 20, "1,1": 100, "3,3": 40, "2,2": "junk"},
        segments={"champions": 40, "new_customers": 20, "hibernating": 100, "need_attention": 40},
        duration_seconds=2.25,
    )
    response = admin_client.get(RFM_URL)
    assert response.status_code == 200
    body = text_of(response)
    assert "1 June 2026" in body
    assert "computed in 2.2 s" in body or "computed in 2.3 s" in body
    # R5 row first, F1..F5; the fullest cell is the darkest.
    rows = body.split('<th scope="row">R')[1:6]
    assert [row[0] for row in rows] == ["5", "4", "3", "2", "1"]
    assert 'pz-heat-cell pz-heat-10" title="R1 F1: 100 customers (50.0%) — Hibernating"' in body
    assert 'pz-heat-cell pz-heat-4" title="R5 F5: 40 customers (20.0%) — Champions"' in body
    assert 'pz-heat-cell pz-heat-0" title="R2 F2: 0 customers' in body
    assert "Need attention" in body
    assert "pz-bar pz-w-100" in body  # hibernating, the largest segment
    assert "pz-bar pz-w-40" in body  # champions
    assert "?q=rfm-champions" in body
    assert f"?report={old.pk}" in body
    body = text_of(admin_client.get(RFM_URL, {"report": str(old.pk)}))
    assert "1 January 2026" in body
    assert f"?report={report.pk}" in body
    assert "1 January 2026" not in text_of(admin_client.get(RFM_URL, {"report": "x"}))


def test_rfm_report_with_no_customers(admin_client: Client) -> None:
    RFMReport.objects.create(as_of=timezone.now(), customers=0, grid={}, segments={})
    body = text_of(admin_client.get(RFM_URL))
    assert "No customer has ordered yet" in body
    assert "pz-bar pz-w-0" in body


def test_rfm_reports_are_read_only(admin_client: Client) -> None:
    report = RFMReport.objects.create(as_of=timezone.now(), customers=0)
    response = admin_client.get(f"{RFM_URL}{report.pk}/change/")
    assert response.status_code == 302
    assert response["Location"].endswith(f"{RFM_URL}?report={report.pk}")
    assert admin_client.get(f"{RFM_URL}add/").status_code == 403
    assert admin_client.get(f"{RFM_URL}{report.pk}/delete/").status_code == 403
    assert "RFM reports" in text_of(admin_client.get("/admin/"))


# --- access -----------------------------------------------------------------------------


PROTECTED = [
    "{list}",
    "{list}{pk}/change/",
    "{list}{pk}/test/?visitor=" + VISITOR,
    "{list}{pk}/members/",
    "{list}{pk}/members/clear/",
    RFM_URL,
]


@pytest.mark.parametrize("template", PROTECTED)
def test_non_staff_users_are_sent_to_the_login(client: Client, template: str) -> None:
    segment = make_segment()
    user = get_user_model().objects.create_user("shopper", "s@example.com", "pw-123456")
    client.force_login(user)
    url = template.format(list=LIST_URL, pk=segment.pk)
    response = client.get(url)
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
    response = client.post(page_url(segment, "members/clear/"))
    assert response.status_code == 302
    assert segment.pk and Segment.objects.filter(pk=segment.pk).exists()


def test_staff_without_permissions_get_403(client: Client) -> None:
    segment = make_segment()
    SegmentMember.objects.create(segment=segment, kind="user", value="1")
    user = get_user_model().objects.create_user("intern", "i@example.com", "pw-123456")
    user.is_staff = True
    user.save()
    client.force_login(user)
    assert client.get(page_url(segment, "test/")).status_code == 403
    assert client.get(page_url(segment, "members/")).status_code == 403
    assert client.get(RFM_URL).status_code == 403
    # Viewing is not changing: a view-only user can read members but not clear them.
    user.user_permissions.add(
        Permission.objects.get(codename="view_segment"),
        Permission.objects.get(codename="view_rfmreport"),
    )
    client.force_login(get_user_model().objects.get(pk=user.pk))
    response = client.get(page_url(segment, "members/"))
    assert response.status_code == 200
    assert "Upload a CSV file" not in text_of(response)
    assert client.get(page_url(segment, "test/")).status_code == 200
    assert client.get(RFM_URL).status_code == 200
    assert client.post(page_url(segment, "members/clear/")).status_code == 403
    assert (
        client.post(page_url(segment, "members/"), {"kind": "user", "value": "2"}).status_code
        == 403
    )
    assert upload(client, segment, b"user_id\n2\n").status_code == 403
    assert segment.members.count() == 1
    # Duplicating needs the add permission: a view-only user does not get the action.
    response = client.get(LIST_URL)
    assert "duplicate_segments" not in response.content.decode()
