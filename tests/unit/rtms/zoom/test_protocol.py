"""Tests for rtms.zoom.protocol: enumerations (§2.2, §2.4), events (§4.6), dedupe keys (§4.5),
event-WebSocket frames (§5) and RTMS socket messages (§2.3) of zoom-protocol.md. Properties under
hostile input, and round trips, are in test_protocol_properties.py."""

from __future__ import annotations

import base64
import copy
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from rtms.zoom.protocol import (
    AudioChannel,
    AudioData,
    BuildConnection,
    Codec,
    ConcurrencyLimited,
    ContentType,
    DataHandshakeResp,
    DataOption,
    EventType,
    EventUpdate,
    Heartbeat,
    KeepAliveReq,
    MediaType,
    MeetingEnded,
    MeetingStarted,
    MessageType,
    ProtocolError,
    RtmsInterrupted,
    RtmsStarted,
    RtmsStopped,
    SampleRate,
    SessionState,
    SessionStateUpdate,
    SignalingHandshakeResp,
    StatusCode,
    StopReason,
    StreamCloseResp,
    StreamStateUpdate,
    TrackingField,
    TranscriptData,
    TranscriptLanguage,
    UnknownEvent,
    UnknownFrame,
    UnknownMessage,
    UrlValidation,
    WsMessage,
    ZoomStreamState,
    client_ready_ack,
    data_centre_hint,
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

MEETING_UUID = "4444AAAiAAAAAiAiAiiAii=="
STREAM_ID = "609340fb2a7946909659956c8aa9250c"


def meeting_started(**object_overrides: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "id": "1234567890",
        "uuid": MEETING_UUID,
        "host_id": "z8yAAAAA8bbbQ",
        "topic": "My Meeting",
        "type": 8,
        "start_time": "2021-07-13T21:44:51Z",
        "timezone": "America/Los_Angeles",
        "duration": 60,
    }
    obj.update(object_overrides)
    return {
        "event": "meeting.started",
        "event_ts": 1626230691572,
        "payload": {"account_id": "AAAAAABBBB", "object": obj},
    }


def rtms_started(**payload_overrides: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "meeting_uuid": MEETING_UUID,
        "operator_id": "30R7kT7bTIKSNUFEuH_Qlg",
        "rtms_stream_id": STREAM_ID,
        "server_urls": "wss://127.0.0.1:443",
    }
    payload.update(payload_overrides)
    return {"event": "meeting.rtms_started", "event_ts": 1626230691572, "payload": payload}


def rtms_stopped(stop_reason: Any = 1) -> dict[str, Any]:
    return {
        "event": "meeting.rtms_stopped",
        "event_ts": 1626230699999,
        "payload": {"meeting_uuid": MEETING_UUID, "rtms_stream_id": STREAM_ID, "stop_reason": stop_reason},
    }


# --- enumerations (§2.2, §2.4) -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("enum_cls", "lo", "hi"),
    [
        (MessageType, 0, 29),
        (StatusCode, 0, 45),
        (StopReason, 0, 26),
        (ZoomStreamState, 0, 6),
        (SessionState, 0, 5),
        (EventType, 0, 14),
        (TranscriptLanguage, -1, 36),
        (ContentType, 0, 5),
        (Codec, 0, 7),
        (SampleRate, 0, 3),
        (DataOption, 0, 5),
    ],
)
def test_enum_values_are_contiguous_when_compared_with_the_doc_tables(
    enum_cls: Any, lo: int, hi: int
) -> None:
    assert sorted(int(m) for m in enum_cls) == list(range(lo, hi + 1))


def test_enum_names_match_the_doc_when_spot_checked() -> None:
    assert int(MessageType.CLIENT_READY_ACK) == 7
    assert int(MessageType.KEEP_ALIVE_REQ) == 12 and int(MessageType.KEEP_ALIVE_RESP) == 13
    assert int(MessageType.MEDIA_DATA_TRANSCRIPT) == 17 and int(MessageType.VIDEO_SUBSCRIPTION_RESP) == 29
    assert int(StatusCode.INVALID_SIGNATURE) == 3 and int(StatusCode.DUPLICATE_SIGNAL_REQUEST) == 8
    assert int(StatusCode.INTERNAL_EXCEPTION) == 45
    assert int(StopReason.MEETING_ENDED) == 6 and int(StopReason.STREAM_REVOKED) == 8
    assert int(StopReason.AUTHENTICATION_FAILURE) == 18 and int(StopReason.KEEP_ALIVE_TIMEOUT) == 24
    assert int(ZoomStreamState.TERMINATED) == 4 and int(SessionState.STOPPED) == 5
    assert int(EventType.MEDIA_CONNECTION_INTERRUPTED) == 7
    assert int(TranscriptLanguage.NONE) == -1 and int(TranscriptLanguage.ENGLISH) == 9
    assert int(TranscriptLanguage.VIETNAMESE) == 36
    assert int(Codec.OPUS) == 4 and int(Codec.H264) == 7 and int(SampleRate.SR_16K) == 1
    assert int(AudioChannel.MONO) == 1 and int(AudioChannel.STEREO) == 2


