from __future__ import annotations

from typing import Any

from django.db import models

from regions.storage import content_alias


class RegionContentQuerySet(models.QuerySet["TranscriptSegment"]):
    def create(self, **kwargs: Any) -> TranscriptSegment:
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

    objects = RegionContentQuerySet.as_manager()

    class Meta:
        ordering = ["stream_id", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["stream_id", "seq"], name="transcript_segment_stream_seq")
        ]

    def __str__(self) -> str:
        return f"segment {self.stream_id}#{self.seq}"
