"""Properties of rtms.zoom.protocol under hostile input, and round trips, with Hypothesis.

Each parser (parse_event §4.6, parse_ws_frame §5, parse_rtms_message §2.3 of zoom-protocol.md) either
returns one of its declared result types, every field of its declared type, or raises ProtocolError;
never anything else. Known-answer tests are in test_protocol.py.
"""

from __future__ import annotations

import base64
import copy
import dataclasses
import enum
import json
import types
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from functools import reduce
from typing import Any, Literal, Union, cast, get_args, get_origin, get_type_hints

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rtms.zoom.protocol import (
    AudioData,
    BuildConnection,
    ConcurrencyLimited,
    DataHandshakeResp,
    EventType,
    EventUpdate,
    Heartbeat,
    KeepAliveReq,
    MediaType,
    MeetingEnded,
    MeetingStarted,
    MessageType,
    Product,
    ProtocolError,
    RtmsInterrupted,
    RtmsMessage,
    RtmsStarted,
    RtmsStopped,
    SessionState,
    SessionStateUpdate,
    SignalingHandshakeResp,
    StatusCode,
    StopReason,
    StreamCloseResp,
    StreamStateUpdate,
    TrackingField,
    TranscriptData,
    UnknownEvent,
    UnknownFrame,
    UnknownMessage,
    UrlValidation,
    WsFrame,
    WsMessage,
    ZoomEvent,
    ZoomStreamState,
    client_ready_ack,
    dedupe_key,
    event_subscription,
    heartbeat_frame,
    keep_alive_resp,
    media_handshake_req,
    parse_event,
    parse_rtms_message,
    parse_ws_frame,
    signaling_handshake_req,
    stream_close_req,
)

# Modest budgets so the file stays quick on a small machine; no example database (conftest.py says where
# Hypothesis's other files go).
FUZZ = settings(max_examples=200, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
ROUND_TRIP = settings(FUZZ, max_examples=100)
MUTATION = settings(FUZZ, max_examples=50)  # per kind of message mutated

# rtms.models.InboxEvent.dedupe_key is a varchar(255).
DEDUPE_KEY_COLUMN = 255
INT32 = (-(2**31), 2**31 - 1)
INT64_MAX = 2**63 - 1


# --- what a parser may return ----------------------------------------------------------------------


def _conforms(value: object, hint: Any) -> bool:
    """Whether ``value`` is of the declared field type ``hint`` (the shapes protocol fields use)."""
    origin = get_origin(hint)
    if hint is object or hint is Any:
        return True
    if hint is type(None):
        return value is None
    if origin in (Union, types.UnionType):
        arms = get_args(hint)
        # An IntEnum | int field holds the member whenever the value is one Zoom has documented.
        enums = [a for a in arms if isinstance(a, type) and issubclass(a, enum.IntEnum)]
        if type(value) is int and any(value == member for e in enums for member in e):
            return False
        return any(_conforms(value, arm) for arm in arms)
    if origin is Literal:
        return isinstance(value, str) and value in get_args(hint)
    if origin is tuple:
        item, ellipsis = get_args(hint)
        assert ellipsis is Ellipsis
        return isinstance(value, tuple) and all(_conforms(v, item) for v in value)
    if origin is dict:
        key_hint, value_hint = get_args(hint)
        return isinstance(value, dict) and all(
            _conforms(k, key_hint) and _conforms(v, value_hint) for k, v in value.items()
        )
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(hint, type):
        return isinstance(value, hint)
    raise AssertionError(f"no rule for field type {hint!r}")


def _assert_well_typed(result: object) -> None:
    assert dataclasses.is_dataclass(result) and not isinstance(result, type)
    hints = get_type_hints(type(result))
    for f in dataclasses.fields(result):
        value = getattr(result, f.name)
        where = f"{type(result).__name__}.{f.name}"
        assert _conforms(value, hints[f.name]), where
        if isinstance(value, str):
            # What PostgreSQL text and UTF-8 cannot hold never leaves a parser (fields._str).
            assert "\x00" not in value and not any("\ud800" <= c <= "\udfff" for c in value), where
        if isinstance(value, datetime):
            assert value.utcoffset() == timedelta(0), where
        for item in value if isinstance(value, tuple) else (value,):
            if dataclasses.is_dataclass(item) and not isinstance(item, type):
                _assert_well_typed(item)


def _parse_or_refuse(parse: Callable[[Any], object], value: object, result_type: Any) -> object | None:
    """The parsed value, checked against the declared result types; None when refused as a ProtocolError."""
    allowed: tuple[type[object], ...] = get_args(result_type)
    try:
        result = parse(value)
    except ProtocolError:
        return None
    assert isinstance(result, allowed), type(result)
    _assert_well_typed(result)
    return result


def _known_as(enum_cls: type[enum.IntEnum], value: int) -> int:
    return enum_cls(value) if any(value == member for member in enum_cls) else value


# --- hostile input ---------------------------------------------------------------------------------

_JUNK: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    2**200,
    1.5,
    float("nan"),
    "",
    "x" * 100_000,
    "\x00",
    "\udcff",
    "🙂",
    [],
    [None],
    {},
    {"a": {"b": {"c": []}}},
]
_BOUNDARY_INTS = [
    *(n + d for n in (2**31, 2**63, -(2**31), -(2**63)) for d in (-1, 0, 1)),
    2**64,
    -(2**200),
    1626230691572,
]
_EVENT_NAMES = [
    "meeting.started",
    "meeting.ended",
    "meeting.rtms_started",
    "meeting.rtms_stopped",
    "meeting.rtms_interrupted",
    "webinar.rtms_started",
    "webinar.rtms_stopped",
    "webinar.rtms_interrupted",
    "rtms.concurrency_limited",
    "meeting.rtms_concurrency_limited",
    "endpoint.url_validation",
    "session.rtms_started",
    "meeting.participant_joined",
]
_NASTY_TEXT = [
    *_EVENT_NAMES,
    " ",
    "a\x00b",
    "caf\udce9",
    "１２",
    "-12",
    "9" * 20,
    "bad\nname",
    "0001-01-01T00:00:00+01:00",
    "9999-12-31T23:59:59-01:00",
    "2021-07-13T21:44:51Z",
    "yesterday",
    "not base64!!",
    "é",
    "AAAA",
    "wss://rtms-sjc1.zoom.us, ,udp://x",
]
# Each side of the parsers' length bounds (ids 256, e-mail 320, text 2048, server_urls 8192).
_LENGTHS = [127, 128, 129, 255, 256, 257, 320, 321, 2047, 2048, 2049, 8192, 8193, 100_000]
_KEYS = [
    # event bodies (§4.6)
    "event",
    "event_ts",
    "payload",
    "object",
    "id",
    "uuid",
    "host_id",
    "host_email",
    "topic",
    "start_time",
    "end_time",
    "account_id",
    "tracking_fields",
    "field",
    "value",
    "meeting_uuid",
    "meeting_id",
    "webinar_uuid",
    "webinar_id",
    "rtms_stream_id",
    "server_urls",
    "operator_id",
    "stop_reason",
    "plainToken",
    "id_field",
    "concurrency_number",
    # event-WebSocket frames (§5)
    "module",
    "success",
    "content",
    # RTMS messages (§2.3)
    "msg_type",
    "status_code",
    "reason",
    "media_server",
    "media_params",
    "state",
    "timestamp",
    "sequence",
    "rtms_session_id",
    "event_type",
    "user_id",
    "user_name",
    "data",
    "language",
]

