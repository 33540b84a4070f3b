"""The two Zoom credential sets, kept apart because Zoom keeps them apart (DESIGN.md "Configuration").

- ``RtmsAppCredentials``: the General app that receives RTMS. Its client id/secret sign the RTMS
  handshakes; its secret token signs webhooks.
- ``AccountApiCredentials``: Server-to-Server OAuth for REST and the event-subscription WebSocket.

Secrets are excluded from ``repr`` so a stray log line or traceback cannot print them.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class RtmsAppCredentials:
    client_id: str
    client_secret: str = field(repr=False)
    webhook_secret_token: str = field(repr=False)


@dataclass(frozen=True)
class AccountApiCredentials:
    account_id: str
    client_id: str
    client_secret: str = field(repr=False)
    event_subscription_id: str


class MissingCredentials(LookupError):
    """A credential's environment variable is unset; the message names the variable, never a value."""
