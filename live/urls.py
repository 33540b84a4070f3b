from __future__ import annotations

from django.urls import path

from live import views

app_name = "live"
urlpatterns = [
    path("", views.meeting_list, name="index"),
    path("<int:meeting_id>/", views.meeting_detail, name="meeting"),
]
