"""A recommendation widget's holdout: a share of visitors who never see it (issue 12).

Numbered 0013 on 0011: 0012 is left to work done in parallel, which the merge joins
with a merge migration.
"""

import django.core.validators
from django.db import migrations, models

RANGE = (
    "Hold out from 0 to 50 percent of visitors: 0 shows the widget to everyone, "
    "5 to 20 is usual for measuring its uplift."
)


class Migration(migrations.Migration):
    dependencies = [
        ("personalize", "0012_rollups"),
    ]

    operations = [
        migrations.AddField(
            model_name="widget",
            name="holdout_percent",
            field=models.PositiveSmallIntegerField(
                default=0,
                help_text="Share of visitors (0 to 50%) who never see this widget: the "
                "control group its uplift on orders and revenue is measured against. "
                "0 turns it off.",
                validators=[
                    django.core.validators.MinValueValidator(0, message=RANGE),
                    django.core.validators.MaxValueValidator(50, message=RANGE),
                ],
            ),
        ),
    ]
