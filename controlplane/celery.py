"""The Celery app. Queues: ``control`` (central: inbox routing, fan-outs), ``reconcile`` (per-account
reconciliation) and one ``region.<code>`` queue per region, named only by regions.routing.queue_for."""

from __future__ import annotations

import os

from celery import Celery, signals

from controlplane.runtime import celery_worker

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "controlplane.settings")

app = Celery("controlplane")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# A worker that stops consuming after a broker restart restarts itself
# (controlplane/runtime/celery_worker.py).
signals.worker_ready.connect(celery_worker.on_worker_ready, weak=False)
signals.worker_shutting_down.connect(celery_worker.on_worker_shutting_down, weak=False)


@signals.worker_process_shutdown.connect(weak=False)
def publish_held_route_tasks(**_signal: object) -> None:
    """Celery's prefork children leave through ``os._exit``, which skips the route publisher's ``atexit``
    flush: publish the route tasks a child still holds rather than leave them to the inbox sweeper."""
    # Imported here: this module loads with the settings, before the apps are ready.
    from rtms.route_publisher import EXIT_FLUSH_TIMEOUT_S, ROUTE_PUBLISHER

    ROUTE_PUBLISHER.flush(EXIT_FLUSH_TIMEOUT_S)
