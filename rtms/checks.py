"""System checks of the rtms app (``manage.py check --deploy``; registered in rtms/apps.py).

- ``rtms.W001``: routed event bodies, or meetings' topics and host e-mails (personal data), stored before
  issue #19 are still in the control database; ``manage.py move_to_regions`` moves them to their regions.
- ``rtms.E002`` (``--deploy``): an active Zoom account names a credential variable without the ``ZOOM_``
  prefix (stored before issue #20); such a variable is never read, so the account's calls and webhooks
  fail until the name is changed in the admin.
- ``rtms.W003`` (``--deploy``): ``RTMS_ALLOW_PLAIN_WS`` is on, or ``RTMS_SERVER_HOSTS`` names more than
  Zoom's hosts: settings for the tests and the demo, not production (issue #20).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register
from django.db import DatabaseError

from rtms.inbox.payloads import routed_bodies_in_control
from rtms.models import ZoomAccount
from rtms.models.accounts import CREDENTIAL_ENV_FIELDS, CREDENTIAL_ENV_PREFIX, is_credential_env_name
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


@register(Tags.security)
def credential_variable_names(**kwargs: Any) -> list[CheckMessage]:
    try:
        rows = list(ZoomAccount.objects.filter(active=True).values("zoom_account_id", *CREDENTIAL_ENV_FIELDS))
    except DatabaseError:
        return []
    wrong = sorted(
        f"{row['zoom_account_id']}.{field}={row[field]!r}"
        for row in rows
        for field in CREDENTIAL_ENV_FIELDS
        if not is_credential_env_name(row[field])
    )
    if not wrong:
        return []
    return [
        Error(
            f"credential variable names without the {CREDENTIAL_ENV_PREFIX} prefix are never read: "
            + ", ".join(wrong[:20]),
            hint=f"Rename the variables to {CREDENTIAL_ENV_PREFIX}... and change the account in the admin.",
            id="rtms.E002",
        )
    ]


@register(Tags.security, deploy=True)
def rtms_servers_widened(**kwargs: Any) -> list[CheckMessage]:
    other_hosts = [host for host in settings.RTMS_SERVER_HOSTS if not host.lower().endswith(".zoom.us")]
    problems = []
    if settings.RTMS_ALLOW_PLAIN_WS:
        problems.append("RTMS_ALLOW_PLAIN_WS is on: transcripts and audio may travel unencrypted")
    if other_hosts:
        problems.append(f"RTMS_SERVER_HOSTS allows hosts that are not Zoom's: {', '.join(other_hosts[:10])}")
    return (
        [
            Warning(
                "; ".join(problems),
                hint="Outside tests and the demo, unset RTMS_ALLOW_PLAIN_WS and RTMS_SERVER_HOSTS.",
                id="rtms.W003",
            )
        ]
        if problems
        else []
    )
