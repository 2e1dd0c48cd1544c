"""Create the built-in segments (editable rows; re-running never duplicates)."""

from typing import Any

from django.db import migrations


def create_builtin_segments(apps: Any, schema_editor: Any) -> None:
    from personalize.segments.builtin import install_builtin_segments

    install_builtin_segments(
        apps.get_model("personalize", "Segment"), schema_editor.connection.alias
    )


def remove_builtin_segments(apps: Any, schema_editor: Any) -> None:
    Segment = apps.get_model("personalize", "Segment")
    Segment.objects.using(schema_editor.connection.alias).filter(builtin=True).delete()


class Migration(migrations.Migration):
    dependencies = [("personalize", "0002_segments")]

    operations = [migrations.RunPython(create_builtin_segments, remove_builtin_segments)]
