"""Reads through the API: transcript pages by seq (audited), exports, streamed audio, rules, the error
shape, throttling, and tokens that exist only as hashes."""

from __future__ import annotations

import io
import wave
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from api.models import ApiClient
from regions.models import Region, ResidencyRule
from rtms.gateway.audio import WavPart, audio_part_path
from rtms.models import AuditLog
from tests.integration.api_support import (  # noqa: F401  (fixtures)
    MakeApiClient,
    bearer,
    fresh_throttles_fixture,
    make_api_client_fixture,
)
from tests.integration.conftest import EU_ALIAS

pytestmark = pytest.mark.django_db(databases=["default", EU_ALIAS])


@pytest.fixture
def eu_client(make_api_client: MakeApiClient, eu: Region) -> Client:
    return make_api_client("eu-central")


def test_transcript_pages_follow_seq_across_streams_and_each_page_is_audited(
    eu_client: Client, eu: Region, make_meeting: Any, make_stream: Any, add_segments: Any
) -> None:
    meeting = make_meeting(eu)
    first, second = make_stream(meeting), make_stream(meeting)
    add_segments(first, [("Anna", f"first {i}") for i in range(3)])
    add_segments(second, [("Ben", f"second {i}") for i in range(2)])
    url: str | None = f"/api/v1/meetings/{meeting.pk}/transcript/?limit=2"
    texts: list[str] = []
    pages = 0
    while url:
        body = eu_client.get(url).json()
        texts += [s["text"] for s in body["results"]]
        url, pages = body["next"], pages + 1
    assert texts == ["first 0", "first 1", "first 2", "second 0", "second 1"]
    rows = AuditLog.objects.filter(action="transcript.read", object_id=str(meeting.pk))
    assert rows.count() == pages == 3
    assert all(r.detail["via"] == "api" and r.region_code == "eu-central" for r in rows)
    only_second = eu_client.get(
        f"/api/v1/meetings/{meeting.pk}/transcript/?stream={second.pk}&after_seq=1"
    ).json()
    assert [s["text"] for s in only_second["results"]] == ["second 1"]


@pytest.mark.parametrize(
    ("fmt", "content_type", "needle"),
    [
        ("json", "application/json", '"text": "Hello"'),
        ("text", "text/plain", "Anna: Hello"),
        ("iso", "text/plain", "Z] Anna: Hello"),
        ("vtt", "text/vtt", "WEBVTT"),
    ],
)
def test_export_streams_each_format_and_is_audited(
    eu_client: Client,
    eu: Region,
    make_meeting: Any,
    make_stream: Any,
    add_segments: Any,
    fmt: str,
    content_type: str,
    needle: str,
) -> None:
    meeting = make_meeting(eu, started_at=timezone.now())
    add_segments(make_stream(meeting), [("Anna", "Hello")])
    response = eu_client.get(
        f"/api/v1/meetings/{meeting.pk}/transcript/export/?format={fmt}", HTTP_ACCEPT="*/*"
    )
    assert response.status_code == 200
    assert response["Content-Type"].startswith(content_type)
    assert needle in b"".join(response).decode()
    row = AuditLog.objects.get(action="transcript.export")
    assert row.detail == {"format": fmt, "via": "api"}


def test_unknown_export_format_is_400_naming_the_parameter(
    eu_client: Client, eu: Region, make_meeting: Any
) -> None:
    response = eu_client.get(f"/api/v1/meetings/{make_meeting(eu).pk}/transcript/export/?format=pdf")
    assert response.status_code == 400
    assert "format" in response.json()["error"]["fields"]
    assert not AuditLog.objects.filter(action="transcript.export").exists()


def test_audio_is_one_wav_of_every_part_in_order(
    eu_client: Client, eu: Region, make_meeting: Any, make_stream: Any, settings: Any, tmp_path: Path
) -> None:
    settings.MEDIA_ROOT = tmp_path
    meeting = make_meeting(eu)
    stream = make_stream(meeting)
    for token, pcm in ((1, b"\x01\x00" * 100), (2, b"\x02\x00" * 50)):
        part = WavPart(audio_part_path("eu-central", meeting.pk, stream.pk, token))
        part.write(pcm)
        part.close()
    # A part a crashed gateway never finalised: its header says 0 frames, its bytes are on disk.
    crashed = WavPart(audio_part_path("eu-central", meeting.pk, stream.pk, 3))
    crashed.write(b"\x03\x00" * 25)
    crashed._wav._file.flush()  # type: ignore[union-attr]
    response = eu_client.get(f"/api/v1/meetings/{meeting.pk}/audio/")
    assert response.status_code == 200
    assert response["Content-Type"] == "audio/wav"
    data = b"".join(response)
    assert int(response["Content-Length"]) == len(data)
    with wave.open(io.BytesIO(data)) as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (16000, 1, 2)
        assert wav.readframes(wav.getnframes()) == b"\x01\x00" * 100 + b"\x02\x00" * 50 + b"\x03\x00" * 25
    crashed.close()
    assert AuditLog.objects.get(action="audio.download").detail["parts"] == 3


