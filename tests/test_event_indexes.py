"""Every index on the event log serves a query the app runs, and every such query has one.

Each test runs one of the app's own code paths against PostgreSQL, captures the SQL it
sends to ``personalize_event``, and asks the planner for each statement's plan with
sequential scans priced out (``enable_seqscan = off``: on tables this small a scan would
always win). The test asserts exactly the indexes those plans name: drop one and the
planner falls back to another (or to a sequential scan, which fails outright), so the
set changes. The last test holds the table to exactly the indexes the paths use
(docs/deployment.md, "The event log", has the same table).

The log is shaped like a shop's: appended in time order over two years, page views
dominating, ten events per visitor, and a campaign only a few visitors saw.
"""

from __future__ import annotations

import json
import random
import re
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from personalize.campaigns.measurement import campaign_results
from personalize.models import Event
from personalize.recommendations.admin import list_stats
from personalize.recommendations.measurement import widget_results
from personalize.recommendations.training import train
from personalize.rfm.run import engagement_values
from personalize.tracking.events import EventRecord
from personalize.tracking.log import write_events

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(databases=["default", "postgres"])]

TABLE = "personalize_event"
# Today at noon: the purge reads the clock, so the log ends now and the split between
# expired and kept events is the same every day.
NOW = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
EVENTS = 4000
DAYS = 800  # spread over more than the retention period, so the purge has work

# Indexes by definition (names differ between installs: Django hashes some of them).
PRIMARY_KEY = "unique (id)"
EVENT_ID = "unique (event_id)"
NAME_AT = "(name, occurred_at)"
VISITOR = "(visitor_id)"
OCCURRED_AT = "(occurred_at)"


def vid(n: int) -> str:
    return f"{n:032x}"


@pytest.fixture
def pg() -> Iterator[BaseDatabaseWrapper]:
    if "postgres" not in connections.databases:
        pytest.skip("PostgreSQL not available")  # the conftest fails this in CI instead
    with override_settings(PERSONALIZE_DATABASE_ALIAS="postgres"):
        yield connections["postgres"]


#: (name, share of the log): page views dominate, purchases and clicks are rare.
MIX = [
    ("page_view", 0.50),
    ("product_view", 0.25),
    ("add_to_cart", 0.05),
    ("purchase", 0.01),
    ("rec_view", 0.12),
    ("rec_click", 0.02),
    ("campaign_impression", 0.04),
    ("campaign_click", 0.01),
]


