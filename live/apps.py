from __future__ import annotations

from django.apps import AppConfig


class LiveConfig(AppConfig):
    name = "live"
    verbose_name = "Live transcripts"

    def ready(self) -> None:
        # Imported here, not at the top: an app's modules may use models only once every app is loaded.
        from live import signals  # noqa: F401  (announces state changes to the live pages)
        from live.publish import publish_meeting_erased
        from live.transcript_feed import segments_to_live_pages
        from rtms.hooks import meeting_erased, segments_committed

        segments_committed.connect(segments_to_live_pages, dispatch_uid="live.segments_to_live_pages")
        meeting_erased.connect(publish_meeting_erased, dispatch_uid="live.publish_meeting_erased")
