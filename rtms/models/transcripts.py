from __future__ import annotations

from typing import Any, TypeVar

from django.db import models

from regions.storage import content_alias

_Content = TypeVar("_Content", bound=models.Model)


class RegionContentQuerySet(models.QuerySet[_Content]):
    def create(self, **kwargs: Any) -> _Content:
        # QuerySet.create asks the router without the instance, so route by region_code here.
        if self._db is None and kwargs.get("region_code"):  # type: ignore[attr-defined]
            return self.using(content_alias(kwargs["region_code"])).create(**kwargs)
        return super().create(**kwargs)


class TranscriptSegment(models.Model):
    """Region content: stored only in the owning region's database (regions/db_router.py).

    It refers to control rows by id, with no database-level foreign key, so the region database can be a
    separate server that has no control tables at all.
    """

    region_code = models.CharField(max_length=63)
    meeting_id = models.BigIntegerField(db_index=True)
    stream_id = models.BigIntegerField()
    seq = models.PositiveIntegerField(help_text="Per-stream sequence, from 1")
    speaker_id = models.BigIntegerField(null=True, blank=True)
    speaker_name = models.CharField(max_length=200, blank=True)
    text = models.TextField()
    start_ms = models.BigIntegerField(null=True, blank=True)
    end_ms = models.BigIntegerField(null=True, blank=True)
    language = models.IntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = RegionContentQuerySet["TranscriptSegment"].as_manager()

    class Meta:
        ordering = ["stream_id", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["stream_id", "seq"], name="transcript_segment_stream_seq")
        ]

    def __str__(self) -> str:
        return f"segment {self.stream_id}#{self.seq}"


class RoutedPayload(models.Model):
    """Region content: the raw body of an event once it is routed, in the owning region's database (issue
    #19). The control inbox row keeps a stub; applying the event reads the body from here. Refers to the
    control rows by id only (regions/db_router.py)."""

    event_id = models.BigIntegerField(unique=True, help_text="rtms.InboundEvent id (control database)")
    region_code = models.CharField(max_length=63)
    meeting_id = models.BigIntegerField(db_index=True)
    event_type = models.CharField(max_length=100)
    received_at = models.DateTimeField(db_index=True)
    payload = models.JSONField()

    objects = RegionContentQuerySet["RoutedPayload"].as_manager()

    class Meta:
        ordering = ["-received_at", "-id"]

    def __str__(self) -> str:
        return f"{self.event_type} (event {self.event_id})"


class MeetingDetails(models.Model):
    """Region content: a meeting's topic and host e-mail, in the owning region's database (issue #19).
    Written by the region's worker when it applies the meeting's events; read by the admin, the API and
    the live pages for users of that region."""

    meeting_id = models.BigIntegerField(unique=True)
    region_code = models.CharField(max_length=63)
    topic = models.CharField(max_length=300, blank=True)
    host_email = models.CharField(max_length=320, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = RegionContentQuerySet["MeetingDetails"].as_manager()

    class Meta:
        verbose_name_plural = "meeting details"

    def __str__(self) -> str:
        return f"details of meeting {self.meeting_id}"


class SegmentWriteFence(models.Model):
    """Region content: the newest stream lease token allowed to write a stream's segments (fencing).

    A gateway registers its token here when it claims a stream, before it reads where the numbering goes
    on; every segment write names the token it holds and is refused once a newer one is registered. So a
    gateway that was paused past its lease, or cut off from the database, can never write over the
    numbering of the gateway that took the stream over (rtms/gateway/segments.py). Lives beside the
    segments, because the lease row (control database) may be on another server."""

    stream_id = models.BigIntegerField(primary_key=True)
    region_code = models.CharField(max_length=63)
    meeting_id = models.BigIntegerField(db_index=True)
    token = models.BigIntegerField()
    fenced_at = models.DateTimeField()

    objects = RegionContentQuerySet["SegmentWriteFence"].as_manager()

    def __str__(self) -> str:
        return f"stream {self.stream_id} writable with token {self.token}"
