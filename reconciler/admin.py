from __future__ import annotations

from django.contrib import admin

from reconciler.models import ReconcileRun
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
    list_filter = ["status", "trigger", "account"]
    date_hierarchy = "started_at"
