"""The inbox: every Zoom event received, with its routing status; re-routing quarantined ones."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from api.filters import InboundEventFilter
from api.serializers import (
    ActionSerializer,
    InboundEventDetailSerializer,
    InboundEventSerializer,
    RerouteResultSerializer,
)
from api.views.common import ID_REGEX, ScopedQuerysetMixin
from controlplane.client_ip import client_ip
from rtms.inbox.reroute import event_reroute
from rtms.models import InboundEvent
from rtms.quarantine import QUARANTINED_EVENTS


class InboundEventViewSet(ScopedQuerysetMixin, viewsets.ReadOnlyModelViewSet):  # type: ignore[type-arg]
    """Events of the caller's regions; quarantined ones only with quarantine access (pending, ignored and
    failed events of no region: every-region callers only)."""

    lookup_value_regex = ID_REGEX
    quarantined_q = QUARANTINED_EVENTS
    filterset_class = InboundEventFilter
    error_statuses = {"reroute": ("409",)}

    def base_queryset(self) -> QuerySet[InboundEvent]:
        return InboundEvent.objects.select_related("region")

    def get_serializer_class(self) -> Any:
        return InboundEventDetailSerializer if self.action == "retrieve" else InboundEventSerializer

    @extend_schema(
        request=ActionSerializer,
        responses={202: RerouteResultSerializer},
        summary="Send a quarantined event (and its meeting's other quarantined events) back through routing",
    )
    @action(detail=True, methods=["post"], pagination_class=None, filterset_class=None)
    def reroute(self, request: Request, pk: str | None = None) -> Response:
        event = self.get_object()
        self.principal.require_reroute()
        body = ActionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        count = event_reroute(
            event,
            actor=self.principal.actor,
            source_ip=client_ip(request),
            reason=body.validated_data["reason"],
        )
        return Response({"status": "requeued", "events_requeued": count}, status=status.HTTP_202_ACCEPTED)
