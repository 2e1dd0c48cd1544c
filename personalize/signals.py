"""Signal receivers: recognise a customer across devices when they log in, forget them
when they log out, and tell every process when configuration changes."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.core.signals import setting_changed
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import receiver
from django.http import HttpRequest

from personalize import configuration
from personalize.campaigns.models import Campaign, Lead, Variant
from personalize.identity.visitor import Visitor
from personalize.recommendations.models import Widget, WidgetRule
from personalize.segments.models import Segment, SegmentMember
from personalize.webhooks.models import Webhook
from personalize.webhooks.subscriptions import lead_captured


@receiver(user_logged_in, dispatch_uid="personalize.merge_visitor_on_login")
def merge_visitor_on_login(
    sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any
) -> None:
    """Fold this browser's anonymous profile into the user's profile (or adopt it)."""
    visitor = getattr(request, "visitor", None)
    if isinstance(visitor, Visitor):
        visitor.login(str(user.pk))


@receiver(user_logged_out, dispatch_uid="personalize.forget_visitor_on_logout")
def forget_visitor_on_logout(sender: Any, request: HttpRequest | None, **kwargs: Any) -> None:
    """The browser stops being the user: a new anonymous visitor from the next response."""
    visitor = getattr(request, "visitor", None)
    if isinstance(visitor, Visitor):
        visitor.logout()


@receiver(post_save, sender=Segment, dispatch_uid="personalize.segment_saved")
@receiver(post_delete, sender=Segment, dispatch_uid="personalize.segment_deleted")
@receiver(post_save, sender=SegmentMember, dispatch_uid="personalize.member_saved")
@receiver(post_delete, sender=SegmentMember, dispatch_uid="personalize.member_deleted")
def configuration_changed(sender: Any, **kwargs: Any) -> None:
    """Every worker picks the change up on its next request (Redis) or within seconds."""
    configuration.bump_on_commit(kwargs.get("using"))


@receiver(post_save, sender=Campaign, dispatch_uid="personalize.campaign_saved")
@receiver(post_delete, sender=Campaign, dispatch_uid="personalize.campaign_deleted")
@receiver(post_save, sender=Variant, dispatch_uid="personalize.variant_saved")
@receiver(post_delete, sender=Variant, dispatch_uid="personalize.variant_deleted")
@receiver(
    m2m_changed,
    sender=Campaign.include_segments.through,
    dispatch_uid="personalize.campaign_includes",
)
@receiver(
    m2m_changed,
    sender=Campaign.exclude_segments.through,
    dispatch_uid="personalize.campaign_excludes",
)
def campaign_configuration_changed(sender: Any, **kwargs: Any) -> None:
    if str(kwargs.get("action", "post_")).startswith("post_"):  # m2m: once, after the change
        configuration_changed(sender, **kwargs)


@receiver(post_save, sender=Widget, dispatch_uid="personalize.widget_saved")
@receiver(post_delete, sender=Widget, dispatch_uid="personalize.widget_deleted")
@receiver(post_save, sender=WidgetRule, dispatch_uid="personalize.widget_rule_saved")
@receiver(post_delete, sender=WidgetRule, dispatch_uid="personalize.widget_rule_deleted")
def widget_configuration_changed(sender: Any, **kwargs: Any) -> None:
    configuration_changed(sender, **kwargs)


@receiver(post_save, sender=Webhook, dispatch_uid="personalize.webhook_saved")
@receiver(post_delete, sender=Webhook, dispatch_uid="personalize.webhook_deleted")
@receiver(m2m_changed, sender=Webhook.segments.through, dispatch_uid="personalize.webhook_segments")
def webhook_configuration_changed(sender: Any, **kwargs: Any) -> None:
    """Subscriptions are compiled configuration: app servers learn who wants what."""
    if str(kwargs.get("action", "post_")).startswith("post_"):
        configuration_changed(sender, **kwargs)


@receiver(post_save, sender=Lead, dispatch_uid="personalize.lead_captured")
def queue_lead_captured(sender: Any, instance: Lead, created: bool, **kwargs: Any) -> None:
    """``lead.captured`` for subscribed webhooks (one insert; sent by the worker)."""
    if created:
        lead_captured(instance)


@receiver(setting_changed, dispatch_uid="personalize.reset_store_on_setting_change")
def reset_store_on_setting_change(setting: str, **kwargs: Any) -> None:
    """``override_settings(PERSONALIZE_STORE=...)`` in tests gets a fresh store instance."""
    if setting.startswith("PERSONALIZE_"):
        from personalize.profiles.base import reset_store

        reset_store()
