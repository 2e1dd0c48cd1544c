from __future__ import annotations

from django.urls import path

from personalize.api import events, views
from personalize.api.decisions import DecisionsView
from personalize.api.recommendations import RecommendationsView

urlpatterns = [
    path("visitor/", views.VisitorView.as_view(), name="visitor"),
    path("events/", events.EventsView.as_view(), name="events"),
]

# The versioned headless API (docs/headless.md).
urlpatterns += [
    path("v1/decisions/", DecisionsView.as_view(), name="decisions"),
    path("v1/recommendations/", RecommendationsView.as_view(), name="recommendations_json"),
]