_ints = st.integers() | st.sampled_from(_BOUNDARY_INTS)
_any_text = st.text(st.characters(exclude_categories=()), max_size=40)
_long_text = st.builds(
    lambda char, n: char * n, st.sampled_from(["x", "é", "🙂", "9", "\x00"]), st.sampled_from(_LENGTHS)
)
# Short strings over a hostile alphabet: NUL, lone surrogates, separators, non-ASCII digits.
_hostile_text = st.text(
    st.sampled_from(["a", "9", " ", ",", "\n", "\x00", "\ud800", "\udcff", "é", "🙂", "１"]), max_size=12
)
_texts = _any_text | _hostile_text | st.sampled_from(_NASTY_TEXT) | _long_text
_scalars = st.none() | st.booleans() | _ints | st.floats() | _texts | st.sampled_from(_JUNK)
_keys = st.sampled_from(_KEYS) | _any_text
json_values: st.SearchStrategy[Any] = st.recursive(
    _scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(_keys, children, max_size=5),
    max_leaves=16,
)
json_objects: st.SearchStrategy[dict[str, Any]] = st.dictionaries(_keys, json_values, max_size=6)
# What a mutation puts in place of a field: mostly wrong scalars, sometimes a whole structure.
_junk = st.one_of(_texts, _ints, st.sampled_from(_JUNK), json_values)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _paths(child, (*prefix, index))
    return found


