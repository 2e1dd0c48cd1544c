"""The audit trail of privacy requests (exports and erasures).

Numbered 0009 on 0007, as planned for issue 11: 0008 is left to work done in
parallel, which the merge joins with a merge migration.
"""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('personalize', '0010_webhooks'),
    ]

    operations = [
        migrations.CreateModel(
            name='PrivacyRequest',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('kind', models.CharField(choices=[('export', 'Export'), ('erase', 'Erasure')], max_length=10)),
                ('requested_by', models.CharField(help_text='The staff user\'s username, or "command line".', max_length=150)),
                ('identifier_kind', models.CharField(help_text='email, user_id or visitor_id (the value is never stored).', max_length=20)),
                ('counts', models.JSONField(default=dict, help_text='Records of each kind exported or erased.')),
                ('created_at', models.DateTimeField(auto_now_add=True, db_index=True)),
            ],
            options={
                'verbose_name': 'privacy request',
                'ordering': ['-created_at', '-pk'],
                'permissions': [('handle_privacy_requests', "Can look up, export and erase a person's personal data")],
            },
        ),
    ]