def test_media_type_all_is_its_own_flag_when_combined() -> None:
    assert [int(m) for m in (MediaType.AUDIO, MediaType.VIDEO, MediaType.DESKSHARE)] == [1, 2, 4]
    assert [int(m) for m in (MediaType.TRANSCRIPT, MediaType.CHAT, MediaType.ALL)] == [8, 16, 32]
    assert int(MediaType.AUDIO | MediaType.TRANSCRIPT) == 9
    everything_but_all = MediaType.AUDIO | MediaType.VIDEO | MediaType.DESKSHARE | MediaType.TRANSCRIPT
    assert int(everything_but_all | MediaType.CHAT) == 31 != int(MediaType.ALL)


# --- parse_event (§4.6) --------------------------------------------------------------------------


def test_parse_event_returns_meeting_started_when_id_is_a_string() -> None:
    event = parse_event(meeting_started())
    assert event == MeetingStarted(
        event="meeting.started",
        event_ts=1626230691572,
        account_id="AAAAAABBBB",
        meeting_uuid=MEETING_UUID,
        meeting_id=1234567890,
        host_id="z8yAAAAA8bbbQ",
        host_email=None,
        topic="My Meeting",
        start_time=datetime(2021, 7, 13, 21, 44, 51, tzinfo=UTC),
    )


def test_parse_event_accepts_integer_meeting_id_and_optional_fields() -> None:
    body = meeting_started(
        id=85746065432,
        host_email="host@example.com",
        start_time="2021-07-13T23:44:51+02:00",
        tracking_fields=[{"field": "region", "value": "eu"}, {"field": "cost-centre"}],
    )
    event = parse_event(body)
    assert isinstance(event, MeetingStarted)
    assert event.meeting_id == 85746065432
    assert event.host_email == "host@example.com"
    assert event.start_time == datetime(2021, 7, 13, 21, 44, 51, tzinfo=UTC)
    assert event.start_time is not None and event.start_time.utcoffset() is not None
    assert event.tracking_fields == (TrackingField("region", "eu"), TrackingField("cost-centre", ""))


def test_meeting_event_without_tracking_fields_says_unknown_not_empty() -> None:
    event = parse_event(meeting_started())
    assert isinstance(event, MeetingStarted)
    assert event.tracking_fields is None


def test_meeting_started_repr_leaves_out_personal_data() -> None:
    event = parse_event(meeting_started(host_email="host@example.com", topic="Salary talk"))
    assert "host@example.com" not in repr(event) and "Salary" not in repr(event)
    assert MEETING_UUID in repr(event)


def test_parse_event_reads_naive_start_time_as_utc() -> None:
    event = parse_event(meeting_started(start_time="2021-07-13T21:44:51"))
    assert isinstance(event, MeetingStarted)
    assert event.start_time == datetime(2021, 7, 13, 21, 44, 51, tzinfo=UTC)


def test_parse_event_tolerates_missing_topic_and_start_time() -> None:
    body = meeting_started()
    del body["payload"]["object"]["topic"]
    del body["payload"]["object"]["start_time"]
    event = parse_event(body)
    assert isinstance(event, MeetingStarted)
    assert event.topic == "" and event.start_time is None


def test_parse_event_returns_meeting_ended_with_end_time() -> None:
    body = meeting_started(end_time="2021-07-13T22:44:51Z")
    body["event"] = "meeting.ended"
    event = parse_event(body)
    assert isinstance(event, MeetingEnded)
    assert event.end_time == datetime(2021, 7, 13, 22, 44, 51, tzinfo=UTC)
    assert event.meeting_uuid == MEETING_UUID


def test_parse_event_returns_rtms_started_when_payload_is_flat() -> None:
    event = parse_event(rtms_started())
    assert event == RtmsStarted(
        event="meeting.rtms_started",
        event_ts=1626230691572,
        meeting_uuid=MEETING_UUID,
        rtms_stream_id=STREAM_ID,
        server_urls=("wss://127.0.0.1:443",),
        operator_id="30R7kT7bTIKSNUFEuH_Qlg",
    )
    assert isinstance(event, RtmsStarted)
    assert event.product == "meeting" and event.account_id is None and event.meeting_id is None


def test_parse_event_splits_server_urls_when_several_are_comma_separated() -> None:
    body = rtms_started(server_urls=" wss://rtms-sjc1.zoom.us/a , ,udp://rtms-sjc1.zoom.us:8801,")
    event = parse_event(body)
    assert isinstance(event, RtmsStarted)
    assert event.server_urls == ("wss://rtms-sjc1.zoom.us/a", "udp://rtms-sjc1.zoom.us:8801")


def test_parse_event_reads_may_2026_fields_when_present() -> None:
    event = parse_event(rtms_started(account_id="acc1", meeting_id=85746065432, is_original_host=True))
    assert isinstance(event, RtmsStarted)
    assert event.account_id == "acc1" and event.meeting_id == 85746065432
    event = parse_event(rtms_started(meeting_id="85746065432", account_id=None))
    assert isinstance(event, RtmsStarted) and event.meeting_id == 85746065432 and event.account_id is None


