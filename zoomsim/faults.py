"""Fault rules: event deliveries (per event type and channel), REST paths and the event WebSocket."""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass
from typing import Any

from zoomsim.clock import monotonic

CHANNELS = ("webhook", "ws")
EVENT_ACTIONS = ("deliver", "drop", "duplicate", "delay")
REST_STATUSES = (429, 500, 502, 503, 504, "timeout", "delay")


class FaultError(ValueError):
    pass


@dataclass
class EventFault:
    id: int
    event: str = "*"
    channel: str = "*"
    meeting_uuid: str | None = None
    action: str = "drop"
    count: int = 2  # duplicate: total copies delivered
    delay_s: float = 0.0  # delay: simulated seconds
    times: int | None = None  # None: until removed

    def matches(self, event: str, channel: str, meeting_uuid: str | None) -> bool:
        return (
            self.event in ("*", event)
            and self.channel in ("*", channel)
            and (self.meeting_uuid is None or self.meeting_uuid == meeting_uuid)
        )


@dataclass
class RestFault:
    id: int
    status: int | str
    path: str | None = None
    path_prefix: str | None = None
    method: str | None = None
    times: int | None = None
    delay_s: float = 0.0  # "delay": simulated seconds before the request is handled as usual

    def matches(self, method: str, path: str) -> bool:
        if self.method and self.method.upper() != method.upper():
            return False
        if self.path is not None:
            return path == self.path
        if self.path_prefix is not None:
            return path.startswith(self.path_prefix)
        return True


class Faults:
    def __init__(self) -> None:
        self._ids = itertools.count(1)
        self.event_rules: list[EventFault] = []
        self.rest_rules: list[RestFault] = []
        self.ws_down_until: float = 0.0  # monotonic

    def clear(self) -> None:
        self.event_rules.clear()
        self.rest_rules.clear()
        self.ws_down_until = 0.0

    def view(self) -> dict[str, Any]:
        return {
            "events": [asdict(r) for r in self.event_rules],
            "rest": [asdict(r) for r in self.rest_rules],
            "ws_down_remaining_real_s": max(0.0, self.ws_down_until - monotonic()),
        }

    def add_event_rule(self, spec: dict[str, Any]) -> EventFault:
        action = spec.get("action", "drop")
        channel = spec.get("channel", "*")
        if action not in EVENT_ACTIONS:
            raise FaultError(f"action must be one of {EVENT_ACTIONS}")
        if channel not in (*CHANNELS, "*"):
            raise FaultError("channel must be webhook, ws or *")
        times = spec.get("times")
        if times is not None and (not isinstance(times, int) or times < 1):
            raise FaultError("times must be a positive integer")
        count = int(spec.get("count", 2))
        if action == "duplicate" and count < 1:
            raise FaultError("count must be >= 1")
        rule = EventFault(
            id=next(self._ids),
            event=str(spec.get("event", "*")),
            channel=channel,
            meeting_uuid=spec.get("meeting_uuid"),
            action=action,
            count=count,
            delay_s=float(spec.get("delay_s", 0.0)),
            times=times,
        )
        self.event_rules.append(rule)
        return rule

    def take_event_rule(self, event: str, channel: str, meeting_uuid: str | None) -> EventFault | None:
        """The most recently added matching rule, consuming one of its `times`."""
        for rule in reversed(self.event_rules):
            if rule.matches(event, channel, meeting_uuid):
                if rule.times is not None:
                    rule.times -= 1
                    if rule.times <= 0:
                        self.event_rules.remove(rule)
                return rule
        return None

    def add_rest_rule(self, spec: dict[str, Any]) -> RestFault:
        status = spec.get("status")
        if status not in REST_STATUSES:
            raise FaultError(f"status must be one of {REST_STATUSES}")
        if not spec.get("path") and not spec.get("path_prefix"):
            raise FaultError("path or path_prefix is required")
        times = spec.get("times")
        if times is not None and (not isinstance(times, int) or times < 1):
            raise FaultError("times must be a positive integer")
        delay_s = spec.get("delay_s", 0.0)
        if status == "delay" and (not isinstance(delay_s, int | float) or delay_s <= 0):
            raise FaultError("a delay fault needs delay_s, a positive number of simulated seconds")
        rule = RestFault(
            id=next(self._ids),
            status=status,
            path=spec.get("path"),
            path_prefix=spec.get("path_prefix"),
            method=spec.get("method"),
            times=times,
            delay_s=float(delay_s) if status == "delay" else 0.0,
        )
        self.rest_rules.append(rule)
        return rule

    def take_rest_rule(self, method: str, path: str) -> RestFault | None:
        for rule in reversed(self.rest_rules):
            if rule.matches(method, path):
                if rule.times is not None:
                    rule.times -= 1
                    if rule.times <= 0:
                        self.rest_rules.remove(rule)
                return rule
        return None

    def remove(self, rule_id: int) -> bool:
        for e in self.event_rules:
            if e.id == rule_id:
                self.event_rules.remove(e)
                return True
        for r in self.rest_rules:
            if r.id == rule_id:
                self.rest_rules.remove(r)
                return True
        return False

    @property
    def ws_down(self) -> bool:
        return monotonic() < self.ws_down_until
