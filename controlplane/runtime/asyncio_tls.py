"""asyncio's TLS read buffer, cut to one TLS record for a process that holds many TLS connections.

asyncio (3.11 and later) gives every TLS connection a read buffer of ``SSLProtocol.max_size``, 256 KiB,
allocated and zero-filled when it connects: with two sockets per stream, several times the gateway's memory
budget per stream (docs/benchmarks.md, "gateway", under ``--tls``). One maximum-size TLS record is enough:
a larger frame is only read in more calls. ``max_size`` is a class attribute of asyncio's private
``sslproto`` module, read at each connection's start and on every read, so it is checked against the
Python it was read in and left alone on any other (docs/patches.md).
"""

from __future__ import annotations

import asyncio.sslproto

from controlplane.runtime.patch import Patch, Pin

PATCH = Patch("asyncio_tls", (Pin("python", ((3, 11),)),))

TLS_READ_BUFFER_BYTES = 16 * 1024  # the largest TLS record


def limit_tls_read_buffers(size: int = TLS_READ_BUFFER_BYTES) -> None:
    """Process-wide, for the TLS connections opened after the call (the gateway calls it at start-up)."""
    if PATCH.check():
        asyncio.sslproto.SSLProtocol.max_size = size
