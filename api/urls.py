"""``/api/v1/`` (the REST API), ``/api/schema/`` (OpenAPI 3), ``/api/docs/`` (Swagger UI) and ``/api/redoc/``
(Redoc); the documentation pages are api/docs.py's."""

from __future__ import annotations

from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView
from rest_framework.routers import SimpleRouter

from api.docs import redoc_view, swagger_ui_view
from api.errors import api_not_found
from api.views.inbox import InboundEventViewSet
from api.views.meetings import MeetingViewSet
from api.views.reconcile import ReconcileRunViewSet
from api.views.reference import RegionViewSet, ResidencyRuleViewSet

app_name = "api"

router = SimpleRouter()
router.register("regions", RegionViewSet, basename="region")
router.register("rules", ResidencyRuleViewSet, basename="rule")
router.register("meetings", MeetingViewSet, basename="meeting")
router.register("events", InboundEventViewSet, basename="event")
router.register("reconcile-runs", ReconcileRunViewSet, basename="reconcile-run")

urlpatterns = [
    path("v1/", include(router.urls)),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", swagger_ui_view(), name="docs"),
    path("redoc/", redoc_view(), name="redoc"),
    # Last: anything else under /api/ is a JSON 404 in the one error shape, never Django's HTML page.
    re_path(r"^(?P<path>.*)$", api_not_found, name="not-found"),
]
