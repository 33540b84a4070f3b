"""Issue #20, finding 2: downloads said to be streamed were built in memory under ASGI (Django reads a
synchronous iterator whole, ``sync_to_async(list)``): the WAV, the transcript exports and the audit CSV.
One read-only client fetching a 300 MB WAV took the web process from 315 to 920 MB. Now they are
asynchronous iterators that hold a few chunks at a time, and a client runs at most DOWNLOADS_PER_CLIENT
of them at once (one more: 429)."""

from __future__ import annotations

import asyncio
import tracemalloc
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.asgi import get_asgi_application
from django.test import Client
from django.urls import reverse

from api.services import api_client_create
from controlplane.streaming import download_slot_take
from regions.models import Region
from rtms.gateway.audio import WavPart, audio_part_path
from tests.integration.api_support import (  # noqa: F401  (fixtures)
    MakeApiClient,
    bearer,
    fresh_throttles_fixture,
    make_api_client_fixture,
    staff_client,
)
from tests.integration.conftest import EU_ALIAS, AddSegments, MakeMeeting, MakeStream
from tests.integration.test_asgi_handler import _scope

WAV_BYTES = 48 * 1024 * 1024


def _wav(meeting_id: int, stream_id: int, size: int) -> None:
    part = WavPart(audio_part_path("eu-central", meeting_id, stream_id, 1))
    block = b"\x01\x00" * 32768
    for _ in range(size // len(block)):
        part.write(block)
    part.close()


@pytest.mark.django_db(databases=["default", EU_ALIAS])
def test_every_heavy_download_is_an_asynchronous_iterator(
    eu: Region,
    make_meeting: MakeMeeting,
    make_stream: MakeStream,
    add_segments: AddSegments,
    make_api_client: MakeApiClient,
    settings: Any,
    tmp_path: Path,
) -> None:
    settings.MEDIA_ROOT = tmp_path
    meeting = make_meeting(eu)
    stream = make_stream(meeting)
    add_segments(stream, [("Anna", "hello"), ("Ben", "hi")])
    _wav(meeting.pk, stream.pk, 65536)
    client = make_api_client("eu-central")
    responses = {
        "wav": client.get(f"/api/v1/meetings/{meeting.pk}/audio/"),
        "api export": client.get(f"/api/v1/meetings/{meeting.pk}/transcript/export/?format=vtt"),
    }
    root = staff_client("root", superuser=True)
    responses["audit csv"] = root.get(reverse("admin:rtms_auditlog_export_csv"))
    responses["admin export"] = root.post(
        reverse("admin:rtms_meeting_changelist"),
        {"action": "export_transcript", "_selected_action": [meeting.pk], "confirm": "yes", "fmt": "json"},
    )
    for name, response in responses.items():
        assert response.status_code == 200, name
        assert response.is_async, f"{name}: a synchronous iterator is read whole under ASGI"  # type: ignore[attr-defined]
        assert b"".join(response), name


async def _asgi_download(path: str, token: str) -> tuple[int, int, int]:
    """GET ``path`` through Django's ASGI handler, as daphne would; the body is counted, not kept.
    Returns (status, body bytes, peak of traced memory during the request)."""
    app = get_asgi_application()
    scope = _scope(path)  # the scope daphne would pass, with the API token
    scope["headers"] = [*scope["headers"], (b"authorization", f"Bearer {token}".encode())]
    finished = asyncio.Event()
    sent: dict[str, int] = {"status": 0, "bytes": 0}
    requested = False

    async def receive() -> dict[str, Any]:
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await finished.wait()
        return {"type": "http.disconnect"}

    async def send(message: Mapping[str, Any]) -> None:
        if message["type"] == "http.response.start":
            sent["status"] = message["status"]
        elif message["type"] == "http.response.body":
            sent["bytes"] += len(message.get("body", b""))

    tracemalloc.start()
    try:
        await app(scope, receive, send)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        finished.set()
        tracemalloc.stop()
    return sent["status"], sent["bytes"], peak


@pytest.mark.django_db(databases=["default", EU_ALIAS], transaction=True)
def test_a_large_wav_under_asgi_holds_a_few_chunks_not_the_file(
    eu: Region, make_meeting: MakeMeeting, make_stream: MakeStream, settings: Any, tmp_path: Path
) -> None:
    settings.MEDIA_ROOT = tmp_path
    meeting = make_meeting(eu)
    stream = make_stream(meeting)
    _wav(meeting.pk, stream.pk, WAV_BYTES)
    _, token = api_client_create("asgi-reader", region_codes=["eu-central"])
    status, size, peak = asyncio.run(_asgi_download(f"/api/v1/meetings/{meeting.pk}/audio/", token))
    assert status == 200 and size == 44 + WAV_BYTES
    assert peak < 12 * 1024 * 1024, f"{peak / 2**20:.1f} MiB held for a {WAV_BYTES / 2**20:.0f} MiB WAV"


@pytest.mark.django_db(databases=["default", EU_ALIAS])
def test_one_download_over_a_clients_cap_is_429_and_a_finished_one_frees_its_slot(
    eu: Region,
    make_meeting: MakeMeeting,
    make_stream: MakeStream,
    settings: Any,
    tmp_path: Path,
) -> None:
    settings.MEDIA_ROOT = tmp_path
    settings.DOWNLOADS_PER_CLIENT = 2
    meeting = make_meeting(eu)
    _wav(meeting.pk, make_stream(meeting).pk, 65536)
    _, token = api_client_create("capped", region_codes=["eu-central"])
    client = bearer(token)
    url = f"/api/v1/meetings/{meeting.pk}/audio/"
    running = [download_slot_take("api:capped"), download_slot_take("api:capped")]
    over = client.get(url)
    assert over.status_code == 429 and "Retry-After" in over
    assert over.json()["error"]["code"] == "throttled"
    # Another client is not held back by this one's downloads.
    _, other = api_client_create("neighbour", region_codes=["eu-central"])
    assert bearer(other).get(url).status_code == 200
    for slot in running:
        assert slot is not None
        slot.release()
    for _ in range(3):  # each one ends and frees its slot, so the cap is never reached in turn
        response = client.get(url)
        assert response.status_code == 200
        b"".join(response)


@pytest.mark.django_db(databases=["default", EU_ALIAS])
def test_the_admin_exports_are_capped_too(eu: Region, make_meeting: MakeMeeting, settings: Any) -> None:
    settings.DOWNLOADS_PER_CLIENT = 1
    User.objects.create_superuser("dora", password="pw-123456")
    client = Client()
    client.login(username="dora", password="pw-123456")
    held = download_slot_take("dora")
    response = client.get(reverse("admin:rtms_auditlog_export_csv"))
    assert response.status_code == 429
    assert held is not None
    held.release()
    assert client.get(reverse("admin:rtms_auditlog_export_csv")).status_code == 200
