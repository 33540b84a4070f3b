"""Issue #20, finding 5: every admin model is region-scoped or superuser-only, every filter's choices too,
and the quarantine scope covers quarantined meetings and events only.

On the main of 2026-12-07 a member of the EU group saw every region's residency rules (host ids, notes),
every Zoom account, every reconcile run with its errors, and the US account in the meeting list's account
filter; the quarantine group saw pending, ignored and failed events of any region; staff given user rights
could grant themselves a region."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from reconciler.models import ReconcileRun
from regions.models import Region, ResidencyRule
from rtms.models import InboundEvent, RefusedDelivery, ZoomAccount
from tests.integration.api_support import staff_client
from tests.integration.conftest import EU_ALIAS, MakeMeeting

pytestmark = pytest.mark.django_db(databases=["default", EU_ALIAS])


World = dict[str, Any]


@pytest.fixture
def world(eu: Region, us: Region, make_meeting: MakeMeeting) -> World:
    eu_account = ZoomAccount.objects.create(
        zoom_account_id="acc-eu-7f3", name="Acme Europe", default_region=eu
    )
    us_account = ZoomAccount.objects.create(zoom_account_id="acc-us-9q1", name="Acme Americas")
    make_meeting(eu, account=eu_account)
    make_meeting(us, account=us_account)
    return {
        "eu_rule": ResidencyRule.objects.create(
            position=10, field="host_email_domain", value="acme.eu", region=eu, note="Berlin office"
        ),
        "us_rule": ResidencyRule.objects.create(
            position=20, field="host_id", value="us-host-secret-id", region=us, note="Boston office"
        ),
        "eu_run": ReconcileRun.objects.create(
            account=eu_account, started_at=timezone.now(), errors=["start_rtms 2308: meeting 81234"]
        ),
        "us_run": ReconcileRun.objects.create(account=us_account, started_at=timezone.now()),
        "eu_account": eu_account,
        "us_account": us_account,
    }


def test_residency_rules_are_region_scoped_and_written_by_superusers_only(world: World) -> None:
    eva = staff_client(
        "eva", "compliance-eu-central", perms=("regions.add_residencyrule", "regions.change_residencyrule")
    )
    page = eva.get(reverse("admin:regions_residencyrule_changelist")).content.decode()
    assert "Berlin office" in page
    assert "Boston office" not in page and "us-host-secret-id" not in page
    us_rule = world["us_rule"]
    assert eva.get(reverse("admin:regions_residencyrule_change", args=[us_rule.pk])).status_code == 302
    # The order of the rules decides for every region: a scoped member of staff never writes one.
    assert eva.get(reverse("admin:regions_residencyrule_add")).status_code == 403
    eu_rule = world["eu_rule"]
    response = eva.post(
        reverse("admin:regions_residencyrule_change", args=[eu_rule.pk]),
        {"position": 1, "field": "host_email_domain", "value": "us.example.com", "region": eu_rule.region_id},
    )
    assert response.status_code == 403
    assert ResidencyRule.objects.get(pk=eu_rule.pk).position == 10


def test_zoom_accounts_are_those_serving_the_users_regions_and_read_only(world: World) -> None:
    eva = staff_client("eva", "compliance-eu-central", perms=("rtms.change_zoomaccount",))
    page = eva.get(reverse("admin:rtms_zoomaccount_changelist")).content.decode()
    assert "acc-eu-7f3" in page
    assert "acc-us-9q1" not in page and "Acme Americas" not in page
    us_url = reverse("admin:rtms_zoomaccount_change", args=[world["us_account"].pk])
    assert eva.get(us_url).status_code == 302
    eu_url = reverse("admin:rtms_zoomaccount_change", args=[world["eu_account"].pk])
    eva.post(eu_url, {"zoom_account_id": "acc-eu-7f3", "name": "renamed", "mode": "api_start"})
    assert ZoomAccount.objects.get(pk=world["eu_account"].pk).name == "Acme Europe"


def test_reconcile_runs_are_their_accounts_regions_and_errors_are_hidden(world: World) -> None:
    eva = staff_client("eva", "compliance-eu-central")
    page = eva.get(reverse("admin:reconciler_reconcilerun_changelist")).content.decode()
    assert "Acme Europe" in page and "Acme Americas" not in page
    us_url = reverse("admin:reconciler_reconcilerun_change", args=[world["us_run"].pk])
    assert eva.get(us_url).status_code == 302
    eu_url = reverse("admin:reconciler_reconcilerun_change", args=[world["eu_run"].pk])
    detail = eva.get(eu_url)
    assert detail.status_code == 200
    assert "meeting 81234" not in detail.content.decode()
    root = User.objects.create_superuser("root", password="pw-123456")
    client = Client()
    client.force_login(root)
    assert "meeting 81234" in client.get(eu_url).content.decode()


def test_filter_choices_name_only_the_users_regions_and_accounts(world: World) -> None:
    eva = staff_client("eva", "compliance-eu-central")
    for url in (
        reverse("admin:rtms_meeting_changelist"),
        reverse("admin:rtms_rtmsstream_changelist"),
        reverse("admin:rtms_inboundevent_changelist"),
        reverse("admin:regions_residencyrule_changelist"),
        reverse("admin:reconciler_reconcilerun_changelist"),
    ):
        page = eva.get(url).content.decode()
        assert "Acme Americas" not in page and "acc-us-9q1" not in page, url
        assert "us-east" not in page, url
    regions = eva.get(reverse("admin:regions_region_changelist")).content.decode()
    assert "eu-central" in regions and "us-east" not in regions


def test_the_quarantine_scope_is_quarantined_meetings_and_events_only(
    eu: Region, make_meeting: MakeMeeting
) -> None:
    quarantined = make_meeting(None, zoom_meeting_id=8_111_111_111)
    pending = make_meeting(None, zoom_meeting_id=8_222_222_222, routing_status="pending")
    events = {
        status: InboundEvent.objects.create(
            dedupe_key=f"k-{status}",
            event_type="meeting.started",
            meeting_uuid=f"uuid-{status}",
            status=status,
            payload={},
            first_channel="webhook",
            event_ts=1,
            received_at=timezone.now(),
        )
        for status in ("quarantined", "pending", "ignored", "failed")
    }
    quinn = staff_client("quinn", "compliance-quarantine")
    meetings = quinn.get(reverse("admin:rtms_meeting_changelist")).content.decode()
    assert "8111111111" in meetings and "8222222222" not in meetings
    assert quinn.get(reverse("admin:rtms_meeting_change", args=[pending.pk])).status_code == 302
    assert quinn.get(reverse("admin:rtms_meeting_change", args=[quarantined.pk])).status_code == 200
    for status, event in events.items():
        response = quinn.get(reverse("admin:rtms_inboundevent_change", args=[event.pk]))
        assert response.status_code == (200 if status == "quarantined" else 302), status
    # The live page applies the same scope.
    assert quinn.get(f"/live/{quarantined.pk}/").status_code == 200
    assert quinn.get(f"/live/{pending.pk}/").status_code == 404


def test_users_groups_and_refused_deliveries_are_superuser_only(eu: Region) -> None:
    RefusedDelivery.objects.create(
        received_at=timezone.now(), channel="webhook", event_type="meeting.started", reason="oversized"
    )
    mallory = staff_client(
        "mallory",
        "compliance-eu-central",
        perms=(
            "auth.view_user",
            "auth.change_user",
            "auth.view_group",
            "auth.change_group",
            "rtms.view_refuseddelivery",
        ),
    )
    victim = User.objects.get(username="mallory")
    # With user rights, staff could otherwise add themselves to every region's group.
    assert mallory.get(reverse("admin:auth_user_change", args=[victim.pk])).status_code == 403
    assert mallory.get(reverse("admin:auth_group_changelist")).status_code == 403
    assert mallory.get(reverse("admin:rtms_refuseddelivery_changelist")).status_code == 403
