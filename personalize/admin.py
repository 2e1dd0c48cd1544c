"""Admin registrations; the admin classes live next to their models."""

from __future__ import annotations

from django.contrib import admin

from personalize.analytics.admin import DashboardAdmin
from personalize.analytics.models import Dashboard
from personalize.api.admin import ApiKeyAdmin
from personalize.api.models import ApiKey
from personalize.campaigns.admin import register as register_campaign_admin
from personalize.privacy.admin import PrivacyRequestAdmin
from personalize.privacy.models import PrivacyRequest
from personalize.recommendations.admin import register as register_recommendation_admin
from personalize.rfm.admin import RFMReportAdmin
from personalize.rfm.models import RFMReport
from personalize.segments.admin import SegmentAdmin
from personalize.segments.models import Segment
from personalize.webhooks.admin import register as register_webhook_admin

admin.site.register(Dashboard, DashboardAdmin)
admin.site.register(Segment, SegmentAdmin)
admin.site.register(RFMReport, RFMReportAdmin)
admin.site.register(ApiKey, ApiKeyAdmin)
admin.site.register(PrivacyRequest, PrivacyRequestAdmin)
register_campaign_admin(admin.site)
register_recommendation_admin(admin.site)
register_webhook_admin(admin.site)