def _replace(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    value = copy.deepcopy(value)
    target = value
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = new
    return value


@st.composite
def _mutations(draw: st.DrawFn, valid: st.SearchStrategy[Any]) -> Any:
    """A valid message with one to three fields dropped or replaced by values of any type or size."""
    message = copy.deepcopy(draw(valid))
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(message)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = message
        for key in path[:-1]:
            parent = parent[key]
        if isinstance(parent, dict) and draw(st.integers(0, 2)) == 0:
            del parent[path[-1]]
        else:
            # A copy: _JUNK's lists and dicts are shared, and a later mutation may reach inside.
            parent[path[-1]] = copy.deepcopy(draw(_junk))
    return message


# --- valid input, generated with the value each field must parse to ----------------------------------

_ID_CHARS = st.characters(categories=("L", "M", "N", "P", "S"), include_characters=" ")
# _str's contract: no NUL, no lone surrogate.
_STORABLE_CHARS = st.characters(codec="utf-8", exclude_characters="\x00")
# At the boundary too: 64 is the shortest column an id is stored in (host and stream ids, issue #19).
ids = st.text(_ID_CHARS, min_size=1, max_size=24) | st.just("i" * 64)
storable_text = st.text(_STORABLE_CHARS, max_size=60) | st.just("t" * 2048)
topics = st.text(_STORABLE_CHARS, max_size=60) | st.just("t" * 300)  # the topic column's length
timestamps = st.integers(0, INT64_MAX)
int64s = st.integers(-(2**63), INT64_MAX)
int32s = st.integers(*INT32)
# Payloads that round-trip through JSON unchanged (NaN is not equal to itself) and that jsonb can hold (no
# Infinity: strict JSON refuses it, rtms/zoom/protocol/body.py).
plain_json: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | int64s | st.floats(allow_nan=False, allow_infinity=False) | storable_text,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(_keys, children, max_size=3),
    max_leaves=8,
)
plain_objects: st.SearchStrategy[dict[str, Any]] = st.dictionaries(_keys, plain_json, max_size=4)
_zones: st.SearchStrategy[tzinfo] = st.sampled_from(
    [UTC, timezone(timedelta(hours=2)), timezone(-timedelta(hours=5, minutes=30))]
)
# Naive bounds, as st.datetimes wants, a year away from the ends so that any offset stays in range.
# Naive moments too: the parser reads a date-time without an offset as UTC.
_EARLIEST, _LATEST = datetime(2, 1, 1), datetime(9998, 12, 31)  # noqa: DTZ001
_moments = st.datetimes(_EARLIEST, _LATEST) | st.datetimes(_EARLIEST, _LATEST, timezones=_zones)

_ABSENT = object()


def _optional(draw: st.DrawFn, strategy: st.SearchStrategy[Any]) -> Any:
    """A value, None, or _ABSENT (the key left out)."""
    return draw(st.sampled_from([_ABSENT, None]) | strategy)


def _put(obj: dict[str, Any], key: str, value: Any) -> None:
    if value is not _ABSENT:
        obj[key] = value


def _given(value: Any) -> Any:
    """What the parser sees for a key that was left out or null."""
    return None if value is _ABSENT else value


@st.composite
def _datetimes(draw: st.DrawFn) -> tuple[str, datetime]:
    moment = draw(_moments)
    expected = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return moment.isoformat(), expected


@st.composite
def meeting_events(draw: st.DrawFn) -> tuple[dict[str, Any], ZoomEvent]:
    name = draw(st.sampled_from(["meeting.started", "meeting.ended"]))
    event_ts, account_id, uuid, host_id = draw(timestamps), draw(ids), draw(ids), draw(ids)
    meeting_id = draw(st.integers(1, INT64_MAX))
    obj: dict[str, Any] = {
        "uuid": uuid,
        "id": str(meeting_id) if draw(st.booleans()) else meeting_id,
        "host_id": host_id,
        "type": 8,
        "timezone": "America/Los_Angeles",
    }
    host_email = _optional(draw, st.text(_STORABLE_CHARS, max_size=320))
    topic = _optional(draw, topics)
    start, end = _optional(draw, _datetimes()), _optional(draw, _datetimes())
    entries = _optional(
        draw,
        st.lists(
            st.tuples(
                st.text(_STORABLE_CHARS, max_size=256), st.sampled_from([_ABSENT, None]) | storable_text
            ),
            max_size=4,
        ),
    )
    _put(obj, "host_email", host_email)
    _put(obj, "topic", topic)
    _put(obj, "start_time", start[0] if isinstance(start, tuple) else start)
    _put(obj, "end_time", end[0] if isinstance(end, tuple) else end)
    tracking_fields: tuple[TrackingField, ...] | None = None
    if isinstance(entries, list):
        obj["tracking_fields"] = []
        for field_name, value in entries:
            entry = {"field": field_name}
            _put(entry, "value", value)
            obj["tracking_fields"].append(entry)
        tracking_fields = tuple(TrackingField(f, _given(v) or "") for f, v in entries)
    else:
        _put(obj, "tracking_fields", entries)
    common: dict[str, Any] = {
        "event": name,
        "event_ts": event_ts,
        "account_id": account_id,
        "meeting_uuid": uuid,
        "meeting_id": meeting_id,
        "host_id": host_id,
        "host_email": _given(host_email) or None,
        "topic": _given(topic) or "",
        "start_time": start[1] if isinstance(start, tuple) else None,
        "tracking_fields": tracking_fields,
    }
    body = {"event": name, "event_ts": event_ts, "payload": {"account_id": account_id, "object": obj}}
    if name == "meeting.started":
        return body, MeetingStarted(**common)
    return body, MeetingEnded(**common, end_time=end[1] if isinstance(end, tuple) else None)


_urls = st.from_regex(r"(wss|ws|udp)://[a-z0-9.-]{1,30}(:[0-9]{1,5})?(/[A-Za-z0-9_-]{0,16})?", fullmatch=True)


