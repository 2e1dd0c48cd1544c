from __future__ import annotations

from django.urls import path

from personalize.api import views

urlpatterns = [
    path("visitor/", views.VisitorView.as_view(), name="visitor"),
]
