"""In-memory model of Zoom: accounts, hosts, meetings and RTMS streams."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from zoomsim.clock import iso_z, utcnow
from zoomsim.config import AccountConfig

# Stream states. "starting": start accepted (204), meeting.rtms_started not yet sent.
STREAM_ACTIVE_STATES = frozenset({"starting", "started", "paused", "stopping"})


@dataclass
class Host:
    id: str
    email: str
    account_id: str
    name: str
    user_type: str = "Licensed"
    timezone: str = "UTC"
    # Zoom's per-user setting to start RTMS with every meeting; a meeting created without an explicit
    # ``rtms`` mode follows it (None: zoomsim's default, "auto").
    rtms_auto_start: bool | None = None


@dataclass
class Stream:
    rtms_stream_id: str
    state: str  # starting | started | paused | stopping | stopped | cancelled
    generation: int = 1
    server_urls: str | None = None
    stop_reason: int | None = None
    operator_id: str | None = None
    started_event_ts: int | None = None

    def view(self) -> dict[str, Any]:
        return {
            "rtms_stream_id": self.rtms_stream_id,
            "server_urls": self.server_urls,
            "state": self.state,
            "generation": self.generation,
            "stop_reason": self.stop_reason,
        }


@dataclass
class Meeting:
    uuid: str
    id: int
    account_id: str
    host: Host
    topic: str
    rtms: str  # auto | api | none
    data_centre: str
    type: int = 1
    duration: int = 60  # scheduled minutes
    state: str = "scheduled"  # scheduled | live | ended
    start_time: datetime | None = None
    end_time: datetime | None = None
    participants: int = 2
    rtms_plan: bool | None = None  # None: the account's setting
    tracking_fields: list[dict[str, str]] = field(default_factory=list)
    custom_keys: list[dict[str, str]] = field(default_factory=list)
    transcript: list[dict[str, Any]] = field(default_factory=list)
    # {"speakers", "rate_per_s", "languages", "count"}: generated speech (zoomsim/speech.py).
    transcript_generate: dict[str, Any] | None = None
    segment_interval_ms: int = 1500
    speak_from: str = "meeting_start"
    streams: list[Stream] = field(default_factory=list)
    # Pre-April-2026 payloads: meeting.started/ended without host_email (the product must look it up).
    omit_host_email_in_events: bool = False
    created_at: datetime = field(default_factory=lambda: utcnow().replace(microsecond=0))

    @property
    def active_stream(self) -> Stream | None:
        for s in reversed(self.streams):
            if s.state in STREAM_ACTIVE_STATES:
                return s
        return None

    def view(self) -> dict[str, Any]:
        return {
            "meeting_uuid": self.uuid,
            "meeting_id": self.id,
            "account_id": self.account_id,
            "host_id": self.host.id,
            "host_email": self.host.email,
            "topic": self.topic,
            "state": self.state,
            "rtms": self.rtms,
            "data_centre": self.data_centre,
            "start_time": iso_z(self.start_time) if self.start_time else None,
            "end_time": iso_z(self.end_time) if self.end_time else None,
            "tracking_fields": self.tracking_fields,
            "omit_host_email_in_events": self.omit_host_email_in_events,
            "transcript": self.transcript,
            "transcript_generate": self.transcript_generate,
            "segment_interval_ms": self.segment_interval_ms,
            "speak_from": self.speak_from,
            "streams": [s.view() for s in self.streams],
        }


@dataclass
class Account:
    config: AccountConfig
    hosts: dict[str, Host] = field(default_factory=dict)  # by lower-case e-mail

    @property
    def id(self) -> str:
        return self.config.account_id