@st.composite
def rtms_events(draw: st.DrawFn) -> tuple[dict[str, Any], ZoomEvent]:
    products: list[Product] = ["meeting", "webinar"]
    product = draw(st.sampled_from(products))
    kind = draw(st.sampled_from(["rtms_started", "rtms_stopped", "rtms_interrupted"]))
    name, event_ts, uuid, stream_id = f"{product}.{kind}", draw(timestamps), draw(ids), draw(ids)
    payload: dict[str, Any] = {f"{product}_uuid": uuid, "rtms_stream_id": stream_id}
    body = {"event": name, "event_ts": event_ts, "payload": payload}
    if kind == "rtms_started":
        urls = draw(st.lists(_urls, min_size=1, max_size=4))
        padding = st.sampled_from(["", " ", "  "])
        payload["server_urls"] = ",".join(f"{draw(padding)}{url}{draw(padding)}" for url in urls)
        if draw(st.booleans()):
            payload["server_urls"] += ", ,"  # empty parts are skipped
        operator_id = draw(ids)
        payload["operator_id"] = operator_id
        account_id = _optional(draw, ids)
        number = _optional(draw, st.integers(1, INT64_MAX))
        _put(payload, "account_id", account_id)
        as_text = isinstance(number, int) and draw(st.booleans())
        _put(payload, f"{product}_id", str(number) if as_text else number)
        return body, RtmsStarted(
            name,
            event_ts,
            uuid,
            stream_id,
            tuple(urls),
            operator_id,
            _given(account_id),
            _given(number),
            product,
        )
    if kind == "rtms_stopped":
        reason = draw(int32s | st.sampled_from([int(r) for r in StopReason]))
        payload["stop_reason"] = reason
        return body, RtmsStopped(name, event_ts, uuid, stream_id, _known_as(StopReason, reason), product)
    return body, RtmsInterrupted(name, event_ts, uuid, stream_id, product)


@st.composite
def url_validations(draw: st.DrawFn) -> tuple[dict[str, Any], ZoomEvent]:
    name, event_ts = "endpoint.url_validation", draw(timestamps)
    token = draw(st.text(_STORABLE_CHARS, min_size=1, max_size=256))
    body = {"event": name, "event_ts": event_ts, "payload": {"plainToken": token}}
    return body, UrlValidation(name, event_ts, token)


@st.composite
def concurrency_events(draw: st.DrawFn) -> tuple[dict[str, Any], ZoomEvent]:
    name = draw(st.sampled_from(["rtms.concurrency_limited", "meeting.rtms_concurrency_limited"]))
    event_ts, operator_id, number = draw(timestamps), draw(ids), draw(timestamps)
    payload: dict[str, Any] = {"operator_id": operator_id, "concurrency_number": number}
    raw_ids = _optional(draw, st.dictionaries(st.text(max_size=128), ids, max_size=8))
    top_uuid = _optional(draw, ids)
    _put(payload, "id_field", raw_ids)
    _put(payload, "meeting_uuid", top_uuid)
    id_field = dict(_given(raw_ids) or {})
    if "meeting_uuid" not in id_field and _given(top_uuid) is not None:
        id_field["meeting_uuid"] = top_uuid
    body = {"event": name, "event_ts": event_ts, "payload": payload}
    return body, ConcurrencyLimited(name, event_ts, operator_id, number, id_field)


@st.composite
def unknown_events(draw: st.DrawFn) -> tuple[dict[str, Any], ZoomEvent]:
    handled = _EVENT_NAMES[:-2]
    name = draw(
        st.text(st.characters(categories=("L", "N", "P", "S")), min_size=1, max_size=128).filter(
            lambda n: n not in handled
        )
        | st.sampled_from(_EVENT_NAMES[-2:])
    )
    event_ts = draw(timestamps)
    body = {"event": name, "event_ts": event_ts}
    _put(body, "payload", _optional(draw, plain_json))
    return body, UnknownEvent(name, event_ts)


EVENT_KINDS: dict[str, st.SearchStrategy[tuple[dict[str, Any], ZoomEvent]]] = {
    "meeting": meeting_events(),
    "rtms": rtms_events(),
    "url_validation": url_validations(),
    "concurrency": concurrency_events(),
    "unknown": unknown_events(),
}
valid_events = st.one_of(*EVENT_KINDS.values())
# The types parse_rtms_message reads field by field; 15 (video) stands for all it passes on as raw.
RTMS_TYPES = [2, 4, 6, 8, 9, 12, 14, 17, 22]


