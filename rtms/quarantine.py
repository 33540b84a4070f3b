"""What the quarantine scope covers (issue #20): the meetings and events no residency rule matched.

Pending, ignored and failed rows have no region either, but nobody decided they are unowned: they are not
the quarantine group's (nor a quarantine API client's) to see, only a superuser's."""

from __future__ import annotations

from django.db.models import Q

from rtms.lifecycle import RoutingStatus
from rtms.models import InboxStatus, Meeting


def quarantined_meetings(path: str = "") -> Q:
    """Quarantined meetings, reached from a model through ``path`` (e.g. ``meeting__``)."""
    return Q(**{f"{path}routing_status": RoutingStatus.QUARANTINED.value, f"{path}region__isnull": True})


QUARANTINED_EVENTS = Q(status=InboxStatus.QUARANTINED, region__isnull=True)


def is_quarantined(meeting: Meeting) -> bool:
    return meeting.region_id is None and meeting.routing_status == RoutingStatus.QUARANTINED.value
