"""Region scoping for admin querysets: staff see only the regions their groups grant."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import Model, Q, QuerySet
from django.http import HttpRequest

from regions.access import RegionScope, scope_for


def scope_queryset(qs: QuerySet[Any], scope: RegionScope, code_path: str, unrouted: Q) -> QuerySet[Any]:
    """``code_path`` leads to the region code (e.g. ``region__code``); ``unrouted`` matches quarantined
    rows, which only the quarantine group (and superusers) may see."""
    if scope.all_regions:
        return qs
    condition = Q(**{f"{code_path}__in": sorted(scope.region_codes)})
    if scope.quarantine:
        condition |= unrouted
    return qs.filter(condition)


class ReadOnlyAdminMixin:
    """Content, inbox and audit rows are evidence: nobody edits or deletes them in the admin."""

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


class RegionScopedAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    region_code_path: str = "region__code"
    unrouted_q: Q = Q(region__isnull=True)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        qs = super().get_queryset(request)
        return scope_queryset(qs, scope_for(request.user), self.region_code_path, self.unrouted_q)
