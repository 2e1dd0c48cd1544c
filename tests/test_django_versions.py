"""The suite runs on the Django series tests/run asked for, and the migrations fit it.

tests/run runs the whole suite on Django 5.2 LTS (.venv) and the fast suite on
Django 6.1 (.venv-django6), setting ``PERSONALIZE_EXPECT_DJANGO`` to the series
each environment must have: a 6.x environment that silently resolved Django 5.2
fails here instead of passing as a Django 6 run.
"""

from __future__ import annotations

import os
from io import StringIO

import django
import pytest
from django.core.management import call_command

from tests.conftest import IN_CI


def test_runs_on_the_django_series_tests_run_asked_for() -> None:
    expected = os.environ.get("PERSONALIZE_EXPECT_DJANGO", "")
    if not expected:
        message = "PERSONALIZE_EXPECT_DJANGO is unset (tests/run sets it, e.g. to 6.1)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    running = f"{django.VERSION[0]}.{django.VERSION[1]}"
    assert running == expected, f"Django {django.get_version()} installed, {expected}.x expected"


@pytest.mark.django_db(databases="__all__")  # makemigrations checks each database's history
def test_models_and_migrations_agree_on_this_django() -> None:
    # One set of migration files for every supported Django: a version whose
    # field defaults or deconstruction differ would ask for a new migration here.
    out = StringIO()
    call_command("makemigrations", "--check", "--dry-run", stdout=out, stderr=out)
    assert "No changes detected" in out.getvalue()
