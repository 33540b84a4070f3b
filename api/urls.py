"""``/api/v1/`` (the REST API), ``/api/schema/`` (OpenAPI 3) and ``/api/docs/`` (Swagger UI)."""

from __future__ import annotations

from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import SimpleRouter

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
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
    # Last: anything else under /api/ is a JSON 404 in the one error shape, never Django's HTML page.
    re_path(r"^(?P<path>.*)$", api_not_found, name="not-found"),
]
