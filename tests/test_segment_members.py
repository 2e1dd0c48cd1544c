"""``GET /personalize/api/v1/segments/<slug>/members/``: access, errors, pages, CSV,
and bounded memory however many profiles there are."""

from __future__ import annotations

import csv
import io
import time
import tracemalloc
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.http import StreamingHttpResponse
from django.test import Client, override_settings

from personalize.api.models import ApiKey
from personalize.models import Segment
from personalize.profiles.base import get_store, reset_store
from personalize.profiles.profile import Profile

URL = "/personalize/api/v1/segments/{}/members/"
pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.urls")]


def regulars() -> Segment:
    return Segment.objects.create(
        name="Regulars", slug="regulars", condition={"visit_count": {"$gte": 3}}
    )


def profiles(count: int, *, now: float | None = None) -> list[Profile]:
    now = now or time.time()
    return [
        Profile(
            visitor_id=f"{index:032x}",
            visit_count=index % 6,  # 3, 4 and 5 are regulars: half of them
            first_seen=now - 86400 * 30,
            last_seen=now - index,
            email=f"shopper{index}@example.com" if index % 2 else "",
            user_id=str(index) if index % 3 == 0 else "",
        )
        for index in range(count)
    ]


def expected_members(count: int) -> list[str]:
    return [f"{index:032x}" for index in range(count) if index % 6 >= 3]


def test_an_api_key_needs_the_segments_read_scope(client: Client) -> None:
    regulars()
    readers, writers = (
        ApiKey(name="crm", scopes=["segments:read"]),
        ApiKey(name="w", scopes=["events:write"]),
    )
    tokens = [readers.issue().token, writers.issue().token]
    readers.save()
    writers.save()
    allowed = client.get(URL.format("regulars"), headers={"Authorization": f"Bearer {tokens[0]}"})
    assert allowed.status_code == 200
    assert allowed.json()["segment"] == {"slug": "regulars", "name": "Regulars"}
    denied = client.get(URL.format("regulars"), headers={"Authorization": f"Bearer {tokens[1]}"})
    assert denied.status_code == 403
    assert "lacks the scope 'segments:read'" in denied.json()["detail"]


def test_only_staff_with_the_segment_permission_may_read_members(
    client: Client, admin_client: Client
) -> None:
    regulars()
    anonymous = client.get(URL.format("regulars"))
    assert anonymous.status_code == 401
    assert "segments:read" in anonymous.json()["detail"]
    staff = get_user_model().objects.create_user("merch", password="pw-12345678", is_staff=True)
    client.force_login(staff)
    denied = client.get(URL.format("regulars"))
    assert denied.status_code == 403
    assert "Can view segment" in denied.json()["detail"]
    staff.user_permissions.add(Permission.objects.get(codename="view_segment"))
    staff = get_user_model().objects.get(pk=staff.pk)  # forget the cached permissions
    client.force_login(staff)
    assert client.get(URL.format("regulars")).status_code == 200
    assert admin_client.get(URL.format("regulars")).status_code == 200


@pytest.mark.parametrize(
    ("query", "field", "words"),
    [
        ("limit=0", "limit", "from 1 to 1000"),
        ("limit=1001", "limit", "from 1 to 1000"),
        ("limit=lots", "limit", "'lots'"),
        ("cursor=not-a-cursor", "cursor", "next_cursor"),
        ("format=xml", "format", "json or csv"),
    ],
)
def test_bad_parameters_get_a_400_naming_the_field(
    admin_client: Client, query: str, field: str, words: str
) -> None:
    regulars()
    response = admin_client.get(URL.format("regulars") + "?" + query)
    assert response.status_code == 400
    assert response.json()["field"] == field
    assert words in response.json()["detail"]


def test_an_unknown_or_disabled_segment_is_a_404_naming_it(admin_client: Client) -> None:
    Segment.objects.create(name="Off", slug="off", enabled=False, condition={})
    response = admin_client.get(URL.format("no-such-segment"))
    assert response.status_code == 404
    assert "'no-such-segment'" in response.json()["detail"]
    response = admin_client.get(URL.format("off"))
    assert response.status_code == 404
    assert "disabled" in response.json()["detail"]


def _walk(admin_client: Client, limit: int) -> tuple[list[str], int]:
    seen: list[str] = []
    pages = 0
    query = f"?limit={limit}"
    while True:
        body = admin_client.get(URL.format("regulars") + query).json()
        pages += 1
        assert body["count"] == len(body["members"]) <= limit
        seen += [m["visitor_id"] for m in body["members"]]
        if body["next_cursor"] is None:
            return seen, pages
        query = f"?limit={limit}&cursor={body['next_cursor']}"


def test_json_pages_list_every_member_once_in_order(admin_client: Client) -> None:
    regulars()
    get_store().import_profiles(profiles(25), [])
    seen, pages = _walk(admin_client, 4)
    assert seen == expected_members(25)
    assert pages == 3  # 12 members: 4 + 4 + 4, the last page saying there is no more
    first = admin_client.get(URL.format("regulars") + "?limit=1").json()["members"][0]
    assert first["visitor_id"] == f"{3:032x}"
    assert first["email"] == "shopper3@example.com"
    assert first["visit_count"] == 3
    assert first["last_seen"].endswith("Z")
    assert {"user_id", "orders_count", "lifecycle_stage", "rfm_segment"} <= set(first)


def test_a_store_without_ordered_scans_pages_the_same(admin_client: Client) -> None:
    regulars()
    reset_store()
    with override_settings(PERSONALIZE_STORE="tests.memory_store.MemoryProfileStore"):
        store = get_store()
        assert store.iter_profiles_by_id() is None
        store.import_profiles(reversed(profiles(25)), [])
        seen, _ = _walk(admin_client, 5)
    reset_store()
    assert seen == expected_members(25)


@pytest.mark.parametrize("how", ["query", "accept"])
def test_csv_is_streamed(admin_client: Client, how: str) -> None:
    regulars()
    get_store().import_profiles(profiles(12), [])
    if how == "query":
        response = admin_client.get(URL.format("regulars") + "?format=csv")
    else:
        response = admin_client.get(URL.format("regulars"), headers={"Accept": "text/csv"})
    assert response.status_code == 200
    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Type"] == "text/csv"
    assert 'filename="segment-regulars.csv"' in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [row["visitor_id"] for row in rows] == expected_members(12)
    assert rows[0]["email"] == "shopper3@example.com"


def _peak(consume: Any) -> int:
    tracemalloc.start()
    try:
        consume()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_the_csv_export_of_20000_profiles_runs_in_bounded_memory(admin_client: Client) -> None:
    """Memory, not time: the stream's peak stays far below what a list of the profiles
    takes (tracemalloc counts allocations; nothing here is timed)."""
    regulars()
    count = 20_000
    get_store().import_profiles(profiles(count), [])
    holder: list[Any] = []
    list_peak = _peak(lambda: holder.append(list(get_store().iter_profiles())))
    assert len(holder[0]) == count
    holder.clear()
    response = admin_client.get(URL.format("regulars") + "?format=csv")
    assert isinstance(response, StreamingHttpResponse)
    lines = [0]

    def stream() -> None:
        for _ in response.streaming_content:
            lines[0] += 1

    stream_peak = _peak(stream)
    assert lines[0] == 1 + len(expected_members(count))
    assert stream_peak < list_peak / 5, (stream_peak, list_peak)
