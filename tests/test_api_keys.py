"""API keys: stored as an HMAC only, the secret shown once in the admin, revocable."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.exceptions import ValidationError
from django.test import Client, override_settings

from personalize.api.auth import HasScope
from personalize.api.keys import SCOPES, hash_token, token_matches, token_prefix
from personalize.api.models import ApiKey

ADD_URL = "/admin/personalize/apikey/add/"
LIST_URL = "/admin/personalize/apikey/"
TOKEN_RE = re.compile(r"pz_[0-9a-f]{8}_[A-Za-z0-9_-]{43}")


@pytest.fixture
def admin(db: None) -> Client:
    user = get_user_model().objects.create_superuser("boss", "boss@example.com", "pw-12345678")
    client = Client()
    client.force_login(user)
    return client


def create_key(admin: Client, **data: Any) -> tuple[str, Any]:
    response = admin.post(
        ADD_URL, {"name": "CRM sync", "scopes": ["events:write", "segments:read"],
                  "rate_limit": 120, **data},
    )  # fmt: skip
    assert response.status_code == 200, response.content[:500]
    tokens = set(TOKEN_RE.findall(response.content.decode()))
    assert len(tokens) == 1
    return tokens.pop(), response


def test_a_token_is_stored_as_its_hmac_only(db: None) -> None:
    key = ApiKey(name="x", scopes=["events:write"])
    token = key.issue().token
    key.save()

    row = ApiKey.objects.values().get()
    assert token not in repr(row)
    assert row["secret_hash"] == hash_token(token)
    assert token_prefix(token) == row["prefix"]
    assert token_matches(token, row["secret_hash"])
    assert not token_matches(token[:-1] + "x", row["secret_hash"])


def test_keys_survive_a_secret_key_rotation_with_fallbacks() -> None:
    with override_settings(SECRET_KEY="old-secret"):
        hashed = hash_token("pz_0badc0de_" + "a" * 43)
    with override_settings(SECRET_KEY="new-secret", SECRET_KEY_FALLBACKS=["old-secret"]):
        assert token_matches("pz_0badc0de_" + "a" * 43, hashed)
    with override_settings(SECRET_KEY="new-secret", SECRET_KEY_FALLBACKS=[]):
        assert not token_matches("pz_0badc0de_" + "a" * 43, hashed)


def test_only_known_scopes_are_valid(db: None) -> None:
    key = ApiKey(name="x", scopes=["events:write", "everything"])
    key.issue()
    with pytest.raises(ValidationError, match="Unknown scope"):
        key.full_clean()
    with pytest.raises(ValueError, match="Unknown scope 'events:read'"):
        HasScope("events:read")
    assert set(SCOPES) == {
        "events:write", "decisions:read", "recommendations:read",
        "segments:read", "analytics:read", "privacy:write",
    }  # fmt: skip


def test_the_admin_shows_the_new_secret_once_and_never_again(admin: Client) -> None:
    token, response = create_key(admin)

    assert "no-store" in response["Cache-Control"]  # the secret stays in no cache
    assert "shown only once" in response.content.decode()
    key = ApiKey.objects.get()
    assert key.scopes == ["events:write", "segments:read"]
    assert key.rate_limit == 120
    assert key.created_by is not None and key.created_by.get_username() == "boss"
    assert token_matches(token, key.secret_hash)
    # Not in a message either: the next page shows nothing of it.
    for url in (LIST_URL, f"{LIST_URL}{key.pk}/change/"):
        page = admin.get(url).content.decode()
        assert token not in page
        assert token.rsplit("_", 1)[1] not in page
        assert f"pz_{key.prefix}_" in page
    assert key.secret_hash not in admin.get(f"{LIST_URL}{key.pk}/change/").content.decode()


def test_the_admin_refuses_a_form_without_a_name(admin: Client) -> None:
    response = admin.post(ADD_URL, {"name": "", "scopes": ["events:write"], "rate_limit": 10})

    assert response.status_code == 200
    assert ApiKey.objects.count() == 0
    assert not TOKEN_RE.search(response.content.decode())


def test_the_revoke_action_makes_the_key_answer_401(admin: Client) -> None:
    token, _ = create_key(admin)
    key = ApiKey.objects.get()
    batch = {"visitor_id": "ab" * 16, "events": [{"event_id": "a", "name": "search",
                                                  "props": {"query": "q"}}]}  # fmt: skip

    def send() -> int:
        return Client().post(
            "/personalize/api/v1/events/", batch, content_type="application/json",
            headers={"Authorization": f"Bearer {token}"},
        ).status_code  # fmt: skip

    assert send() == 200
    response = admin.post(LIST_URL, {"action": "revoke", "_selected_action": [key.pk]}, follow=True)
    assert "Revoked 1 API key(s)" in response.content.decode()
    key.refresh_from_db()
    assert key.revoked_at is not None
    assert send() == 401


def test_revoking_needs_the_change_permission(db: None) -> None:
    user = get_user_model().objects.create_user("viewer", password="pw-12345678", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_apikey"))
    client = Client()
    client.force_login(user)
    key = ApiKey(name="x", scopes=[])
    key.issue()
    key.save()

    page = client.get(LIST_URL).content.decode()
    client.post(LIST_URL, {"action": "revoke", "_selected_action": [key.pk]})

    assert 'value="revoke"' not in page
    key.refresh_from_db()
    assert key.revoked_at is None