def test_parse_event_maps_webinar_rtms_events_to_the_same_classes_with_product() -> None:
    started = {
        "event": "webinar.rtms_started",
        "event_ts": 1,
        "payload": {
            "webinar_uuid": "WEB/uuid+==",
            "operator_id": "op",
            "rtms_stream_id": "s1",
            "server_urls": "wss://x",
            "webinar_id": 999,
        },
    }
    event = parse_event(started)
    assert isinstance(event, RtmsStarted)
    assert (event.product, event.meeting_uuid, event.meeting_id) == ("webinar", "WEB/uuid+==", 999)

    stopped = {
        "event": "webinar.rtms_stopped",
        "event_ts": 2,
        "payload": {"webinar_uuid": "W", "rtms_stream_id": "s1", "stop_reason": 6},
    }
    assert parse_event(stopped) == RtmsStopped(
        "webinar.rtms_stopped", 2, "W", "s1", StopReason.MEETING_ENDED, "webinar"
    )


def test_parse_event_rejects_webinar_event_when_it_only_has_meeting_uuid() -> None:
    body = rtms_started()
    body["event"] = "webinar.rtms_started"
    with pytest.raises(ProtocolError, match="webinar_uuid"):
        parse_event(body)


@pytest.mark.parametrize(
    "name",
    [
        "session.rtms_started",
        "contact_center.voice_rtms_started",
        "webinar.started",
        "meeting.participant_joined",
    ],
)
def test_parse_event_returns_unknown_event_when_name_is_not_handled(name: str) -> None:
    body = {"event": name, "event_ts": 5, "payload": {"anything": [1, {"x": None}]}}
    assert parse_event(body) == UnknownEvent(event=name, event_ts=5)


def test_parse_event_returns_unknown_event_when_payload_is_absent() -> None:
    assert parse_event({"event": "future.thing", "event_ts": 5}) == UnknownEvent("future.thing", 5)


def test_parse_event_keeps_stop_reason_as_enum_when_known_and_int_when_not() -> None:
    known = parse_event(rtms_stopped(13))
    assert isinstance(known, RtmsStopped)
    assert known.stop_reason is StopReason.SIGNAL_CONNECTION_INTERRUPTED
    unknown = parse_event(rtms_stopped(77))
    assert isinstance(unknown, RtmsStopped)
    assert unknown.stop_reason == 77 and not isinstance(unknown.stop_reason, StopReason)


def test_parse_event_returns_rtms_interrupted() -> None:
    body = {
        "event": "meeting.rtms_interrupted",
        "event_ts": 3,
        "payload": {"meeting_uuid": MEETING_UUID, "rtms_stream_id": STREAM_ID},
    }
    assert parse_event(body) == RtmsInterrupted("meeting.rtms_interrupted", 3, MEETING_UUID, STREAM_ID)


def test_parse_event_returns_concurrency_limited_for_both_event_names() -> None:
    body = {
        "event": "rtms.concurrency_limited",
        "event_ts": 4,
        "payload": {"operator_id": "op", "concurrency_number": 2001, "id_field": {"meeting_uuid": "m=="}},
    }
    assert parse_event(body) == ConcurrencyLimited(
        "rtms.concurrency_limited", 4, "op", 2001, {"meeting_uuid": "m=="}
    )
    body = {
        "event": "meeting.rtms_concurrency_limited",
        "event_ts": 4,
        "payload": {"operator_id": "op", "concurrency_number": 2001, "meeting_uuid": "m=="},
    }
    event = parse_event(body)
    assert isinstance(event, ConcurrencyLimited) and event.id_field == {"meeting_uuid": "m=="}


def test_parse_event_returns_url_validation() -> None:
    body = {
        "payload": {"plainToken": "qgg8vlvZRS6UYooatFL8Aw"},
        "event_ts": 1654503849680,
        "event": "endpoint.url_validation",
    }
    assert parse_event(body) == UrlValidation(
        "endpoint.url_validation", 1654503849680, "qgg8vlvZRS6UYooatFL8Aw"
    )


