from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command

from regions.models import Region
from rtms.models import AuditLog
from tests.integration.conftest import EU_ALIAS, AddSegments, MakeMeeting, MakeStream

pytestmark = pytest.mark.django_db(databases=["default", EU_ALIAS])


def _run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_status_json_lists_meetings_with_region_state_and_streams(
    eu: Region, make_meeting: MakeMeeting, make_stream: MakeStream, add_segments: AddSegments
) -> None:
    meeting = make_meeting(eu)
    stream = make_stream(meeting, state="stopped", stop_reason=6)
    add_segments(stream, [("Anna", "one"), ("Ben", "two")])
    report = json.loads(_run("status", "--json"))
    (entry,) = [m for m in report["meetings"] if m["id"] == meeting.pk]
    assert entry["zoom_uuid"] == meeting.zoom_uuid
    assert entry["region"] == "eu-central" and entry["state"] == "live"
    assert entry["streams"] == [
        {
            "id": stream.pk,
            "rtms_stream_id": stream.rtms_stream_id,
            "state": "stopped",
            "stop_reason": 6,
            "segments": 2,
        }
    ]


def test_status_shows_quarantined_meetings_without_a_region(make_meeting: MakeMeeting) -> None:
    meeting = make_meeting(None)
    report = json.loads(_run("status", "--json"))
    (entry,) = [m for m in report["meetings"] if m["id"] == meeting.pk]
    assert entry["region"] is None and entry["routing_status"] == "quarantined"
    assert "QUARANTINED" in _run("status")


def test_transcript_json_prints_segments_in_order_from_the_region(
    eu: Region, make_meeting: MakeMeeting, make_stream: MakeStream, add_segments: AddSegments
) -> None:
    meeting = make_meeting(eu, zoom_uuid="/slash+plus==")
    add_segments(make_stream(meeting), [("Anna", "first"), ("Ben", "second"), ("Anna", "third")])
    payload = json.loads(_run("transcript", "/slash+plus==", "--json"))
    assert [(s["seq"], s["speaker"], s["text"], s["start_ms"]) for s in payload["segments"]] == [
        (1, "Anna", "first", 1000),
        (2, "Ben", "second", 2000),
        (3, "Anna", "third", 3000),
    ]
    assert payload["meeting"]["region"] == "eu-central"
    assert AuditLog.objects.filter(action="transcript.read", object_id=str(meeting.pk)).exists()


def test_transcript_of_an_unknown_meeting_is_a_clear_error() -> None:
    with pytest.raises(CommandError, match="no meeting with uuid"):
        _run("transcript", "does-not-exist==")


def test_celery_queues_lists_central_and_regional_queues(eu: Region) -> None:
    assert _run("celery_queues", "--region", "eu-central").strip() == "control,reconcile,region.eu-central"
    with pytest.raises(CommandError, match="unknown or inactive region"):
        _run("celery_queues", "--region", "mars-1")
