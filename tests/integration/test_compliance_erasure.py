"""Erasure of a meeting across the control and the region database (two real PostgreSQL databases), and
the immediate purge of a stream stopped with STREAM_REVOKED."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.db import connections

from compliance.erasure import ErasureRefused, meeting_erase
from compliance.models import ErasureTombstone
from compliance.revoked import revoked_stream_purge
from regions.models import Region
from rtms.gateway.audio import audio_part_path
from rtms.inbox.apply import event_apply
from rtms.models import AuditLog, InboundEvent, Meeting, RtmsStream, TranscriptSegment
from tests.integration.conftest import EU_ALIAS, AddSegments, MakeMeeting, MakeStream, personal

pytestmark = pytest.mark.django_db(databases=["default", EU_ALIAS])


@pytest.fixture(autouse=True)
def media_root(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def _wav(region: str, meeting: Meeting, stream: RtmsStream, token: int = 1) -> Path:
    path = audio_part_path(region, meeting.pk, stream.pk, token)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"RIFF....WAVE")
    return path


def _event(meeting: Meeting, n: int, *, status: str = "processed", **payload: Any) -> InboundEvent:
    body = {
        "event": "meeting.started",
        "event_ts": n,
        "payload": {"object": {"host_email": "x@y.z", **payload}},
    }
    return InboundEvent.objects.create(
        dedupe_key=f"k-{meeting.pk}-{n}",
        event_type="meeting.started",
        event_ts=n,
        payload=body,
        first_channel="webhook",
        received_at=meeting.created_at,
        status=status,
        region=meeting.region,
        meeting=meeting,
    )


def _segments(alias: str, meeting: Meeting) -> int:
    return TranscriptSegment.objects.using(alias).filter(meeting_id=meeting.pk).count()


@pytest.fixture
def erasable(
    eu: Region, make_meeting: MakeMeeting, make_stream: MakeStream, add_segments: AddSegments
) -> dict[str, Any]:
    meeting = make_meeting(eu, host_id="host-anna", state="ended")
    stream = make_stream(meeting, state="stopped", stop_reason=6)
    add_segments(stream, [("Anna", "Guten Morgen"), ("Jörg", "Servus")])
    other = make_meeting(eu, state="ended")
    add_segments(make_stream(other, state="stopped"), [("Zoe", "not erased")])
    wav = _wav("eu-central", meeting, stream)
    other_wav = _wav("eu-central", other, RtmsStream.objects.get(meeting=other))
    _event(meeting, 1)
    other_event = _event(other, 2)
    return {
        "meeting": meeting,
        "stream": stream,
        "other": other,
        "wav": wav,
        "other_wav": other_wav,
        "other_event": other_event,
    }


def _erase(meeting: Meeting, **kwargs: Any) -> ErasureTombstone:
    args: dict[str, Any] = {"actor": "dpo", "reason": "Art. 17 request #42", "source_ip": "192.0.2.7"}
    return meeting_erase(meeting, **{**args, **kwargs})


def test_erasure_deletes_content_in_the_region_database_audio_and_personal_control_data(
    erasable: dict[str, Any],
) -> None:
    meeting: Meeting = erasable["meeting"]
    uuid, zoom_id = meeting.zoom_uuid, meeting.zoom_meeting_id
    assert _segments(EU_ALIAS, meeting) == 2

    tombstone = _erase(meeting)

    assert _segments(EU_ALIAS, meeting) == 0
    assert not erasable["wav"].exists() and not erasable["wav"].parent.exists()
    meeting.refresh_from_db()
    assert personal(meeting.pk) == ("", "", "") and meeting.host_id == ""
    assert (meeting.zoom_uuid, meeting.zoom_meeting_id) == (uuid, zoom_id)  # ids are kept
    payload = InboundEvent.objects.get(meeting=meeting).payload
    assert payload == {"event": "meeting.started", "event_ts": 1, "redacted": "erasure"}
    # Everything else is untouched.
    other: Meeting = erasable["other"]
    assert _segments(EU_ALIAS, other) == 1 and erasable["other_wav"].exists()
    assert InboundEvent.objects.get(pk=erasable["other_event"].pk).payload["payload"]["object"]["host_email"]
    assert personal(other.pk)[0]

    assert tombstone.completed_at is not None and not tombstone.already_erased
    assert (tombstone.segments_deleted, tombstone.audio_files_deleted, tombstone.payloads_scrubbed) == (
        2,
        1,
        1,
    )
    assert tombstone.stream_ids == [erasable["stream"].pk]
    assert (tombstone.requested_by, tombstone.reason, tombstone.source_ip) == (
        "dpo",
        "Art. 17 request #42",
        "192.0.2.7",
    )
    audit = AuditLog.objects.get(action="meeting.erase")
    assert (audit.actor, audit.object_id, audit.region_code, audit.source_ip) == (
        "dpo",
        str(meeting.pk),
        "eu-central",
        "192.0.2.7",
    )
    assert audit.detail["segments_deleted"] == 2 and audit.detail["tombstone"] == tombstone.pk


def test_the_eu_content_really_lived_in_its_own_database(erasable: dict[str, Any]) -> None:
    meeting: Meeting = erasable["meeting"]
    assert connections["default"].settings_dict["NAME"] != connections[EU_ALIAS].settings_dict["NAME"]
    assert _segments("default", meeting) == 0 and _segments(EU_ALIAS, meeting) == 2


def test_erasing_twice_is_safe_and_says_so(erasable: dict[str, Any]) -> None:
    first = _erase(erasable["meeting"])
    second = _erase(erasable["meeting"], actor="dpo2", reason="again")
    assert second.pk == first.pk and second.already_erased
    assert ErasureTombstone.objects.count() == 1
    assert ErasureTombstone.objects.get().requested_by == "dpo"
    audits = list(AuditLog.objects.filter(action="meeting.erase").order_by("id"))
    assert len(audits) == 2 and audits[1].detail["already_erased"] is True and audits[1].actor == "dpo2"


def test_an_erasure_interrupted_after_the_region_step_is_completed_by_a_retry(
    erasable: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    import compliance.erasure as erasure

    def crash(*args: Any, **kwargs: Any) -> int:
        raise RuntimeError("worker died")

    monkeypatch.setattr(erasure, "payloads_scrub", crash)
    with pytest.raises(RuntimeError):
        _erase(erasable["meeting"])
    tombstone = ErasureTombstone.objects.get()
    assert tombstone.completed_at is None and tombstone.segments_deleted == 2
    assert not AuditLog.objects.filter(action="meeting.erase").exists()

    monkeypatch.undo()
    done = _erase(erasable["meeting"])
    assert done.pk == tombstone.pk and done.completed_at is not None and not done.already_erased
    assert done.segments_deleted == 2 and done.payloads_scrubbed == 1
    assert personal(erasable["meeting"].pk)[0] == ""


def test_erasure_is_refused_while_a_stream_is_capturing(
    eu: Region, make_meeting: MakeMeeting, make_stream: MakeStream, add_segments: AddSegments
) -> None:
    meeting = make_meeting(eu)
    add_segments(make_stream(meeting, state="connected"), [("Anna", "still talking")])
    with pytest.raises(ErasureRefused, match="stop RTMS first"):
        _erase(meeting)
    assert _segments(EU_ALIAS, meeting) == 1
    assert not ErasureTombstone.objects.exists() and not AuditLog.objects.exists()
    assert personal(meeting.pk)[0]


def test_erasure_is_refused_while_events_of_the_meeting_are_pending(erasable: dict[str, Any]) -> None:
    _event(erasable["meeting"], 3, status="pending")
    with pytest.raises(ErasureRefused, match="try again"):
        _erase(erasable["meeting"])
    assert _segments(EU_ALIAS, erasable["meeting"]) == 2


def test_erasure_without_a_reason_is_refused(erasable: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="reason"):
        _erase(erasable["meeting"], reason="   ")
    assert _segments(EU_ALIAS, erasable["meeting"]) == 2


def test_a_quarantined_meeting_is_erased_from_the_control_database(make_meeting: MakeMeeting) -> None:
    meeting = make_meeting(None)
    _event(meeting, 4, status="quarantined")
    tombstone = _erase(meeting)
    assert tombstone.completed_at is not None and tombstone.region_code == ""
    assert personal(meeting.pk) == ("", "", "")
    assert InboundEvent.objects.get(meeting=meeting).payload["redacted"] == "erasure"


# --- STREAM_REVOKED ---------------------------------------------------------------------------------------
def _stopped_event(meeting: Meeting, stream: RtmsStream, reason: int, ts: int) -> InboundEvent:
    body = {
        "event": "meeting.rtms_stopped",
        "event_ts": ts,
        "payload": {
            "meeting_uuid": meeting.zoom_uuid,
            "rtms_stream_id": stream.rtms_stream_id,
            "stop_reason": reason,
        },
    }
    return InboundEvent.objects.create(
        dedupe_key=f"stop-{stream.pk}-{ts}",
        event_type="meeting.rtms_stopped",
        event_ts=ts,
        payload=body,
        first_channel="webhook",
        received_at=meeting.created_at,
        region=meeting.region,
        meeting=meeting,
    )


def test_a_stream_stopped_with_stream_revoked_loses_its_content_at_once(
    eu: Region,
    make_meeting: MakeMeeting,
    make_stream: MakeStream,
    add_segments: AddSegments,
    django_capture_on_commit_callbacks: Any,
) -> None:
    meeting = make_meeting(eu)
    revoked, kept = (
        make_stream(meeting, state="connected"),
        make_stream(meeting, state="stopped", stop_reason=6),
    )
    add_segments(revoked, [("Anna", "please forget this")])
    TranscriptSegment.objects.create(
        region_code="eu-central", meeting_id=meeting.pk, stream_id=kept.pk, seq=1, text="keep me"
    )
    wav, kept_wav = _wav("eu-central", meeting, revoked), _wav("eu-central", meeting, kept)

    with django_capture_on_commit_callbacks(execute=True):
        assert event_apply(_stopped_event(meeting, revoked, 8, 10).pk) == "stopped"

    assert TranscriptSegment.objects.using(EU_ALIAS).filter(stream_id=revoked.pk).count() == 0
    assert not wav.exists() and kept_wav.exists()
    assert TranscriptSegment.objects.using(EU_ALIAS).filter(stream_id=kept.pk).count() == 1
    stub = AuditLog.objects.get(action="stream.content_purge")
    assert stub.object_id == str(revoked.pk) and stub.detail["segments_deleted"] == 1
    assert stub.detail["stop_reason"] == 8 and "forget" not in str(stub.detail)
    assert RtmsStream.objects.get(pk=revoked.pk).stop_reason == 8


def test_a_revoked_stop_delivered_twice_purges_idempotently(
    eu: Region,
    make_meeting: MakeMeeting,
    make_stream: MakeStream,
    add_segments: AddSegments,
    django_capture_on_commit_callbacks: Any,
) -> None:
    meeting = make_meeting(eu)
    stream = make_stream(meeting, state="connected")
    add_segments(stream, [("Anna", "one"), ("Anna", "two")])
    with django_capture_on_commit_callbacks(execute=True):
        event_apply(_stopped_event(meeting, stream, 8, 10).pk)
    # A batch the gateway flushed after the stop, then the second copy of the event.
    TranscriptSegment.objects.create(
        region_code="eu-central", meeting_id=meeting.pk, stream_id=stream.pk, seq=3, text="late"
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert event_apply(_stopped_event(meeting, stream, 8, 11).pk) == "duplicate"
    assert TranscriptSegment.objects.using(EU_ALIAS).filter(stream_id=stream.pk).count() == 0
    assert [a.detail["segments_deleted"] for a in AuditLog.objects.filter(action="stream.content_purge")] in (
        [1, 2],
        [2, 1],
    )
    again = revoked_stream_purge(stream.pk)
    assert again.done_before and AuditLog.objects.filter(action="stream.content_purge").count() == 2


def test_other_stop_reasons_keep_the_content(
    eu: Region,
    make_meeting: MakeMeeting,
    make_stream: MakeStream,
    add_segments: AddSegments,
    django_capture_on_commit_callbacks: Any,
) -> None:
    meeting = make_meeting(eu)
    stream = make_stream(meeting, state="connected")
    add_segments(stream, [("Anna", "keep")])
    with django_capture_on_commit_callbacks(execute=True):
        event_apply(_stopped_event(meeting, stream, 2, 10).pk)
    assert TranscriptSegment.objects.using(EU_ALIAS).filter(stream_id=stream.pk).count() == 1
    with pytest.raises(ValueError, match="not revoked"):
        revoked_stream_purge(stream.pk)