def _set(body: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    body = copy.deepcopy(body)
    *parents, leaf = path.split(".")
    target = body
    for key in parents:
        target = target[key]
    if value is _DELETE:
        del target[leaf]
    else:
        target[leaf] = value
    return body


_DELETE = object()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (None, "body"),
        ([], "body"),
        ("meeting.started", "body"),
        ({}, "body.event"),
        ({"event": 7, "event_ts": 1}, "body.event"),
        ({"event": "", "event_ts": 1}, "body.event"),
        ({"event": "x" * 129, "event_ts": 1}, "body.event"),
        ({"event": "bad\nname", "event_ts": 1}, "body.event"),
        ({"event": "x"}, "body.event_ts"),
        ({"event": "x", "event_ts": "1626230691572"}, "body.event_ts"),
        ({"event": "x", "event_ts": True}, "body.event_ts"),
        ({"event": "x", "event_ts": 1.5}, "body.event_ts"),
        ({"event": "x", "event_ts": -1}, "body.event_ts"),
        ({"event": "x", "event_ts": 2**64}, "body.event_ts"),
        ({"event": "meeting.started", "event_ts": 1}, "body.payload"),
        ({"event": "meeting.started", "event_ts": 1, "payload": []}, "body.payload"),
        (_set(meeting_started(), "payload.object", "x"), "payload.object"),
        (_set(meeting_started(), "payload.account_id", _DELETE), "payload.account_id"),
        (_set(meeting_started(), "payload.object.uuid", _DELETE), "payload.object.uuid"),
        (_set(meeting_started(), "payload.object.uuid", ""), "payload.object.uuid"),
        (_set(meeting_started(), "payload.object.uuid", "a" * 257), "payload.object.uuid"),
        (_set(meeting_started(), "payload.object.uuid", "a\x00b"), "payload.object.uuid"),
        (_set(meeting_started(), "payload.object.uuid", ["x"]), "payload.object.uuid"),
        (_set(meeting_started(), "payload.object.id", _DELETE), "payload.object.id"),
        (_set(meeting_started(), "payload.object.id", True), "payload.object.id"),
        (_set(meeting_started(), "payload.object.id", 12.0), "payload.object.id"),
        (_set(meeting_started(), "payload.object.id", "12a"), "payload.object.id"),
        (_set(meeting_started(), "payload.object.id", "-12"), "payload.object.id"),
        (_set(meeting_started(), "payload.object.id", "１２"), "payload.object.id"),
        (_set(meeting_started(), "payload.object.id", "9" * 20), "payload.object.id"),
        (_set(meeting_started(), "payload.object.id", 0), "payload.object.id"),
        (_set(meeting_started(), "payload.object.id", 2**63), "payload.object.id"),
        (_set(meeting_started(), "payload.object.host_id", None), "payload.object.host_id"),
        (_set(meeting_started(), "payload.object.host_email", 5), "payload.object.host_email"),
        (_set(meeting_started(), "payload.object.topic", "t" * 5000), "payload.object.topic"),
        (_set(meeting_started(), "payload.object.topic", "caf\udce9"), "payload.object.topic"),
        (_set(meeting_started(), "payload.object.topic", "a\x00b"), "payload.object.topic"),
        (_set(meeting_started(), "payload.object.start_time", "yesterday"), "payload.object.start_time"),
        (_set(meeting_started(), "payload.object.start_time", 1626230691), "payload.object.start_time"),
        (_set(meeting_started(), "payload.object.start_time", "0001-01-01T00:00:00+01:00"), "start_time"),
        (_set(meeting_started(), "payload.object.start_time", "9999-12-31T23:59:59-01:00"), "start_time"),
        (
            _set(meeting_started(), "payload.object.tracking_fields", {"a": 1}),
            "payload.object.tracking_fields",
        ),
        (_set(meeting_started(), "payload.object.tracking_fields", [1]), "payload.object.tracking_fields[0]"),
        (_set(meeting_started(), "payload.object.tracking_fields", [{}]), "tracking_fields[0].field"),
        (_set(rtms_started(), "payload.rtms_stream_id", _DELETE), "payload.rtms_stream_id"),
        (_set(rtms_started(), "payload.meeting_uuid", 12), "payload.meeting_uuid"),
        (_set(rtms_started(), "payload.operator_id", _DELETE), "payload.operator_id"),
        (_set(rtms_started(), "payload.server_urls", _DELETE), "payload.server_urls"),
        (_set(rtms_started(), "payload.server_urls", ["wss://a"]), "payload.server_urls"),
        (_set(rtms_started(), "payload.server_urls", " , ,"), "payload.server_urls"),
        (_set(rtms_started(), "payload.server_urls", "wss://a b"), "payload.server_urls"),
        (_set(rtms_started(), "payload.server_urls", "wss://" + "a" * 9000), "payload.server_urls"),
        (_set(rtms_started(), "payload.meeting_id", "abc"), "payload.meeting_id"),
        (_set(rtms_started(), "payload.account_id", 5), "payload.account_id"),
        (rtms_stopped(None), "payload.stop_reason"),
        (rtms_stopped("1"), "payload.stop_reason"),
        (rtms_stopped(False), "payload.stop_reason"),
        (rtms_stopped(2**40), "payload.stop_reason"),
        ({"event": "endpoint.url_validation", "event_ts": 1, "payload": {}}, "payload.plainToken"),
        (
            {"event": "endpoint.url_validation", "event_ts": 1, "payload": {"plainToken": ""}},
            "payload.plainToken",
        ),
        (
            {"event": "rtms.concurrency_limited", "event_ts": 1, "payload": {"operator_id": "o"}},
            "concurrency_number",
        ),
        (
            {
                "event": "rtms.concurrency_limited",
                "event_ts": 1,
                "payload": {"operator_id": "o", "concurrency_number": 1, "id_field": {"meeting_uuid": 3}},
            },
            "payload.id_field[0]",  # by position: a key is the sender's text, never echoed
        ),
    ],
)
def test_parse_event_raises_protocol_error_naming_the_field_when_malformed(body: Any, field: str) -> None:
    with pytest.raises(ProtocolError) as excinfo:
        parse_event(body)
    assert field in str(excinfo.value)


