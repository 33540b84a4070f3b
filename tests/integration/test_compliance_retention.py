"""Retention honours each region's configured periods, leaves younger data alone, and has a dry run."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from compliance.models import RetentionPolicy
from compliance.retention import retention_sweep
from compliance.tasks import retention_sweep_region_task, retention_sweep_task
from regions.models import Region
from regions.queues import queue_for
from regions.storage import content_alias
from rtms.gateway.audio import audio_part_path
from rtms.models import AuditLog, InboundEvent, Meeting, RtmsStream, TranscriptSegment
from tests.integration.conftest import EU_ALIAS, MakeMeeting, MakeStream, personal
from tests.support import newest_tasks

pytestmark = pytest.mark.django_db(databases=["default", EU_ALIAS])

# The task and the command read the real clock, so ages are measured from the real now.
NOW = datetime.now(tz=UTC)


@pytest.fixture(autouse=True)
def media_root(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def _segment(stream: RtmsStream, seq: int, age: timedelta, text: str) -> TranscriptSegment:
    assert stream.region is not None
    code = stream.region.code
    row = TranscriptSegment.objects.create(
        region_code=code, meeting_id=stream.meeting_id, stream_id=stream.pk, seq=seq, text=text
    )
    # created_at is auto_now_add: age the row afterwards, in the region's database.
    TranscriptSegment.objects.using(content_alias(code)).filter(pk=row.pk).update(created_at=NOW - age)
    return row


def _texts(code: str) -> set[str]:
    return set(TranscriptSegment.objects.using(content_alias(code)).values_list("text", flat=True))


def _wav(stream: RtmsStream, age: timedelta, token: int = 1) -> Path:
    assert stream.region is not None
    path = audio_part_path(stream.region.code, stream.meeting_id, stream.pk, token)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"RIFF" + b"\0" * 40)
    stamp = (NOW - age).timestamp()
    os.utime(path, (stamp, stamp))
    return path


def _event(meeting: Meeting, n: int, age: timedelta, *, status: str = "processed") -> InboundEvent:
    return InboundEvent.objects.create(
        dedupe_key=f"ret-{n}",
        event_type="meeting.started",
        event_ts=n,
        payload={"event": "meeting.started", "payload": {"object": {"host_email": "anna@eu.example.com"}}},
        first_channel="webhook",
        received_at=NOW - age,
        status=status,
        region=meeting.region,
        meeting=meeting,
    )


@pytest.fixture
def world(eu: Region, us: Region, make_meeting: MakeMeeting, make_stream: MakeStream) -> dict[str, Any]:
    """EU keeps transcripts 30 days, audio 7, payloads 14; US keeps everything a year. Everything below is
    40 or 20 days old (or 3 for audio), so a built-in default of any length would give itself away."""
    RetentionPolicy.objects.create(region=eu, transcript_days=30, audio_days=7, inbox_payload_days=14)
    RetentionPolicy.objects.create(region=us, transcript_days=365, audio_days=365, inbox_payload_days=365)
    eu_old_meeting = make_meeting(eu, ended_at=NOW - timedelta(days=40))
    eu_new_meeting = make_meeting(eu, ended_at=NOW - timedelta(days=20))
    us_meeting = make_meeting(us, ended_at=NOW - timedelta(days=40))
    eu_old, eu_new, us_stream = (
        make_stream(eu_old_meeting),
        make_stream(eu_new_meeting),
        make_stream(us_meeting),
    )
    _segment(eu_old, 1, timedelta(days=40), "eu old")
    _segment(eu_old, 2, timedelta(days=30, minutes=1), "eu just over")
    _segment(eu_new, 1, timedelta(days=29, hours=23), "eu just under")
    _segment(eu_new, 2, timedelta(days=20), "eu young")
    _segment(us_stream, 1, timedelta(days=40), "us old")
    return {
        "eu_old_meeting": eu_old_meeting,
        "eu_new_meeting": eu_new_meeting,
        "us_meeting": us_meeting,
        "eu_old_wav": _wav(eu_old, timedelta(days=8)),
        "eu_new_wav": _wav(eu_new, timedelta(days=3)),
        "us_wav": _wav(us_stream, timedelta(days=40)),
        "eu_old_event": _event(eu_old_meeting, 1, timedelta(days=15)),
        "eu_new_event": _event(eu_new_meeting, 2, timedelta(days=13)),
        "eu_pending_event": _event(eu_old_meeting, 3, timedelta(days=20), status="pending"),
        "us_event": _event(us_meeting, 4, timedelta(days=40)),
    }


def test_the_purge_honours_each_regions_configured_period_and_leaves_younger_data_alone(
    world: dict[str, Any],
) -> None:
    report = retention_sweep(dry_run=False, now=NOW)

    assert _texts("eu-central") == {"eu just under", "eu young"}
    assert _texts("us-east") == {"us old"}  # the US keeps a year
    assert not world["eu_old_wav"].exists() and world["eu_new_wav"].exists() and world["us_wav"].exists()
    assert InboundEvent.objects.get(pk=world["eu_old_event"].pk).payload == {
        "event": "meeting.started",
        "event_ts": 1,
        "redacted": "retention",
    }
    assert "redacted" not in InboundEvent.objects.get(pk=world["eu_new_event"].pk).payload
    assert "redacted" not in InboundEvent.objects.get(pk=world["eu_pending_event"].pk).payload
    assert "redacted" not in InboundEvent.objects.get(pk=world["us_event"].pk).payload
    assert personal(world["eu_old_meeting"].pk) == ("", "", "")
    assert personal(world["eu_new_meeting"].pk)[0] != ""
    assert personal(world["us_meeting"].pk)[0] != ""

    eu_report = next(r for r in report.regions if r.region_code == "eu-central")
    assert (eu_report.segments, eu_report.audio_files, eu_report.payloads, eu_report.meetings_scrubbed) == (
        2,
        1,
        1,
        1,
    )
    audit = AuditLog.objects.get(action="retention.sweep", region_code="eu-central")
    assert audit.actor == "system:retention" and audit.detail["segments"] == 2
    assert audit.detail["transcript_days"] == 30
    assert not AuditLog.objects.filter(action="retention.sweep", region_code="us-east").exists()


def test_a_changed_period_is_what_the_next_sweep_uses(world: dict[str, Any], eu: Region) -> None:
    RetentionPolicy.objects.filter(region=eu).update(transcript_days=10)
    retention_sweep(dry_run=False, now=NOW)
    assert _texts("eu-central") == set()


def test_a_dry_run_reports_what_would_go_and_changes_nothing(world: dict[str, Any]) -> None:
    report = retention_sweep(dry_run=True, now=NOW)
    eu_report = next(r for r in report.regions if r.region_code == "eu-central")
    assert (eu_report.segments, eu_report.audio_files, eu_report.payloads, eu_report.meetings_scrubbed) == (
        2,
        1,
        1,
        1,
    )
    assert len(_texts("eu-central")) == 4 and world["eu_old_wav"].exists()
    assert "redacted" not in InboundEvent.objects.get(pk=world["eu_old_event"].pk).payload
    assert personal(world["eu_old_meeting"].pk)[0] != ""
    assert not AuditLog.objects.exists()


def test_sweeping_twice_deletes_nothing_more(world: dict[str, Any]) -> None:
    retention_sweep(dry_run=False, now=NOW)
    again = retention_sweep(dry_run=False, now=NOW)
    assert all(not r.deleted_anything for r in again.regions)
    assert AuditLog.objects.filter(action="retention.sweep").count() == 1


def test_a_region_without_a_policy_keeps_everything_and_is_reported(
    world: dict[str, Any], make_meeting: MakeMeeting, make_stream: MakeStream
) -> None:
    ap, _ = Region.objects.get_or_create(code="ap-south", defaults={"name": "AP", "jurisdiction": "AP"})
    stream = make_stream(make_meeting(ap))
    _segment(stream, 1, timedelta(days=4000), "ap ancient")
    report = retention_sweep(dry_run=False, now=NOW)
    assert "ap-south" in report.regions_without_policy
    assert "ap ancient" in _texts("ap-south")


def test_stale_quarantined_payloads_follow_the_shortest_inbox_period(
    world: dict[str, Any], make_meeting: MakeMeeting
) -> None:
    nobody = make_meeting(None)
    stale = _event(nobody, 10, timedelta(days=15), status="quarantined")
    fresh = _event(nobody, 11, timedelta(days=13), status="quarantined")
    report = retention_sweep(dry_run=False, now=NOW)
    assert report.quarantined_payloads == 1
    stale.refresh_from_db()
    assert stale.payload["redacted"] == "retention" and stale.status == "ignored"
    assert InboundEvent.objects.get(pk=fresh.pk).status == "quarantined"


def test_the_sweep_finishes_a_revoked_streams_purge_whatever_the_age(
    eu: Region, world: dict[str, Any], make_meeting: MakeMeeting, make_stream: MakeStream
) -> None:
    stream = make_stream(make_meeting(eu), state="stopped", stop_reason=8)
    _segment(stream, 1, timedelta(minutes=1), "flushed after the revocation")
    wav = _wav(stream, timedelta(minutes=1))
    report = retention_sweep(dry_run=False, now=NOW)
    assert next(d for d in report.duties if d.region_code == "eu-central").revoked_streams == 1
    assert "flushed after the revocation" not in _texts("eu-central") and not wav.exists()
    assert AuditLog.objects.filter(action="stream.content_purge", object_id=str(stream.pk)).exists()


def test_the_regional_task_sweeps_only_its_region(world: dict[str, Any], eu: Region) -> None:
    RetentionPolicy.objects.update(transcript_days=1)
    retention_sweep_region_task.run(region_code="us-east")
    assert _texts("us-east") == set()
    assert len(_texts("eu-central")) == 4


def test_the_beat_task_enqueues_each_regions_sweep_on_that_regions_own_queue(world: dict[str, Any]) -> None:
    # Every active region, policy or not: revoked and erased content goes everywhere (issue #19).
    active = list(Region.objects.filter(active=True).values_list("code", flat=True))
    assert retention_sweep_task.run() == len(active)
    for code in active:
        expected = ("compliance.retention_sweep_region", {"region_code": code})
        assert newest_tasks(queue_for(code), 1) == [expected]
    assert len(_texts("eu-central")) == 4  # the sweeps themselves run in each region's workers


def test_the_command_prints_what_a_dry_run_would_delete(world: dict[str, Any]) -> None:
    out = StringIO()
    call_command("retention_sweep", "--dry-run", stdout=out)
    text = out.getvalue()
    assert "dry run" in text and "eu-central (transcripts 30 d" in text
    assert "would delete 2 transcript segment(s), 1 audio file(s)" in text
    assert len(_texts("eu-central")) == 4


def test_the_policy_rejects_a_zero_period(eu: Region) -> None:
    from django.core.exceptions import ValidationError

    policy = RetentionPolicy(region=eu, transcript_days=0, audio_days=1, inbox_payload_days=1)
    with pytest.raises(ValidationError):
        policy.full_clean()
