"""A worker that consumes a region's queue applies the events it routes to that region in the same task,
instead of publishing an apply task it would take back itself (issue #18 point 3); a worker that serves
only the central queues publishes them to the region's queue, as the residency design requires."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from regions.models import Region, ResidencyRule
from rtms.inbox import publish
from rtms.inbox.receive import ingest
from rtms.models import Channel, InboundEvent, Meeting, RtmsStream
from rtms.tasks import route_event
from tests.support import event_body, newest_tasks, queue_length

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


@pytest.fixture
def served() -> Iterator[None]:
    yield
    publish.serve_queues([])  # the test process is no worker: leave it serving nothing


@pytest.fixture
def routed_meeting(eu: Region) -> Meeting:
    ResidencyRule.objects.create(position=10, field="host_email_domain", value="eu.example.com", region=eu)
    return Meeting.objects.create(zoom_uuid="m-here==", zoom_meeting_id=7, region=eu, routing_status="routed")


def _rtms_started() -> int:
    payload: dict[str, Any] = {
        "meeting_uuid": "m-here==",
        "operator_id": "op",
        "rtms_stream_id": "h" * 32,
        "server_urls": "wss://fra.example/1",
    }
    stored = ingest(event_body("meeting.rtms_started", payload), channel=Channel.WEBHOOK).stored
    assert stored is not None
    return stored.event_id


def test_a_worker_serving_the_region_applies_what_it_routes_there_without_publishing(
    routed_meeting: Meeting, served: None
) -> None:
    publish.serve_queues(["control", "reconcile", "region.eu-central"])
    event_id = _rtms_started()
    before = queue_length("region.eu-central")
    assert route_event(event_id=event_id) == "routed"
    row = InboundEvent.objects.get(pk=event_id)
    assert row.status == "processed" and row.attempts == 2  # routed, then applied: one attempt each
    assert RtmsStream.objects.filter(meeting=routed_meeting, rtms_stream_id="h" * 32).exists()
    assert queue_length("region.eu-central") == before


def test_a_central_worker_publishes_the_apply_to_the_regions_queue(
    routed_meeting: Meeting, served: None
) -> None:
    publish.serve_queues(["control", "reconcile", "region.us-east"])  # not the meeting's region
    event_id = _rtms_started()
    before = queue_length("region.eu-central")
    assert route_event(event_id=event_id) == "routed"
    assert InboundEvent.objects.get(pk=event_id).status == "pending"  # routed, waiting for its region
    assert queue_length("region.eu-central") == before + 1
    assert newest_tasks("region.eu-central", 1) == [("rtms.apply_event", {"event_id": event_id})]
    assert not RtmsStream.objects.exists()


def test_the_worker_learns_its_regions_from_its_queues_at_startup(served: None) -> None:
    queues = {"control": None, "region.eu-central": None, "region.ap-southeast": None, "region.": None}
    instance = SimpleNamespace(
        app=SimpleNamespace(amqp=SimpleNamespace(queues=SimpleNamespace(consume_from=queues)))
    )
    publish.worker_ready_queues(sender="worker@host", instance=instance)
    assert publish.served_regions() == frozenset({"eu-central", "ap-southeast"})