def test_parse_event_error_message_does_not_echo_the_value() -> None:
    with pytest.raises(ProtocolError) as excinfo:
        parse_event(_set(meeting_started(), "payload.object.host_email", ["secret@example.com"]))
    assert "secret@example.com" not in str(excinfo.value)


def test_dedupe_key_raises_protocol_error_when_payload_nesting_is_absurdly_deep() -> None:
    deep: Any = "x"
    for _ in range(100_000):
        deep = [deep]
    body = {"event": "future.event", "event_ts": 1, "payload": deep}
    event = parse_event(body)  # unknown events are not walked
    with pytest.raises(ProtocolError):
        dedupe_key(event, body)


# --- dedupe keys (§4.5) --------------------------------------------------------------------------


def test_dedupe_key_uses_stream_and_event_ts_when_event_is_rtms() -> None:
    body = rtms_started()
    assert dedupe_key(parse_event(body), body) == f"meeting.rtms_started:{STREAM_ID}:1626230691572"
    body = rtms_stopped()
    assert dedupe_key(parse_event(body), body) == f"meeting.rtms_stopped:{STREAM_ID}:1626230699999"


def test_dedupe_key_uses_meeting_uuid_and_event_ts_when_event_is_a_meeting_event() -> None:
    body = meeting_started()
    assert dedupe_key(parse_event(body), body) == f"meeting.started:{MEETING_UUID}:1626230691572"


def test_dedupe_key_differs_when_rtms_started_is_a_failover_of_the_same_stream() -> None:
    first = rtms_started()
    failover = rtms_started(server_urls="wss://rtms-fra1.zoom.us")
    failover["event_ts"] += 15_000
    assert dedupe_key(parse_event(first), first) != dedupe_key(parse_event(failover), failover)


def test_dedupe_key_is_equal_when_the_same_event_arrives_over_webhook_and_websocket() -> None:
    webhook_raw = b'{"event":"meeting.rtms_started","event_ts":5,"payload":{"meeting_uuid":"m","operator_id":"o","rtms_stream_id":"s","server_urls":"wss://a"}}'
    ws_frame = json.dumps({"module": "message", "content": webhook_raw.decode()})
    via_webhook = json.loads(webhook_raw)
    frame = parse_ws_frame(ws_frame)
    assert isinstance(frame, WsMessage)
    assert dedupe_key(parse_event(via_webhook), via_webhook) == dedupe_key(
        parse_event(frame.event_body), frame.event_body
    )


def test_dedupe_key_hashes_canonical_payload_when_event_has_no_natural_id() -> None:
    a = {"event": "meeting.participant_joined", "event_ts": 9, "payload": {"b": 1, "a": [1, "é"]}}
    b = json.loads(
        '{"payload": {"a": [1, "\\u00e9"], "b": 1}, "event_ts": 9, "event": "meeting.participant_joined"}'
    )
    c = {"event": "meeting.participant_joined", "event_ts": 9, "payload": {"b": 2, "a": [1, "é"]}}
    key_a = dedupe_key(parse_event(a), a)
    assert key_a == dedupe_key(parse_event(b), b)
    assert key_a != dedupe_key(parse_event(c), c)
    assert key_a.startswith("meeting.participant_joined:9:") and len(key_a) <= 255


def test_dedupe_key_is_stable_across_runs_when_hashed() -> None:
    body = {"event": "endpoint.url_validation", "event_ts": 1, "payload": {"plainToken": "t"}}
    # sha256('["endpoint.url_validation",1,{"plainToken":"t"}]'), pinned so a change of the canonical
    # form, which would re-admit old duplicates, is noticed.
    expected = (
        "endpoint.url_validation:1:"
        + __import__("hashlib").sha256(b'["endpoint.url_validation",1,{"plainToken":"t"}]').hexdigest()
    )
    assert dedupe_key(parse_event(body), body) == expected


def test_dedupe_key_is_bounded_when_ids_and_names_are_long() -> None:
    # Ids are bounded by their columns now (issue #19), so the longest RTMS key fits unhashed...
    longest = rtms_started(rtms_stream_id="s" * 64, meeting_uuid="u" * 128)
    key = dedupe_key(parse_event(longest), longest)
    assert len(key) <= 255 and key == f"meeting.rtms_started:{'s' * 64}:{longest['event_ts']}"
    # ...and a longer id is no Zoom id: refused, never keyed.
    with pytest.raises(ProtocolError) as refused:
        parse_event(rtms_started(rtms_stream_id="s" * 65))
    assert refused.value.reason == "field_too_long"
    unknown = {"event": "e" * 128, "event_ts": 2**63 - 1, "payload": {"x": "y" * 10_000}}
    assert len(dedupe_key(parse_event(unknown), unknown)) <= 255