def test_a_meeting_without_audio_is_404(
    eu_client: Client, eu: Region, make_meeting: Any, settings: Any, tmp_path: Path
) -> None:
    settings.MEDIA_ROOT = tmp_path
    response = eu_client.get(f"/api/v1/meetings/{make_meeting(eu).pk}/audio/")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_meetings_filter_and_paginate_by_cursor(eu_client: Client, eu: Region, make_meeting: Any) -> None:
    live = [make_meeting(eu, host_email="Anna@EU.example.com") for _ in range(3)]
    make_meeting(eu, state="ended")
    seen: list[int] = []
    url: str | None = "/api/v1/meetings/?state=live&limit=2"
    while url:
        body = eu_client.get(url).json()
        seen += [m["id"] for m in body["results"]]
        url = body["next"]
    assert sorted(seen) == sorted(m.pk for m in live)
    by_host = eu_client.get("/api/v1/meetings/?host=anna@eu.example.com").json()["results"]
    assert {m["id"] for m in by_host} == {m.pk for m in live}


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/api/v1/meetings/?state=sleeping", "state"),
        ("/api/v1/meetings/?started_after=yesterday", "started_after"),
        ("/api/v1/meetings/?limit=0", "limit"),
        ("/api/v1/meetings/?cursor=bm9wZQ", "cursor"),
        ("/api/v1/meetings/?zoom_meeting_id=99999999999999999999999", "zoom_meeting_id"),
        ("/api/v1/events/?quarantine=maybe", "quarantine"),
        ("/api/v1/events/?channel=pigeon", "channel"),
    ],
)
def test_bad_query_parameters_are_400_naming_the_field(eu_client: Client, url: str, field: str) -> None:
    response = eu_client.get(url)
    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["fields"]


def test_every_error_has_one_shape(eu_client: Client) -> None:
    cases = [
        (eu_client.get("/api/v1/nothing-here/"), 404),
        (eu_client.get("/api/v1/meetings"), 404),
        (eu_client.get("/api/v1/meetings/99999999999999999999999999/"), 404),
        (eu_client.delete("/api/v1/meetings/"), 405),
        (Client().get("/api/v1/meetings/"), 401),
        (bearer("rtms_000000000000_" + "x" * 43).get("/api/v1/meetings/"), 401),
        (Client(HTTP_AUTHORIZATION="Bearer").get("/api/v1/meetings/"), 401),
    ]
    for response, status in cases:
        assert response.status_code == status
        body = response.json()
        assert set(body) == {"error"} and {"code", "message"} <= set(body["error"])


def test_requests_over_the_rate_are_429_with_retry_after(eu_client: Client, settings: Any) -> None:
    settings.API_THROTTLE_RATE = "3/minute"
    statuses = [eu_client.get("/api/v1/regions/").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    response = eu_client.get("/api/v1/regions/")
    assert response.json()["error"]["code"] == "throttled"
    assert int(response["Retry-After"]) > 0


def test_rule_changes_need_rule_management_and_are_audited(
    make_api_client: MakeApiClient,
    eu: Region,
    us: Region,
) -> None:
    body = {
        "position": 5000,
        "field": "host_email_domain",
        "value": "new.example.com",
        "region": "eu-central",
    }
    plain = make_api_client("eu-central", role="read-write")
    assert plain.post("/api/v1/rules/", body, "application/json").status_code == 403
    admin = make_api_client("eu-central", role="read-write", manage_rules=True)
    created = admin.post("/api/v1/rules/", body, "application/json")
    assert created.status_code == 201, created.content
    rule_id = created.json()["id"]
    assert admin.post("/api/v1/rules/", body, "application/json").json()["error"]["fields"].keys() == {
        "position"
    }
    elsewhere = admin.post(
        "/api/v1/rules/", {**body, "position": 5001, "region": "us-east"}, "application/json"
    )
    assert elsewhere.status_code == 400 and "region" in elsewhere.json()["error"]["fields"]
    unnamed = admin.post(
        "/api/v1/rules/", {**body, "position": 5002, "field": "tracking_field"}, "application/json"
    )
    assert "tracking_field_name" in unnamed.json()["error"]["fields"]
    assert admin.patch(f"/api/v1/rules/{rule_id}/", {"active": False}, "application/json").status_code == 200
    assert admin.delete(f"/api/v1/rules/{rule_id}/").status_code == 204
    assert not ResidencyRule.objects.filter(pk=rule_id).exists()
    actions = list(
        AuditLog.objects.filter(object_type="residency_rule").order_by("id").values_list("action", flat=True)
    )
    assert actions == ["rule.create", "rule.update", "rule.delete"]
    update = AuditLog.objects.get(action="rule.update")
    assert update.detail["changed"] == ["active"] and update.actor.startswith("api:")


def test_the_command_prints_a_token_that_works_and_is_stored_only_as_a_hash(
    eu: Region, capsys: pytest.CaptureFixture[str]
) -> None:
    call_command("api_client_create", "analytics-eu", "--region", "eu-central", "--role", "read")
    token = capsys.readouterr().out.strip()
    client = ApiClient.objects.get(name="analytics-eu")
    assert token.startswith(f"rtms_{client.token_prefix}_")
    assert token not in (client.token_hash, client.token_prefix)
    assert bearer(token).get("/api/v1/regions/").status_code == 200
    client.active = False
    client.save()
    assert bearer(token).get("/api/v1/regions/").status_code == 401


def test_the_staff_session_works_with_the_users_region_scope(
    eu: Region, us: Region, make_meeting: Any
) -> None:
    from tests.integration.api_support import staff_client

    meeting = make_meeting(eu)
    make_meeting(us)
    body = staff_client("eva", "compliance-eu-central").get("/api/v1/meetings/").json()
    assert [m["id"] for m in body["results"]] == [meeting.pk]
