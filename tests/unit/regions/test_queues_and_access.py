from __future__ import annotations

import pytest

from regions.access import FULL_ACCESS, NO_ACCESS, RegionScope, group_name_for
from regions.queues import CENTRAL_QUEUES, queue_for, worker_queues


def test_queue_for_names_the_regional_queue() -> None:
    assert queue_for("eu-central") == "region.eu-central"


def test_queue_for_refuses_an_empty_region() -> None:
    with pytest.raises(ValueError, match="region code"):
        queue_for("")


def test_worker_queues_puts_central_queues_first() -> None:
    assert worker_queues(["eu-central"], include_central=True) == [*CENTRAL_QUEUES, "region.eu-central"]
    assert worker_queues(["eu-central"], include_central=False) == ["region.eu-central"]


def test_region_scope_allows_only_granted_regions_and_quarantine_when_granted() -> None:
    scope = RegionScope(all_regions=False, region_codes=frozenset({"eu-central"}), quarantine=False)
    assert scope.allows("eu-central")
    assert not scope.allows("us-east")
    assert not scope.allows(None)
    assert RegionScope(False, frozenset(), quarantine=True).allows(None)
    assert FULL_ACCESS.allows("anything") and FULL_ACCESS.allows(None)
    assert not NO_ACCESS.allows("eu-central")


def test_group_names_follow_the_documented_pattern() -> None:
    assert group_name_for("eu-central") == "compliance-eu-central"
