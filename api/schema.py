"""OpenAPI generation: every operation documents the shared error body for the statuses it can answer."""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema

from api.errors import ErrorSerializer

# Any endpoint: bad query or body, no or bad token, no permission, unknown (or out-of-scope) object,
# wrong method, rate limit.
COMMON_ERRORS = ("400", "401", "403", "404", "405", "429")


class ApiAutoSchema(AutoSchema):
    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        bodies: dict[str, Any] = super()._get_response_bodies(direction)
        if direction != "response":
            return bodies
        extra: dict[str, tuple[str, ...]] = getattr(self.view, "error_statuses", {})
        action = getattr(self.view, "action", None) or self.method.lower()
        for code in (*COMMON_ERRORS, *extra.get(action, ())):
            if code not in bodies:
                bodies[code] = self._get_response_for_code(  # type: ignore[no-untyped-call]
                    ErrorSerializer, code, media_types=["application/json"], direction=direction
                )
        return bodies
