"""Where work for a region goes. This is the only module that spells a regional queue name."""

from __future__ import annotations

from typing import Final

from regions.models import Region

CONTROL_QUEUE: Final = "control"
RECONCILE_QUEUE: Final = "reconcile"
CENTRAL_QUEUES: Final = (CONTROL_QUEUE, RECONCILE_QUEUE)
_REGION_QUEUE_PREFIX: Final = "region."


def queue_for(region: Region | str) -> str:
    code = region.code if isinstance(region, Region) else region
    if not code:
        raise ValueError("a regional queue needs a region code")
    return f"{_REGION_QUEUE_PREFIX}{code}"


def region_of(queue_name: str) -> str | None:
    """The region whose queue this is, or None for a central (or foreign) queue."""
    if queue_name.startswith(_REGION_QUEUE_PREFIX) and len(queue_name) > len(_REGION_QUEUE_PREFIX):
        return queue_name[len(_REGION_QUEUE_PREFIX) :]
    return None


def worker_queues(region_codes: list[str], *, include_central: bool) -> list[str]:
    queues = list(CENTRAL_QUEUES) if include_central else []
    queues.extend(queue_for(code) for code in region_codes)
    return queues
