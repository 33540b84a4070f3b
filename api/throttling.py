"""Per-client request rates (settings API_THROTTLE_RATE, API_STAFF_THROTTLE_RATE; docs/configuration.md).

Counters live in the shared cache (Redis), so every web process counts against the same budget.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

from api.access import principal_of


class ApiClientThrottle(SimpleRateThrottle):
    scope = "api_client"

    def get_rate(self) -> str:
        # Read per request, not frozen at import, so an operator's setting (and a test's) always applies.
        rate: str = settings.API_THROTTLE_RATE
        return rate

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        client = principal_of(request).client
        if client is None:
            return None
        return self.cache_format % {"scope": self.scope, "ident": client.pk}


class StaffThrottle(SimpleRateThrottle):
    scope = "api_staff"

    def get_rate(self) -> str:
        rate: str = settings.API_STAFF_THROTTLE_RATE
        return rate

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        user = principal_of(request).user
        if user is None:
            return None
        return self.cache_format % {"scope": self.scope, "ident": user.pk}
