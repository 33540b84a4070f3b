from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

from controlplane import health
from rtms.inbox.webhook import zoom_webhook

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", health.metrics, name="metrics"),
    path("zoom/webhook", zoom_webhook, name="zoom-webhook"),
    path("admin/", admin.site.urls),
    path("live/", include("live.urls")),
    path("api/", include("api.urls")),
]
