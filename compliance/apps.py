from __future__ import annotations

from django.apps import AppConfig


class ComplianceConfig(AppConfig):
    name = "compliance"
    verbose_name = "Compliance"

    def ready(self) -> None:
        # Imported here, not at the top: an app's modules may use models only once every app is loaded.
        from compliance.revoked import purge_when_revoked
        from rtms.hooks import stream_revoked

        stream_revoked.connect(purge_when_revoked, dispatch_uid="compliance.purge_when_revoked")
