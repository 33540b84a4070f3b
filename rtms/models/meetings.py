from __future__ import annotations

from django.db import models

from rtms.lifecycle import MeetingState, RoutingStatus, StreamState

# The states are pure enums (rtms/lifecycle.py); what people read of them belongs with the models.
MEETING_STATE_CHOICES = [(MeetingState.LIVE.value, "Live"), (MeetingState.ENDED.value, "Ended")]
STREAM_STATE_CHOICES = [
    (StreamState.WANTED.value, "Wanted (waiting for a gateway)"),
    (StreamState.CONNECTING.value, "Connecting"),
    (StreamState.CONNECTED.value, "Connected"),
    (StreamState.INTERRUPTED.value, "Interrupted (reconnecting)"),
    (StreamState.PAUSED.value, "Paused by Zoom"),
    (StreamState.STOPPED.value, "Stopped"),
    (StreamState.FAILED.value, "Failed"),
]
ROUTING_STATUS_CHOICES = [
    (RoutingStatus.PENDING.value, "Pending"),
    (RoutingStatus.ROUTED.value, "Routed"),
    (RoutingStatus.QUARANTINED.value, "Quarantined (no residency rule matched)"),
]


class Meeting(models.Model):
    """One Zoom meeting instance (Zoom's uuid; the numeric id repeats across instances)."""

    zoom_uuid = models.CharField(max_length=128, unique=True)
    zoom_meeting_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    account = models.ForeignKey("rtms.ZoomAccount", on_delete=models.PROTECT, null=True, blank=True)
    host_id = models.CharField(max_length=64, blank=True)
    # The host's e-mail and the topic live in the region's database (MeetingDetails, issue #19). Control
    # keeps what routing and search need: the e-mail's domain (a residency fact) and a keyed hash of the
    # e-mail for exact search (rtms/personal.py).
    host_email_domain = models.CharField(max_length=255, blank=True)
    host_email_hash = models.CharField(max_length=64, blank=True, db_index=True)
    # Written before issue #19, never since: `manage.py move_to_regions` moves them to the region and
    # blanks them; `check --deploy` warns until it has. A later release drops the columns.
    legacy_host_email = models.CharField(max_length=320, blank=True, db_column="host_email")
    legacy_topic = models.CharField(max_length=300, blank=True, db_column="topic")
    region = models.ForeignKey(
        "regions.Region", on_delete=models.PROTECT, null=True, blank=True, related_name="meetings"
    )
    routing_status = models.CharField(
        max_length=16, choices=ROUTING_STATUS_CHOICES, default=RoutingStatus.PENDING.value
    )
    routing_note = models.CharField(max_length=255, blank=True)
    state = models.CharField(max_length=16, choices=MEETING_STATE_CHOICES, default=MeetingState.LIVE.value)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    last_seen_live_at = models.DateTimeField(null=True, blank=True)
    # Last refusal from Zoom when starting RTMS (e.g. 2308/2310), kept for the admin and the reconciler.
    rtms_start_error_code = models.IntegerField(null=True, blank=True)
    rtms_start_error = models.CharField(max_length=255, blank=True)
    rtms_start_requested_at = models.DateTimeField(null=True, blank=True)
    rtms_start_called_at = models.DateTimeField(null=True, blank=True)
    rtms_start_error_at = models.DateTimeField(null=True, blank=True)
    # Set when an operator stopped RTMS by hand (rtms/manual.py): the reconciler never restarts such a
    # meeting, whatever stop reason Zoom reports later. A manual start clears it.
    rtms_manual_stop_at = models.DateTimeField(null=True, blank=True)
    # When the reconciler last stopped a stream it never saw before starting a new one (reconciler/core.py):
    # Zoom reports that stop as USER_TRIGGERED, which is ours, not a person's decision.
    rtms_self_stop_at = models.DateTimeField(null=True, blank=True)
    # Reconciler bookkeeping (reconciler/core.py): evidence before ending, restarts before flagging.
    missing_observations = models.PositiveIntegerField(default=0)
    restart_attempts = models.PositiveIntegerField(default=0)
    last_restart_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["state", "region"]), models.Index(fields=["routing_status"])]

    @property
    def region_code(self) -> str:
        """The owning region's code; empty while quarantined."""
        return self.region.code if self.region is not None else ""

    def __str__(self) -> str:
        return f"meeting {self.pk} ({self.zoom_meeting_id or self.zoom_uuid})"


class MeetingTransition(models.Model):
    """Append-only history of Meeting.state."""

    meeting = models.ForeignKey(Meeting, on_delete=models.PROTECT, related_name="transitions")
    from_state = models.CharField(max_length=16, choices=MEETING_STATE_CHOICES)
    to_state = models.CharField(max_length=16, choices=MEETING_STATE_CHOICES)
    cause = models.CharField(max_length=64)
    detail = models.JSONField(default=dict, blank=True)
    at = models.DateTimeField()

    class Meta:
        ordering = ["at", "id"]


class RtmsStream(models.Model):
    rtms_stream_id = models.CharField(max_length=64, unique=True)
    meeting = models.ForeignKey(Meeting, on_delete=models.PROTECT, related_name="streams")
    region = models.ForeignKey(
        "regions.Region", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    state = models.CharField(max_length=16, choices=STREAM_STATE_CHOICES, default=StreamState.WANTED.value)
    state_changed_at = models.DateTimeField(null=True, blank=True)
    stop_reason = models.IntegerField(
        null=True, blank=True, help_text="Zoom RTMS_STOP_REASON (zoom-protocol.md §2.4.10)"
    )
    server_urls = models.JSONField(default=list, blank=True)
    # Bumped on every failover (new server_urls for the same stream), so a gateway can tell it must reconnect.
    server_generation = models.PositiveIntegerField(default=1)
    # event_ts of the rtms_started that set server_urls: an older copy arriving late never rolls them back.
    server_urls_event_ts = models.BigIntegerField(default=0)
    zoom_data_centre = models.CharField(max_length=32, blank=True)
    data_centre_mismatch = models.BooleanField(default=False)
    lease_owner = models.CharField(max_length=128, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    # Fencing token: increases on every claim, so a stale holder's writes can be told apart.
    lease_token = models.PositiveBigIntegerField(default=0)
    connect_attempts = models.PositiveIntegerField(default=0)
    restart_attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=255, blank=True)
    # When Zoom first refused our connection as a duplicate (another client holds the stream) since the
    # stream was last ready; rtms/gateway/claims.py stream_duplicate_refused gives up after a window.
    duplicate_since = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["state", "region"]), models.Index(fields=["lease_expires_at"])]

    def __str__(self) -> str:
        return f"stream {self.rtms_stream_id}"


class StreamTransition(models.Model):
    """Append-only history of RtmsStream.state."""

    stream = models.ForeignKey(RtmsStream, on_delete=models.PROTECT, related_name="transitions")
    from_state = models.CharField(max_length=16, choices=STREAM_STATE_CHOICES)
    to_state = models.CharField(max_length=16, choices=STREAM_STATE_CHOICES)
    cause = models.CharField(max_length=64)
    stop_reason = models.IntegerField(null=True, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    at = models.DateTimeField()

    class Meta:
        ordering = ["at", "id"]
