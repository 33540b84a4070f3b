"""Frames of the event-subscription WebSocket (zoom-protocol.md §5; formats UNCONFIRMED by Zoom's docs).

A ``message`` frame carries one event body, which ``events.parse_event`` reads.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TypeAlias

from rtms.zoom.protocol.body import loads_body
from rtms.zoom.protocol.fields import _MAX_EVENT_NAME, ProtocolError, _opt_str, _require_dict, _str

__all__ = [
    "BuildConnection",
    "Heartbeat",
    "UnknownFrame",
    "WsFrame",
    "WsMessage",
    "heartbeat_frame",
    "parse_ws_frame",
]


@dataclass(frozen=True, slots=True)
class BuildConnection:
    success: bool
    content: str


@dataclass(frozen=True, slots=True)
class Heartbeat:
    pass


@dataclass(frozen=True, slots=True)
class WsMessage:
    event_body: dict[str, object]


@dataclass(frozen=True, slots=True)
class UnknownFrame:
    module: str
    raw: dict[str, object] = field(repr=False)


WsFrame: TypeAlias = BuildConnection | Heartbeat | WsMessage | UnknownFrame


def _loads(text: str | bytes, where: str) -> object:
    return loads_body(text, where)


def parse_ws_frame(text: str) -> WsFrame:
    if not isinstance(text, str | bytes):
        raise ProtocolError("frame: expected text")
    frame = _require_dict(_loads(text, "frame"), "frame")
    module = _str(frame, "module", "frame", max_len=_MAX_EVENT_NAME)
    if module == "heartbeat":
        return Heartbeat()
    if module == "build_connection":
        success = frame.get("success")
        if not isinstance(success, bool):
            raise ProtocolError("frame.success: expected a boolean")
        return BuildConnection(success=success, content=_opt_str(frame, "content", "frame") or "")
    if module == "message":
        content = frame.get("content")
        # §5 says `content` is a JSON-encoded string; an already-decoded object is accepted too,
        # since the format is not in Zoom's official docs.
        decoded = _loads(content, "frame.content") if isinstance(content, str) else content
        return WsMessage(event_body=_require_dict(decoded, "frame.content"))
    return UnknownFrame(module=module, raw=frame)


# zoom-protocol.md §5: the client sends this every 30 s.
def heartbeat_frame() -> str:
    return json.dumps({"module": "heartbeat"}, separators=(",", ":"))
