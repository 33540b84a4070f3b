"""Reconcile runs: per Zoom account, not per region. A caller sees the runs of the accounts serving its
regions, as the admin does (rtms.selectors.accounts_serving); only callers who see every region get the
error list (it can name other regions' meetings)."""

from __future__ import annotations

from django.db.models import QuerySet
from rest_framework import viewsets

from api.filters import ReconcileRunFilter
from api.serializers import ReconcileRunSerializer
from api.views.common import ID_REGEX, ScopedQuerysetMixin
from reconciler.models import ReconcileRun
from reconciler.selectors import runs_visible


class ReconcileRunViewSet(ScopedQuerysetMixin, viewsets.ReadOnlyModelViewSet):  # type: ignore[type-arg]
    serializer_class = ReconcileRunSerializer
    filterset_class = ReconcileRunFilter
    lookup_value_regex = ID_REGEX

    def get_queryset(self) -> QuerySet[ReconcileRun]:
        return runs_visible(ReconcileRun.objects.select_related("account"), self.principal.scope)
