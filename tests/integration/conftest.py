from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest

from regions.models import Region
from regions.storage import content_alias
from rtms.models import Meeting, RtmsStream, TranscriptSegment

_counter = itertools.count(1)

EU_ALIAS = "region_eu_central"

MakeMeeting = Callable[..., Meeting]
MakeStream = Callable[..., RtmsStream]
AddSegments = Callable[[RtmsStream, list[tuple[str, str]]], list[TranscriptSegment]]


def _region(code: str, name: str) -> Region:
    # get_or_create: transactional tests truncate tables, data-migration rows included.
    region, _ = Region.objects.get_or_create(code=code, defaults={"name": name, "jurisdiction": name})
    return region


@pytest.fixture
def eu() -> Region:
    return _region("eu-central", "EU Central")


@pytest.fixture
def us() -> Region:
    return _region("us-east", "US East")


@pytest.fixture
def make_meeting() -> MakeMeeting:
    def make(region: Region | None, **fields: Any) -> Meeting:
        n = next(_counter)
        defaults: dict[str, Any] = {
            # Real Zoom uuids carry / + = ; so do ours, to keep the URL-safety promise honest.
            "zoom_uuid": f"a/b+{n}c==",
            "zoom_meeting_id": 8_000_000_000 + n,
            "host_email": f"host{n}@example.com",
            "topic": f"Meeting {n}",
            "region": region,
            "routing_status": "routed" if region else "quarantined",
        }
        defaults.update(fields)
        return Meeting.objects.create(**defaults)

    return make


@pytest.fixture
def make_stream() -> MakeStream:
    def make(meeting: Meeting, **fields: Any) -> RtmsStream:
        defaults: dict[str, Any] = {
            "rtms_stream_id": f"{next(_counter):032x}",
            "meeting": meeting,
            "region": meeting.region,
        }
        defaults.update(fields)
        return RtmsStream.objects.create(**defaults)

    return make


@pytest.fixture
def add_segments() -> AddSegments:
    def add(stream: RtmsStream, texts: list[tuple[str, str]]) -> list[TranscriptSegment]:
        assert stream.region is not None
        code = stream.region.code
        rows = [
            TranscriptSegment(
                region_code=code,
                meeting_id=stream.meeting_id,
                stream_id=stream.pk,
                seq=i,
                speaker_id=100 + i,
                speaker_name=speaker,
                text=text,
                start_ms=1000 * i,
                end_ms=1000 * i + 900,
                language=9,
            )
            for i, (speaker, text) in enumerate(texts, start=1)
        ]
        return TranscriptSegment.objects.using(content_alias(code)).bulk_create(rows)

    return add


# --- Zoom: signed webhooks and an in-process zoomsim with the same credentials as the product -------
import hashlib  # noqa: E402
import hmac  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import time  # noqa: E402
from collections.abc import Iterator  # noqa: E402

from zoomsim.config import AccountConfig, AppCreds, SimConfig  # noqa: E402
from zoomsim.testing import SimServer  # noqa: E402


def sign_webhook(body: bytes, *, secret: str | None = None, timestamp: int | None = None) -> dict[str, str]:
    """Headers Zoom would send, computed here independently of the product's signing code."""
    secret = secret if secret is not None else os.environ["ZOOM_WEBHOOK_SECRET_TOKEN"]
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"v0:{ts}:".encode() + body, hashlib.sha256).hexdigest()
    return {"HTTP_X_ZM_REQUEST_TIMESTAMP": ts, "HTTP_X_ZM_SIGNATURE": f"v0={digest}"}


def event_body(event: str, payload: dict[str, Any], *, event_ts: int = 1_760_000_000_000) -> dict[str, Any]:
    return {"event": event, "event_ts": event_ts, "payload": payload}


def meeting_payload(
    uuid: str, meeting_id: int, *, host_email: str | None = "anna@eu.example.com"
) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "id": str(meeting_id),
        "uuid": uuid,
        "host_id": "host-anna",
        "topic": "Quarterly review",
        "type": 2,
        "start_time": "2026-11-20T10:00:00Z",
        "timezone": "UTC",
        "duration": 60,
    }
    if host_email is not None:
        obj["host_email"] = host_email
    return {"account_id": "test-account", "object": obj}


def as_bytes(body: dict[str, Any]) -> bytes:
    return json.dumps(body).encode()


@pytest.fixture
def sim(settings: Any) -> Iterator[SimServer]:
    config = SimConfig(
        port=0,
        time_scale=0.01,
        rtms_app=AppCreds(os.environ["ZOOM_CLIENT_ID"], os.environ["ZOOM_CLIENT_SECRET"]),
        webhook_secret_token=os.environ["ZOOM_WEBHOOK_SECRET_TOKEN"],
        account=AccountConfig(
            os.environ["ZOOM_ACCOUNT_ID"],
            AppCreds(os.environ["ZOOM_S2S_CLIENT_ID"], os.environ["ZOOM_S2S_CLIENT_SECRET"]),
            os.environ["ZOOM_EVENT_SUBSCRIPTION_ID"],
            data_centre="fra1",
        ),
    )
    with SimServer(config) as server:
        settings.ZOOM_API_BASE_URL = f"{server.base_url}/v2"
        settings.ZOOM_OAUTH_TOKEN_URL = f"{server.base_url}/oauth/token"
        settings.ZOOM_EVENTS_WS_URL = server.base_url.replace("http", "ws", 1) + "/ws"
        yield server
