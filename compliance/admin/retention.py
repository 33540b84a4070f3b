"""Retention policies (editable, every change audited) and erasure tombstones (read-only), region-scoped."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import ForeignKey
from django.forms import ModelChoiceField, ModelForm
from django.http import HttpRequest

from compliance.models import ErasureTombstone, RetentionPolicy
from controlplane.client_ip import client_ip
from regions.access import scope_for
from regions.admin_scoping import ReadOnlyAdminMixin, RegionScopedAdmin
from regions.models import Region
from rtms.services import audit_record

_POLICY_FIELDS = ("transcript_days", "audio_days", "inbox_payload_days")


@admin.register(RetentionPolicy)
class RetentionPolicyAdmin(RegionScopedAdmin):
    list_display = ["region", "transcript_days", "audio_days", "inbox_payload_days", "updated_at"]
    fields = ["region", *_POLICY_FIELDS]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return ["region"] if obj is not None else []  # a policy belongs to its region for good

    def formfield_for_foreignkey(
        self, db_field: ForeignKey[Any, Any], request: HttpRequest, **kwargs: Any
    ) -> ModelChoiceField | None:  # type: ignore[type-arg]
        if db_field.name == "region":
            scope = scope_for(request.user)
            codes = [c for c in Region.objects.values_list("code", flat=True) if scope.allows(c)]
            kwargs["queryset"] = Region.objects.filter(code__in=codes)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request: HttpRequest, obj: RetentionPolicy, form: ModelForm, change: bool) -> None:  # type: ignore[type-arg]
        before = (
            dict(RetentionPolicy.objects.filter(pk=obj.pk).values(*_POLICY_FIELDS).first() or {})
            if change
            else {}
        )
        super().save_model(request, obj, form, change)
        audit_record(
            actor=request.user.get_username(),
            action="retention.change",
            object_type="retention_policy",
            object_id=obj.pk,
            region_code=obj.region.code,
            source_ip=client_ip(request),
            detail={"before": before, "after": {f: getattr(obj, f) for f in _POLICY_FIELDS}, "via": "admin"},
        )

    def delete_model(self, request: HttpRequest, obj: RetentionPolicy) -> None:
        before = {f: getattr(obj, f) for f in _POLICY_FIELDS}
        code, pk = obj.region.code, obj.pk
        super().delete_model(request, obj)
        audit_record(
            actor=request.user.get_username(),
            action="retention.delete",
            object_type="retention_policy",
            object_id=pk,
            region_code=code,
            source_ip=client_ip(request),
            detail={"before": before, "via": "admin"},
        )

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        # Bulk delete would skip delete_model and its audit row.
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions


@admin.register(ErasureTombstone)
class ErasureTombstoneAdmin(ReadOnlyAdminMixin, RegionScopedAdmin):
    region_code_path = "region_code"
    list_display = [
        "meeting_id",
        "region_code",
        "requested_by",
        "requested_at",
        "completed_at",
        "segments_deleted",
        "audio_files_deleted",
        "payloads_scrubbed",
    ]
    list_filter = ["region_code", ("completed_at", admin.EmptyFieldListFilter)]
    search_fields = ["=meeting__id", "requested_by"]
    date_hierarchy = "requested_at"
