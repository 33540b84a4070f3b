from __future__ import annotations

from django.apps import AppConfig


class ComplianceConfig(AppConfig):
    name = "compliance"
    verbose_name = "Compliance"

    def ready(self) -> None:
        # Imported here, not at the top: an app's modules may use models only once every app is loaded.
        from django.db.models.signals import post_migrate

        from compliance.acts import quarantine_group_may_reroute
        from compliance.revoked import purge_when_revoked
        from rtms.hooks import stream_revoked

        # After auth's own handler for this app, which creates the permission.
        post_migrate.connect(quarantine_group_may_reroute, sender=self, dispatch_uid="compliance.reroute")
        stream_revoked.connect(purge_when_revoked, dispatch_uid="compliance.purge_when_revoked")
