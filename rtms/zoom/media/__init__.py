"""Our own RTMS client on `websockets` (zoom-protocol.md §1, §2, §3); the gateway's default transport.

One :class:`RtmsSession` holds one stream: a signaling socket, one media socket per requested type
(transcript always, audio where enabled), keep-alive answers on every socket, and the failover table of
§2.6. It knows nothing of the database: data and state changes go to a :class:`MediaSink`, and the
session ends with a :class:`SessionOutcome` the caller acts on (record, restart through REST, alert).

Logs are event names with ids (stream id, generation, socket kind); never transcript text, user names,
the signature or the client secret.

The modules, by job:

- ``session``: the stream across connections: the reconnect loop, failover, interrupt, close.
- ``connection``: one attempt, from opening the sockets to the first decision about them.
- ``scope``: what an attempt owns (its decision, tasks and sockets) and tears down.
- ``handshake``: opening a socket, TLS, and the signaling and media handshakes.
- ``signaling``: the signaling reader and what stream and session states mean.
- ``media_sockets``: the media readers, and reconnecting a lost media socket alone.
- ``frames``, ``sink``: parse, send, answer and close on a socket; guarded calls into the sink.
- ``decisions``, ``specs``, ``config``: the values: how an attempt ends, what we ask for, settings.

Composition rather than mixins: an attempt's collaborators are separate objects, each holding the state
it changes, built anew per attempt and sharing only the attempt's scope. A mixin split would have kept
one object with every field, readable and writable from every file.
"""

from __future__ import annotations

from rtms.zoom.media.config import MAX_FRAME_BYTES, MediaClientConfig
from rtms.zoom.media.frames import CLOSE_NORMAL
from rtms.zoom.media.handshake import system_tls_context
from rtms.zoom.media.session import RtmsSession, WebSocketTransport
from rtms.zoom.media.specs import SUBSCRIBED_EVENTS

__all__ = [
    "CLOSE_NORMAL",
    "MAX_FRAME_BYTES",
    "SUBSCRIBED_EVENTS",
    "MediaClientConfig",
    "RtmsSession",
    "WebSocketTransport",
    "system_tls_context",
]
