"""The Celery app. Queues: ``control`` (central: inbox routing, fan-outs), ``reconcile`` (per-account
reconciliation) and one ``region.<code>`` queue per region, named only by regions.queues.queue_for."""

from __future__ import annotations

import os

from celery import Celery, signals

from controlplane.runtime import celery_django_pool, celery_worker

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "controlplane.settings")

# Before any worker builds its Django fixup: pooled connections survive task boundaries
# (controlplane/runtime/celery_django_pool.py).
celery_django_pool.keep_pools_between_tasks()

app = Celery("controlplane")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# A worker that stops consuming after a broker restart restarts itself
# (controlplane/runtime/celery_worker.py).
signals.worker_ready.connect(celery_worker.on_worker_ready, weak=False)
signals.worker_shutting_down.connect(celery_worker.on_worker_shutting_down, weak=False)
# The route publisher's flush when a pool child exits is connected by rtms/apps.py.
