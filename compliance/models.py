"""Retention policies per region and the tombstones erasures leave behind."""

from __future__ import annotations

from django.core.validators import MinValueValidator
from django.db import models

from compliance.acts import ACT_PERMISSIONS

_DAYS = [MinValueValidator(1)]


class RetentionPolicy(models.Model):
    """How long a region keeps each kind of personal data. A region without a policy keeps everything:
    the sweep reports it rather than guessing a default, because the period is a legal decision."""

    region = models.OneToOneField("regions.Region", on_delete=models.PROTECT, related_name="retention")
    transcript_days = models.PositiveIntegerField(
        validators=_DAYS,
        help_text="Transcript segments older than this are deleted from the region's database.",
    )
    audio_days = models.PositiveIntegerField(
        validators=_DAYS,
        help_text="Audio (WAV) files older than this are deleted from the region's media root.",
    )
    inbox_payload_days = models.PositiveIntegerField(
        validators=_DAYS,
        help_text="Raw Zoom event bodies older than this are replaced by a stub (type and time kept).",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["region__code"]
        verbose_name_plural = "retention policies"

    def __str__(self) -> str:
        return f"retention of {self.region}"


class ErasureTombstone(models.Model):
    """What is left of an erased meeting: ids, times, who asked and why, and what was deleted.

    Written before anything is deleted, so a request that crashed midway is visible (``completed_at`` empty)
    and the next attempt finishes it; ``completed_at`` is set only once every step is done.
    """

    meeting = models.OneToOneField("rtms.Meeting", on_delete=models.PROTECT, related_name="erasure")
    region_code = models.CharField(max_length=63, blank=True)
    requested_by = models.CharField(max_length=150)
    reason = models.TextField()
    source_ip = models.GenericIPAddressField(null=True, blank=True)
    requested_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True, blank=True)
    stream_ids = models.JSONField(default=list, blank=True)
    segments_deleted = models.PositiveIntegerField(default=0)
    audio_files_deleted = models.PositiveIntegerField(default=0)
    payloads_scrubbed = models.PositiveIntegerField(default=0)

    # Set by meeting_erase on the instance it returns (not stored): this request found the work done.
    already_erased: bool = False

    class Meta:
        ordering = ["-requested_at", "-id"]
        # The acts (compliance/acts.py) need these on top of seeing the meeting's region, in the admin and
        # the API alike; the region groups (regions/services.py) grant viewing only, so a DPO hands them
        # out deliberately.
        permissions = list(ACT_PERMISSIONS)

    def __str__(self) -> str:
        return f"erasure of meeting {self.meeting_id}"
