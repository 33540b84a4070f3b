from __future__ import annotations

from django.db import models


class Lease(models.Model):
    """A named lease judged by the database clock (rtms/leases.py): the event-subscription leader, a
    per-account reconciliation. ``token`` grows on every change of hands, so a stale holder can be fenced."""

    name = models.CharField(max_length=200, unique=True)
    owner = models.CharField(max_length=128)
    token = models.PositiveBigIntegerField(default=0)
    expires_at = models.DateTimeField()
    acquired_at = models.DateTimeField()
    renewed_at = models.DateTimeField()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} held by {self.owner}"