@pytest.fixture
def log(pg: BaseDatabaseWrapper) -> BaseDatabaseWrapper:
    """A log shaped like a shop's: appended in time order, ten events per visitor."""
    rng = random.Random(7)
    names, weights = zip(*MIX, strict=True)
    rows = []
    for n in range(EVENTS):
        name = rng.choices(names, weights)[0]
        product = str(rng.randrange(50))
        props: dict[str, Any] = {"product_id": product}
        if name == "purchase":
            props = {"order_id": f"o{n}", "value": 10.0, "items": [{"product_id": product}]}
        elif name.startswith("rec_"):
            props.update(widget="pdp", strategy="similar")
        elif name.startswith("campaign_"):
            # A campaign few visitors saw, among others.
            props = {"campaign": "sale" if rng.random() < 0.05 else "other", "variant": "a"}
        rows.append(
            Event(
                event_id=uuid.uuid4().hex,
                visitor_id=vid(n // 10),
                name=name,
                props=props,
                occurred_at=NOW - timedelta(days=DAYS) * (1 - n / EVENTS),
            )
        )
    Event.objects.using("postgres").bulk_create(rows)
    with pg.cursor() as cursor:
        cursor.execute(f"ANALYZE {TABLE}")  # sees this transaction's rows
    return pg


def table_indexes(connection: BaseDatabaseWrapper) -> dict[str, str]:
    """Index name -> definition such as ``unique (event_id)``, for the event table."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes "
            "WHERE schemaname = current_schema() AND tablename = %s",
            [TABLE],
        )
        rows = cursor.fetchall()
    definitions = {}
    for name, indexdef in rows:
        match = re.fullmatch(r"CREATE (UNIQUE )?INDEX \S+ ON \S+ USING (\w+) (\(.*\))", indexdef)
        assert match, indexdef
        unique, method, columns = match.groups()
        definitions[name] = ("unique " if unique else "") + (
            columns if method == "btree" else f"{method} {columns}"
        )
    return definitions


def _walk(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("Plans", []):
        yield from _walk(child)


def indexes_used(connection: BaseDatabaseWrapper, run: Callable[[], object]) -> set[str]:
    """Run a code path; return the definitions of the event indexes its plans use."""
    with CaptureQueriesContext(connection) as queries:
        run()
    statements = [q["sql"] for q in queries.captured_queries if f'"{TABLE}"' in q["sql"]]
    assert statements, "the path ran no query on the event log"
    names = table_indexes(connection)
    used: set[str] = set()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        for sql in statements:
            # ``iterator()`` reads through DECLARE CURSOR, which EXPLAIN takes as it is
            # (and plans for a fast first row, as it does when the app runs it).
            cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}")
            plan = cursor.fetchone()[0]
            plan = json.loads(plan) if isinstance(plan, str) else plan
            for node in _walk(plan[0]["Plan"]):
                scanned = node.get("Relation Name") == TABLE
                assert not (scanned and node["Node Type"] == "Seq Scan"), (
                    f"no index serves this query on {TABLE}:\n{sql}"
                )
                arbiters = node.get("Conflict Arbiter Indexes", [])
                if node.get("Conflict Resolution") and not arbiters:
                    # ON CONFLICT without a target: every unique index arbitrates.
                    arbiters = [n for n, d in names.items() if d.startswith("unique ")]
                for name in [node.get("Index Name"), *arbiters]:
                    if name in names:
                        used.add(names[name])
    return used


def test_log_writer_inserts_through_the_unique_event_id(log: BaseDatabaseWrapper) -> None:
    records = [EventRecord(uuid.uuid4().hex, vid(1), "page_view", {}, NOW.timestamp())]
    write_events(records, using="postgres")
    # A replay (the worker retrying a batch) skips the logged event: the unique index
    # on event_id is what the insert's ON CONFLICT DO NOTHING collides with.
    used = indexes_used(log, lambda: write_events(records, using="postgres"))
    assert Event.objects.using("postgres").filter(event_id=records[0].event_id).count() == 1
    assert used == {EVENT_ID, PRIMARY_KEY}


def test_purge_finds_old_events_by_time_and_deletes_by_id(log: BaseDatabaseWrapper) -> None:
    def purge() -> None:
        with override_settings(PERSONALIZE_RETENTION_DAYS=395):
            call_command("personalize_purge", "--batch-size", "1000", stdout=StringIO())

    assert indexes_used(log, purge) == {OCCURRED_AT, PRIMARY_KEY}


def test_training_streams_its_window_in_time_order(log: BaseDatabaseWrapper) -> None:
    # The log is appended in time order, so the occurred_at index walks the table in
    # order: no sort of a year of events, and most of them are read anyway.
    assert indexes_used(log, lambda: train(as_of=NOW)) == {OCCURRED_AT}


def test_rfm_engagement_reads_the_last_30_days(log: BaseDatabaseWrapper) -> None:
    visitors = {vid(n) for n in range(EVENTS // 10)}
    assert indexes_used(log, lambda: engagement_values(NOW, visitors)) == {OCCURRED_AT}


def test_widget_stats_read_the_last_30_days(log: BaseDatabaseWrapper) -> None:
    assert indexes_used(log, lambda: list_stats(["pdp"], now=NOW)) == {OCCURRED_AT}


def test_campaign_results_count_by_name_and_attribute_by_visitor(
    log: BaseDatabaseWrapper,
) -> None:
    # Campaign events have no time bound: only an index led by ``name`` finds them.
    # Attribution looks up the exposed visitors' purchases in their windows.
    assert indexes_used(log, lambda: campaign_results("sale")) == {NAME_AT, VISITOR}


def test_widget_results_read_clicks_by_name_and_attribute_by_visitor(
    log: BaseDatabaseWrapper,
) -> None:
    # Views and counts: the 30 days; first clicks: rec_click within them; then the
    # clicking visitors' views, carts and orders.
    used = indexes_used(log, lambda: widget_results("pdp", now=NOW))
    assert used == {OCCURRED_AT, NAME_AT, VISITOR}


def test_the_table_has_exactly_the_indexes_the_paths_use(pg: BaseDatabaseWrapper) -> None:
    # The union of the sets the tests above assert: an index added without a query, or a
    # twin Django adds by itself (``varchar_pattern_ops`` for LIKE), fails here.
    assert sorted(table_indexes(pg).values()) == sorted(
        {PRIMARY_KEY, EVENT_ID, NAME_AT, VISITOR, OCCURRED_AT}
    )
