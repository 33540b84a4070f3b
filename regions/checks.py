"""System checks of residency (``manage.py check``; registered in regions/apps.py).

- ``regions.E001`` (with ``--database default``, and before ``migrate``): an active region has no content
  database. The processes refuse to start for the same reason (regions/startup.py).
- ``regions.W001`` (``--deploy``): REGION_DATABASES puts some region's content in the control database, by
  explicit opt-in (``{"*": "default"}`` or a region mapped to ``default``).
- ``regions.W002`` (``--deploy``): REGION_DATABASES maps no region at all.

``rtms.W001`` (rtms/checks.py) warns while personal data stored before issue #19 is still in the control
database.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register
from django.db import DatabaseError

from controlplane.region_databases import RegionDatabases
from regions.startup import active_regions_without_storage
from regions.storage import storage_missing_message


@register(Tags.database)
def active_regions_have_storage(databases: Sequence[str] | None = None, **kwargs: Any) -> list[CheckMessage]:
    if not databases or "default" not in databases:
        return []
    try:
        missing = active_regions_without_storage()
    except DatabaseError:  # not migrated yet: nothing to check
        return []
    if not missing:
        return []
    return [Error(storage_missing_message(missing), id="regions.E001")]


@register(Tags.security, deploy=True)
def region_content_placement(**kwargs: Any) -> list[CheckMessage]:
    config: RegionDatabases = settings.REGION_DATABASES
    if not config.by_region and config.fallback_alias is None:
        return [
            Warning(
                "REGION_DATABASES maps no region: no region has a content database, so the processes refuse "
                "to start while any region is active.",
                hint='Map each region to its database, e.g. {"eu-central": "postgres://.../rtms_eu"}.',
                id="regions.W002",
            )
        ]
    central = config.in_control_database
    if not central:
        return []
    which = "every region not listed" if central == ["*"] else ", ".join(central)
    return [
        Warning(
            f"REGION_DATABASES keeps the content of {which} in the control database (explicit opt-in): "
            "transcripts and other personal data of those regions are stored centrally.",
            hint="Give each region its own database in its jurisdiction (docs/deploy.md, Databases).",
            id="regions.W001",
        )
    ]
