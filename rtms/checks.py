"""System checks of the rtms app (``manage.py check --deploy``; registered in rtms/apps.py).

- ``rtms.W001``: routed event bodies, or meetings' topics and host e-mails (personal data), stored before
  issue #19 are still in the control database; ``manage.py move_to_regions`` moves them to their regions.
"""

from __future__ import annotations

from typing import Any

from django.core.checks import CheckMessage, Tags, Warning, register
from django.db import DatabaseError

from rtms.inbox.payloads import routed_bodies_in_control
from rtms.personal import legacy_details_in_control


@register(Tags.security, deploy=True)
def personal_data_left_in_control(**kwargs: Any) -> list[CheckMessage]:
    try:
        bodies = routed_bodies_in_control().count()
        meetings = legacy_details_in_control().count()
    except DatabaseError:  # no database reachable, or not migrated yet: nothing stored to check
        return []
    if not (bodies or meetings):
        return []
    return [
        Warning(
            f"personal data is still in the control database: {bodies} routed event bodies (stored before "
            f"issue #19, or settled while their region could not take them), {meetings} meetings' topics or "
            "host e-mails (stored before issue #19).",
            hint="Run manage.py move_to_regions (resumable) to move them to their regions' databases.",
            id="rtms.W001",
        )
    ]
