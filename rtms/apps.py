from __future__ import annotations

from django.apps import AppConfig


class RtmsConfig(AppConfig):
    name = "rtms"
    verbose_name = "Meetings and RTMS streams"

    def ready(self) -> None:
        from rtms import signals  # noqa: F401  (connects post_migrate handlers)
