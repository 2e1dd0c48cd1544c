"""``personalize_purge`` deletes in short batches, with progress, on both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connections
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from personalize.models import Event
from personalize.tracking.history import HistoricalEvent, import_history


@pytest.mark.parametrize("alias", ["default", "postgres"])
@pytest.mark.django_db(databases=["default", "postgres"])
def test_purge_deletes_in_batches_with_progress(alias: str) -> None:
    if alias not in connections.databases:
        pytest.skip("PostgreSQL not available")  # the conftest fails this in CI instead
    old = datetime.now(tz=UTC) - timedelta(days=500)
    fresh = datetime.now(tz=UTC) - timedelta(days=1)
    with override_settings(PERSONALIZE_DATABASE_ALIAS=alias):
        import_history(
            [
                HistoricalEvent(f"{i:032x}", "page_view", old + timedelta(minutes=i))
                for i in range(25)
            ]
            + [HistoricalEvent("f" * 32, "page_view", fresh)]
        )
        out, err = StringIO(), StringIO()
        with CaptureQueriesContext(connections[alias]) as queries:
            call_command("personalize_purge", "--batch-size", "10", stdout=out, stderr=err)
    deletes = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("DELETE")]
    event_deletes = [sql for sql in deletes if "personalize_event" in sql]
    assert len(event_deletes) == 3  # 10 + 10 + 5, never one statement for everything
    assert Event.objects.using(alias).count() == 1
    assert "Deleted 25 profiles, 25 events" in out.getvalue()
    assert "Deleting events: 25/25 (100%)" in err.getvalue()


def test_batch_size_must_be_positive() -> None:
    with pytest.raises(CommandError, match="--batch-size must be a positive number"):
        call_command("personalize_purge", "--batch-size", "0")
