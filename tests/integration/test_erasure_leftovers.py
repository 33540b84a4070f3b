"""Issue #19 point 4: erasure and retention leave nothing behind. Each test is a path that left personal
data or content behind on the main branch before this issue:

- inbox rows that name the meeting but were never routed to it (ignored event types such as participant
  events, rows failed or quarantined before routing) kept their payloads through an erasure;
- an event arriving after the erasure was stored raw;
- the repeat purge of revoked streams ran only in regions with a retention policy;
- rows never routed kept their payloads for ever when no policy existed, and ignored/failed ones always;
- a gateway still flushing a stopped stream could write after the erasure, which checked stream states only;
- an open live page of the erased meeting kept showing, and kept receiving, its transcript.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import Group, User
from django.db import connections
from django.test import Client

from compliance.erasure import ErasureRefused, meeting_erase
from compliance.models import RetentionPolicy
from compliance.retention import retention_sweep
from compliance.tasks import retention_sweep_task
from controlplane.asgi import application
from live.publish import PUBLISHER
from regions.access import group_name_for
from regions.models import Region
from regions.queues import queue_for
from rtms.gateway.audio import audio_part_path
from rtms.inbox.receive import ingest
from rtms.models import Channel, InboundEvent, Meeting, RtmsStream, TranscriptSegment
from tests.integration.conftest import EU_ALIAS, AddSegments, MakeMeeting, MakeStream
from tests.support import newest_tasks, queue_length

pytestmark = pytest.mark.django_db(databases=["default", EU_ALIAS])

NAME = "Eve Participant"  # personal data an unparsed event carries


@pytest.fixture(autouse=True)
def media_root(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def _row(
    key: str,
    body: dict[str, Any],
    *,
    status: str,
    meeting: Meeting | None = None,
    age: timedelta = timedelta(0),
) -> InboundEvent:
    return InboundEvent.objects.create(
        dedupe_key=key,
        event_type=str(body["event"]),
        event_ts=int(body["event_ts"]),
        payload=body,
        first_channel="webhook",
        received_at=datetime.now(tz=UTC) - age,
        status=status,
        region=meeting.region if meeting is not None else None,
        meeting=meeting,
    )


def _participant_joined(uuid: str, ts: int = 1) -> dict[str, Any]:
    return {
        "event": "meeting.participant_joined",
        "event_ts": ts,
        "payload": {
            "account_id": "acc",
            "object": {
                "uuid": uuid,
                "id": 81234567890,
                "participant": {"user_name": NAME, "email": "eve@x.eu"},
            },
        },
    }


def _erase(meeting: Meeting) -> Any:
    return meeting_erase(meeting, actor="dpo", reason="Art. 17 request", source_ip=None)


@pytest.fixture
def ended(
    eu: Region, make_meeting: MakeMeeting, make_stream: MakeStream, add_segments: AddSegments
) -> Meeting:
    meeting = make_meeting(eu, state="ended")
    add_segments(make_stream(meeting, state="stopped", stop_reason=6), [("Anna", "Guten Morgen")])
    return meeting


# --- the inbox ----------------------------------------------------------------------------------------------


def test_erasure_scrubs_every_inbox_row_that_names_the_meeting_whatever_its_status(
    ended: Meeting, make_meeting: MakeMeeting, eu: Region
) -> None:
    stream = RtmsStream.objects.get(meeting=ended)
    uuid = ended.zoom_uuid
    never_routed = [
        _row("p-1", _participant_joined(uuid), status="ignored"),
        _row(
            "f-1",
            {
                "event": "meeting.rtms_started",
                "event_ts": 2,
                "payload": {"meeting_uuid": uuid, "operator_id": NAME},
            },
            status="failed",
        ),
        _row(
            "f-2",
            {
                "event": "meeting.rtms_stopped",
                "event_ts": 3,
                "payload": {"rtms_stream_id": stream.rtms_stream_id},
            },
            status="failed",
        ),
        _row(
            f"meeting.ended:{uuid}:4",
            {
                "event": "meeting.ended",
                "event_ts": 4,
                "payload": {"object": {"host_email": "anna@eu.example.com"}},
            },
            status="quarantined",
        ),
    ]
    other = make_meeting(eu, state="ended")
    bystander = _row("p-2", _participant_joined(other.zoom_uuid), status="ignored")

    _erase(ended)

    for row in never_routed:
        row.refresh_from_db()
        assert row.payload.get("redacted") == "erasure", row.dedupe_key
        assert NAME not in str(row.payload) and "anna@" not in str(row.payload)
    bystander.refresh_from_db()
    assert bystander.payload["payload"]["object"]["participant"]["user_name"] == NAME


def test_a_fresh_pending_event_that_names_the_meeting_but_is_not_routed_yet_holds_the_erasure(
    ended: Meeting,
) -> None:
    _row("p-pending", _participant_joined(ended.zoom_uuid), status="pending")
    with pytest.raises(ErasureRefused, match="try again"):
        _erase(ended)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(
            lambda uuid: {
                "event": "meeting.ended",
                "event_ts": 1_760_000_999_000,
                "payload": {
                    "account_id": "acc",
                    "object": {
                        "uuid": uuid,
                        "id": 81234567890,
                        "host_id": "h",
                        "host_email": "anna@eu.example.com",
                        "topic": "Board: layoffs",
                    },
                },
            },
            id="late-meeting-ended",
        ),
        pytest.param(
            lambda uuid: _participant_joined(uuid, ts=1_760_000_999_001), id="late-participant-event"
        ),
    ],
)
def test_an_event_that_arrives_after_the_erasure_is_stored_already_scrubbed(
    ended: Meeting, body: Any
) -> None:
    _erase(ended)
    stored = ingest(body(ended.zoom_uuid), channel=Channel.WEBHOOK).stored
    assert stored is not None
    row = InboundEvent.objects.get(pk=stored.event_id)
    assert row.payload.get("redacted") == "erasure"
    assert (
        "anna@" not in str(row.payload) and "layoffs" not in str(row.payload) and NAME not in str(row.payload)
    )
    assert row.status == "ignored" and "erased" in row.error


# --- retention ----------------------------------------------------------------------------------------------


def test_the_revoked_purge_runs_in_a_region_without_a_retention_policy(
    eu: Region, make_meeting: MakeMeeting, make_stream: MakeStream, add_segments: AddSegments
) -> None:
    assert not RetentionPolicy.objects.filter(region=eu).exists()
    stream = make_stream(make_meeting(eu, state="ended"), state="stopped", stop_reason=8)
    add_segments(stream, [("Anna", "flushed after the revocation")])
    report = retention_sweep(dry_run=False, now=datetime.now(tz=UTC))
    assert "eu-central" in report.regions_without_policy
    assert not TranscriptSegment.objects.using(EU_ALIAS).filter(stream_id=stream.pk).exists()
    assert next(d for d in report.duties if d.region_code == "eu-central").revoked_streams == 1


def test_the_beat_task_sweeps_every_active_region_not_only_those_with_a_policy(
    eu: Region, us: Region
) -> None:
    assert not RetentionPolicy.objects.exists()
    before = {region.code: queue_length(queue_for(region.code)) for region in (eu, us)}
    retention_sweep_task.run()
    for region in (eu, us):
        queue = queue_for(region.code)
        assert queue_length(queue) == before[region.code] + 1
        assert newest_tasks(queue, 1) == [("compliance.retention_sweep_region", {"region_code": region.code})]


def test_payloads_of_rows_never_routed_go_after_the_configured_age_even_without_any_policy(
    settings: Any,
) -> None:
    settings.INBOX_UNROUTED_PAYLOAD_DAYS = 14
    assert not RetentionPolicy.objects.exists()
    old = [
        _row("old-ignored", _participant_joined("u-1"), status="ignored", age=timedelta(days=15)),
        _row("old-failed", _participant_joined("u-2"), status="failed", age=timedelta(days=15)),
        _row("old-quarantined", _participant_joined("u-3"), status="quarantined", age=timedelta(days=15)),
    ]
    young = _row("young", _participant_joined("u-4"), status="ignored", age=timedelta(days=13))
    report = retention_sweep(dry_run=False, now=datetime.now(tz=UTC))
    assert (report.unrouted_payloads, report.quarantined_payloads) == (3, 1)
    for row in old:
        row.refresh_from_db()
        assert row.payload.get("redacted") == "retention" and NAME not in str(row.payload)
    assert InboundEvent.objects.get(dedupe_key="old-quarantined").status == "ignored"
    young.refresh_from_db()
    assert young.payload["payload"]["object"]["participant"]["user_name"] == NAME


# --- a gateway still writing ------------------------------------------------------------------------------


def test_erasure_waits_while_a_gateway_holds_a_stopped_streams_lease_and_late_lines_are_deleted_again(
    ended: Meeting, media_root: Path
) -> None:
    stream = RtmsStream.objects.get(meeting=ended)
    RtmsStream.objects.filter(pk=stream.pk).update(
        lease_owner="gateway-eu-1", lease_expires_at=datetime.now(tz=UTC) + timedelta(seconds=30)
    )
    with pytest.raises(ErasureRefused, match="still holds"):
        _erase(ended)
    assert TranscriptSegment.objects.using(EU_ALIAS).filter(meeting_id=ended.pk).exists()

    # The lease lapsed (the gateway finished, or died): the erasure goes ahead...
    RtmsStream.objects.filter(pk=stream.pk).update(
        lease_expires_at=datetime.now(tz=UTC) - timedelta(seconds=1)
    )
    _erase(ended)
    # ...and a stale writer's last flush that lands afterwards is deleted by the next sweep, policy or not.
    TranscriptSegment.objects.using(EU_ALIAS).create(
        region_code="eu-central", meeting_id=ended.pk, stream_id=stream.pk, seq=99, text="too late"
    )
    wav = audio_part_path("eu-central", ended.pk, stream.pk, 7)
    wav.parent.mkdir(parents=True, exist_ok=True)
    wav.write_bytes(b"RIFF....WAVE")
    report = retention_sweep(dry_run=False, now=datetime.now(tz=UTC))
    duty = next(d for d in report.duties if d.region_code == "eu-central")
    assert (duty.erased_segments, duty.erased_audio_files) == (1, 1)
    assert not TranscriptSegment.objects.using(EU_ALIAS).filter(meeting_id=ended.pk).exists()
    assert not wav.exists()


# --- the live page ------------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True, databases=["default", EU_ALIAS])
async def test_an_open_live_page_of_the_meeting_is_closed_when_it_is_erased(
    eu: Region, make_meeting: MakeMeeting, make_stream: MakeStream
) -> None:
    meeting = await sync_to_async(make_meeting)(eu, state="ended")
    await sync_to_async(make_stream)(meeting, state="stopped", stop_reason=6)

    def staff_cookie() -> str:
        user = User.objects.create_user("eva", password="pw", is_staff=True)
        user.groups.add(Group.objects.get_or_create(name=group_name_for("eu-central"))[0])
        client = Client()
        client.force_login(user)
        return f"sessionid={client.cookies['sessionid'].value}"

    cookie = await sync_to_async(staff_cookie)()
    headers = [(b"origin", b"http://testserver"), (b"cookie", cookie.encode())]
    ws = WebsocketCommunicator(application, f"/ws/live/{meeting.pk}/", headers=headers)
    connected, _ = await ws.connect(timeout=10)
    assert connected
    while (await ws.receive_json_from(timeout=10))["type"] != "caught_up":
        pass

    await sync_to_async(_erase)(meeting)
    await sync_to_async(PUBLISHER.wait_idle)()
    closed = await ws.receive_output(timeout=10)
    assert closed == {"type": "websocket.close", "code": 4410}

    # And it cannot be opened again.
    again = WebsocketCommunicator(application, f"/ws/live/{meeting.pk}/", headers=headers)
    connected, _ = await again.connect(timeout=10)
    assert connected  # accepted, then closed with the reason (a browser can read it)
    assert (await again.receive_output(timeout=10)) == {"type": "websocket.close", "code": 4410}
    # The consumer's queries ran on asgiref's database thread: its connections must not outlive the test.
    await sync_to_async(connections.close_all)()
