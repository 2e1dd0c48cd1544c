from __future__ import annotations

from django.urls import path

from personalize.api import events, segment_members, views

urlpatterns = [
    path("visitor/", views.VisitorView.as_view(), name="visitor"),
    path("events/", events.EventsView.as_view(), name="events"),
    path(
        "v1/segments/<str:slug>/members/",
        segment_members.SegmentMembersView.as_view(),
        name="segment_members",
    ),
]
