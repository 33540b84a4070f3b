from __future__ import annotations

from django.db import models


class RunStatus(models.TextChoices):
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    PARTIAL = "partial", "Partial (observation incomplete; nothing ended)"
    FAILED = "failed", "Failed"


class ReconcileRun(models.Model):
    """One comparison of Zoom's live meetings with our state, for one account."""

    account = models.ForeignKey("rtms.ZoomAccount", on_delete=models.PROTECT, related_name="reconcile_runs")
    started_at = models.DateTimeField(db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.RUNNING)
    trigger = models.CharField(max_length=32, default="schedule", help_text="schedule, events-gap, manual")
    pages = models.PositiveIntegerField(default=0)
    api_calls = models.PositiveIntegerField(default=0)
    meetings_seen = models.PositiveIntegerField(default=0)
    repairs = models.JSONField(default=dict, blank=True, help_text="repair kind -> count")
    errors = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"reconcile {self.account_id} @ {self.started_at:%Y-%m-%d %H:%M:%S}"
