from __future__ import annotations

from django.urls import path

from personalize.api import (
    analytics,
    events,
    privacy,
    schema,
    segment_members,
    server_events,
    views,
)
from personalize.api.decisions import DecisionsView
from personalize.api.recommendations import RecommendationsView

urlpatterns = [
    path("visitor/", views.VisitorView.as_view(), name="visitor"),
    path("events/", events.EventsView.as_view(), name="events"),
    path("v1/events/", server_events.ServerEventsView.as_view(), name="api-v1-events"),
    path("schema/", schema.SchemaView.as_view(), name="api-schema"),
    path("docs/", schema.docs, name="api-docs"),
    path(
        "v1/segments/<str:slug>/members/",
        segment_members.SegmentMembersView.as_view(),
        name="segment_members",
    ),
    path(
        "analytics/summary/",
        analytics.AnalyticsSummaryView.as_view(),
        name="analytics-summary",
    ),
    path("v1/privacy/export/", privacy.PrivacyExportView.as_view(), name="privacy-export"),
    path("v1/privacy/erase/", privacy.PrivacyEraseView.as_view(), name="privacy-erase"),
]

# The versioned headless API (docs/headless.md).
urlpatterns += [
    path("v1/decisions/", DecisionsView.as_view(), name="decisions"),
    path("v1/recommendations/", RecommendationsView.as_view(), name="recommendations_json"),
]
