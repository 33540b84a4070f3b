from __future__ import annotations

from django.contrib import admin

from regions.models import Region, ResidencyRule
from regions.services import region_groups_sync


@admin.register(Region)
class RegionAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["code", "name", "jurisdiction", "zoom_data_centres", "active"]
    list_filter = ["active", "jurisdiction"]
    search_fields = ["code", "name"]

    def get_readonly_fields(self, request, obj=None):  # type: ignore[no-untyped-def]
        # The code names queues, databases and groups: changing it would orphan all of them.
        return ["code"] if obj is not None else []

    def save_model(self, request, obj, form, change):  # type: ignore[no-untyped-def]
        super().save_model(request, obj, form, change)
        region_groups_sync()


@admin.register(ResidencyRule)
class ResidencyRuleAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["position", "field", "tracking_field_name", "value", "region", "active", "note"]
    list_display_links = ["position"]
    list_filter = ["field", "region", "active"]
    search_fields = ["value", "note", "tracking_field_name"]
    ordering = ["position"]
