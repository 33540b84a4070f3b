"""Admin actions call the compliance services, ask for a reason first, and stay region-scoped; the audit
log is read-only, filterable and exportable; transcript views and policy changes are audited."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.test import Client
from django.urls import reverse

from compliance.models import ErasureTombstone, RetentionPolicy
from regions.models import Region
from regions.services import region_groups_sync
from rtms.models import AuditLog, InboundEvent, Meeting, TranscriptSegment
from rtms.services import audit_record
from tests.integration.conftest import EU_ALIAS, AddSegments, MakeMeeting, MakeStream, personal

pytestmark = pytest.mark.django_db(databases=["default", EU_ALIAS])

CHANGELIST = "admin:rtms_meeting_changelist"


def _staff(username: str, *groups: str, perms: tuple[str, ...] = ()) -> Client:
    region_groups_sync()
    user = User.objects.create_user(username, password="pw-123456", is_staff=True)
    for name in groups:
        user.groups.add(Group.objects.get(name=name))
    for codename in perms:
        user.user_permissions.add(Permission.objects.get(codename=codename))
    client = Client(REMOTE_ADDR="198.51.100.4")
    client.force_login(user)
    return client


def _post_action(client: Client, action: str, pks: list[int], **extra: Any) -> Any:
    return client.post(reverse(CHANGELIST), {"action": action, "_selected_action": pks, **extra}, follow=True)


@pytest.fixture
def eu_meeting(
    eu: Region, make_meeting: MakeMeeting, make_stream: MakeStream, add_segments: AddSegments
) -> Meeting:
    meeting = make_meeting(eu, state="ended", topic="EU board meeting")
    add_segments(make_stream(meeting, state="stopped", stop_reason=6), [("Anna", "a < b & c")])
    return meeting


def _segments(meeting: Meeting) -> int:
    return TranscriptSegment.objects.using(EU_ALIAS).filter(meeting_id=meeting.pk).count()


# --- erase ------------------------------------------------------------------------------------------------
def test_erase_asks_for_a_reason_before_anything_happens(eu_meeting: Meeting) -> None:
    client = _staff("dora", "compliance-eu-central", perms=("erase_meeting",))
    page = _post_action(client, "erase_meetings", [eu_meeting.pk])
    assert page.status_code == 200
    body = page.content.decode()
    assert 'name="reason"' in body and "deleted for good" in body and f"Meeting {eu_meeting.pk}" in body
    # Confirmed but without a reason: the page again, nothing erased.
    page = _post_action(client, "erase_meetings", [eu_meeting.pk], confirm="yes", reason="   ")
    assert 'name="reason"' in page.content.decode() and "This field is required" in page.content.decode()
    assert _segments(eu_meeting) == 1 and not ErasureTombstone.objects.exists()
    assert not AuditLog.objects.filter(action="meeting.erase").exists()


def test_erase_with_a_reason_calls_the_service(eu_meeting: Meeting) -> None:
    client = _staff("dora", "compliance-eu-central", perms=("erase_meeting",))
    page = _post_action(client, "erase_meetings", [eu_meeting.pk], confirm="yes", reason="DSR-7")
    assert "erased: 1 segment(s)" in page.content.decode()
    assert _segments(eu_meeting) == 0
    assert personal(eu_meeting.pk)[1] == ""
    audit = AuditLog.objects.get(action="meeting.erase")
    assert (audit.actor, audit.source_ip, audit.detail["reason"]) == ("dora", "198.51.100.4", "DSR-7")


def test_erase_refused_while_capturing_is_a_message_not_an_error(
    eu: Region, make_meeting: MakeMeeting, make_stream: MakeStream
) -> None:
    meeting = make_meeting(eu)
    make_stream(meeting, state="connected")
    client = _staff("dora", "compliance-eu-central", perms=("erase_meeting",))
    page = _post_action(client, "erase_meetings", [meeting.pk], confirm="yes", reason="DSR-8")
    assert page.status_code == 200 and "stop RTMS first" in page.content.decode()
    assert not ErasureTombstone.objects.exists()


def test_erase_needs_its_own_permission(eu_meeting: Meeting) -> None:
    client = _staff("eva", "compliance-eu-central")
    assert "erase_meetings" not in client.get(reverse(CHANGELIST)).content.decode()
    _post_action(client, "erase_meetings", [eu_meeting.pk], confirm="yes", reason="DSR-9")
    assert _segments(eu_meeting) == 1


def test_erase_never_reaches_another_regions_meeting(
    eu_meeting: Meeting, us: Region, make_meeting: MakeMeeting
) -> None:
    us_meeting = make_meeting(us, state="ended")
    client = _staff("dora", "compliance-eu-central", perms=("erase_meeting",))
    _post_action(client, "erase_meetings", [us_meeting.pk], confirm="yes", reason="forged selection")
    assert personal(us_meeting.pk)[0] != ""
    assert not ErasureTombstone.objects.exists()


# --- export -----------------------------------------------------------------------------------------------
def test_export_downloads_the_chosen_format_and_is_audited(eu_meeting: Meeting) -> None:
    client = _staff("eva", "compliance-eu-central")
    page = _post_action(client, "export_transcript", [eu_meeting.pk])
    assert 'name="fmt"' in page.content.decode()
    response = client.post(
        reverse(CHANGELIST),
        {"action": "export_transcript", "_selected_action": [eu_meeting.pk], "confirm": "yes", "fmt": "vtt"},
    )
    assert response.status_code == 200 and response["Content-Type"].startswith("text/vtt")
    assert f"meeting-{eu_meeting.pk}-transcript.vtt" in response["Content-Disposition"]
    body = b"".join(response).decode()
    assert body.startswith("WEBVTT") and "a &lt; b &amp; c" in body
    audit = AuditLog.objects.get(action="transcript.export")
    assert audit.detail == {"via": "admin", "format": "vtt"} and audit.object_id == str(eu_meeting.pk)


def test_export_of_an_unknown_format_shows_the_form_again(eu_meeting: Meeting) -> None:
    client = _staff("eva", "compliance-eu-central")
    page = _post_action(client, "export_transcript", [eu_meeting.pk], confirm="yes", fmt="exe")
    assert page.status_code == 200 and 'name="fmt"' in page.content.decode()
    assert not AuditLog.objects.filter(action="transcript.export").exists()


# --- start / stop -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("action", ["start_rtms", "stop_rtms"])
def test_rtms_actions_ask_for_a_reason_and_report_refusals(eu_meeting: Meeting, action: str) -> None:
    client = _staff("otto", "compliance-eu-central", perms=("control_rtms",))
    page = _post_action(client, action, [eu_meeting.pk])
    assert 'name="reason"' in page.content.decode()
    assert not AuditLog.objects.exists()
    page = _post_action(client, action, [eu_meeting.pk], confirm="yes", reason="ops ticket 3")
    assert page.status_code == 200 and "the meeting has ended" in page.content.decode()


@pytest.mark.parametrize("action", ["start_rtms", "stop_rtms"])
def test_rtms_actions_need_their_permission(eu_meeting: Meeting, action: str) -> None:
    client = _staff("eva", "compliance-eu-central")
    assert action not in client.get(reverse(CHANGELIST)).content.decode()


# --- re-route ---------------------------------------------------------------------------------------------
def test_reroute_asks_for_a_reason_and_records_it(eu: Region, make_meeting: MakeMeeting) -> None:
    meeting = make_meeting(None, host_email="x@late.example.com")
    event = InboundEvent.objects.create(
        dedupe_key="k-reroute",
        event_type="meeting.started",
        event_ts=1,
        payload={},
        first_channel="webhook",
        received_at=meeting.created_at,
        status="quarantined",
        meeting=meeting,
    )
    client = _staff("quinn", "compliance-quarantine")
    page = _post_action(client, "reroute_quarantined", [meeting.pk])
    assert 'name="reason"' in page.content.decode()
    assert InboundEvent.objects.get(pk=event.pk).status == "quarantined"
    page = _post_action(client, "reroute_quarantined", [meeting.pk], confirm="yes", reason="rule 12 added")
    assert "1 quarantined event(s) sent back through routing" in page.content.decode()
    assert InboundEvent.objects.get(pk=event.pk).status == "pending"
    assert AuditLog.objects.get(action="event.reroute").detail["reason"] == "rule 12 added"


# --- transcript views -------------------------------------------------------------------------------------
def test_reading_segments_in_the_admin_is_audited(eu_meeting: Meeting) -> None:
    client = _staff("eva", "compliance-eu-central")
    page = client.get(reverse("admin:rtms_transcriptsegment_changelist"))
    assert "a &lt; b &amp; c" in page.content.decode()
    audit = AuditLog.objects.get(action="transcript.view")
    assert (audit.actor, audit.object_id, audit.region_code) == ("eva", str(eu_meeting.pk), "eu-central")
    assert audit.detail["via"] == "admin" and audit.detail["segments"] == 1


# --- audit log --------------------------------------------------------------------------------------------
def test_nobody_can_add_change_or_delete_audit_rows_in_the_admin() -> None:
    row = audit_record(actor="x", action="meeting.erase", region_code="eu-central")
    root = User.objects.create_superuser("root", password="pw-123456")
    client = Client()
    client.force_login(root)
    assert client.get(reverse("admin:rtms_auditlog_add")).status_code == 403
    assert client.get(reverse("admin:rtms_auditlog_delete", args=[row.pk])).status_code == 403
    change = client.get(reverse("admin:rtms_auditlog_change", args=[row.pk]))
    assert change.status_code == 200 and 'name="_save"' not in change.content.decode()
    client.post(reverse("admin:rtms_auditlog_change", args=[row.pk]), {"actor": "forged"})
    assert AuditLog.objects.get(pk=row.pk).actor == "x"
    listing = client.get(reverse("admin:rtms_auditlog_changelist")).content.decode()
    assert "delete_selected" not in listing


def test_staff_filter_the_audit_log_and_export_the_filtered_rows_as_csv() -> None:
    audit_record(
        actor="dora", action="meeting.erase", region_code="eu-central", detail={"reason": "=HYPERLINK(1)"}
    )
    audit_record(actor="eva", action="transcript.view", region_code="eu-central")
    audit_record(actor="sam", action="meeting.erase", region_code="us-east")
    client = _staff("eva", "compliance-eu-central")
    url = reverse("admin:rtms_auditlog_changelist")
    listing = client.get(url, {"action": "meeting.erase"}).content.decode()
    assert "Export these rows as CSV" in listing and "dora" in listing and "sam" not in listing
    assert client.get(url, {"actor": "eva", "region_code": "eu-central"}).status_code == 200

    response = client.get(reverse("admin:rtms_auditlog_export_csv"), {"action": "meeting.erase"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(response).decode())))
    assert [(r["actor"], r["action"]) for r in rows] == [("dora", "meeting.erase")]  # region-scoped: no "sam"
    assert rows[0]["detail"].startswith('{"reason"')
    export = AuditLog.objects.get(action="audit.export")
    assert export.actor == "eva" and export.detail["filters"] == {"action": ["meeting.erase"]}
    assert export.detail["rows"] == 1


def test_csv_cells_that_look_like_formulas_are_defused() -> None:
    audit_record(actor="=cmd|' /C calc'!A0", action="meeting.erase", region_code="eu-central")
    root = User.objects.create_superuser("root", password="pw-123456")
    client = Client()
    client.force_login(root)
    response = client.get(reverse("admin:rtms_auditlog_export_csv"))
    rows = list(csv.DictReader(io.StringIO(b"".join(response).decode())))
    assert rows[-1]["actor"].startswith("'=")


def test_a_bad_filter_on_the_csv_export_is_a_400() -> None:
    root = User.objects.create_superuser("root", password="pw-123456")
    client = Client()
    client.force_login(root)
    assert client.get(reverse("admin:rtms_auditlog_export_csv"), {"nonsense__gt": "1"}).status_code == 400


# --- retention policies -----------------------------------------------------------------------------------
def test_retention_policy_changes_are_audited(eu: Region) -> None:
    root = User.objects.create_superuser("root", password="pw-123456")
    client = Client(REMOTE_ADDR="203.0.113.9")
    client.force_login(root)
    fields = {"region": eu.pk, "transcript_days": 30, "audio_days": 7, "inbox_payload_days": 14}
    assert client.post(reverse("admin:compliance_retentionpolicy_add"), fields).status_code == 302
    policy = RetentionPolicy.objects.get(region=eu)
    client.post(
        reverse("admin:compliance_retentionpolicy_change", args=[policy.pk]),
        {"transcript_days": 60, "audio_days": 7, "inbox_payload_days": 14},
    )
    changes = list(AuditLog.objects.filter(action="retention.change").order_by("id"))
    assert len(changes) == 2
    assert changes[1].detail["before"]["transcript_days"] == 30
    assert changes[1].detail["after"]["transcript_days"] == 60
    assert changes[1].source_ip == "203.0.113.9" and changes[1].region_code == "eu-central"
    bad = client.post(
        reverse("admin:compliance_retentionpolicy_change", args=[policy.pk]),
        {"transcript_days": 0, "audio_days": 7, "inbox_payload_days": 14},
    )
    assert bad.status_code == 200 and RetentionPolicy.objects.get(pk=policy.pk).transcript_days == 60
