"""``Authorization: Bearer <token>`` for API clients. Staff use their admin session instead."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed, Throttled
from rest_framework.request import Request

from api.access import ApiClientUser
from api.auth_failures import failure_count, throttled_for
from api.models import ApiClient
from api.services import api_client_authenticate
from controlplane.client_ip import client_ip


class BearerTokenAuthentication(BaseAuthentication):
    keyword = b"bearer"

    def authenticate(self, request: Request) -> tuple[ApiClientUser, ApiClient] | None:
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword:
            return None  # not ours: the session may still authenticate the request
        address = client_ip(request)
        wait = throttled_for(address)
        if wait is not None:  # too many failures from this address this minute: not even checked
            raise Throttled(wait=wait, detail="too many failed authentications from this address")
        client = None
        if len(parts) == 2:
            try:
                client = api_client_authenticate(parts[1].decode("ascii"))
            except UnicodeDecodeError:
                client = None
        if client is None:
            failure_count(address)
            if len(parts) != 2:
                raise AuthenticationFailed("Authorization header must be 'Bearer <token>'")
            raise AuthenticationFailed("invalid or revoked token")
        return ApiClientUser(client), client

    def authenticate_header(self, request: Request) -> str:
        # Makes unauthenticated requests 401 (with this challenge) rather than 403.
        return 'Bearer realm="api"'


class BearerTokenScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    target_class = "api.authentication.BearerTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer", "description": "An API client's token (docs/api.md)."}
