"""Reconcile runs: per Zoom account, not per region, so every caller sees them, but only callers who
see every region get the error list (it can name other regions' meetings)."""

from __future__ import annotations

from django.db.models import QuerySet
from rest_framework import viewsets

from api.filters import ReconcileRunFilter
from api.serializers import ReconcileRunSerializer
from api.views.common import ID_REGEX, ScopedQuerysetMixin
from reconciler.models import ReconcileRun


class ReconcileRunViewSet(ScopedQuerysetMixin, viewsets.ReadOnlyModelViewSet):  # type: ignore[type-arg]
    serializer_class = ReconcileRunSerializer
    filterset_class = ReconcileRunFilter
    lookup_value_regex = ID_REGEX

    def get_queryset(self) -> QuerySet[ReconcileRun]:
        return ReconcileRun.objects.select_related("account")
