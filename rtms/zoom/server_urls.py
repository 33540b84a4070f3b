"""Which RTMS servers we connect to (issue #20). ``server_urls`` arrive in an event; even a verified event
must not point the gateway at any host it names. Pure: the caller passes the settings."""

from __future__ import annotations

from collections.abc import Iterable
from fnmatch import fnmatchcase
from urllib.parse import urlsplit

_WS_SCHEMES = frozenset({"ws", "wss"})


def server_urls_refusal(
    urls: Iterable[str], allowed_hosts: Iterable[str], *, allow_plain_ws: bool
) -> str | None:
    """Why these URLs must not be connected to, or None. Every URL's host must match one of
    ``allowed_hosts`` (shell patterns, e.g. ``*.zoom.us``, compared in lower case), and a WebSocket URL
    must be ``wss://`` unless ``allow_plain_ws`` (set only by the tests and the demo)."""
    patterns = [pattern.strip().lower() for pattern in allowed_hosts if pattern.strip()]
    listed = [url.strip() for url in urls if url.strip()]
    if not listed:
        return "no server URL"
    for url in listed:
        try:
            parts = urlsplit(url)
            host = parts.hostname
        except ValueError:
            return "a server URL is not a URL"
        scheme = parts.scheme.lower()
        if scheme == "ws" and not allow_plain_ws:
            return "a server URL is ws:// (unencrypted); only wss:// is allowed"
        if scheme in _WS_SCHEMES and not host:
            return "a server URL names no host"
        if host and not any(fnmatchcase(host, pattern) for pattern in patterns):
            return f"server host {host[:100]!r} is not in RTMS_SERVER_HOSTS"
    return None
