"""One connection attempt: a signaling socket and its media sockets, from open to the first decision
about them (zoom-protocol.md §2.3, §2.7).

Built new for every attempt by the session, from small collaborators that share the attempt's scope:
the handshaker opens sockets, the signaling reader and the media sockets read them, and any of them may
decide how the attempt ends. Each keeps the state it changes (the media sockets their losses, the
signaling reader the stop reason it was warned of), so there is nothing to reset between attempts.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Coroutine, Iterator
from urllib.parse import urlsplit

from rtms.zoom.media.config import LOGGER_NAME, MediaClientConfig
from rtms.zoom.media.decisions import TRANSIENT, Decision, Fatal, Finish, Reconnect, Refused, finish_refused
from rtms.zoom.media.frames import Frames
from rtms.zoom.media.handshake import Handshaker
from rtms.zoom.media.media_sockets import MediaSockets
from rtms.zoom.media.scope import ConnectionScope
from rtms.zoom.media.signaling import SignalingReader
from rtms.zoom.media.sink import GuardedSink
from rtms.zoom.media.specs import SUBSCRIBED_EVENTS, specs_for
from rtms.zoom.protocol import client_ready_ack, event_subscription
from rtms.zoom.transport import (
    MediaSink,
    OutcomeKind,
    SessionOutcome,
    SigningCredentials,
    StatusKind,
    StreamStatus,
    StreamTarget,
)

logger = logging.getLogger(LOGGER_NAME)


class Connection:
    def __init__(
        self,
        target: StreamTarget,
        sink: MediaSink,
        credentials: SigningCredentials,
        config: MediaClientConfig,
        sequence: Iterator[int],
        *,
        rng: random.Random,
        monotonic: Callable[[], float],
    ) -> None:
        self._target = target
        self._frames = Frames(target, config)
        self._sink = GuardedSink(sink, target)
        self.scope = ConnectionScope(target, self._frames)
        self._handshaker = Handshaker(target, credentials, config, sequence, self.scope, self._frames)
        self._media = MediaSockets(
            target,
            config,
            self.scope,
            self._frames,
            self._sink,
            self._handshaker,
            rng=rng,
            monotonic=monotonic,
        )
        self._signaling = SignalingReader(target, config, self.scope, self._frames, self._sink, self._media)

    @property
    def ready(self) -> bool:
        return self.scope.ready

    async def run(self, control: Coroutine[object, object, None]) -> Decision:
        """Open everything and wait for the first decision (from any task, ``control`` included); return it
        once every task of the attempt has ended and every socket is closed."""
        self.scope.spawn(self._establish(), "establish")
        self.scope.spawn(control, "control")
        try:
            return await self.scope.decision
        finally:
            await self.scope.teardown()

    async def _establish(self) -> None:
        target = self._target
        await self._sink.state(StreamStatus(StatusKind.CONNECTING))
        try:
            signaling, media_urls = await self._handshaker.signaling()
            self.scope.spawn(self._signaling.read(signaling), "signaling")
            secure = urlsplit(target.signaling_url or "").scheme.lower() == "wss"
            for spec in specs_for(target):
                url = media_urls.get(spec.name)
                if url is None:
                    raise Fatal(f"no_{spec.name}_url")
                if secure and urlsplit(url).scheme.lower() != "wss":
                    raise Fatal("insecure_media_url")  # never let a handshake reply downgrade TLS
                ws = await self._handshaker.media(spec, url)
                self._media.start(spec, url, ws)
            # §2.3 message 7: on signaling, once every media handshake has succeeded.
            await self._frames.send(signaling, client_ready_ack(target.rtms_stream_id), "signaling")
            await self._frames.send(signaling, event_subscription(SUBSCRIBED_EVENTS), "signaling")
        except Refused as exc:
            logger.warning(
                "rtms.media.refused",
                extra={**target.ids, "socket_kind": exc.socket_kind, "status_code": int(exc.status)},
            )
            self.scope.decide(finish_refused(exc))
            return
        except Fatal as exc:
            logger.warning("rtms.media.connect_fatal", extra={**target.ids, "error": exc.error})
            self.scope.decide(Finish(SessionOutcome(OutcomeKind.FAILED, error=exc.error)))
            return
        except TRANSIENT as exc:
            logger.warning("rtms.media.connect_failed", extra={**target.ids, "error": type(exc).__name__})
            self.scope.decide(Reconnect(f"connect_failed_{type(exc).__name__}"))
            return
        self.scope.ready = True
        logger.info("rtms.media.ready", extra={**target.ids, "media": int(target.media)})
        await self._sink.state(StreamStatus(StatusKind.READY))
