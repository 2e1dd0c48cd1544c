"""``POST /personalize/api/v1/privacy/export/`` and ``.../erase/`` with an API key."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from django.test import Client

from personalize.api.models import ApiKey
from personalize.conf import settings
from personalize.privacy.models import PrivacyRequest
from personalize.profiles.base import BaseProfileStore
from personalize.profiles.profile import Profile
from personalize.tracking.events import EventRecord, new_event_id

EXPORT = "/personalize/api/v1/privacy/export/"
ERASE = "/personalize/api/v1/privacy/erase/"
EMAIL = "jane@example.com"
JANE = "1a" * 16
OTTO = "2b" * 16


def key(*scopes: str) -> str:
    api_key = ApiKey(name="consent-platform", scopes=list(scopes))
    token = api_key.issue().token
    api_key.save()
    return token


def post(url: str, body: Any, token: str | None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return Client().post(
        url,
        data=json.dumps(body) if not isinstance(body, str) else body,
        content_type="application/json",
        headers=headers,
    )


def people(store: BaseProfileStore) -> None:
    for vid, email in ((JANE, EMAIL), (OTTO, "otto@example.com")):
        store.save(Profile(visitor_id=vid, email=email, first_seen=time.time(), visit_count=2))
        store.apply(vid, [], [EventRecord(new_event_id(), vid, "identify", {"email": email},
                                          time.time())])  # fmt: skip
        store.apply(vid, [], [EventRecord(new_event_id(), vid, "page_view", {"path": "/"},
                                          time.time())])  # fmt: skip


@pytest.mark.django_db(databases="__all__")
def test_export_then_erase_a_person_by_email(store: BaseProfileStore) -> None:
    people(store)
    token = key("privacy:write")
    exported = post(EXPORT, {"email": EMAIL.upper()}, token)
    assert exported.status_code == 200, exported.content
    document = exported.json()
    assert document["identified_by"] == "email"
    assert [p["visitor_id"] for p in document["data"]["profiles"]] == [JANE]

    dry = post(ERASE, {"email": EMAIL, "dry_run": True}, token)
    assert dry.status_code == 200 and dry.json()["dry_run"] is True
    assert store.load(JANE) is not None  # counted, not erased

    erased = post(ERASE, {"email": EMAIL}, token)
    assert erased.status_code == 200
    body = erased.json()
    assert body["counts"]["profiles"] == 1
    # Everything the export held is what the erasure removed.
    assert {k: v for k, v in body["counts"].items() if v} == {
        k: v for k, v in document["counts"].items() if v
    }
    assert store.load(JANE) is None and store.load(OTTO) is not None
    otto = post(EXPORT, {"visitor_id": OTTO}, token).json()["counts"]
    assert otto["profiles"] == 1 and otto["events"] + otto.get("buffered_events", 0) == 2
    audit = PrivacyRequest.objects.using(settings.DATABASE_ALIAS).get(pk=body["audit_id"])
    assert "consent-platform" in audit.requested_by
    assert EMAIL not in json.dumps([audit.requested_by, audit.counts, audit.identifier_kind])

    again = post(ERASE, {"email": EMAIL}, token)
    assert again.status_code == 200 and again.json()["total"] == 0


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({}, "exactly one of email, user_id, visitor_id (got none)"),
        ({"email": EMAIL, "user_id": "7"}, "(got email, user_id)"),
        ({"email": "not-an-email"}, "not a valid email address"),
        ({"visitor_id": "xyz"}, "32 hexadecimal characters"),
        ({"user_id": ["7"]}, "user_id must be a string"),
        ({"email": EMAIL, "dry_run": "yes"}, "dry_run must be true or false"),
        ([1, 2], "must be a JSON object"),
    ],
)
def test_bad_requests_name_the_field_and_the_fix(body: Any, words: str) -> None:
    response = post(ERASE, body, key("privacy:write"))
    assert response.status_code == 400
    assert words in response.json()["detail"]
    assert not PrivacyRequest.objects.exists()


@pytest.mark.django_db
def test_the_scope_is_required() -> None:
    assert post(ERASE, {"email": EMAIL}, None).status_code == 401
    denied = post(EXPORT, {"email": EMAIL}, key("events:write", "segments:read"))
    assert denied.status_code == 403
    assert "'privacy:write'" in denied.json()["detail"]
    assert post(ERASE, "{not json", key("privacy:write")).status_code == 400
    huge = post(ERASE, {"email": EMAIL, "pad": "x" * 5000}, key("privacy:write"))
    assert huge.status_code == 413 and "at most 4096" in huge.json()["detail"]
    assert not PrivacyRequest.objects.exists()