@st.composite
def valid_rtms_messages(draw: st.DrawFn, msg_type: int | None = None) -> tuple[dict[str, Any], RtmsMessage]:
    if msg_type is None:
        msg_type = draw(st.sampled_from(RTMS_TYPES) | int32s)
    msg: dict[str, Any] = {"msg_type": msg_type, "protocol_version": 1, "rtms_client_agent": "x"}
    status = draw(int32s | st.sampled_from([int(s) for s in StatusCode]))
    reason = _optional(draw, storable_text)
    if msg_type in (2, 4, 22):
        msg["status_code"] = status
        _put(msg, "reason", reason)
    if msg_type == 2:
        urls = _optional(draw, st.dictionaries(st.text(max_size=128), storable_text, max_size=6))
        server = _optional(draw, st.builds(dict))
        if server is not _ABSENT and server is not None:
            _put(server, "server_urls", urls)
        _put(msg, "media_server", server)
        media_urls = (_given(urls) or {}) if isinstance(server, dict) else {}
        return msg, SignalingHandshakeResp(_known_as(StatusCode, status), _given(reason) or "", media_urls)
    if msg_type == 4:
        params = _optional(draw, plain_objects)
        _put(msg, "media_params", params)
        return msg, DataHandshakeResp(
            _known_as(StatusCode, status), _given(reason) or "", _given(params) or {}
        )
    if msg_type == 22:
        stream_id, timestamp = _optional(draw, ids), _optional(draw, int64s)
        _put(msg, "rtms_stream_id", stream_id)
        _put(msg, "timestamp", timestamp)
        return msg, StreamCloseResp(
            _known_as(StatusCode, status), _given(reason) or "", _given(stream_id), _given(timestamp)
        )
    if msg_type in (8, 9):
        enum_cls: type[enum.IntEnum] = ZoomStreamState if msg_type == 8 else SessionState
        state = draw(int32s | st.sampled_from([int(s) for s in enum_cls]))
        stop = _optional(draw, int32s | st.sampled_from([int(r) for r in StopReason]))
        timestamp = _optional(draw, int64s)
        msg["state"] = state
        # The docs say `reason`, the doc example `stop_reason` (§2.3 messages 8/9).
        _put(msg, draw(st.sampled_from(["reason", "stop_reason"])), stop)
        _put(msg, "timestamp", timestamp)
        stop_reason = None if _given(stop) is None else _known_as(StopReason, stop)
        if msg_type == 8:
            return msg, StreamStateUpdate(_known_as(ZoomStreamState, state), stop_reason, _given(timestamp))
        session_id = _optional(draw, ids)
        _put(msg, "rtms_session_id", session_id)
        return msg, SessionStateUpdate(
            _known_as(SessionState, state), stop_reason, _given(session_id), _given(timestamp)
        )
    if msg_type == 6:
        event_type = draw(int32s | st.sampled_from([int(e) for e in EventType]))
        event = {**draw(plain_objects), "event_type": event_type}
        msg["event"] = event
        return msg, EventUpdate(_known_as(EventType, event["event_type"]), event)
    if msg_type == 12:
        timestamp, sequence = draw(int64s), _optional(draw, int64s)
        msg["timestamp"] = timestamp
        _put(msg, "sequence", sequence)
        return msg, KeepAliveReq(timestamp, _given(sequence))
    if msg_type in (14, 17):
        user_id, user_name = _optional(draw, st.integers(0, INT64_MAX)), _optional(draw, storable_text)
        timestamp = draw(int64s)
        content: dict[str, Any] = {"timestamp": timestamp}
        as_text = isinstance(user_id, int) and draw(st.booleans())
        _put(content, "user_id", str(user_id) if as_text else user_id)
        _put(content, "user_name", user_name)
        msg["content"] = content
        common = (_given(user_id) or 0, _given(user_name) or "")
        if msg_type == 14:
            pcm = draw(st.binary(max_size=64))
            content["data"] = base64.b64encode(pcm).decode()
            return msg, AudioData(*common, data=pcm, timestamp=timestamp)
        text, start, end, language = draw(storable_text), draw(int64s), draw(int64s), _optional(draw, int32s)
        content.update(data=text, start_time=start, end_time=end)
        _put(content, "language", language)
        return msg, TranscriptData(*common, text, start, end, timestamp, _given(language))
    msg["content"] = draw(plain_json)
    return msg, UnknownMessage(msg_type, msg)


@st.composite
def valid_frames(draw: st.DrawFn) -> tuple[str, WsFrame]:
    module = draw(st.sampled_from(["heartbeat", "build_connection", "message", "other"]))
    if module == "heartbeat":
        return json.dumps({"module": "heartbeat", "success": True}), Heartbeat()
    if module == "build_connection":
        success, content = draw(st.booleans()), _optional(draw, storable_text)
        frame: dict[str, Any] = {"module": module, "success": success}
        _put(frame, "content", content)
        return json.dumps(frame), BuildConnection(success, _given(content) or "")
    if module == "message":
        body = draw(valid_events)[0] if draw(st.booleans()) else draw(plain_objects)
        # §5 says `content` is JSON text; an object is accepted too.
        content = json.dumps(body) if draw(st.booleans()) else body
        return json.dumps({"module": module, "content": content}), WsMessage(body)
    name = draw(
        st.text(_STORABLE_CHARS, max_size=128).filter(
            lambda n: n not in ("heartbeat", "build_connection", "message")
        )
    )
    frame = {**draw(plain_objects), "module": name}
    return json.dumps(frame), UnknownFrame(name, json.loads(json.dumps(frame)))


# --- parse_event (§4.6) and dedupe keys (§4.5) -----------------------------------------------------

_event_shaped = st.fixed_dictionaries(
    {"event": st.sampled_from(_EVENT_NAMES) | json_values, "event_ts": _ints | json_values},
    optional={"payload": json_objects | json_values},
)


