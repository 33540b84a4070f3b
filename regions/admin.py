from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin

from regions.models import Region, ResidencyRule
from regions.services import region_groups_sync
from regions.storage import regions_without_storage


class RegionForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = Region
        fields = "__all__"

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        code = cleaned.get("code") or (self.instance.code if self.instance.pk else None)
        # Residency fails closed (issue #19): an active region must have somewhere in its jurisdiction to
        # keep its content, and the processes would refuse to start with one that has none.
        if cleaned.get("active") and code and regions_without_storage([code]):
            self.add_error(
                "active",
                f"Region {code!r} has no content database. Add it to REGION_DATABASES and restart the "
                "processes, then activate it.",
            )
        return cleaned


@admin.register(Region)
class RegionAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    form = RegionForm
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
