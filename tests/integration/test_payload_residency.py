"""Issue #19 point 1, first part: the raw body of a routed event lives in its region's database, not in
the control database. Before, every body (host e-mails, topics, participant names) stayed in the control
inbox for as long as the region's retention kept it.

What stays in control: a stub ``{"event", "event_ts", "redacted"}`` and the meeting uuid (an id). A body
that cannot be routed yet stays in control until it is (it is what routing reads), at most
``INBOX_UNROUTED_PAYLOAD_DAYS``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from compliance.erasure import meeting_erase
from compliance.models import RetentionPolicy
from compliance.retention import retention_sweep
from regions.models import Region, ResidencyRule
from rtms.checks import personal_data_left_in_control
from rtms.inbox.apply import event_apply
from rtms.inbox.receive import ingest
from rtms.inbox.route import event_route
from rtms.models import Channel, InboundEvent, Meeting, RoutedPayload, ZoomAccount
from tests.integration.api_support import (  # noqa: F401  (fixtures)
    MakeApiClient,
    fresh_throttles_fixture,
    make_api_client_fixture,
)
from tests.integration.conftest import EU_ALIAS
from tests.support import event_body, meeting_payload

pytestmark = pytest.mark.django_db(databases="__all__")

EMAIL = "anna@eu.example.com"
TOPIC = "Quarterly review"  # meeting_payload's topic


@pytest.fixture(autouse=True)
def media_root(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


@pytest.fixture
def routed_to_eu(eu: Region) -> None:
    ZoomAccount.objects.get_or_create(zoom_account_id="test-account", defaults={"mode": "auto"})
    ResidencyRule.objects.create(position=10, field="host_email_domain", value="eu.example.com", region=eu)


def _deliver(uuid: str, meeting_id: int, *, event: str = "meeting.started", ts: int = 1) -> int:
    body = event_body(event, meeting_payload(uuid, meeting_id, host_email=EMAIL), event_ts=ts)
    stored = ingest(body, channel=Channel.WEBHOOK).stored
    assert stored is not None
    return stored.event_id


def _process(event_id: int) -> str:
    routed = event_route(event_id)
    return routed.status if routed.status != "routed" else event_apply(event_id)


def _in_control(row_id: int) -> str:
    return json.dumps(InboundEvent.objects.get(pk=row_id).payload)


@pytest.mark.usefixtures("routed_to_eu")
def test_a_routed_events_body_lives_in_its_regions_database_and_is_applied_from_there() -> None:
    event_id = _deliver("u-res-1==", 81000000101)
    assert EMAIL in _in_control(event_id)  # before routing, control holds it: routing reads it

    assert _process(event_id) == "meeting_started"

    row = InboundEvent.objects.get(pk=event_id)
    assert row.payload == {"event": "meeting.started", "event_ts": 1, "redacted": "in the region's database"}
    assert EMAIL not in _in_control(event_id) and TOPIC not in _in_control(event_id)
    assert row.meeting_uuid == "u-res-1=="  # the id stays, for erasure and the reconciler
    moved = RoutedPayload.objects.using(EU_ALIAS).get(event_id=event_id)
    assert moved.payload["payload"]["object"]["host_email"] == EMAIL
    assert (moved.region_code, moved.meeting_id) == ("eu-central", row.meeting_id)
    assert not RoutedPayload.objects.using("default").filter(event_id=event_id).exists()


@pytest.mark.usefixtures("routed_to_eu")
def test_a_late_copy_over_the_other_channel_changes_nothing_and_a_second_route_moves_nothing_twice() -> None:
    event_id = _deliver("u-res-2==", 81000000102)
    _process(event_id)
    again = ingest(
        event_body(
            "meeting.started", meeting_payload("u-res-2==", 81000000102, host_email=EMAIL), event_ts=1
        ),
        channel=Channel.WEBSOCKET,
    ).stored
    assert again is not None and again.event_id == event_id and not again.first
    assert EMAIL not in _in_control(event_id)
    assert event_route(event_id).status == "skipped"
    assert RoutedPayload.objects.using(EU_ALIAS).filter(event_id=event_id).count() == 1


def test_a_quarantined_body_stays_in_control_until_a_rule_routes_it(eu: Region) -> None:
    ZoomAccount.objects.get_or_create(zoom_account_id="test-account", defaults={"mode": "auto"})
    event_id = _deliver("u-res-3==", 81000000103)
    assert _process(event_id) == "quarantined"
    assert EMAIL in _in_control(event_id)
    ResidencyRule.objects.create(position=10, field="host_email_domain", value="eu.example.com", region=eu)
    InboundEvent.objects.filter(pk=event_id).update(status="pending")  # what the admin's re-route does
    assert _process(event_id) == "meeting_started"
    assert EMAIL not in _in_control(event_id)
    assert RoutedPayload.objects.using(EU_ALIAS).filter(event_id=event_id).exists()


@pytest.mark.usefixtures("routed_to_eu")
def test_erasure_and_retention_delete_the_bodies_in_the_region() -> None:
    erased_id = _deliver("u-res-4==", 81000000104)
    kept_id = _deliver("u-res-5==", 81000000105)
    _process(erased_id)
    _process(kept_id)
    meeting = Meeting.objects.get(zoom_uuid="u-res-4==")
    Meeting.objects.filter(pk=meeting.pk).update(state="ended")
    tombstone = meeting_erase(meeting, actor="dpo", reason="Art. 17", source_ip=None)
    assert tombstone.payloads_scrubbed >= 1
    assert not RoutedPayload.objects.using(EU_ALIAS).filter(event_id=erased_id).exists()
    assert RoutedPayload.objects.using(EU_ALIAS).filter(event_id=kept_id).exists()

    eu = Region.objects.get(code="eu-central")
    RetentionPolicy.objects.create(region=eu, transcript_days=30, audio_days=30, inbox_payload_days=14)
    RoutedPayload.objects.using(EU_ALIAS).filter(event_id=kept_id).update(
        received_at=datetime.now(tz=UTC) - timedelta(days=15)
    )
    report = retention_sweep(dry_run=False, now=datetime.now(tz=UTC))
    assert next(r for r in report.regions if r.region_code == "eu-central").payloads >= 1
    assert not RoutedPayload.objects.using(EU_ALIAS).filter(event_id=kept_id).exists()


@pytest.mark.usefixtures("routed_to_eu")
def test_bodies_routed_before_are_moved_by_a_resumable_command_and_deploy_checks_warn_until_then() -> None:
    event_id = _deliver("u-res-6==", 81000000106)
    _process(event_id)
    # As a row routed before issue #19 looks: its body still in control, none in the region.
    body = RoutedPayload.objects.using(EU_ALIAS).get(event_id=event_id).payload
    RoutedPayload.objects.using(EU_ALIAS).filter(event_id=event_id).delete()
    InboundEvent.objects.filter(pk=event_id).update(payload=body)
    assert [m.id for m in personal_data_left_in_control()] == ["rtms.W001"]

    out = StringIO()
    call_command("move_to_regions", "--batch", "1", stdout=out)
    assert "1 routed event bodies moved" in out.getvalue()
    assert EMAIL not in _in_control(event_id)
    assert RoutedPayload.objects.using(EU_ALIAS).get(event_id=event_id).payload == body
    assert personal_data_left_in_control() == []
    # Run again: nothing left, nothing changes.
    call_command("move_to_regions", stdout=StringIO())
    assert RoutedPayload.objects.using(EU_ALIAS).filter(event_id=event_id).count() == 1


@pytest.mark.usefixtures("routed_to_eu")
def test_the_api_shows_the_body_from_the_region_to_a_client_of_that_region(
    make_api_client: MakeApiClient,
) -> None:
    event_id = _deliver("u-res-7==", 81000000107)
    _process(event_id)
    response = make_api_client("eu-central").get(f"/api/v1/events/{event_id}/")
    assert response.status_code == 200
    assert response.json()["payload"]["payload"]["object"]["host_email"] == EMAIL
    assert make_api_client("us-east").get(f"/api/v1/events/{event_id}/").status_code == 404


@pytest.mark.usefixtures("routed_to_eu")
def test_an_unparsed_event_of_a_routed_meeting_takes_its_body_to_the_region_too() -> None:
    """Participant events carry names and e-mails; we do not parse them yet, but their bodies must not stay
    in the control database for a routed meeting."""
    _process(_deliver("u-res-8==", 81000000108))
    name = "Eve Participant"
    joined = {
        "event": "meeting.participant_joined",
        "event_ts": 5,
        "payload": {"account_id": "acc", "object": {"uuid": "u-res-8==", "participant": {"user_name": name}}},
    }
    stored = ingest(joined, channel=Channel.WEBHOOK).stored
    assert stored is not None
    assert _process(stored.event_id) == "ignored"
    row = InboundEvent.objects.get(pk=stored.event_id)
    assert row.status == "ignored" and name not in json.dumps(row.payload)
    moved = RoutedPayload.objects.using(EU_ALIAS).get(event_id=stored.event_id)
    assert moved.payload["payload"]["object"]["participant"]["user_name"] == name

    # One for a meeting nobody knows: ignored, never creates a meeting; its body expires in control.
    unknown = {**joined, "event_ts": 6, "payload": {"object": {"uuid": "u-unknown==", "participant": {}}}}
    stored = ingest(unknown, channel=Channel.WEBHOOK).stored
    assert stored is not None
    assert _process(stored.event_id) == "ignored"
    assert not Meeting.objects.filter(zoom_uuid="u-unknown==").exists()