def _assert_dedupe_key_bounded_and_stable(event: ZoomEvent, body: object) -> None:
    try:
        key = dedupe_key(event, body)
    except ProtocolError:
        return
    assert isinstance(key, str) and len(key) <= DEDUPE_KEY_COLUMN
    assert key.startswith(f"{event.event}:")
    assert dedupe_key(event, copy.deepcopy(body)) == key


@FUZZ
@given(st.one_of(json_values, _event_shaped))
def test_parse_event_returns_an_event_or_raises_protocol_error_when_input_is_arbitrary(body: Any) -> None:
    event = _parse_or_refuse(parse_event, body, ZoomEvent)
    if event is not None:
        _assert_dedupe_key_bounded_and_stable(cast(ZoomEvent, event), body)


@pytest.mark.parametrize("kind", list(EVENT_KINDS))
@MUTATION
@given(data=st.data())
def test_parse_event_returns_an_event_or_raises_protocol_error_when_a_valid_body_is_mutated(
    kind: str, data: st.DataObject
) -> None:
    body = data.draw(_mutations(EVENT_KINDS[kind].map(lambda pair: pair[0])), label="body")
    event = _parse_or_refuse(parse_event, body, ZoomEvent)
    if event is not None:
        _assert_dedupe_key_bounded_and_stable(cast(ZoomEvent, event), body)


@ROUND_TRIP
@given(valid_events)
def test_parse_event_reads_back_every_field_when_body_is_valid(
    case: tuple[dict[str, Any], ZoomEvent],
) -> None:
    body, expected = case
    event = _parse_or_refuse(parse_event, body, ZoomEvent)
    assert event == expected
    # Via JSON, as the webhook and the WebSocket both deliver it.
    assert parse_event(json.loads(json.dumps(body))) == expected


def _reordered(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _reordered(value[key]) for key in reversed(value)}
    if isinstance(value, list):
        return [_reordered(item) for item in value]
    return value


@ROUND_TRIP
@given(valid_events)
def test_dedupe_key_is_stable_and_bounded_when_the_same_event_is_serialised_differently(
    case: tuple[dict[str, Any], ZoomEvent],
) -> None:
    body = case[0]
    key = dedupe_key(parse_event(body), body)
    assert len(key) <= DEDUPE_KEY_COLUMN
    same_event = (
        json.loads(json.dumps(body)),
        json.loads(json.dumps(body, ensure_ascii=False)),
        _reordered(body),
    )
    for same in same_event:
        assert dedupe_key(parse_event(same), same) == key


@ROUND_TRIP
@given(valid_events)
def test_dedupe_key_differs_when_event_ts_differs(case: tuple[dict[str, Any], ZoomEvent]) -> None:
    body = case[0]
    later = {**body, "event_ts": body["event_ts"] + 1 if body["event_ts"] < INT64_MAX else 0}
    assert dedupe_key(parse_event(body), body) != dedupe_key(parse_event(later), later)


# --- parse_ws_frame (§5) ---------------------------------------------------------------------------

_frame_shaped = st.fixed_dictionaries(
    {"module": st.sampled_from(["heartbeat", "build_connection", "message"]) | json_values},
    optional={
        "success": st.booleans() | json_values,
        "content": json_values | json_values.map(json.dumps) | _event_shaped.map(json.dumps),
    },
)


@FUZZ
@given(
    st.one_of(
        _texts,
        st.binary(),
        json_values.map(json.dumps),
        _frame_shaped.map(json.dumps),
        _mutations(valid_frames().map(lambda pair: json.loads(pair[0]))).map(json.dumps),
        json_values,  # not text at all
    )
)
def test_parse_ws_frame_returns_a_frame_or_raises_protocol_error_when_input_is_arbitrary(text: Any) -> None:
    _parse_or_refuse(parse_ws_frame, text, WsFrame)


@ROUND_TRIP
@given(valid_frames())
def test_parse_ws_frame_reads_back_every_field_when_frame_is_valid(case: tuple[str, WsFrame]) -> None:
    text, expected = case
    frame = _parse_or_refuse(parse_ws_frame, text, WsFrame)
    assert frame == expected


@ROUND_TRIP
@given(valid_events)
def test_event_in_a_ws_message_parses_and_dedupes_as_over_the_webhook(
    case: tuple[dict[str, Any], ZoomEvent],
) -> None:
    body, expected = case
    frame = parse_ws_frame(json.dumps({"module": "message", "content": json.dumps(body)}))
    assert isinstance(frame, WsMessage)
    assert parse_event(frame.event_body) == expected
    assert dedupe_key(expected, frame.event_body) == dedupe_key(parse_event(body), body)


def test_heartbeat_frame_parses_back_as_a_heartbeat() -> None:
    assert parse_ws_frame(heartbeat_frame()) == Heartbeat()


# --- parse_rtms_message (§2.3) ---------------------------------------------------------------------

