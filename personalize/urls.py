"""Include with ``path("personalize/", include("personalize.urls"))``."""

from __future__ import annotations

from django.urls import include, path

from personalize.campaigns import views as campaign_views
from personalize.recommendations import views as recommendation_views

app_name = "personalize"

urlpatterns = [
    path("api/", include("personalize.api.urls")),
    path("capture/<slug:slug>/", campaign_views.capture, name="capture"),
    path("campaigns/<slug:slug>/render/", campaign_views.render_campaign, name="render_campaign"),
    path("slots/<slug:name>/", campaign_views.slot, name="slot"),
    path(
        "recommendations/<slug:slot>/",
        recommendation_views.widget,
        name="recommendations",
    ),
]