# --- data-centre hint (§2.1) ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("urls", "expected"),
    [
        (["wss://rtms-sjc1.zoom.us/signaling"], "sjc1"),
        (["wss://RTMS-FRA1.zoom.us"], "fra1"),
        (["ws://127.0.0.1:9000/rtms-fra1/2/signaling"], "fra1"),
        (["wss://127.0.0.1:443"], None),
        (["wss://zoom.us/xrtms-ams1"], None),
        (["junk", "wss://rtms-ams2.zoom.us"], "ams2"),
        ([], None),
        (["http://[::1"], None),
        (["wss://[::1]:443/rtms-iad1"], "iad1"),
        (["\x00\udcff🙂"], None),
        ("wss://rtms-sjc1.zoom.us", "sjc1"),
        ([None, 5, b"wss://rtms-sjc1.zoom.us"], None),
        (["wss://rtms-" + "a" * 5000 + ".zoom.us"], None),
    ],
)
def test_data_centre_hint_extracts_code_when_present_and_none_otherwise(
    urls: Any, expected: str | None
) -> None:
    assert data_centre_hint(urls) == expected


# --- event-subscription WebSocket frames (§5) ----------------------------------------------------


def test_parse_ws_frame_recognises_each_module() -> None:
    assert parse_ws_frame('{"module":"build_connection","success":true,"content":"ok"}') == BuildConnection(
        True, "ok"
    )
    assert parse_ws_frame('{"module":"build_connection","success":false,"content":"Invalid Token"}') == (
        BuildConnection(False, "Invalid Token")
    )
    assert parse_ws_frame('{"module":"heartbeat","success":true}') == Heartbeat()
    inner = {"event": "meeting.started", "event_ts": 1, "payload": {}}
    assert parse_ws_frame(json.dumps({"module": "message", "content": json.dumps(inner)})) == WsMessage(inner)
    assert parse_ws_frame(json.dumps({"module": "message", "content": inner})) == WsMessage(inner)
    unknown = parse_ws_frame('{"module":"something_new","x":1}')
    assert isinstance(unknown, UnknownFrame) and unknown.module == "something_new"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "not json",
        "[1,2]",
        "null",
        '{"module": 5}',
        '{"no_module": 1}',
        '{"module":"build_connection"}',
        '{"module":"build_connection","success":"true"}',
        '{"module":"build_connection","success":true,"content":{"a":1}}',
        '{"module":"message"}',
        '{"module":"message","content":"not json"}',
        '{"module":"message","content":"[1]"}',
        '{"module":"message","content":5}',
        "[" * 100_000,
        '{"module":"heartbeat","n":' + "9" * 5000 + "}",
    ],
)
def test_parse_ws_frame_raises_protocol_error_when_frame_is_malformed(text: str) -> None:
    with pytest.raises(ProtocolError):
        parse_ws_frame(text)


def test_heartbeat_frame_is_the_documented_json() -> None:
    assert json.loads(heartbeat_frame()) == {"module": "heartbeat"}


# --- RTMS socket messages: builders (§2.3) -------------------------------------------------------


def test_signaling_handshake_req_has_documented_shape() -> None:
    message = signaling_handshake_req(MEETING_UUID, STREAM_ID, "sig", 1, buffer_data=False)
    assert message == {
        "msg_type": 1,
        "protocol_version": 1,
        "sequence": 1,
        "meeting_uuid": MEETING_UUID,
        "rtms_stream_id": STREAM_ID,
        "signature": "sig",
        "buffer_data": False,
    }
    assert "buffer_data" not in signaling_handshake_req(MEETING_UUID, STREAM_ID, "sig", 1, None)
    assert json.dumps(message)  # plain JSON types only


def test_media_handshake_req_sends_plain_ints_and_null_params() -> None:
    message = media_handshake_req(
        MEETING_UUID, STREAM_ID, "sig", 2, MediaType.AUDIO | MediaType.TRANSCRIPT, None
    )
    assert message["msg_type"] == 3 and message["media_type"] == 9 and message["media_params"] is None
    assert type(message["media_type"]) is int
    params = {
        "audio": {
            "content_type": 2,
            "sample_rate": 1,
            "channel": 1,
            "codec": 1,
            "data_opt": 1,
            "send_rate": 20,
        }
    }
    encoded = json.loads(json.dumps(media_handshake_req("m", "s", "sig", 3, MediaType.AUDIO, params)))
    assert encoded["media_params"] == params and encoded["signature"] == "sig"


def test_client_ready_ack_and_stream_close_req_have_documented_shape() -> None:
    assert client_ready_ack(STREAM_ID) == {"msg_type": 7, "rtms_stream_id": STREAM_ID}
    assert stream_close_req(STREAM_ID) == {"msg_type": 21, "rtms_stream_id": STREAM_ID}


def test_keep_alive_resp_echoes_timestamp_and_sequence_when_present() -> None:
    assert keep_alive_resp({"msg_type": 12, "timestamp": 1727384349123, "sequence": 7}) == {
        "msg_type": 13,
        "timestamp": 1727384349123,
        "sequence": 7,
    }
    assert keep_alive_resp({"msg_type": 12, "timestamp": 5}) == {"msg_type": 13, "timestamp": 5}
    assert keep_alive_resp({"msg_type": 12, "timestamp": [1], "sequence": True}) == {"msg_type": 13}
    assert keep_alive_resp(KeepAliveReq(timestamp=5, sequence=None)) == {"msg_type": 13, "timestamp": 5}
    assert keep_alive_resp(KeepAliveReq(timestamp=5, sequence=2)) == {
        "msg_type": 13,
        "timestamp": 5,
        "sequence": 2,
    }


