"""Issue #20, item 8 (last point): the live page and socket answered 403/4403 for another region's meeting
and 404/4404 for a missing one, which told an outsider which meeting ids exist. Both now answer alike."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import Group, User
from django.db import connections
from django.test import Client

from regions.access import group_name_for
from regions.models import Region
from rtms.models import Meeting
from tests.integration.conftest import EU_ALIAS, MakeMeeting
from tests.integration.test_live_consumer import Cookie, _close_code, _open

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", EU_ALIAS])


@pytest.fixture(autouse=True)
async def _close_database_thread() -> AsyncIterator[None]:
    yield
    await sync_to_async(connections.close_all)()


@pytest.fixture
def us_meeting(us: Region, make_meeting: MakeMeeting) -> Meeting:
    return make_meeting(us, topic="US sync")


def _eu_client() -> Client:
    user = User.objects.create_user("eva", password="pw-123456", is_staff=True)
    user.groups.add(Group.objects.get_or_create(name=group_name_for("eu-central"))[0])
    client = Client()
    client.force_login(user)
    return client


def test_the_page_of_another_regions_meeting_answers_as_a_missing_one(us_meeting: Meeting) -> None:
    client = _eu_client()
    other, missing = client.get(f"/live/{us_meeting.pk}/"), client.get(f"/live/{us_meeting.pk + 1000}/")
    assert other.status_code == missing.status_code == 404
    assert other.content == missing.content


async def test_the_socket_of_another_regions_meeting_closes_as_a_missing_one(
    us_meeting: Meeting, session_cookie: Cookie
) -> None:
    cookie = await sync_to_async(session_cookie)("eva", region="eu-central")
    codes = []
    for meeting_id in (us_meeting.pk, us_meeting.pk + 1000):
        ws = await _open(f"/ws/live/{meeting_id}/", cookie)
        codes.append(await _close_code(ws))
        await ws.disconnect()
    assert codes == [4404, 4404]
