from __future__ import annotations

import sys

from django.apps import AppConfig
from django.core.exceptions import ImproperlyConfigured


def _refuse_unstorable_regions_in_worker(**_signal: object) -> None:
    """Celery's ``worker_init``: a worker applies events and purges content of every region it serves, so
    it starts only if every active region has a content database (regions/startup.py). Celery logs and
    swallows an ordinary exception from a signal handler; SystemExit stops the worker."""
    # Imported when the signal fires: regions.startup reads models, which load after the apps.
    from regions.startup import refuse_unstorable_regions

    try:
        refuse_unstorable_regions("worker")
    except ImproperlyConfigured as exc:
        print(f"ImproperlyConfigured: {exc}", file=sys.stderr)
        raise SystemExit(1) from None


class RegionsConfig(AppConfig):
    name = "regions"
    verbose_name = "Regions and residency"

    def ready(self) -> None:
        from celery import signals as celery_signals

        from regions import checks  # noqa: F401  (registers the residency checks)

        celery_signals.worker_init.connect(
            _refuse_unstorable_regions_in_worker, weak=False, dispatch_uid="regions.refuse_unstorable"
        )