_rtms_shaped = st.builds(
    lambda msg_type, rest: {**rest, "msg_type": msg_type},
    st.sampled_from([int(t) for t in MessageType]) | _ints | json_values,
    st.dictionaries(
        st.sampled_from(_KEYS),
        json_values | st.dictionaries(st.sampled_from(_KEYS), json_values, max_size=6),
        max_size=6,
    ),
)


@FUZZ
@given(st.one_of(json_values, _rtms_shaped))
def test_parse_rtms_message_returns_a_message_or_raises_protocol_error_when_input_is_arbitrary(
    obj: Any,
) -> None:
    _parse_or_refuse(parse_rtms_message, obj, RtmsMessage)


@pytest.mark.parametrize("msg_type", [*RTMS_TYPES, 15])
@MUTATION
@given(data=st.data())
def test_parse_rtms_message_returns_a_message_or_raises_protocol_error_when_a_valid_one_is_mutated(
    msg_type: int, data: st.DataObject
) -> None:
    obj = data.draw(_mutations(valid_rtms_messages(msg_type).map(lambda pair: pair[0])), label="message")
    _parse_or_refuse(parse_rtms_message, obj, RtmsMessage)


@ROUND_TRIP
@given(valid_rtms_messages())
def test_parse_rtms_message_reads_back_every_field_when_message_is_valid(
    case: tuple[dict[str, Any], RtmsMessage],
) -> None:
    msg, expected = case
    assert _parse_or_refuse(parse_rtms_message, msg, RtmsMessage) == expected
    assert parse_rtms_message(json.loads(json.dumps(msg))) == expected


# --- builders (§2.3): plain JSON out, and what we received echoed back --------------------------------


def _assert_plain_json(value: object) -> None:
    # Enums go out as plain ints (§2.1): an IntEnum would serialise, but not as its own type.
    assert type(value) in (dict, list, str, int, float, bool, type(None)), type(value)
    if isinstance(value, dict):
        for key, item in value.items():
            assert type(key) is str
            _assert_plain_json(item)
    elif isinstance(value, list):
        for item in value:
            _assert_plain_json(item)


@ROUND_TRIP
@given(timestamps, st.sampled_from([_ABSENT, None]) | int64s)
def test_keep_alive_resp_echoes_what_parse_rtms_message_read(timestamp: int, sequence: Any) -> None:
    request: dict[str, Any] = {"msg_type": int(MessageType.KEEP_ALIVE_REQ), "timestamp": timestamp}
    _put(request, "sequence", sequence)
    parsed = parse_rtms_message(json.loads(json.dumps(request)))
    assert isinstance(parsed, KeepAliveReq)
    response = keep_alive_resp(parsed)
    expected = {"msg_type": 13, "timestamp": timestamp}
    if _given(sequence) is not None:
        expected["sequence"] = sequence
    assert response == expected == keep_alive_resp(request)
    _assert_plain_json(response)


@ROUND_TRIP
@given(ids, ids, st.text(max_size=80), st.integers(0, INT64_MAX), st.none() | st.booleans())
def test_signaling_handshake_req_carries_its_arguments_as_plain_json(
    meeting_uuid: str, stream_id: str, signature: str, sequence: int, buffer_data: bool | None
) -> None:
    message = signaling_handshake_req(meeting_uuid, stream_id, signature, sequence, buffer_data)
    _assert_plain_json(message)
    assert json.loads(json.dumps(message)) == message
    assert (message["msg_type"], message["protocol_version"]) == (1, 1)
    assert (message["meeting_uuid"], message["rtms_stream_id"]) == (meeting_uuid, stream_id)
    assert (message["signature"], message["sequence"]) == (signature, sequence)
    assert message.get("buffer_data") is buffer_data
    assert ("buffer_data" in message) == (buffer_data is not None)


@ROUND_TRIP
@given(
    ids,
    ids,
    st.integers(0, INT64_MAX),
    st.lists(st.sampled_from(list(MediaType)), min_size=1, max_size=4),
    st.none() | plain_objects,
)
def test_media_handshake_req_sends_media_type_as_a_plain_int(
    meeting_uuid: str, stream_id: str, sequence: int, flags: list[MediaType], params: dict[str, Any] | None
) -> None:
    media_type = reduce(lambda a, b: a | b, flags)
    message = media_handshake_req(meeting_uuid, stream_id, "sig", sequence, media_type, params)
    _assert_plain_json(message)
    assert message["msg_type"] == 3 and message["media_type"] == int(media_type)
    assert message["media_params"] == params
    assert params is None or message["media_params"] is not params  # a copy, not the caller's dict


_AUTOMATIC = (EventType.UNDEFINED, EventType.FIRST_PACKET_TIMESTAMP, EventType.MEDIA_CONNECTION_INTERRUPTED)
_SUBSCRIBABLE = [e for e in EventType if e not in _AUTOMATIC]


@ROUND_TRIP
@given(st.lists(st.sampled_from(_SUBSCRIBABLE), max_size=12), st.booleans())
def test_event_subscription_lists_each_event_once_in_first_seen_order(
    events: list[EventType], subscribe: bool
) -> None:
    message = event_subscription(events, subscribe)
    _assert_plain_json(message)
    assert message["msg_type"] == 5
    once_each = dict.fromkeys(events)
    assert message["events"] == [{"event_type": int(e), "subscribe": subscribe} for e in once_each]


