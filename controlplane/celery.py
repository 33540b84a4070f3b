"""The Celery app. Queues: ``control`` (central: inbox routing, fan-outs), ``reconcile`` (per-account
reconciliation) and one ``region.<code>`` queue per region, named only by regions.routing.queue_for."""

from __future__ import annotations

import os

from celery import Celery, signals

from controlplane import worker_watchdog

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "controlplane.settings")

app = Celery("controlplane")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# A worker that stops consuming after a broker restart restarts itself (controlplane/worker_watchdog.py).
signals.worker_ready.connect(worker_watchdog.on_worker_ready, weak=False)
signals.worker_shutting_down.connect(worker_watchdog.on_worker_shutting_down, weak=False)
# The route publisher's flush when a pool child exits is connected by rtms/apps.py.
