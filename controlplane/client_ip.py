"""Where a request came from, for audit rows: the one place that decides which address to trust.

The peer address as the server saw it, unless that peer is one of ``TRUSTED_PROXIES`` (addresses or
networks; empty by default). Then the client is the right-most ``X-Forwarded-For`` entry that is not itself
a trusted proxy: each proxy appends the address it received the request from, so entries to the left of
the first untrusted one are whatever the client chose to send. A malformed entry stops the walk at the
proxy that passed it on. Without trusted proxies the header is ignored: a client cannot forge its address.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class _HasMeta(Protocol):
    @property
    def META(self) -> Mapping[str, Any]: ...  # noqa: N802  (Django's name)


def trusted_networks(entries: Iterable[str]) -> tuple[Network, ...]:
    """``TRUSTED_PROXIES`` parsed (settings.py calls it at start-up, so a typo stops the process)."""
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            raise ImproperlyConfigured(f"TRUSTED_PROXIES: {entry!r} is not an address or a network") from None
    return tuple(networks)


def _trusted(address: str, networks: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def resolve_client(peer: str | None, forwarded_for: str | None, networks: Sequence[Network]) -> str | None:
    if not peer or not forwarded_for or not _trusted(peer, networks):
        return peer or None
    client = peer
    for entry in reversed([part.strip() for part in forwarded_for.split(",")]):
        try:
            ipaddress.ip_address(entry)
        except ValueError:
            return client  # the proxy that passed a malformed entry on is as far as the chain is known
        client = entry
        if not _trusted(entry, networks):
            return client
    return client  # every hop is a trusted proxy: the left-most is the origin


def client_ip(request: _HasMeta) -> str | None:
    """A Django or DRF request's client address, or None when the server did not say."""
    return resolve_client(
        request.META.get("REMOTE_ADDR"), request.META.get("HTTP_X_FORWARDED_FOR"), settings.TRUSTED_PROXIES
    )


def scope_client_ip(scope: Mapping[str, Any]) -> str | None:
    """The same for an ASGI scope (WebSocket consumers)."""
    client = scope.get("client")
    peer = str(client[0]) if client else None
    forwarded = [
        value.decode("latin-1")
        for name, value in scope.get("headers", ())
        if name.lower() == b"x-forwarded-for"
    ]
    return resolve_client(peer, ",".join(forwarded) or None, settings.TRUSTED_PROXIES)
