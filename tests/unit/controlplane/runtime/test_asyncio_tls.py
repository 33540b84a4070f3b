"""controlplane/runtime/asyncio_tls.py: what it assumes of asyncio's TLS protocol, that a frame larger than
the small buffer still arrives whole, and that it leaves asyncio alone on another Python."""

from __future__ import annotations

import asyncio.sslproto
import inspect
from collections.abc import Iterator
from pathlib import Path

import pytest

from controlplane.runtime.asyncio_tls import TLS_READ_BUFFER_BYTES, limit_tls_read_buffers
from tests.eventually import eventually_async
from tests.unit.controlplane.runtime.conftest import SkippedEvents
from tests.unit.rtms.zoom.media_server import ScriptedRtmsServer
from tests.unit.rtms.zoom.test_media_client import CREDS, _trusted_tls, ready, running, target_for, transcript


@pytest.fixture
def asyncio_default_buffer() -> Iterator[int]:
    default = asyncio.sslproto.SSLProtocol.max_size
    try:
        yield default
    finally:
        asyncio.sslproto.SSLProtocol.max_size = default


def test_asyncio_sizes_each_tls_read_buffer_from_the_class_attribute() -> None:
    assert isinstance(inspect.getattr_static(asyncio.sslproto.SSLProtocol, "max_size"), int)
    assert "bytearray(self.max_size)" in inspect.getsource(asyncio.sslproto.SSLProtocol.__init__)


async def test_with_small_tls_read_buffers_frames_larger_than_a_buffer_arrive_whole(
    tmp_path: Path, asyncio_default_buffer: int
) -> None:
    """The gateway reads TLS in 16 KiB chunks (limit_tls_read_buffers): a bigger frame takes several reads."""
    limit_tls_read_buffers()
    assert asyncio.sslproto.SSLProtocol.max_size == TLS_READ_BUFFER_BYTES
    server_kw, client_context = _trusted_tls(tmp_path)
    async with ScriptedRtmsServer(CREDS.client_id, CREDS.client_secret, **server_kw) as server:
        async with running(target_for(server, ssl_context=client_context)) as run:
            await ready(run)
            long_line = "x" * (3 * TLS_READ_BUFFER_BYTES + 123)
            frame = transcript(1)
            frame["content"]["data"] = long_line
            await server.send("transcript", frame)
            await server.send("transcript", transcript(2), binary=True)
            await eventually_async(lambda: len(run.sink.transcripts) == 2, what="both transcripts")
            assert [t.text for t in run.sink.transcripts] == [long_line, "line 2"]


def test_the_buffer_stays_asyncios_and_the_skip_is_logged_on_another_python(
    on_other_versions: SkippedEvents, asyncio_default_buffer: int
) -> None:
    limit_tls_read_buffers()
    assert asyncio.sslproto.SSLProtocol.max_size == asyncio_default_buffer
    assert on_other_versions() == [
        {"patch": "asyncio_tls", "library": "python", "found": "0.0", "expected": "3.11"}
    ]
