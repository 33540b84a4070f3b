from __future__ import annotations

from datetime import timedelta

import pytest

from rtms.leases import lease_acquire, lease_release, lease_renew
from tests.eventually import eventually

pytestmark = pytest.mark.django_db

TTL = timedelta(seconds=30)


def test_only_one_owner_holds_a_lease() -> None:
    held = lease_acquire("events:acc", "gw-a", TTL)
    assert held is not None and held.token == 1
    assert lease_acquire("events:acc", "gw-b", TTL) is None
    assert lease_renew(held, TTL)


def test_an_expired_lease_passes_to_another_owner_with_a_higher_token() -> None:
    held = lease_acquire("events:acc", "gw-a", timedelta(milliseconds=50))
    assert held is not None
    taken = eventually(
        lambda: lease_acquire("events:acc", "gw-b", TTL), timeout=10, what="the lapsed lease taken"
    )
    assert taken is not None and taken.token == held.token + 1
    # The old holder is fenced: it can no longer renew, so it must stop acting.
    assert not lease_renew(held, TTL)


def test_release_lets_a_standby_take_over_at_once() -> None:
    held = lease_acquire("reconcile:acc", "w1", TTL)
    assert held is not None
    lease_release(held)
    assert lease_acquire("reconcile:acc", "w2", TTL) is not None


def test_leases_are_independent_by_name() -> None:
    assert lease_acquire("a", "x", TTL) is not None
    assert lease_acquire("b", "y", TTL) is not None
