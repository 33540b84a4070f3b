"""zoomsim: a local simulator of Zoom's control surfaces (OAuth, REST, webhooks, event WebSocket).

It is an independent implementation of Zoom's side of the protocol (see docs/zoomsim.md and
../shared/docs/zoom-protocol.md). Product code must never import it.
"""

from __future__ import annotations

from zoomsim.app import create_app
from zoomsim.config import SimConfig

__all__ = ["SimConfig", "create_app"]