def test_event_subscription_lists_each_event_once() -> None:
    message = event_subscription(
        [EventType.ACTIVE_SPEAKER_CHANGE, EventType.PARTICIPANT_JOIN, EventType.PARTICIPANT_JOIN]
    )
    assert message == {
        "msg_type": 5,
        "events": [{"event_type": 2, "subscribe": True}, {"event_type": 3, "subscribe": True}],
    }
    assert event_subscription([EventType.PARTICIPANT_LEAVE], subscribe=False)["events"] == [
        {"event_type": 4, "subscribe": False}
    ]


@pytest.mark.parametrize(
    "event_type",
    [EventType.FIRST_PACKET_TIMESTAMP, EventType.MEDIA_CONNECTION_INTERRUPTED, EventType.UNDEFINED],
)
def test_event_subscription_refuses_automatic_events(event_type: EventType) -> None:
    with pytest.raises(ValueError, match=event_type.name):
        event_subscription([event_type])


# --- RTMS socket messages: parsing (§2.3) --------------------------------------------------------


def test_parse_rtms_message_reads_signaling_handshake_resp() -> None:
    message = parse_rtms_message(
        {
            "msg_type": 2,
            "protocol_version": 1,
            "sequence": 0,
            "status_code": 0,
            "reason": "",
            "media_server": {
                "server_urls": {"audio": "wss://a", "transcript": "wss://t", "all": "wss://all"}
            },
        }
    )
    assert message == SignalingHandshakeResp(
        StatusCode.OK, "", {"audio": "wss://a", "transcript": "wss://t", "all": "wss://all"}
    )
    assert isinstance(message, SignalingHandshakeResp) and message.ok


def test_parse_rtms_message_reads_failed_handshake_without_media_server() -> None:
    message = parse_rtms_message({"msg_type": 2, "status_code": 8, "reason": "duplicate signal request"})
    assert message == SignalingHandshakeResp(
        StatusCode.DUPLICATE_SIGNAL_REQUEST, "duplicate signal request", {}
    )
    assert isinstance(message, SignalingHandshakeResp) and not message.ok
    odd = parse_rtms_message({"msg_type": 2, "status_code": 99})
    assert isinstance(odd, SignalingHandshakeResp) and odd.status_code == 99


def test_parse_rtms_message_reads_data_handshake_resp() -> None:
    params: dict[str, object] = {"transcript": {"content_type": 5, "src_language": 9, "enable_lid": True}}
    message = parse_rtms_message(
        {"msg_type": 4, "status_code": 0, "reason": "", "payload_encrypted": False, "media_params": params}
    )
    assert message == DataHandshakeResp(StatusCode.OK, "", params)
    assert parse_rtms_message({"msg_type": 4, "status_code": 0, "media_params": None}) == DataHandshakeResp(
        StatusCode.OK, "", {}
    )


def test_parse_rtms_message_reads_stream_state_update() -> None:
    message = parse_rtms_message({"msg_type": 8, "state": 4, "reason": 6, "timestamp": 1727384349123})
    assert message == StreamStateUpdate(ZoomStreamState.TERMINATED, StopReason.MEETING_ENDED, 1727384349123)
    # The events sample reads `stop_reason`; accepted as well.
    assert parse_rtms_message({"msg_type": 8, "state": 2, "stop_reason": 14}) == StreamStateUpdate(
        ZoomStreamState.INTERRUPTED, StopReason.DATA_CONNECTION_INTERRUPTED, None
    )
    assert parse_rtms_message({"msg_type": 8, "state": 1}) == StreamStateUpdate(
        ZoomStreamState.ACTIVE, None, None
    )


def test_parse_rtms_message_reads_session_state_update_with_either_reason_key() -> None:
    with_reason = {"msg_type": 9, "state": 5, "reason": 1, "timestamp": 7, "rtms_session_id": "sess"}
    with_stop_reason = {
        "msg_type": 9,
        "state": 5,
        "stop_reason": 1,
        "timestamp": 7,
        "rtms_session_id": "sess",
    }
    expected = SessionStateUpdate(SessionState.STOPPED, StopReason.HOST_TRIGGERED, "sess", 7)
    assert parse_rtms_message(with_reason) == expected
    assert parse_rtms_message(with_stop_reason) == expected
    assert parse_rtms_message({"msg_type": 9, "state": 2}) == SessionStateUpdate(
        SessionState.STARTED, None, None, None
    )


def test_parse_rtms_message_reads_event_update() -> None:
    event = {"event_type": 2, "timestamp": 1, "user_id": 22334455, "user_name": "John Smith"}
    assert parse_rtms_message({"msg_type": 6, "event": event}) == EventUpdate(
        EventType.ACTIVE_SPEAKER_CHANGE, event
    )
    zcc = parse_rtms_message({"msg_type": 6, "event": {"event_type": 29}})
    assert isinstance(zcc, EventUpdate) and zcc.event_type == 29


