"""System checks of the rtms app (``manage.py check --deploy``; registered in rtms/apps.py).

- ``rtms.W001``: routed event bodies (personal data) stored before issue #19 are still in the control
  database; ``manage.py move_to_regions`` moves them to their regions.
"""

from __future__ import annotations

from typing import Any

from django.core.checks import CheckMessage, Tags, Warning, register
from django.db import DatabaseError

from rtms.inbox.payloads import routed_bodies_in_control


@register(Tags.security, deploy=True)
def personal_data_left_in_control(**kwargs: Any) -> list[CheckMessage]:
    try:
        left = routed_bodies_in_control().count()
    except DatabaseError:  # no database reachable, or not migrated yet: nothing stored to check
        return []
    if not left:
        return []
    return [
        Warning(
            f"{left} routed event bodies (personal data) are still in the control database.",
            hint="Run manage.py move_to_regions (resumable) to move them to their regions' databases.",
            id="rtms.W001",
        )
    ]
