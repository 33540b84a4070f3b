"""controlplane/runtime/daphne_backpressure.py: what it relies on in daphne and Twisted, and that a body
chunk waits while Twisted has paused the request's producer."""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

import daphne.server
from twisted.web import http

from controlplane.runtime.daphne_backpressure import SendWindow, paced_reply


def test_daphne_sends_through_handle_reply_and_its_requests_are_twisted_requests() -> None:
    assert list(inspect.signature(daphne.server.Server.handle_reply).parameters) == [
        "self",
        "protocol",
        "message",
    ]
    assert "send=partial(self.handle_reply, protocol)" in inspect.getsource(
        daphne.server.Server.create_application
    )
    from daphne.http_protocol import WebRequest

    assert issubclass(WebRequest, http.Request)
    channel_source = inspect.getsource(http.HTTPChannel.pauseProducing)
    assert "self._requestProducer.pauseProducing()" in channel_source
    assert "self._requestProducer.resumeProducing()" in inspect.getsource(http.HTTPChannel.resumeProducing)
    assert http.HTTPChannel._waitingForTransport is False


class FakeChannel:
    _waitingForTransport = False


class FakeRequest:
    """What paced_reply uses of daphne's WebRequest."""

    def __init__(self) -> None:
        self.finished = False
        self.channel = FakeChannel()
        self.producer: SendWindow | None = None
        self.written: list[bytes] = []

    def registerProducer(self, producer: SendWindow, streaming: bool) -> None:  # noqa: N802
        assert streaming and self.producer is None
        self.producer = producer

    def unregisterProducer(self) -> None:  # noqa: N802
        self.producer = None


async def _original(server: Any, protocol: FakeRequest, message: dict[str, Any]) -> None:
    protocol.written.append(message.get("body", b""))


async def test_a_chunk_waits_while_the_transport_is_full_and_the_last_one_unregisters() -> None:
    request = FakeRequest()
    await paced_reply(
        _original, None, request, {"type": "http.response.body", "body": b"a", "more_body": True}
    )
    window = request.producer
    assert window is not None and window.open.is_set()
    window.pauseProducing()  # Twisted: the send buffer passed its high-water mark
    second = asyncio.create_task(
        paced_reply(_original, None, request, {"type": "http.response.body", "body": b"b", "more_body": True})
    )
    await asyncio.sleep(0.05)
    assert not second.done()  # written, then waiting for the client
    window.resumeProducing()  # drained
    await asyncio.wait_for(second, 1)
    await paced_reply(_original, None, request, {"type": "http.response.body", "body": b"c"})
    assert request.written == [b"a", b"b", b"c"]
    assert request.producer is None  # the next request on this connection may register its own
