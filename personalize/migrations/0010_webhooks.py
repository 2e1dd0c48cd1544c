"""Webhooks: their configuration, the delivery queue and log, the event-log scan cursor."""

import django.db.models.deletion
import personalize.webhooks.models
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('personalize', '0009_api_keys'),
    ]

    operations = [
        migrations.CreateModel(
            name='WebhookCursor',
            fields=[
                ('name', models.CharField(max_length=40, primary_key=True, serialize=False)),
                ('position', models.BigIntegerField(default=0)),
                ('updated_at', models.DateTimeField(auto_now=True)),
            ],
        ),
        migrations.CreateModel(
            name='Webhook',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(max_length=100)),
                ('url', models.URLField(help_text='Where events are POSTed, e.g. https://crm.example.com/hooks/personalize.', max_length=500, validators=[personalize.webhooks.models.validate_webhook_url], verbose_name='URL')),
                ('secret', models.CharField(default=personalize.webhooks.models.new_secret, editable=False, help_text='Signs every request (X-Personalize-Signature). Give it to the receiver.', max_length=100)),
                ('events', models.JSONField(default=list, error_messages={'blank': 'Choose at least one event to send.'}, help_text='The event types to send.', validators=[personalize.webhooks.models.validate_event_types])),
                ('is_active', models.BooleanField(default=True, help_text='Inactive webhooks get no new events; waiting deliveries wait.', verbose_name='active')),
                ('consecutive_failures', models.PositiveIntegerField(default=0, editable=False)),
                ('disabled_reason', models.TextField(blank=True, editable=False)),
                ('disabled_at', models.DateTimeField(blank=True, editable=False, null=True)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('updated_at', models.DateTimeField(auto_now=True)),
                ('segments', models.ManyToManyField(blank=True, help_text='Send segment.entered / segment.left for these segments only (none selected: every segment).', related_name='webhooks', to='personalize.segment')),
            ],
            options={
                'ordering': ['name', 'pk'],
            },
        ),
        migrations.CreateModel(
            name='WebhookDelivery',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('event_type', models.CharField(choices=[('segment.entered', 'segment.entered — a visitor entered a segment'), ('segment.left', 'segment.left — a visitor left a segment'), ('lead.captured', 'lead.captured — a campaign form captured an email'), ('order.attributed', 'order.attributed — an order followed a campaign or a recommendation click')], max_length=32)),
                ('event_key', models.CharField(max_length=80)),
                ('body', models.JSONField()),
                ('status', models.CharField(choices=[('pending', 'Waiting'), ('sending', 'Sending'), ('delivered', 'Delivered'), ('failed', 'Failed (gave up)')], default='pending', max_length=10)),
                ('attempts', models.PositiveIntegerField(default=0)),
                ('next_attempt_at', models.DateTimeField()),
                ('claim_token', models.CharField(blank=True, default='', max_length=32)),
                ('last_response_code', models.PositiveIntegerField(blank=True, null=True)),
                ('last_error', models.TextField(blank=True)),
                ('attempt_log', models.JSONField(blank=True, default=list)),
                ('created_at', models.DateTimeField()),
                ('delivered_at', models.DateTimeField(blank=True, null=True)),
                ('webhook', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='deliveries', to='personalize.webhook')),
            ],
            options={
                'verbose_name_plural': 'webhook deliveries',
                'ordering': ['-created_at', '-pk'],
                'indexes': [models.Index(fields=['status', 'next_attempt_at'], name='personalize_delivery_due'), models.Index(fields=['created_at'], name='personalize_delivery_created')],
                'constraints': [models.UniqueConstraint(fields=('webhook', 'event_key'), name='personalize_delivery_unique_event')],
            },
        ),
    ]
