from django.apps import AppConfig


class LiveConfig(AppConfig):
    name = "live"
    verbose_name = "Live transcripts"

    def ready(self) -> None:
        from live import signals  # noqa: F401  (announces state changes to the live pages)
