"""The live pages' WebSockets (**contract**: ``ws/live/<meeting>/`` and ``ws/live/``).

``TranscriptConsumer``: authorize in ``connect`` (close 4403 not signed-in staff, 4404 unknown meeting or one
outside the user's regions (the same answer, issue #20), 4410 erased meeting, 4400 bad cursor), join the
meeting's group first, then send the catch-up from the region's database, then forward live segments of the
meeting's own streams. The consumer remembers the highest seq sent per stream and never sends a segment twice;
a hole in the live flow (a lost message) is filled from the database. Every connect is audited; an erasure of
the meeting closes the socket (4410).

Authorization holds while a socket is open, not only at its connect (issue #20): every
``LIVE_REAUTHORIZE_SECONDS``, and at once when its user logs out or is changed (live/signals.py), a socket
reads its session and user afresh and checks the meeting again. It closes 4403 when the session ended or
its user is no longer active staff, 4404 when the meeting is no longer visible to them (another region now,
or a group taken away), 4410 when the meeting was erased.

Close codes are sent after accepting, so a browser can read them (a refusal before the handshake reaches
a page as an anonymous 1006).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import OrderedDict
from typing import Any

from channels.layers import get_channel_layer
from django.conf import settings

from controlplane.client_ip import scope_client_ip
from controlplane.runtime.channels_consumer import JsonConsumerWithoutConnectionCheck
from live.cursor import CursorError, format_cursor, fresh_segments, gaps, parse_cursor
from live.groups import LIST_GROUP, meeting_group, user_group
from live.layers import DEFAULT_ALIAS, layer_alias_for
from live.selectors import (
    LiveErased,
    LiveForbidden,
    LiveNotFound,
    is_live_viewer,
    live_meeting_row,
    meeting_for_viewer,
    meeting_state_view,
    newest_stream_id,
    segments_after,
    segments_after_count,
    segments_of_stream_after,
    streams_of_meeting,
    viewer_now,
)
from live.services import transcript_view_record
from live.states import StateView, shown_state
from regions.access import scope_for
from rtms.asyncdb import db
from rtms.lifecycle import MeetingState
from rtms.models import Meeting

logger = logging.getLogger(__name__)

CLOSE_BAD_REQUEST = 4400
CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404
CLOSE_GONE = 4410  # the meeting was erased: nothing of it is shown any more
CLOSE_RETRY = 1011  # a server-side failure: the page reconnects and catches up from the database
CATCH_UP_CHUNK = 500  # segments per catch-up message: a long meeting arrives in several frames


def _query_param(scope: dict[str, Any], name: str) -> str | None:
    from urllib.parse import parse_qs

    values = parse_qs(scope.get("query_string", b"").decode("latin-1")).get(name)
    return values[-1] if values else None


# Without Channels' stale-connection check before every message (a runtime patch, docs/patches.md): these
# consumers reach the database only through ``rtms.asyncdb.db``, which closes stale connections itself, in
# the thread where the query runs.
_Consumer = JsonConsumerWithoutConnectionCheck


FOREIGN_STREAMS_REMEMBERED = 1024


class _Reauthorizing(_Consumer):
    """Checks again, while the socket is open, what its connect checked (``_recheck``): periodically, and
    whenever a ``live.reauthorize`` message reaches the user's group (a logout, a change to the user)."""

    user_group: str = ""
    _rechecks: asyncio.Task[None] | None = None

    async def _watch_authorization(self) -> None:
        user = self.scope["user"]
        self.user_group = user_group(user.pk)
        await self.channel_layer.group_add(self.user_group, self.channel_name)
        self._rechecks = asyncio.create_task(self._recheck_periodically())

    async def _stop_watching(self) -> None:
        if self._rechecks is not None:
            self._rechecks.cancel()
        if self.user_group:
            await self.channel_layer.group_discard(self.user_group, self.channel_name)

    def _session_key(self) -> str | None:
        session = self.scope.get("session")
        return getattr(session, "session_key", None)

    async def _recheck(self) -> int | None:
        """The close code if access is gone, None if it still holds."""
        raise NotImplementedError

    async def _enforce(self) -> bool:
        try:
            code = await self._recheck()
        except Exception as exc:  # the database failed: the page reconnects, and is checked on connect
            logger.warning("live.reauthorize_failed", extra={"error": type(exc).__name__})
            code = CLOSE_RETRY
        if code is None:
            return True
        logger.info("live.access_revoked", extra={"close_code": code, "channel": self.channel_name})
        await self.close(code=code)
        return False

    async def _recheck_periodically(self) -> None:
        interval = settings.LIVE_REAUTHORIZE.total_seconds()
        while True:
            await asyncio.sleep(interval)
            if not await self._enforce():
                return

    async def live_reauthorize(self, event: dict[str, Any]) -> None:
        await self._enforce()


