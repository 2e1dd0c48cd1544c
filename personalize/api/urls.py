from __future__ import annotations

from django.urls import path

from personalize.api import events, views

urlpatterns = [
    path("visitor/", views.VisitorView.as_view(), name="visitor"),
    path("events/", events.EventsView.as_view(), name="events"),
]