def test_parse_rtms_message_reads_keep_alive_req() -> None:
    assert parse_rtms_message({"msg_type": 12, "timestamp": 5, "sequence": 9}) == KeepAliveReq(5, 9)
    assert parse_rtms_message({"msg_type": 12, "timestamp": 5}) == KeepAliveReq(5, None)


def test_parse_rtms_message_reads_transcript_data() -> None:
    message = parse_rtms_message(
        {
            "msg_type": 17,
            "content": {
                "user_id": 19778240,
                "user_name": "John Smith",
                "start_time": 1727384100000,
                "end_time": 1727384310000,
                "timestamp": 1727384349000,
                "language": 9,
                "data": "Hi, hello world!",
            },
        }
    )
    assert message == TranscriptData(
        19778240, "John Smith", "Hi, hello world!", 1727384100000, 1727384310000, 1727384349000, 9
    )
    # Transcript text and names are personal data: they must stay out of reprs that end up in logs.
    assert "hello" not in repr(message) and "Smith" not in repr(message)


def test_parse_rtms_message_reads_audio_data_and_decodes_base64() -> None:
    pcm = bytes(range(256))
    message = parse_rtms_message(
        {
            "msg_type": 14,
            "content": {"user_id": 0, "data": base64.b64encode(pcm).decode(), "length": 256, "timestamp": 3},
        }
    )
    assert message == AudioData(user_id=0, user_name="", data=pcm, timestamp=3)


def test_parse_rtms_message_reads_stream_close_resp() -> None:
    message = parse_rtms_message(
        {"msg_type": 22, "rtms_stream_id": "s", "status_code": 0, "reason": "OK", "timestamp": 1}
    )
    assert message == StreamCloseResp(StatusCode.OK, "OK", "s", 1)


def test_parse_rtms_message_returns_unknown_message_for_other_types() -> None:
    message = parse_rtms_message({"msg_type": 15, "content": {"data": "…"}})
    assert isinstance(message, UnknownMessage) and message.msg_type == 15
    assert isinstance(parse_rtms_message({"msg_type": 1234}), UnknownMessage)


@pytest.mark.parametrize(
    ("obj", "field"),
    [
        (None, "msg"),
        ("{}", "msg"),
        ({}, "msg.msg_type"),
        ({"msg_type": "2"}, "msg.msg_type"),
        ({"msg_type": True}, "msg.msg_type"),
        ({"msg_type": 2}, "msg.status_code"),
        ({"msg_type": 2, "status_code": 0, "media_server": []}, "msg.media_server"),
        (
            {"msg_type": 2, "status_code": 0, "media_server": {"server_urls": {"audio": 5}}},
            "server_urls.audio",
        ),
        ({"msg_type": 4, "status_code": 0, "media_params": "x"}, "msg.media_params"),
        ({"msg_type": 8}, "msg.state"),
        ({"msg_type": 8, "state": 1, "reason": "6"}, "msg.reason"),
        ({"msg_type": 9, "state": 1, "rtms_session_id": 5}, "msg.rtms_session_id"),
        ({"msg_type": 6}, "msg.event"),
        ({"msg_type": 6, "event": {"event_type": None}}, "msg.event.event_type"),
        ({"msg_type": 12}, "msg.timestamp"),
        ({"msg_type": 12, "timestamp": 1, "sequence": "1"}, "msg.sequence"),
        ({"msg_type": 17}, "msg.content"),
        ({"msg_type": 17, "content": {"timestamp": 1, "start_time": 1, "end_time": 2}}, "msg.content.data"),
        ({"msg_type": 17, "content": {"data": "x", "timestamp": 1, "end_time": 2}}, "msg.content.start_time"),
        ({"msg_type": 17, "content": {"user_id": -1, "data": "x", "timestamp": 1}}, "msg.content.user_id"),
        ({"msg_type": 17, "content": {"user_id": 1.5, "data": "x", "timestamp": 1}}, "msg.content.user_id"),
        ({"msg_type": 14, "content": {"data": "not base64!!", "timestamp": 1}}, "msg.content.data"),
        ({"msg_type": 14, "content": {"data": "é", "timestamp": 1}}, "msg.content.data"),
        ({"msg_type": 14, "content": {"data": None, "timestamp": 1}}, "msg.content.data"),
        ({"msg_type": 14, "content": {"data": ""}}, "msg.content.timestamp"),
    ],
)
def test_parse_rtms_message_raises_protocol_error_naming_the_field_when_malformed(
    obj: Any, field: str
) -> None:
    with pytest.raises(ProtocolError) as excinfo:
        parse_rtms_message(obj)
    assert field in str(excinfo.value)


def test_parse_rtms_message_tolerates_unknown_extra_keys() -> None:
    message = parse_rtms_message(
        {"msg_type": 12, "timestamp": 1, "sequence": 2, "rtms_client_agent": "x", "new": {}}
    )
    assert message == KeepAliveReq(1, 2)
