"""Create the built-in segments (editable rows; re-running never duplicates)."""

from typing import Any

from django.db import migrations


def create_builtin_segments(apps: Any, schema_editor: Any) -> None:
    from personalize.segments.builtin import BUILTIN_SEGMENTS

    Segment = apps.get_model("personalize", "Segment")
    alias = schema_editor.connection.alias
    for position, spec in enumerate(BUILTIN_SEGMENTS, start=1):
        Segment.objects.using(alias).get_or_create(
            slug=spec["slug"],
            defaults={**spec, "builtin": True, "position": position * 10},
        )


def remove_builtin_segments(apps: Any, schema_editor: Any) -> None:
    Segment = apps.get_model("personalize", "Segment")
    Segment.objects.using(schema_editor.connection.alias).filter(builtin=True).delete()


class Migration(migrations.Migration):
    dependencies = [("personalize", "0002_segments")]

    operations = [migrations.RunPython(create_builtin_segments, remove_builtin_segments)]
