"""Every state change writes an append-only transition row (rtms/services.py); each new row, and each new
stream, is announced to the live pages once its transaction committed (live/publish.py)."""

from __future__ import annotations

from functools import partial
from typing import Any

from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver

from live.publish import publish_meeting_change, publish_stream_change
from rtms.models import MeetingTransition, RtmsStream, StreamTransition


@receiver(post_save, sender=StreamTransition, dispatch_uid="live.stream_transition")
def _stream_moved(sender: Any, instance: StreamTransition, created: bool, **kwargs: Any) -> None:
    if created:
        transaction.on_commit(
            partial(publish_stream_change, instance.stream_id, instance.to_state, instance.pk), robust=True
        )


@receiver(post_save, sender=RtmsStream, dispatch_uid="live.stream_created")
def _stream_created(sender: Any, instance: RtmsStream, created: bool, **kwargs: Any) -> None:
    if created:
        transaction.on_commit(partial(publish_stream_change, instance.pk, instance.state, 0), robust=True)


@receiver(post_save, sender=MeetingTransition, dispatch_uid="live.meeting_transition")
def _meeting_moved(sender: Any, instance: MeetingTransition, created: bool, **kwargs: Any) -> None:
    if created:
        transaction.on_commit(
            partial(publish_meeting_change, instance.meeting_id, instance.to_state), robust=True
        )
