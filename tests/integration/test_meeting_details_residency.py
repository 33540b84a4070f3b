"""Issue #19 point 1: a meeting's topic and host e-mail live in its region's database. Before, both sat in
the control database (``rtms_meeting.topic`` / ``host_email``) for every region.

The control row keeps the e-mail's domain (a residency fact) and a keyed hash of it, so that an exact
e-mail search still works; a topic search runs inside each region the user may see. The admin, the API and
the live pages show both, read from the region.
"""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connections
from django.urls import reverse

from live.selectors import live_meeting_rows
from regions.models import Region, ResidencyRule
from rtms.checks import personal_data_left_in_control
from rtms.inbox.apply import event_apply
from rtms.inbox.receive import ingest
from rtms.inbox.route import event_route
from rtms.models import Channel, Meeting, MeetingDetails, ZoomAccount
from rtms.personal import email_hash
from tests.integration.api_support import (  # noqa: F401  (fixtures)
    MakeApiClient,
    fresh_throttles_fixture,
    make_api_client_fixture,
    staff_client,
)
from tests.integration.conftest import EU_ALIAS, MakeMeeting, personal
from tests.support import event_body, meeting_payload

pytestmark = pytest.mark.django_db(databases="__all__")

EMAIL = "Anna.Board@eu.example.com"
TOPIC = "Quarterly review"  # meeting_payload's topic


@pytest.fixture
def started(eu: Region) -> Meeting:
    """A meeting whose meeting.started went through the inbox (routed to eu-central, applied)."""
    ZoomAccount.objects.get_or_create(zoom_account_id="test-account", defaults={"mode": "auto"})
    ResidencyRule.objects.create(position=10, field="host_email_domain", value="eu.example.com", region=eu)
    body = event_body("meeting.started", meeting_payload("u-det-1==", 81000000201, host_email=EMAIL))
    stored = ingest(body, channel=Channel.WEBHOOK).stored
    assert stored is not None
    assert event_route(stored.event_id).status == "routed"
    assert event_apply(stored.event_id) == "meeting_started"
    return Meeting.objects.get(zoom_uuid="u-det-1==")


def _control_row(meeting: Meeting) -> dict[str, Any]:
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT * FROM rtms_meeting WHERE id = %s", [meeting.pk])
        columns = [c.name for c in cursor.description]
        return dict(zip(columns, cursor.fetchone(), strict=True))


def test_the_topic_and_e_mail_are_in_the_region_and_control_keeps_a_domain_and_a_keyed_hash(
    started: Meeting,
) -> None:
    details = MeetingDetails.objects.using(EU_ALIAS).get(meeting_id=started.pk)
    assert (details.topic, details.host_email, details.region_code) == (TOPIC, EMAIL, "eu-central")
    row = _control_row(started)
    assert EMAIL not in str(row) and EMAIL.lower() not in str(row) and TOPIC not in str(row)
    assert row["host_email_domain"] == "eu.example.com"
    assert row["host_email_hash"] == email_hash(EMAIL) == email_hash(" anna.board@EU.example.com ")
    assert row["host_email_hash"] != email_hash(EMAIL, key="another key")


def test_the_admin_finds_a_meeting_by_exact_e_mail_and_by_topic_inside_its_region(started: Meeting) -> None:
    eu_staff = staff_client("erik", "compliance-eu-central")
    url = reverse("admin:rtms_meeting_changelist")
    by_email = eu_staff.get(url, {"q": "anna.board@EU.example.com"}).content.decode()
    assert TOPIC in by_email and f"/{started.pk}/change/" in by_email  # shown, read from the region
    assert f"/{started.pk}/change/" in eu_staff.get(url, {"q": "arterly rev"}).content.decode()
    assert f"/{started.pk}/change/" not in eu_staff.get(url, {"q": "anna.board@"}).content.decode()
    # Another region's staff: neither the topic search nor the list reaches it.
    us_staff = staff_client("ursula", "compliance-us-east")
    assert f"/{started.pk}/change/" not in us_staff.get(url, {"q": "Quarterly"}).content.decode()


def test_the_api_filters_by_e_mail_and_shows_host_and_topic_from_the_region(
    started: Meeting, make_api_client: MakeApiClient
) -> None:
    client = make_api_client("eu-central")
    found = client.get("/api/v1/meetings/", {"host": "ANNA.BOARD@eu.example.com"}).json()["results"]
    assert [m["id"] for m in found] == [started.pk]
    assert (found[0]["host_email"], found[0]["topic"]) == (EMAIL, TOPIC)
    detail = client.get(f"/api/v1/meetings/{started.pk}/").json()
    assert (detail["host_email"], detail["topic"]) == (EMAIL, TOPIC)
    assert client.get("/api/v1/meetings/", {"host": "someone@eu.example.com"}).json()["results"] == []


def test_the_live_list_shows_the_topic_read_from_the_region(started: Meeting) -> None:
    from django.contrib.auth.models import User

    admin = User.objects.create_superuser("root", "root@example.com", "pw")
    assert [row.title for row in live_meeting_rows(admin)] == [TOPIC]


def test_a_rotated_key_keeps_search_working_through_the_previous_key_until_rehashed(
    started: Meeting, settings: Any, make_api_client: MakeApiClient
) -> None:
    client = make_api_client("eu-central")
    settings.PERSONAL_DATA_HASH_KEY_PREVIOUS = settings.PERSONAL_DATA_HASH_KEY
    settings.PERSONAL_DATA_HASH_KEY = "a-new-key-" + "z" * 40
    assert len(client.get("/api/v1/meetings/", {"host": EMAIL}).json()["results"]) == 1  # via the old key

    call_command("move_to_regions", "--rehash", stdout=StringIO())
    settings.PERSONAL_DATA_HASH_KEY_PREVIOUS = ""
    assert Meeting.objects.get(pk=started.pk).host_email_hash == email_hash(EMAIL)
    assert len(client.get("/api/v1/meetings/", {"host": EMAIL}).json()["results"]) == 1


def test_topics_and_e_mails_stored_before_are_moved_by_the_command_and_checks_warn_until_then(
    eu: Region, make_meeting: MakeMeeting
) -> None:
    routed = make_meeting(eu, topic="", host_email="")
    quarantined = make_meeting(None, topic="", host_email="")
    Meeting.objects.filter(pk=routed.pk).update(
        legacy_topic="Old board", legacy_host_email="old@eu.example.com"
    )
    Meeting.objects.filter(pk=quarantined.pk).update(
        legacy_topic="Nobody's", legacy_host_email="x@nowhere.example"
    )
    assert [m.id for m in personal_data_left_in_control()] == ["rtms.W001"]

    out = StringIO()
    call_command("move_to_regions", "--batch", "1", stdout=out)
    assert "done: 2 meetings' topics and host e-mails moved" in out.getvalue()
    assert personal(routed.pk)[:2] == ("old@eu.example.com", "Old board")
    for meeting in (routed, quarantined):
        row = Meeting.objects.get(pk=meeting.pk)
        assert (row.legacy_topic, row.legacy_host_email) == ("", "")
    assert Meeting.objects.get(pk=quarantined.pk).host_email_domain == "nowhere.example"
    assert personal_data_left_in_control() == []
