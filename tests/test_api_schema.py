"""The OpenAPI schema, the docs page, and every documented endpoint against its schema.

The schemathesis test loads the schema from the app and calls the WSGI application
directly (middleware included), with a valid API key, generating valid and invalid
requests: no answer may be a 5xx, and every answer must be one the schema documents.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.contrib.staticfiles import finders
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.test import Client, override_settings
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from personalize.api.keys import SCOPES
from personalize.api.models import ApiKey

SCHEMA_URL = "/personalize/api/schema/?format=json"
UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36"


def load_schema() -> dict[str, Any]:
    response = Client().get(SCHEMA_URL)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.oai.openapi+json"
    document: dict[str, Any] = json.loads(response.content)
    return document


def test_the_schema_documents_every_endpoint_and_nothing_of_the_shops() -> None:
    paths = load_schema()["paths"]

    assert sorted(paths) == [
        "/personalize/api/analytics/summary/",
        "/personalize/api/events/",
        "/personalize/api/v1/decisions/",
        "/personalize/api/v1/events/",
        "/personalize/api/v1/privacy/erase/",
        "/personalize/api/v1/privacy/export/",
        "/personalize/api/v1/recommendations/",
        "/personalize/api/v1/segments/{slug}/members/",
        "/personalize/api/visitor/",
    ]


def test_v1_operations_document_auth_errors_and_examples() -> None:
    schema = load_schema()
    operation = schema["paths"]["/personalize/api/v1/events/"]["post"]

    assert operation["security"] == [{"ApiKey": []}]
    assert schema["components"]["securitySchemes"]["ApiKey"]["scheme"] == "bearer"
    assert set(operation["responses"]) == {"200", "400", "401", "403", "413", "415", "429", "503"}
    error_example = operation["responses"]["400"]["content"]["application/json"]["examples"]
    assert next(iter(error_example.values()))["value"]["errors"][0]["field"] == "props.value"
    assert operation["requestBody"]["content"]["application/json"]["examples"]


def test_every_operation_has_examples_and_documents_its_errors() -> None:
    for path, operations in load_schema()["paths"].items():
        for method, operation in operations.items():
            bodies = [
                *operation.get("requestBody", {}).get("content", {}).values(),
                *(
                    content
                    for response in operation["responses"].values()
                    for content in response.get("content", {}).values()
                ),
            ]
            assert any(body.get("examples") for body in bodies), f"{method} {path}"
            assert operation.get("description"), f"{method} {path}"
            if method == "post":
                assert {"400", "413", "415", "429"} <= set(operation["responses"]), path


def test_browser_operations_need_no_key() -> None:
    paths = load_schema()["paths"]

    for path in ("/personalize/api/visitor/", "/personalize/api/events/"):
        for operation in paths[path].values():
            security = operation.get("security", [{}])
            # Anonymous calls are allowed ({}); the visitor endpoint also reads an
            # optional admin session (personal fields for the signed-in owner).
            assert {} in security, path
            assert not any("ApiKey" in scheme for scheme in security), path


@override_settings(
    REST_FRAMEWORK={"DEFAULT_SCHEMA_CLASS": "rest_framework.schemas.openapi.AutoSchema"}
)
def test_the_shops_own_rest_framework_settings_do_not_matter() -> None:
    # A shop on DRF's own schema class (the default) gets the same document.
    assert sorted(load_schema()["paths"]) == [
        "/personalize/api/analytics/summary/",
        "/personalize/api/events/",
        "/personalize/api/v1/decisions/",
        "/personalize/api/v1/events/",
        "/personalize/api/v1/privacy/erase/",
        "/personalize/api/v1/privacy/export/",
        "/personalize/api/v1/recommendations/",
        "/personalize/api/v1/segments/{slug}/members/",
        "/personalize/api/visitor/",
    ]


def test_the_docs_page_loads_swagger_ui_from_static_files_under_a_strict_csp() -> None:
    response = Client().get("/personalize/api/docs/")

    assert response.status_code == 200
    html = response.content.decode()
    policy = response["Content-Security-Policy"]  # the test project's strict policy
    nonce = re.search(r"'nonce-([^']+)'", policy)
    assert nonce is not None
    assert "unsafe-inline" not in policy
    scripts = re.findall(r"<script\b[^>]*>", html)
    assert len(scripts) == 2
    for tag in scripts:  # no inline script: every one a file, with the request's nonce
        assert 'src="/static/' in tag
        assert f'nonce="{nonce.group(1)}"' in tag
    assert "<script>" not in html and " on" not in html.split("<body>")[1].split(">")[0]
    assert "//cdn" not in html and "https://" not in html
    for asset in re.findall(r'(?:src|href)="/static/([^"]+)"', html):
        assert finders.find(asset) is not None, asset
    assert 'data-schema-url="/personalize/api/schema/?format=json"' in html


def test_the_docs_page_answers_get_and_head_only() -> None:
    assert Client().head("/personalize/api/docs/").status_code == 200
    assert Client().post("/personalize/api/docs/").status_code == 405


# Every documented endpoint, generated requests ---------------------------------------------


@pytest.fixture
def wsgi_app() -> Iterator[Any]:
    """The project's WSGI application, keeping the test's database connection open
    across requests (Django's test client does the same)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield get_wsgi_application()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def api_schema(wsgi_app: Any) -> Any:
    return schemathesis.openapi.from_wsgi(SCHEMA_URL, wsgi_app)


schema = schemathesis.pytest.from_fixture("api_schema")

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.fixture
def api_key(db: None) -> str:
    key = ApiKey(name="schemathesis", scopes=list(SCOPES), rate_limit=100_000)
    token = key.issue().token
    key.save()
    return token


@pytest.mark.slow
@pytest.mark.django_db
@schema.parametrize()
@hypothesis_settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,  # nothing written to .hypothesis/
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_no_documented_endpoint_errors_or_breaks_its_schema(case: Any, api_key: str) -> None:
    case.call_and_validate(
        headers={
            "Authorization": f"Bearer {api_key}",
            "User-Agent": UA,
            "Origin": "http://localhost",
        },
        checks=CHECKS,
    )