class TranscriptConsumer(_Reauthorizing):
    meeting: Meeting
    group: str = ""
    region_layer: Any = None
    region_channel: str = ""
    region_relay: asyncio.Task[None] | None = None
    seen: dict[int, int]
    # Streams known to be (not) this meeting's: a segment is forwarded only if its stream is the meeting's,
    # whatever reached the group (issue #19: another deployment on the same Redis once did).
    own_streams: set[int]
    foreign_streams: set[int]
    stream_id: int | None = None
    transition_id: int = 0
    meeting_ended: bool = False

    async def connect(self) -> None:
        await self.accept()
        user = self.scope["user"]
        try:
            meeting_id = int(self.scope["url_route"]["kwargs"]["meeting_id"])
            cursor = parse_cursor(_query_param(self.scope, "after"))
        except (CursorError, ValueError):
            await self.close(code=CLOSE_BAD_REQUEST)
            return
        try:
            self.meeting = await db(meeting_for_viewer)(user, meeting_id)
        except LiveForbidden:
            await self.close(code=CLOSE_FORBIDDEN)
            return
        except LiveErased:
            await self.close(code=CLOSE_GONE)
            return
        except LiveNotFound:
            await self.close(code=CLOSE_NOT_FOUND)
            return
        # Group first, then the database: a segment committed meanwhile arrives live, or is in the catch-up,
        # or both (then `seen` drops the second copy); it is never in neither.
        self.own_streams, self.foreign_streams = set(), set()
        self.group = meeting_group(meeting_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        alias = layer_alias_for(self.meeting.region.code if self.meeting.region else None)
        if alias != DEFAULT_ALIAS:  # the region's text travels through a Redis of its own
            await self._listen_on_region_layer(alias)
        self.seen, state = await db(self._catch_up)(cursor.resolve, scope_client_ip(self.scope))
        # The catch-up in pages read one after another: a long meeting is never held in memory whole.
        while True:
            page = await db(segments_after)(self.meeting, self.seen, limit=CATCH_UP_CHUNK)
            fresh = fresh_segments(self.seen, page)  # advances seen: the next read starts after the page
            # Streams of rows read from the meeting's own transcript (not from the client's cursor).
            self.own_streams |= {int(str(segment["stream_id"])) for segment in fresh}
            if fresh:
                await self.send_json({"type": "segments", "segments": fresh})
            if len(page) < CATCH_UP_CHUNK:
                break
        self._apply_state(state)
        await self.send_json(state.as_message())
        await self.send_json({"type": "caught_up", "cursor": format_cursor(self.seen)})
        await self._watch_authorization()

    async def _recheck(self) -> int | None:
        user = await db(viewer_now)(self._session_key())
        if not is_live_viewer(user):
            return CLOSE_FORBIDDEN
        try:
            await db(meeting_for_viewer)(user, self.meeting.pk)
        except LiveErased:
            return CLOSE_GONE
        except (LiveForbidden, LiveNotFound):  # another region now, or a group taken away: not found
            return CLOSE_NOT_FOUND
        return None

    def _catch_up(self, resolve: Any, source_ip: str | None) -> tuple[dict[int, int], StateView]:
        """Where the reader is, and the state now; the view is audited before any text is sent, with the
        number of segments the catch-up will send (counted, not read)."""
        seen: dict[int, int] = resolve(newest_stream_id(self.meeting.pk))
        state = meeting_state_view(self.meeting.pk, self.meeting.state)
        transcript_view_record(
            self.scope["user"],
            self.meeting,
            surface="websocket",
            source_ip=source_ip,
            segments=segments_after_count(self.meeting, seen),
            cursor=format_cursor(seen),
        )
        return seen, state

    async def disconnect(self, code: int) -> None:
        await self._stop_watching()
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)
        if self.region_relay is not None:
            self.region_relay.cancel()
            with contextlib.suppress(Exception):
                await self.region_layer.group_discard(self.group, self.region_channel)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        return None  # the page only listens; anything it sends is ignored

    async def _listen_on_region_layer(self, alias: str) -> None:
        """Join the meeting's group on the region's layer too, and hand what arrives there to the same
        handler; the consumer's own layer still brings the state changes (live/layers.py)."""
        self.region_layer = get_channel_layer(alias)
        self.region_channel = await self.region_layer.new_channel()
        await self.region_layer.group_add(self.group, self.region_channel)
        self.region_relay = asyncio.create_task(self._relay_region_text())

    async def _relay_region_text(self) -> None:
        try:
            while True:
                message = await self.region_layer.receive(self.region_channel)
                if message.get("type") == "transcript.segments":
                    await self.transcript_segments(message)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the region's Redis failed: the page reconnects and catches up
            logger.warning(
                "live.region_layer_failed", extra={"meeting_id": self.meeting.pk, "error": type(exc).__name__}
            )
            await self.close(code=CLOSE_RETRY)

    # --- group messages ------------------------------------------------------------------------------
    async def transcript_segments(self, event: dict[str, Any]) -> None:
        segments = await self._own_segments(event["segments"])
        if not segments:
            return
        holes = gaps(self.seen, segments)
        if holes:
            logger.info("live.gap_filled", extra={"meeting_id": self.meeting.pk, "streams": sorted(holes)})
            missed: list[dict[str, Any]] = []
            for stream_id, after in holes.items():
                missed += await db(segments_of_stream_after)(self.meeting, stream_id, after)
            segments = sorted(missed + segments, key=lambda s: (s["stream_id"], s["seq"]))
        fresh = fresh_segments(self.seen, segments)
        if fresh:
            await self.send(text_data=_segments_text(fresh))

    async def live_erased(self, event: dict[str, Any]) -> None:
        """The meeting was erased while this page was open: it is closed, and shows nothing more."""
        logger.info("live.closed_erased", extra={"meeting_id": self.meeting.pk})
        await self.close(code=CLOSE_GONE)

    async def _own_segments(self, segments: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The segments of this meeting's streams; the others are dropped (and counted in the log)."""
        mine = [s for s in segments if s.get("meeting_id", self.meeting.pk) == self.meeting.pk]
        unknown = {int(s["stream_id"]) for s in mine} - self.own_streams - self.foreign_streams
        if unknown:
            found = await db(streams_of_meeting)(self.meeting.pk, unknown)
            self.own_streams |= found
            if len(self.foreign_streams) > FOREIGN_STREAMS_REMEMBERED:
                self.foreign_streams.clear()
            self.foreign_streams |= unknown - found
        own = [s for s in mine if int(s["stream_id"]) in self.own_streams]
        if len(own) < len(segments):
            logger.warning(
                "live.foreign_segments_dropped",
                extra={"meeting_id": self.meeting.pk, "dropped": len(segments) - len(own)},
            )
        return own

    async def live_state(self, event: dict[str, Any]) -> None:
        stream_id, transition_id = event["stream_id"], int(event["transition_id"])
        if event["meeting_state"] == MeetingState.ENDED:
            if self.meeting_ended:
                return
            state = StateView(
                self.meeting.pk, self.stream_id, self.transition_id, shown_state(MeetingState.ENDED, None)
            )
        elif stream_id is None:
            return
        elif self.stream_id is not None and (
            stream_id < self.stream_id or (stream_id == self.stream_id and transition_id < self.transition_id)
        ):
            return  # an older stream, or a change that arrived after a newer one
        else:
            state = StateView(
                self.meeting.pk,
                stream_id,
                transition_id,
                shown_state(event["meeting_state"], event["stream_state"]),
            )
        self._apply_state(state)
        await self.send_json(state.as_message())

    def _apply_state(self, state: StateView) -> None:
        self.stream_id, self.transition_id = state.stream_id, state.transition_id
        self.meeting_ended = state.shown.value == "ended"


# Every consumer of a meeting in this process usually forwards the same batch: encode it once, not once per
# watching browser (bench/fanout.py). Keyed by the segments' (stream, seq), which name stored rows.
_ENCODED: OrderedDict[tuple[tuple[int, int], ...], str] = OrderedDict()
_ENCODED_MAX = 256


def _segments_text(segments: list[dict[str, Any]]) -> str:
    key = tuple((int(s["stream_id"]), int(s["seq"])) for s in segments)
    text = _ENCODED.get(key)
    if text is None:
        text = json.dumps({"type": "segments", "segments": [_wire(s) for s in segments]})
        _ENCODED[key] = text
        if len(_ENCODED) > _ENCODED_MAX:
            _ENCODED.popitem(last=False)
    return text


def _wire(segment: dict[str, Any]) -> dict[str, Any]:
    return {
        "stream_id": segment["stream_id"],
        "seq": segment["seq"],
        "speaker_id": segment.get("speaker_id"),
        "speaker_name": segment.get("speaker_name", ""),
        "text": segment["text"],
        "start_ms": segment.get("start_ms"),
        "end_ms": segment.get("end_ms"),
    }


class MeetingListConsumer(_Reauthorizing):
    """``ws/live/``: rows of the list of live meetings as they change, for the regions the user may see.
    The user and their regions are read again at every re-check: a user who lost regions stops seeing them."""

    joined = False

    async def connect(self) -> None:
        await self.accept()
        user = self.scope["user"]
        if not is_live_viewer(user):
            await self.close(code=CLOSE_FORBIDDEN)
            return
        self.viewer = user
        self.region_scope = await db(scope_for)(user)
        await self.channel_layer.group_add(LIST_GROUP, self.channel_name)
        self.joined = True
        await self.send_json({"type": "ready"})
        await self._watch_authorization()

    async def _recheck(self) -> int | None:
        user = await db(viewer_now)(self._session_key())
        if not is_live_viewer(user):
            return CLOSE_FORBIDDEN
        self.viewer, self.region_scope = user, await db(scope_for)(user)
        return None

    async def disconnect(self, code: int) -> None:
        await self._stop_watching()
        if self.joined:
            await self.channel_layer.group_discard(LIST_GROUP, self.channel_name)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        return None

    async def live_erased(self, event: dict[str, Any]) -> None:
        if self.region_scope.allows(event.get("region_code") or None):
            await self.send_json({"type": "gone", "meeting_id": int(event["meeting_id"])})

    async def live_state(self, event: dict[str, Any]) -> None:
        if not self.region_scope.allows(event.get("region_code") or None):
            return
        meeting_id = int(event["meeting_id"])
        row = await db(live_meeting_row)(self.viewer, meeting_id)
        if row is None:
            await self.send_json({"type": "gone", "meeting_id": meeting_id})
        else:
            await self.send_json({"type": "meeting", "row": row.as_message()})
