"""Reads of reconcile runs shaped for the admin and the API alike."""

from __future__ import annotations

from django.db.models import QuerySet

from reconciler.models import ReconcileRun
from regions.access import RegionScope
from rtms.selectors import accounts_serving


def runs_visible(runs: QuerySet[ReconcileRun], scope: RegionScope) -> QuerySet[ReconcileRun]:
    """A run belongs to a Zoom account, not a region: a scoped user sees the runs of the accounts serving
    their regions (issue #20); whoever sees every region sees all of them."""
    return runs if scope.all_regions else runs.filter(account__in=accounts_serving(scope))