@ROUND_TRIP
@given(ids)
def test_client_ready_ack_and_stream_close_req_carry_the_stream_id(stream_id: str) -> None:
    for build, msg_type in ((client_ready_ack, 7), (stream_close_req, 21)):
        message = build(stream_id)
        _assert_plain_json(message)
        assert message == {"msg_type": msg_type, "rtms_stream_id": stream_id}


# --- every field of known-good messages replaced by each known-bad value ------------------------------
# Exhaustive rather than sampled, so these combinations are tried on every run.

_MEETING_UUID = "4444AAAiAAAAAiAiAiiAii=="
_STREAM_ID = "609340fb2a7946909659956c8aa9250c"
_MEETING_OBJECT: dict[str, Any] = {
    "id": "1234567890",
    "uuid": _MEETING_UUID,
    "host_id": "z8yAAAAA8bbbQ",
    "topic": "My Meeting",
    "type": 8,
    "start_time": "2021-07-13T21:44:51Z",
    "timezone": "America/Los_Angeles",
    "duration": 60,
}
_VALID_EVENTS: list[dict[str, Any]] = [
    {
        "event": "meeting.started",
        "event_ts": 1626230691572,
        "payload": {
            "account_id": "AAAAAABBBB",
            "object": {
                **_MEETING_OBJECT,
                "tracking_fields": [{"field": "f", "value": "v"}],
                "host_email": "h@example.com",
            },
        },
    },
    {
        "event": "meeting.ended",
        "event_ts": 1626230691572,
        "payload": {
            "account_id": "AAAAAABBBB",
            "object": {**_MEETING_OBJECT, "end_time": "2021-07-13T22:44:51Z"},
        },
    },
    {
        "event": "meeting.rtms_started",
        "event_ts": 1626230691572,
        "payload": {
            "meeting_uuid": _MEETING_UUID,
            "operator_id": "30R7kT7bTIKSNUFEuH_Qlg",
            "rtms_stream_id": _STREAM_ID,
            "server_urls": "wss://127.0.0.1:443",
            "account_id": "a",
            "meeting_id": 5,
        },
    },
    {
        "event": "meeting.rtms_stopped",
        "event_ts": 1626230699999,
        "payload": {"meeting_uuid": _MEETING_UUID, "rtms_stream_id": _STREAM_ID, "stop_reason": 6},
    },
    {
        "event": "rtms.concurrency_limited",
        "event_ts": 1,
        "payload": {"operator_id": "o", "concurrency_number": 1, "id_field": {"meeting_uuid": "m"}},
    },
    {"event": "endpoint.url_validation", "event_ts": 1, "payload": {"plainToken": "t"}},
]


@pytest.mark.parametrize("valid", _VALID_EVENTS, ids=lambda body: str(body["event"]))
def test_parse_event_raises_only_protocol_error_when_any_field_is_replaced_by_junk(
    valid: dict[str, Any],
) -> None:
    assert _parse_or_refuse(parse_event, valid, ZoomEvent) is not None  # the seed itself is valid
    for path in _paths(valid):
        for junk in _JUNK:
            _parse_or_refuse(parse_event, _replace(valid, path, junk), ZoomEvent)


_VALID_RTMS: list[dict[str, Any]] = [
    {"msg_type": 2, "status_code": 0, "reason": "", "media_server": {"server_urls": {"audio": "wss://a"}}},
    {"msg_type": 4, "status_code": 0, "media_params": {"audio": {"codec": 1}}},
    {"msg_type": 8, "state": 4, "reason": 6, "timestamp": 1},
    {"msg_type": 9, "state": 5, "stop_reason": 1, "timestamp": 1, "rtms_session_id": "s"},
    {"msg_type": 6, "event": {"event_type": 3, "participants": [{"user_id": 1, "user_name": "n"}]}},
    {"msg_type": 12, "timestamp": 1, "sequence": 2},
    {
        "msg_type": 17,
        "content": {
            "user_id": 1,
            "user_name": "n",
            "data": "t",
            "timestamp": 1,
            "start_time": 1,
            "end_time": 2,
            "language": 9,
        },
    },
    {"msg_type": 14, "content": {"user_id": 1, "user_name": "n", "data": "AAAA", "timestamp": 1}},
    {"msg_type": 22, "rtms_stream_id": "s", "status_code": 0, "reason": "OK", "timestamp": 1},
]


@pytest.mark.parametrize("valid", _VALID_RTMS, ids=lambda m: f"msg_type-{m['msg_type']}")
def test_parse_rtms_message_raises_only_protocol_error_when_any_field_is_replaced_by_junk(
    valid: dict[str, Any],
) -> None:
    assert _parse_or_refuse(parse_rtms_message, valid, RtmsMessage) is not None
    for path in _paths(valid):
        for junk in _JUNK:
            _parse_or_refuse(parse_rtms_message, _replace(valid, path, junk), RtmsMessage)
