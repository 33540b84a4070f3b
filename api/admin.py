"""API clients in the admin. The token is shown once, on the page after creation (or rotation)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.forms import ModelForm
from django.http import HttpRequest

from api.models import ApiClient
from api.services import api_client_token_rotate
from api.tokens import token_new


@admin.register(ApiClient)
class ApiClientAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = [
        "name",
        "role",
        "region_codes",
        "quarantine_access",
        "manage_rules",
        "active",
        "last_used_at",
    ]
    list_filter = ["role", "active", "regions"]
    search_fields = ["name", "token_prefix"]
    filter_horizontal = ["regions"]
    fields = [
        "name",
        "regions",
        "role",
        "quarantine_access",
        "manage_rules",
        "active",
        "token_prefix",
        "created_at",
        "last_used_at",
    ]
    readonly_fields = ["token_prefix", "created_at", "last_used_at"]
    actions = ["rotate_token"]

    def has_module_permission(self, request: HttpRequest) -> bool:
        # Tokens grant access to every listed region: only superusers manage them.
        return bool(getattr(request.user, "is_superuser", False))

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(getattr(request.user, "is_superuser", False))

    @admin.display(description="regions")
    def region_codes(self, obj: ApiClient) -> str:
        return ", ".join(r.code for r in obj.regions.all()) or "-"

    def get_queryset(self, request: HttpRequest) -> QuerySet[ApiClient]:
        return super().get_queryset(request).prefetch_related("regions")

    def save_model(self, request: HttpRequest, obj: ApiClient, form: ModelForm[Any], change: bool) -> None:
        if not change:
            new = token_new()
            obj.token_prefix, obj.token_hash = new.prefix, new.token_hash
            super().save_model(request, obj, form, change)
            self._show_token(request, obj, new.token)
            return
        super().save_model(request, obj, form, change)

    def _show_token(self, request: HttpRequest, client: ApiClient, token: str) -> None:
        # A message lives in the session only until the next page renders it: shown once, then gone.
        messages.warning(
            request,
            f"Token for {client.name} (shown only now, copy it to your secret manager): {token}",
        )

    @admin.action(description="Rotate the token (the old one stops working at once)")
    def rotate_token(self, request: HttpRequest, queryset: QuerySet[ApiClient]) -> None:
        for client in queryset:
            self._show_token(request, client, api_client_token_rotate(client))
