from __future__ import annotations

from rtms.models.accounts import AccountMode, ZoomAccount
from rtms.models.audit import AppendOnlyError, AuditLog
from rtms.models.inbox import Channel, InboundEvent, InboxStatus, RefusedDelivery
from rtms.models.leases import Lease
from rtms.models.meetings import Meeting, MeetingTransition, RtmsStream, StreamTransition
from rtms.models.transcripts import MeetingDetails, RoutedPayload, SegmentWriteFence, TranscriptSegment

__all__ = [
    "AccountMode",
    "AppendOnlyError",
    "AuditLog",
    "Channel",
    "InboundEvent",
    "InboxStatus",
    "Lease",
    "Meeting",
    "MeetingDetails",
    "MeetingTransition",
    "RefusedDelivery",
    "RoutedPayload",
    "RtmsStream",
    "SegmentWriteFence",
    "StreamTransition",
    "TranscriptSegment",
    "ZoomAccount",
]
