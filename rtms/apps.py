from __future__ import annotations

from django.apps import AppConfig


class RtmsConfig(AppConfig):
    name = "rtms"
    verbose_name = "Meetings and RTMS streams"

    def ready(self) -> None:
        # Imported here, not at the top: an app's modules may use models only once every app is loaded.
        from celery import signals as celery_signals

        from controlplane.health import WEB_COLLECTORS
        from rtms import checks, signals  # noqa: F401  (registers checks, connects post_migrate handlers)
        from rtms.inbox.gauges import InboxCollector
        from rtms.inbox.publish import flush_route_publisher, worker_ready_queues

        # Prefork children inherit the connection; only a worker ever sends this signal.
        celery_signals.worker_process_shutdown.connect(
            flush_route_publisher, weak=False, dispatch_uid="rtms.flush_route_publisher"
        )
        celery_signals.celeryd_after_setup.connect(
            worker_ready_queues, weak=False, dispatch_uid="rtms.worker_ready_queues"
        )
        WEB_COLLECTORS.register(InboxCollector())
