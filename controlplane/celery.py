"""The Celery app. Queues: ``control`` (central: inbox routing, fan-outs), ``reconcile`` (per-account
reconciliation) and one ``region.<code>`` queue per region, named only by regions.routing.queue_for."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "controlplane.settings")

app = Celery("controlplane")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
