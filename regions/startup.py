"""Residency fails closed (issue #19): a process that stores or shows region content refuses to start while
an active region has no content database, instead of finding out at the first write, or worse, writing
it somewhere central. The web process (controlplane/asgi.py), the Celery worker (``worker_init``, connected in
regions/apps.py) and the gateway (``manage.py rtms_gateway``) call this before they serve anything.

A database that cannot be read yet (down, or not migrated) skips the check with a warning: the process's
own readiness check reports the database, and every content write still names its region's database and
fails loudly without one (regions/storage.py).
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, connection

from regions.models import Region
from regions.storage import regions_without_storage, storage_missing_message

logger = logging.getLogger(__name__)


def active_regions_without_storage() -> list[str]:
    codes = Region.objects.filter(active=True).values_list("code", flat=True)
    return regions_without_storage(codes)


def refuse_unstorable_regions(process: str) -> None:
    """Raises ImproperlyConfigured naming the active regions without a content database."""
    if not getattr(settings, "REGION_STORAGE_CHECK_AT_STARTUP", True):
        return
    try:
        missing = active_regions_without_storage()
    except DatabaseError as exc:
        logger.warning("regions.storage_check_skipped", extra={"role": process, "error": type(exc).__name__})
        return
    finally:
        connection.close()  # opened in a thread that will not serve requests
    if missing:
        logger.critical("regions.storage_missing", extra={"role": process, "regions": missing})
        raise ImproperlyConfigured(storage_missing_message(missing))
