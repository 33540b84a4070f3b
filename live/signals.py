"""Every state change writes an append-only transition row (rtms/services.py); each new row, and each new
stream, is announced to the live pages once its transaction committed (live/publish.py). A user who logs
out or is changed (deactivated, groups, password) has their open live sockets check their access at once
(live/consumers.py); the sockets' periodic check is the safety net for what no signal reports."""

from __future__ import annotations

from functools import partial
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_out
from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import receiver

from live.publish import ask_reauthorize, publish_meeting_change, publish_stream_change
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


@receiver(user_logged_out, dispatch_uid="live.user_logged_out")
def _logged_out(sender: Any, user: Any = None, **kwargs: Any) -> None:
    if user is not None and user.pk is not None:
        transaction.on_commit(partial(ask_reauthorize, user.pk), robust=True)


@receiver(post_save, sender=get_user_model(), dispatch_uid="live.user_saved")
@receiver(post_delete, sender=get_user_model(), dispatch_uid="live.user_deleted")
def _user_changed(sender: Any, instance: Any, **kwargs: Any) -> None:
    transaction.on_commit(partial(ask_reauthorize, instance.pk), robust=True)


@receiver(m2m_changed, sender=get_user_model().groups.through, dispatch_uid="live.user_groups_changed")
def _groups_changed(
    sender: Any, instance: Any, action: str, reverse: bool, pk_set: Any, **kwargs: Any
) -> None:
    if reverse:  # a group's members changed; before a clear, read who they were
        if action == "pre_clear":
            user_ids = set(instance.user_set.values_list("pk", flat=True))
        elif action in ("post_add", "post_remove"):
            user_ids = set(pk_set or ())
        else:
            return
    elif action in ("post_add", "post_remove", "post_clear"):  # a user's groups changed
        user_ids = {instance.pk}
    else:
        return
    for user_id in user_ids:
        transaction.on_commit(partial(ask_reauthorize, user_id), robust=True)
