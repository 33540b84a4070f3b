from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from api.access import principal_of


class IsApiPrincipal(BasePermission):
    """An active API client, or a member of staff signed in to the admin."""

    message = "an API token or a staff session is required"

    def has_permission(self, request: Request, view: Any) -> bool:
        principal = principal_of(request)
        return principal.client is not None or principal.user is not None
