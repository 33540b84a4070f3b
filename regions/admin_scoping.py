"""Region scoping for admin querysets: staff see only the regions their groups grant."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import Model, Q, QuerySet
from django.http import HttpRequest

from regions.access import NOTHING, scope_for, scope_queryset


def is_superuser(request: HttpRequest) -> bool:
    user = request.user
    return bool(user.is_active and getattr(user, "is_superuser", False))


class ReadOnlyAdminMixin:
    """Content, inbox and audit rows are evidence: nobody edits or deletes them in the admin."""

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


class SuperuserWritesMixin:
    """Configuration that decides for every region (regions, residency rules, Zoom accounts): staff may
    look at their regions' rows, only a superuser adds, changes or deletes (issue #20)."""

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return is_superuser(request)

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return is_superuser(request)

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return is_superuser(request)


class SuperuserOnlyAdminMixin(SuperuserWritesMixin):
    """Rows that belong to no region (and are not quarantined meetings or events): superusers only."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return is_superuser(request)

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return is_superuser(request)


class RegionScopedAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Every list, detail page, action and filter choice of these models sees only the rows of the user's
    regions. ``quarantined_q`` matches the rows the quarantine group may see besides (none by default)."""

    region_code_path: str = "region__code"
    quarantined_q: Q = NOTHING

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        qs = super().get_queryset(request)
        return scope_queryset(qs, scope_for(request.user), self.region_code_path, self.quarantined_q)
