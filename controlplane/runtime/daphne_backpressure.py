"""daphne's replies, paced by the client: a streamed body waits while the socket's send buffer is full.

daphne (4.2) writes every ``http.response.body`` message to Twisted at once and returns: the ASGI
application's ``send`` never waits, so a download produced faster than its client reads it piles up in
the transport's buffer, in the web process that also answers Zoom's webhooks (bench/downloads.py: ten
clients took daphne 270 MB up). Twisted has the signal daphne ignores: a streaming producer registered on
the request is paused when the transport's buffer passes its high-water mark and resumed once it drained
(``HTTPChannel.pauseProducing`` / ``resumeProducing``). Here ``Server.handle_reply`` registers one for a
response that streams (``more_body``) and, after each chunk, waits until the producer is resumed; the final
chunk unregisters it, so a kept-alive connection's next request starts clean. A client that reads nothing
for ``STALLED_S`` is disconnected (daphne then stops the application).

It reaches into daphne's ``Server.handle_reply`` and Twisted's producer registration on a request (public
in Twisted, but daphne's use of ``twisted.web.http.Request`` is its own), so it applies only to the
versions it was read against (docs/patches.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from controlplane.runtime.patch import Patch, Pin

PATCH = Patch("daphne_backpressure", (Pin("daphne", ((4, 2),)), Pin("twisted", ((26, 10),))))

STALLED_S = 120.0

logger = logging.getLogger(__name__)


class SendWindow:
    """A Twisted streaming producer whose state is an asyncio event: set while the client can take more."""

    def __init__(self) -> None:
        self.open = asyncio.Event()
        self.open.set()

    def pauseProducing(self) -> None:  # noqa: N802  (Twisted's IPushProducer)
        self.open.clear()

    def resumeProducing(self) -> None:  # noqa: N802
        self.open.set()

    def stopProducing(self) -> None:  # noqa: N802  (the connection is going: let the application finish)
        self.open.set()


_ATTRIBUTE = "_rtms_send_window"


async def paced_reply(
    original: Callable[[Any, Any, dict[str, Any]], Awaitable[None]],
    server: Any,
    protocol: Any,
    message: dict[str, Any],
) -> None:
    """What daphne's ``handle_reply`` does, then for a streaming body: wait until the client caught up."""
    streaming_body = message.get("type") == "http.response.body"
    more = bool(message.get("more_body", False))
    window: SendWindow | None = getattr(protocol, _ATTRIBUTE, None)
    if streaming_body and not more and window is not None:
        _unregister(protocol)
    await original(server, protocol, message)
    if not (streaming_body and more) or getattr(protocol, "finished", True) or protocol.channel is None:
        return
    if window is None:
        window = SendWindow()
        try:
            protocol.registerProducer(window, True)
        except (ValueError, RuntimeError):  # someone else's producer: leave this response unpaced
            return
        setattr(protocol, _ATTRIBUTE, window)
        if getattr(protocol.channel, "_waitingForTransport", False):
            window.pauseProducing()  # registered while the buffer was already full
    if window.open.is_set():
        return
    try:
        await asyncio.wait_for(window.open.wait(), STALLED_S)
    except TimeoutError:
        logger.warning("web.client_stalled", extra={"seconds": STALLED_S})
        _unregister(protocol)
        with contextlib.suppress(Exception):
            protocol.channel.transport.abortConnection()


def _unregister(protocol: Any) -> None:
    with contextlib.suppress(Exception):
        protocol.unregisterProducer()
    with contextlib.suppress(AttributeError):
        delattr(protocol, _ATTRIBUTE)


def pace_daphne_replies() -> bool:
    """Install in the daphne process (controlplane/asgi.py); True when installed. Outside daphne (tests
    through Django's client, another ASGI server) nothing is imported or changed."""
    server_module = sys.modules.get("daphne.server")
    if server_module is None or not PATCH.check():
        return False
    server_class = server_module.Server
    if getattr(server_class.handle_reply, "_rtms_paced", False):
        return True
    original = server_class.handle_reply

    async def handle_reply(self: Any, protocol: Any, message: dict[str, Any]) -> None:
        await paced_reply(original, self, protocol, message)

    handle_reply._rtms_paced = True  # type: ignore[attr-defined]
    server_class.handle_reply = handle_reply
    return True
