"""Issue #20, finding 6: one permission set for one act, in the admin, the API and the commands.

On the main of 2026-12-07 the API's erase checked ``rtms.delete_meeting`` and its start and stop
``rtms.change_meeting``, while the admin checked ``compliance.erase_meeting`` and ``control_rtms``: a member
of staff refused erasure in the admin could erase through the API with a session, and an API client's
read-write role allowed every act at once. Now each act has one permission (compliance/acts.py); a data
migration gave it to whoever held today's."""

from __future__ import annotations

from importlib import import_module
from types import SimpleNamespace

import pytest
from django.apps import apps as global_apps
from django.contrib.auth.models import Group, Permission, User
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from api.models import ApiClient
from api.services import api_client_create
from compliance.acts import Act
from regions.access import QUARANTINE_GROUP
from regions.models import Region
from rtms.models import InboundEvent
from tests.integration.api_support import (  # noqa: F401  (fixtures)
    MakeApiClient,
    bearer,
    fresh_throttles_fixture,
    make_api_client_fixture,
    staff_client,
)
from tests.integration.conftest import EU_ALIAS, MakeMeeting

pytestmark = pytest.mark.django_db(databases=["default", EU_ALIAS])


def _erase(client: Client, meeting_id: int) -> int:
    response = client.post(f"/api/v1/meetings/{meeting_id}/erase/", {"reason": "DSR-1"}, "application/json")
    return response.status_code


def _start(client: Client, meeting_id: int) -> int:
    response = client.post(
        f"/api/v1/meetings/{meeting_id}/rtms/start/", {"reason": "ticket 9"}, "application/json"
    )
    return response.status_code


def test_the_api_checks_the_admins_permission_for_erasure(eu: Region, make_meeting: MakeMeeting) -> None:
    meeting = make_meeting(eu, state="ended")
    # The model permission the API used to check no longer erases...
    model_only = staff_client("mo", "compliance-eu-central", perms=("rtms.delete_meeting",))
    assert _erase(model_only, meeting.pk) == 403
    # ...the admin's permission does, through the API as in the admin.
    holder = staff_client("eve", "compliance-eu-central", perms=(Act.ERASE.value,))
    assert _erase(holder, meeting.pk) == 200


def test_the_api_checks_the_admins_permission_for_start_and_stop(
    eu: Region, make_meeting: MakeMeeting
) -> None:
    ended = make_meeting(eu, state="ended")
    model_only = staff_client("mo", "compliance-eu-central", perms=("rtms.change_meeting",))
    assert _start(model_only, ended.pk) == 403
    holder = staff_client("otto", "compliance-eu-central", perms=(Act.CONTROL_RTMS.value,))
    assert _start(holder, ended.pk) == 409  # past the permission: an ended meeting cannot start


def test_an_api_client_acts_only_with_the_acts_permission(
    eu: Region, make_meeting: MakeMeeting, make_api_client: MakeApiClient
) -> None:
    meeting = make_meeting(eu, state="ended")
    eraser = make_api_client("eu-central", role="read-write", acts=(Act.ERASE,))
    starter_only = make_api_client("eu-central", role="read-write", acts=(Act.CONTROL_RTMS,))
    assert _erase(starter_only, meeting.pk) == 403
    assert _start(eraser, meeting.pk) == 403
    assert _erase(eraser, meeting.pk) == 200
    with pytest.raises(ValueError, match="read-write"):
        api_client_create("reader", region_codes=["eu-central"], role="read", acts=[Act.ERASE])


def test_the_admin_offers_reroute_only_with_its_permission_and_the_quarantine(eu: Region) -> None:
    for status, region in (("quarantined", None), ("processed", eu)):  # the list offers actions for rows
        InboundEvent.objects.create(
            dedupe_key=f"k-{status}",
            event_type="meeting.started",
            status=status,
            region=region,
            payload={},
            first_channel="webhook",
            event_ts=1,
            received_at=timezone.now(),
        )
    changelist = reverse("admin:rtms_inboundevent_changelist")
    # Holding the permission without the quarantine offers nothing to re-route.
    holder = staff_client("hal", "compliance-eu-central", perms=(Act.REROUTE.value,))
    assert "reroute_quarantined" not in holder.get(changelist).content.decode()
    quinn = staff_client("quinn", QUARANTINE_GROUP)
    assert "reroute_quarantined" in quinn.get(changelist).content.decode()


def test_the_command_grants_the_same_permissions(eu: Region, capsys: pytest.CaptureFixture[str]) -> None:
    call_command(
        "api_client_create",
        "dpo-bot",
        "--region",
        "eu-central",
        "--role",
        "read-write",
        "--permission",
        Act.ERASE.value,
    )
    client = ApiClient.objects.get(name="dpo-bot")
    assert client.may(Act.ERASE) and not client.may(Act.CONTROL_RTMS)
    token = capsys.readouterr().out.strip()
    assert token


def test_the_data_migration_moves_todays_holders_to_the_unified_permissions(eu: Region) -> None:
    def perm(app_label: str, codename: str) -> Permission:
        return Permission.objects.get(content_type__app_label=app_label, codename=codename)

    erasers = Group.objects.create(name="dpo")
    erasers.permissions.add(perm("rtms", "delete_meeting"))
    operator = User.objects.create_user("op", is_staff=True)
    operator.user_permissions.add(perm("rtms", "change_meeting"))
    quarantine, _ = Group.objects.get_or_create(name=QUARANTINE_GROUP)
    quarantine.permissions.remove(perm("compliance", Act.REROUTE.codename))
    writer, _ = api_client_create(
        "old-writer", region_codes=["eu-central"], role="read-write", quarantine_access=True
    )
    reader, _ = api_client_create("old-reader", region_codes=["eu-central"], role="read")

    migration = import_module("api.migrations.0005_move_to_unified_act_permissions")
    migration.forward(global_apps, SimpleNamespace(connection=connection))

    assert set(erasers.permissions.values_list("codename", flat=True)) >= {"erase_meeting"}
    operator = User.objects.get(pk=operator.pk)  # a fresh instance: permissions are cached per instance
    assert operator.has_perm(Act.CONTROL_RTMS.value) and not operator.has_perm(Act.ERASE.value)
    assert quarantine.permissions.filter(codename=Act.REROUTE.codename).exists()
    assert all(writer.may(act) for act in Act)
    assert not any(reader.may(act) for act in Act)


def test_a_token_holder_without_the_permission_gets_403_not_the_object(
    eu: Region, make_meeting: MakeMeeting, make_api_client: MakeApiClient
) -> None:
    meeting = make_meeting(eu, state="ended")
    bystander = bearer(api_client_create("rw-no-acts", region_codes=["eu-central"], role="read-write")[1])
    assert _erase(bystander, meeting.pk) == 403
