"""Fixtures shared by the API tests: API clients with tokens, staff sessions, a small world of objects."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.core.cache import cache
from django.test import Client

from api.services import api_client_create
from compliance.acts import Act
from regions.models import ResidencyRule
from regions.services import region_groups_sync
from rtms.models import InboundEvent, Meeting

MakeApiClient = Callable[..., Client]


def bearer(token: str) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Bearer {token}")


@pytest.fixture(name="fresh_throttles", autouse=True)
def fresh_throttles_fixture() -> Iterator[None]:
    # Rate counters live in Redis (this run's own database): a previous run's counts must not leak in.
    cache.clear()
    yield


@pytest.fixture(name="make_api_client")
def make_api_client_fixture() -> MakeApiClient:
    def make(
        *regions: str,
        role: str = "read",
        quarantine: bool = False,
        manage_rules: bool = False,
        acts: tuple[Act, ...] | None = None,
    ) -> Client:
        """``acts`` default to every act for a read-write client (what its role allowed before issue #20)."""
        name = f"client-{'-'.join(regions) or 'none'}-{role}-{User.objects.count()}-{_next()}"
        if acts is None:
            acts = tuple(Act) if role == "read-write" else ()
        _, token = api_client_create(
            name,
            region_codes=regions,
            role=role,
            quarantine_access=quarantine,
            manage_rules=manage_rules,
            acts=acts,
        )
        return bearer(token)

    return make


_n = [0]


def _next() -> int:
    _n[0] += 1
    return _n[0]


def staff_client(username: str, *groups: str, superuser: bool = False, perms: tuple[str, ...] = ()) -> Client:
    region_groups_sync()
    user = User.objects.create_user(username, password="pw-123456", is_staff=True, is_superuser=superuser)
    for name in groups:
        user.groups.add(Group.objects.get(name=name))
    for perm in perms:
        from django.contrib.auth.models import Permission

        app_label, codename = perm.split(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    client = Client()
    client.force_login(user)
    return client


@dataclass
class World:
    meetings: dict[str, Meeting]
    events: dict[str, InboundEvent]
    rules: dict[str, ResidencyRule]


def event(region: Any, meeting: Meeting | None, status: str, n: int) -> InboundEvent:
    from django.utils import timezone

    return InboundEvent.objects.create(
        dedupe_key=f"meeting.started:{meeting.zoom_uuid if meeting else 'x'}:{n}",
        event_type="meeting.started",
        event_ts=1_760_000_000_000 + n,
        payload={"event": "meeting.started", "payload": {"object": {"host_email": "anna@example.com"}}},
        first_channel="webhook",
        received_at=timezone.now(),
        webhook_received_at=timezone.now(),
        status=status,
        region=region,
        meeting=meeting,
    )
