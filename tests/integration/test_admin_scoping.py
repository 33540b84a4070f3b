"""Compliance staff see only the regions their groups grant; evidence is read-only."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.test import Client
from django.urls import reverse

from regions.models import Region
from regions.services import region_groups_sync
from rtms.models import Meeting
from tests.integration.conftest import EU_ALIAS, AddSegments, MakeMeeting, MakeStream

pytestmark = pytest.mark.django_db(databases=["default", EU_ALIAS])


def _staff(username: str, *groups: str) -> Client:
    region_groups_sync()
    user = User.objects.create_user(username, password="pw-123456", is_staff=True)
    for name in groups:
        user.groups.add(Group.objects.get(name=name))
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def meetings(eu, us, make_meeting):  # type: ignore[no-untyped-def]
    return {
        "eu": make_meeting(eu, topic="EU board meeting"),
        "us": make_meeting(us, topic="US sales call"),
        # A quarantined meeting keeps no topic (no region holds it, issue #19): found by its Zoom id.
        "quarantined": make_meeting(None, zoom_meeting_id=8_765_432_101),
    }


def test_region_staff_see_only_their_regions_meetings(meetings: dict[str, Meeting]) -> None:
    client = _staff("eva", "compliance-eu-central")
    page = client.get(reverse("admin:rtms_meeting_changelist")).content.decode()
    assert "EU board meeting" in page
    assert "US sales call" not in page
    assert "8765432101" not in page


def test_another_regions_meeting_is_not_found_by_direct_url(meetings: dict[str, Meeting]) -> None:
    client = _staff("eva", "compliance-eu-central")
    response = client.get(reverse("admin:rtms_meeting_change", args=[meetings["us"].pk]))
    # The admin redirects away from objects outside the queryset instead of showing them.
    assert response.status_code == 302
    assert client.get(reverse("admin:rtms_meeting_change", args=[meetings["eu"].pk])).status_code == 200


def test_the_quarantine_group_sees_unrouted_meetings_only(meetings: dict[str, Meeting]) -> None:
    client = _staff("quinn", "compliance-quarantine")
    page = client.get(reverse("admin:rtms_meeting_changelist")).content.decode()
    assert "8765432101" in page
    assert "EU board meeting" not in page and "US sales call" not in page


def test_superusers_see_every_region(meetings: dict[str, Meeting]) -> None:
    admin = User.objects.create_superuser("root", password="pw-123456")
    client = Client()
    client.force_login(admin)
    page = client.get(reverse("admin:rtms_meeting_changelist")).content.decode()
    assert "EU board meeting" in page and "US sales call" in page and "8765432101" in page


def test_staff_with_view_rights_but_no_region_group_see_no_meeting(meetings: dict[str, Meeting]) -> None:
    user = User.objects.create_user("nemo", password="pw-123456", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_meeting"))
    client = Client()
    client.force_login(user)
    response = client.get(reverse("admin:rtms_meeting_changelist"))
    assert response.status_code == 200
    page = response.content.decode()
    assert "EU board meeting" not in page and "US sales call" not in page and "8765432101" not in page


@pytest.mark.parametrize(
    "model", ["inboundevent", "auditlog", "transcriptsegment", "meeting", "streamtransition"]
)
def test_evidence_cannot_be_added_changed_or_deleted_even_by_superusers(model: str) -> None:
    admin = User.objects.create_superuser("root", password="pw-123456")
    client = Client()
    client.force_login(admin)
    assert client.get(reverse(f"admin:rtms_{model}_changelist")).status_code == 200
    assert client.get(reverse(f"admin:rtms_{model}_add")).status_code == 403


def test_segments_are_read_from_the_regions_own_database(
    eu: Region, us: Region, make_meeting: MakeMeeting, make_stream: MakeStream, add_segments: AddSegments
) -> None:
    add_segments(make_stream(make_meeting(eu)), [("Anna", "Guten Morgen zusammen")])
    add_segments(make_stream(make_meeting(us)), [("Bob", "Morning all")])
    client = _staff("eva", "compliance-eu-central")
    page = client.get(reverse("admin:rtms_transcriptsegment_changelist")).content.decode()
    assert "Guten Morgen zusammen" in page and "Morning all" not in page
    # Asking for a region one may not see falls back to a region one may see, never to the forbidden one.
    page = client.get(
        reverse("admin:rtms_transcriptsegment_changelist") + "?region_code=us-east"
    ).content.decode()
    assert "Morning all" not in page


def test_every_region_has_its_group_with_view_rights(eu: Region) -> None:
    names = region_groups_sync()
    assert "compliance-eu-central" in names and "compliance-quarantine" in names
    codenames = set(
        Group.objects.get(name="compliance-eu-central").permissions.values_list("codename", flat=True)
    )
    assert {"view_meeting", "view_transcriptsegment", "view_auditlog"} <= codenames
    assert not any(c.startswith(("change_", "delete_", "add_")) for c in codenames)


def test_the_quarantine_group_can_reroute_after_a_rule_is_added(
    eu: Region, make_meeting: MakeMeeting
) -> None:
    from regions.models import ResidencyRule
    from rtms.models import AuditLog, InboundEvent

    meeting = make_meeting(None, host_email="x@late.example.com")
    event = InboundEvent.objects.create(
        dedupe_key="k1",
        event_type="meeting.started",
        event_ts=1,
        payload={},
        first_channel="webhook",
        received_at=meeting.created_at,
        status="quarantined",
        meeting=meeting,
    )
    ResidencyRule.objects.create(position=1, field="host_email_domain", value="late.example.com", region=eu)
    client = _staff("quinn", "compliance-quarantine")
    response = client.post(
        reverse("admin:rtms_meeting_changelist"),
        # Re-routing is a dangerous action: it asks for confirmation and a reason (issue #9).
        {"action": "reroute_quarantined", "_selected_action": [meeting.pk], "confirm": "yes", "reason": "r"},
        follow=True,
    )
    assert "1 quarantined event(s) sent back through routing" in response.content.decode()
    event.refresh_from_db()
    assert event.status == "pending"
    assert AuditLog.objects.filter(action="event.reroute", actor="quinn", object_id=str(meeting.pk)).exists()


def test_region_staff_cannot_reroute(make_meeting: MakeMeeting) -> None:
    meeting = make_meeting(None)
    client = _staff("eva", "compliance-eu-central")
    response = client.post(
        reverse("admin:rtms_meeting_changelist"),
        {"action": "reroute_quarantined", "_selected_action": [meeting.pk]},
        follow=True,
    )
    assert "sent back through routing" not in response.content.decode()


def test_the_admin_is_branded_for_compliance_staff() -> None:
    client = _staff("eva", "compliance-eu-central")
    assert "RTMS control plane — compliance" in client.get(reverse("admin:index")).content.decode()
