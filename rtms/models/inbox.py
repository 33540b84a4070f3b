from __future__ import annotations

from django.db import models


class Channel(models.TextChoices):
    WEBHOOK = "webhook", "Webhook"
    WEBSOCKET = "websocket", "Event WebSocket"


class InboxStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    PROCESSED = "processed", "Processed"
    IGNORED = "ignored", "Ignored (unknown or irrelevant event)"
    QUARANTINED = "quarantined", "Quarantined (no region)"
    FAILED = "failed", "Failed"


class InboundEvent(models.Model):
    """The inbox: one row per Zoom *event*, however many times and channels delivered it.

    ``dedupe_key`` identifies the event, not the delivery; the unique constraint makes the first copy win
    and later copies only stamp their channel's arrival time and bump ``delivery_count``.
    """

    dedupe_key = models.CharField(max_length=255, unique=True)
    event_type = models.CharField(max_length=100, db_index=True)
    # The meeting (or webinar) instance the event names, also for types we do not parse; kept when the
    # payload goes, so that erasure and the reconciler find the event without reading its body.
    meeting_uuid = models.CharField(max_length=128, blank=True, db_index=True)
    event_ts = models.BigIntegerField(help_text="Zoom's event_ts, ms since the epoch")
    # Zoom's body until the event is routed; then a stub, and the body lives in the region's database
    # (RoutedPayload). Quarantined and unparsed events keep it here until INBOX_UNROUTED_PAYLOAD_DAYS.
    payload = models.JSONField()
    first_channel = models.CharField(max_length=16, choices=Channel.choices)
    received_at = models.DateTimeField(db_index=True)
    webhook_received_at = models.DateTimeField(null=True, blank=True)
    websocket_received_at = models.DateTimeField(null=True, blank=True)
    delivery_count = models.PositiveIntegerField(default=1)
    status = models.CharField(max_length=16, choices=InboxStatus.choices, default=InboxStatus.PENDING)
    region = models.ForeignKey(
        "regions.Region", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    meeting = models.ForeignKey(
        "rtms.Meeting", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # The account that vouched for the delivery (its webhook secret verified it, or its event socket
    # received it); routing uses it when the event names no account_id, never a default (issue #20).
    source_account = models.ForeignKey(
        "rtms.ZoomAccount", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    attempts = models.PositiveIntegerField(default=0)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    error = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [models.Index(fields=["status", "received_at"])]

    def __str__(self) -> str:
        return f"{self.event_type} @ {self.event_ts}"


class RefusedDelivery(models.Model):
    """A signed delivery refused because its body could not be stored safely (rtms/inbox/refused.py).

    Kept so that an operator can see that, when and why Zoom's deliveries were refused, never what they
    said: no payload, no id from it, only its event type reduced to printable ASCII."""

    received_at = models.DateTimeField(db_index=True)
    channel = models.CharField(max_length=16, choices=Channel.choices)
    event_type = models.CharField(max_length=100, blank=True, help_text="as the body named it, if it did")
    reason = models.CharField(max_length=32)

    class Meta:
        ordering = ["-received_at", "-id"]
        verbose_name_plural = "refused deliveries"

    def __str__(self) -> str:
        return f"{self.event_type or '?'} ({self.reason})"
