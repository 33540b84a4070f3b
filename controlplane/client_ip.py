"""Where a request came from, for audit rows: the one place that decides which address to trust.

The peer address as the server saw it (behind a reverse proxy, the proxy's), never a header a client can
forge.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol


class _HasMeta(Protocol):
    @property
    def META(self) -> Mapping[str, Any]: ...  # noqa: N802  (Django's name)


def client_ip(request: _HasMeta) -> str | None:
    """A Django or DRF request's peer address, or None when the server did not say."""
    return request.META.get("REMOTE_ADDR") or None


def scope_client_ip(scope: Mapping[str, Any]) -> str | None:
    """The same for an ASGI scope (WebSocket consumers)."""
    client = scope.get("client")
    return str(client[0]) if client else None
