"""Event log indexes: one per query that needs one (see docs/deployment.md, "The event log").

``name`` alone goes: the (name, occurred_at) index serves every query on ``name``.
On PostgreSQL, Django gives each indexed or unique ``CharField`` a second,
``varchar_pattern_ops`` index for ``LIKE 'prefix%'``; no query does that on
``event_id`` or ``visitor_id``, and every insert into the log paid for both.
Dropping indexes is quick and rebuilds nothing, even on a large log.
"""

from typing import Any

from django.db import migrations, models


def drop_pattern_indexes(apps: Any, schema_editor: Any) -> None:
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return  # only PostgreSQL creates them
    table = apps.get_model("personalize", "Event")._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() "
            "AND tablename = %s AND indexdef LIKE %s",
            [table, "%varchar_pattern_ops%"],
        )
        names = [row[0] for row in cursor.fetchall()]
    for name in names:
        schema_editor.execute(f"DROP INDEX IF EXISTS {schema_editor.quote_name(name)}")


class Migration(migrations.Migration):
    dependencies = [
        ("personalize", "0006_recommendations"),
    ]

    operations = [
        migrations.AlterField(
            model_name="event",
            name="name",
            field=models.CharField(max_length=32),
        ),
        # Going back leaves them out: no query used them.
        migrations.RunPython(drop_pattern_indexes, migrations.RunPython.noop),
    ]
