"""Server-to-Server OAuth: token issue and validation (zoom-protocol.md §6.1)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass

from zoomsim.clock import monotonic
from zoomsim.config import AppCreds, SimConfig

# Scopes granted (space-separated in the token response).
S2S_SCOPES = (
    "dashboard_meetings:read:admin meeting:update:participant_rtms_app_status:admin "
    "meeting:read:meeting:admin user:read:user:admin"
)
APP_SCOPES = "marketplace:read:app"


@dataclass
class AppInfo:
    creds: AppCreds
    account_id: str  # the account that owns the app
    kind: str  # "s2s" | "general" | "s2s+general"

    @property
    def allows_account_credentials(self) -> bool:
        return "s2s" in self.kind


@dataclass
class Token:
    value: str
    client_id: str
    account_id: str
    grant_type: str
    expires_at: float  # monotonic
    revoked: bool = False

    @property
    def expired(self) -> bool:
        return self.revoked or monotonic() >= self.expires_at

    @property
    def account_level(self) -> bool:
        return self.grant_type == "account_credentials"


class OAuthError(Exception):
    def __init__(self, status: int, body: dict[str, str]) -> None:
        super().__init__(body.get("reason", ""))
        self.status = status
        self.body = body


INVALID_CLIENT = OAuthError(401, {"reason": "Invalid client_id or client_secret", "error": "invalid_client"})


class TokenStore:
    def __init__(self, config: SimConfig) -> None:
        self.config = config
        self.apps: dict[str, AppInfo] = {}
        self.tokens: dict[str, Token] = {}
        self._signing_key = secrets.token_bytes(32)

    def register_app(self, creds: AppCreds, account_id: str, kind: str) -> None:
        existing = self.apps.get(creds.client_id)
        if existing is not None and existing.kind != kind:
            kind = "s2s+general"
        self.apps[creds.client_id] = AppInfo(creds, account_id, kind)

    def authenticate(self, authorization: str | None) -> AppInfo:
        if not authorization or not authorization.lower().startswith("basic "):
            raise INVALID_CLIENT
        try:
            decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise INVALID_CLIENT from exc
        client_id, sep, secret = decoded.partition(":")
        app = self.apps.get(client_id)
        if not sep or app is None or not hmac.compare_digest(app.creds.client_secret, secret):
            raise INVALID_CLIENT
        return app

    def issue(self, app: AppInfo, grant_type: str | None, account_id: str | None) -> Token:
        if not grant_type:
            raise OAuthError(400, {"reason": "Missing grant type", "error": "invalid_request"})
        if grant_type == "account_credentials":
            if not app.allows_account_credentials:
                raise OAuthError(400, {"reason": "Unsupported grant type", "error": "unsupported_grant_type"})
            if not account_id:
                raise OAuthError(400, {"reason": "Missing account_id", "error": "invalid_request"})
            if account_id != app.account_id:
                raise OAuthError(400, {"reason": "Invalid account_id", "error": "invalid_request"})
        elif grant_type != "client_credentials":
            raise OAuthError(400, {"reason": "Unsupported grant type", "error": "unsupported_grant_type"})
        ttl_real = max(self.config.scaled(self.config.token_ttl_s), 0.001)
        value = self._jwt(app, grant_type, ttl_real)
        token = Token(value, app.creds.client_id, app.account_id, grant_type, monotonic() + ttl_real)
        self.tokens[value] = token
        return token

    def _jwt(self, app: AppInfo, grant_type: str, ttl_real: float) -> str:
        """A JWT-shaped opaque token (Zoom's tokens are JWTs); validated by lookup, not by parsing."""

        def b64(obj: object) -> str:
            return (
                base64.urlsafe_b64encode(json.dumps(obj, separators=(",", ":")).encode()).decode().rstrip("=")
            )

        now = int(time.time())
        header = b64({"alg": "HS512", "v": "2.0", "kid": secrets.token_hex(4)})
        payload = b64(
            {
                "aud": "https://oauth.zoom.us",
                "uid": secrets.token_urlsafe(16),
                "ver": 10,
                "auid": secrets.token_hex(16),
                "nbf": now,
                "iss": "zm:cid:" + app.creds.client_id,
                "gno": 0,
                "gty": grant_type,
                "sid": secrets.token_hex(8),
                "aid": app.account_id,
                "exp": now + int(ttl_real) + 1,
                "iat": now,
                "jti": secrets.token_hex(16),
            }
        )
        sig = hmac.new(self._signing_key, f"{header}.{payload}".encode(), hashlib.sha512).digest()
        return f"{header}.{payload}." + base64.urlsafe_b64encode(sig).decode().rstrip("=")

    def lookup(self, value: str | None) -> Token | None:
        return self.tokens.get(value) if value else None

    def expire(self, client_id: str | None = None, account_id: str | None = None) -> list[Token]:
        out = []
        for t in self.tokens.values():
            if (
                t.revoked
                or (client_id and t.client_id != client_id)
                or (account_id and t.account_id != account_id)
            ):
                continue
            t.revoked = True
            out.append(t)
        return out

    def s2s_client_for(self, account_id: str) -> str | None:
        for app in self.apps.values():
            if app.account_id == account_id and "s2s" in app.kind:
                return app.creds.client_id
        return None
