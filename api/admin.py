"""API clients in the admin. A new token is shown once, in the response to the request that made it (the
add or the rotation), never in a message: Django's messages travel in a cookie (signed, not encrypted) or
the session (issue #20). That response is not cached. Creation, rotation and changes are audited."""

from __future__ import annotations

from typing import Any
from weakref import WeakKeyDictionary

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.forms import ModelForm
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers

from api.models import ApiClient, ApiRole
from api.services import api_client_audit, api_client_revoke, api_client_token_rotate, token_issue
from controlplane.client_ip import client_ip
from regions.admin_scoping import SuperuserOnlyAdminMixin


class ApiClientForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = ApiClient
        fields = "__all__"
        widgets = {"permissions": forms.CheckboxSelectMultiple}

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        if cleaned.get("role") != ApiRole.READ_WRITE:
            if cleaned.get("permissions"):
                self.add_error("permissions", "Acts need the read-write role.")
            if cleaned.get("manage_rules"):
                self.add_error("manage_rules", "Managing rules needs the read-write role.")
        return cleaned


@admin.register(ApiClient)
class ApiClientAdmin(SuperuserOnlyAdminMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    """Tokens grant access to every listed region: only superusers manage them."""

    form = ApiClientForm
    list_display = [
        "name",
        "role",
        "region_codes",
        "quarantine_access",
        "manage_rules",
        "active",
        "token_expires_at",
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
        "permissions",
        "manage_rules",
        "active",
        "token_prefix",
        "token_expires_at",
        "previous_token_expires_at",
        "created_at",
        "last_used_at",
    ]
    readonly_fields = [
        "token_prefix",
        "token_expires_at",
        "previous_token_expires_at",
        "created_at",
        "last_used_at",
    ]
    actions = ["rotate_token", "revoke"]

    @admin.display(description="regions")
    def region_codes(self, obj: ApiClient) -> str:
        return ", ".join(r.code for r in obj.regions.all()) or "-"

    def get_queryset(self, request: HttpRequest) -> QuerySet[ApiClient]:
        return super().get_queryset(request).prefetch_related("regions")

    def save_model(self, request: HttpRequest, obj: ApiClient, form: ModelForm[Any], change: bool) -> None:
        if not change:
            token, token_fields = token_issue(timezone.now())
            for name, value in token_fields.items():
                setattr(obj, name, value)
            _NEW_TOKENS[request] = [(obj, token)]
        super().save_model(request, obj, form, change)

    def save_related(self, request: HttpRequest, form: ModelForm[Any], formsets: Any, change: bool) -> None:
        # Audited here, once the regions and permissions are saved too, so the row shows what was granted.
        super().save_related(request, form, formsets, change)
        client: ApiClient = form.instance
        actor, source_ip = request.user.get_username(), client_ip(request)
        if not change:
            api_client_audit(client, "api_client.created", actor=actor, source_ip=source_ip)
        elif form.changed_data:
            revoked = "active" in form.changed_data and not client.active
            action = "api_client.revoked" if revoked else "api_client.changed"
            api_client_audit(client, action, actor=actor, source_ip=source_ip)

    def response_add(
        self, request: HttpRequest, obj: ApiClient, post_url_continue: str | None = None
    ) -> HttpResponse:
        tokens = _NEW_TOKENS.pop(request, None)
        if tokens is None:
            return super().response_add(request, obj, post_url_continue)
        return self._tokens_page(request, tokens)

    def _tokens_page(self, request: HttpRequest, tokens: list[tuple[ApiClient, str]]) -> HttpResponse:
        """The one response that carries the new tokens: never cached, never stored."""
        context = {
            **self.admin_site.each_context(request),
            "title": "New API token" if len(tokens) == 1 else "New API tokens",
            "opts": self.opts,
            "tokens": tokens,
        }
        response = TemplateResponse(request, "admin/api/apiclient/new_tokens.html", context)
        add_never_cache_headers(response)
        response["Cache-Control"] = "no-store, " + response["Cache-Control"]
        return response

    @admin.action(description="Revoke the tokens (current and previous stop working at once)")
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiClient]) -> None:
        actor, source_ip = request.user.get_username(), client_ip(request)
        for client in queryset:
            api_client_revoke(client, actor=actor, source_ip=source_ip)

    @admin.action(
        description="Rotate the token (the old one keeps working for API_TOKEN_ROTATION_OVERLAP_HOURS)"
    )
    def rotate_token(self, request: HttpRequest, queryset: QuerySet[ApiClient]) -> HttpResponse:
        actor, source_ip = request.user.get_username(), client_ip(request)
        tokens = [
            (client, api_client_token_rotate(client, actor=actor, source_ip=source_ip)) for client in queryset
        ]
        return self._tokens_page(request, tokens)


# The token made by this request, from save_model to response_add (the same request object); never kept
# beyond it.
_NEW_TOKENS: WeakKeyDictionary[HttpRequest, list[tuple[ApiClient, str]]] = WeakKeyDictionary()
