from __future__ import annotations

from django.apps import AppConfig


class ReconcilerConfig(AppConfig):
    name = "reconciler"
    verbose_name = "Reconciliation"

    def ready(self) -> None:
        # Imported here, not at the top: an app's modules may use models only once every app is loaded.
        from controlplane.health import WEB_COLLECTORS
        from reconciler.hooks import on_reconcile_wanted
        from reconciler.metrics import ReconcilerCollector
        from rtms.hooks import reconcile_wanted

        reconcile_wanted.connect(on_reconcile_wanted, dispatch_uid="reconciler.on_reconcile_wanted")
        # Figures read from the database and Redis at scrape time: only the web process's /metrics serves
        # them, so they are not in the process-wide registry the other processes export.
        WEB_COLLECTORS.register(ReconcilerCollector())
