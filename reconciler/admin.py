"""Reconcile runs in the admin. A run belongs to a Zoom account, not a region: staff see the runs of the
accounts serving their regions, and only those who see every region see the errors (they can name other
regions' meetings), as in the API (issue #20)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from reconciler.models import ReconcileRun
from reconciler.selectors import runs_visible
from regions.access import scope_for
from regions.admin_scoping import ReadOnlyAdminMixin


@admin.register(ReconcileRun)
class ReconcileRunAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = [
        "started_at",
        "account",
        "trigger",
        "status",
        "pages",
        "api_calls",
        "meetings_seen",
        "repairs",
    ]
    list_filter = ["status", "trigger", ("account", admin.RelatedOnlyFieldListFilter)]
    date_hierarchy = "started_at"

    def get_queryset(self, request: HttpRequest) -> QuerySet[ReconcileRun]:
        return runs_visible(super().get_queryset(request).select_related("account"), scope_for(request.user))

    def get_exclude(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [] if scope_for(request.user).all_regions else ["errors"]
