from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group, User

from regions.admin_scoping import RegionScopedAdmin, SuperuserOnlyAdminMixin, SuperuserWritesMixin
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
class RegionAdmin(SuperuserWritesMixin, RegionScopedAdmin):
    """Staff see their regions; only a superuser adds, activates or changes one."""

    region_code_path = "code"
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
class ResidencyRuleAdmin(SuperuserWritesMixin, RegionScopedAdmin):
    """Staff see the rules into their regions (host ids, meeting numbers and notes name other regions'
    people too); the order decides for every region, so only a superuser writes one (issue #20)."""

    list_display = ["position", "tier", "field", "tracking_field_name", "value", "region", "active", "note"]
    list_display_links = ["position"]
    list_filter = ["tier", "field", ("region", admin.RelatedOnlyFieldListFilter), "active"]
    # Rules made here are staff rules; client rules are their API client's (issue #20).
    readonly_fields = ["tier", "managed_by"]
    search_fields = ["value", "note", "tracking_field_name"]
    ordering = ["tier", "position"]


# Whoever edits users and groups grants regions (a group per region): a superuser's job only, whatever
# model permissions a member of staff was given.
class SuperuserUserAdmin(SuperuserOnlyAdminMixin, UserAdmin):  # type: ignore[type-arg]
    pass


class SuperuserGroupAdmin(SuperuserOnlyAdminMixin, GroupAdmin):
    pass


for _model, _admin in ((User, SuperuserUserAdmin), (Group, SuperuserGroupAdmin)):
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)
    admin.site.register(_model, _admin)
