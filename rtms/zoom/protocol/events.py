"""Webhook and event-subscription event bodies (zoom-protocol.md §4.6): types and ``parse_event``, the
inbox's dedupe key (§4.5), and the data-centre hint read from ``server_urls`` (§2.1).

The same body arrives over the webhook and inside an event-subscription WebSocket message (§5); the
frame around it is ``event_frames``. Not to be confused with ``rtms.zoom.events``, the client for that
WebSocket.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final, Literal, TypeAlias
from urllib.parse import urlsplit

from rtms.zoom.protocol.codes import StopReason
from rtms.zoom.protocol.fields import (
    _INT32_MAX,
    _INT32_MIN,
    _MAX_EVENT_NAME,
    _MAX_ID,
    _MAX_SERVER_URLS,
    _MAX_URL,
    MAX_ACCOUNT_ID,
    MAX_EMAIL,
    MAX_HOST_ID,
    MAX_MEETING_UUID,
    MAX_STREAM_ID,
    MAX_TOPIC,
    ProtocolError,
    _id,
    _int,
    _known,
    _meeting_id,
    _opt_datetime,
    _opt_id,
    _opt_meeting_id,
    _opt_str,
    _require_dict,
    _str,
)

__all__ = [
    "DEDUPE_KEY_MAX_LEN",
    "ConcurrencyLimited",
    "MeetingEnded",
    "MeetingStarted",
    "Product",
    "RtmsInterrupted",
    "RtmsStarted",
    "RtmsStopped",
    "TrackingField",
    "UnknownEvent",
    "UrlValidation",
    "ZoomEvent",
    "data_centre_hint",
    "dedupe_key",
    "parse_event",
]


# Webinar RTMS events use the same classes: the handshake signs the webinar_uuid and sends it in the
# `meeting_uuid` key (§2.3, §3), so the gateway treats both alike, and `product` says which it was.
# Video SDK sessions and Contact Center engagements are UnknownEvent: other credentials, other ids.
Product: TypeAlias = Literal["meeting", "webinar"]


@dataclass(frozen=True, slots=True)
class TrackingField:
    field: str
    value: str


# zoom-protocol.md §4.6 (meeting.started / meeting.ended, Rivet shape). Personal data is kept out of
# repr() so that a traceback or a careless log line does not carry it.
@dataclass(frozen=True, slots=True)
class MeetingStarted:
    event: str
    event_ts: int
    account_id: str
    meeting_uuid: str
    meeting_id: int
    host_id: str
    host_email: str | None = field(repr=False)
    topic: str = field(repr=False)
    start_time: datetime | None
    tracking_fields: tuple[TrackingField, ...] | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class MeetingEnded:
    event: str
    event_ts: int
    account_id: str
    meeting_uuid: str
    meeting_id: int
    host_id: str
    host_email: str | None = field(repr=False)
    topic: str = field(repr=False)
    start_time: datetime | None
    end_time: datetime | None
    tracking_fields: tuple[TrackingField, ...] | None = field(default=None, repr=False)


# zoom-protocol.md §4.6 (RTMS payloads are flat, not under `object`). For webinars `meeting_uuid`
# holds the webinar_uuid and `meeting_id` the webinar_id.
@dataclass(frozen=True, slots=True)
class RtmsStarted:
    event: str
    event_ts: int
    meeting_uuid: str
    rtms_stream_id: str
    server_urls: tuple[str, ...]
    operator_id: str
    account_id: str | None = None
    meeting_id: int | None = None
    product: Product = "meeting"


# `stop_reason` is a StopReason when Zoom sends a value we know and the bare int otherwise, so a
# reason added by Zoom tomorrow still stops the stream (and stop_policy() files it as UNKNOWN).
@dataclass(frozen=True, slots=True)
class RtmsStopped:
    event: str
    event_ts: int
    meeting_uuid: str
    rtms_stream_id: str
    stop_reason: StopReason | int
    product: Product = "meeting"


@dataclass(frozen=True, slots=True)
class RtmsInterrupted:
    event: str
    event_ts: int
    meeting_uuid: str
    rtms_stream_id: str
    product: Product = "meeting"


# zoom-protocol.md §4.6. Both names Zoom has used are accepted (naming conflict in the changelog).
@dataclass(frozen=True, slots=True)
class ConcurrencyLimited:
    event: str
    event_ts: int
    operator_id: str
    concurrency_number: int
    id_field: dict[str, str]


# zoom-protocol.md §4.3
@dataclass(frozen=True, slots=True)
class UrlValidation:
    event: str
    event_ts: int
    plain_token: str


# Anything else Zoom sends: stored in the inbox, never an error, so a new event type cannot make
# the webhook fail and Zoom disable the subscription.
@dataclass(frozen=True, slots=True)
class UnknownEvent:
    event: str
    event_ts: int


ZoomEvent: TypeAlias = (
    MeetingStarted
    | MeetingEnded
    | RtmsStarted
    | RtmsStopped
    | RtmsInterrupted
    | ConcurrencyLimited
    | UrlValidation
    | UnknownEvent
)

_RTMS_PRODUCTS: Final[Mapping[str, tuple[Product, str, str]]] = {
    # prefix: (product, key of the instance uuid, key of the numeric id)
    "meeting": ("meeting", "meeting_uuid", "meeting_id"),
    "webinar": ("webinar", "webinar_uuid", "webinar_id"),
}


def _tracking_fields(obj: Mapping[str, object], where: str) -> tuple[TrackingField, ...] | None:
    # None means "the event did not say", which residency routing must tell apart from "none set".
    raw = obj.get("tracking_fields")
    if raw is None:
        return None
    if not isinstance(raw, list):
        raise ProtocolError(f"{where}.tracking_fields: expected a list")
    if len(raw) > 100:
        raise ProtocolError(f"{where}.tracking_fields: too many")
    fields: list[TrackingField] = []
    for i, item in enumerate(raw):
        item_where = f"{where}.tracking_fields[{i}]"
        entry = _require_dict(item, item_where)
        fields.append(
            TrackingField(
                field=_str(entry, "field", item_where, max_len=_MAX_ID),
                value=_opt_str(entry, "value", item_where) or "",
            )
        )
    return tuple(fields)


def _parse_meeting(event: str, event_ts: int, payload: dict[str, object]) -> MeetingStarted | MeetingEnded:
    account_id = _id(payload, "account_id", "payload", max_len=MAX_ACCOUNT_ID)
    obj = _require_dict(payload.get("object"), "payload.object")
    where = "payload.object"
    meeting_uuid = _id(obj, "uuid", where, max_len=MAX_MEETING_UUID)
    meeting_id = _meeting_id(obj, "id", where)
    host_id = _id(obj, "host_id", where, max_len=MAX_HOST_ID)
    host_email = _opt_str(obj, "host_email", where, max_len=MAX_EMAIL) or None
    topic = _opt_str(obj, "topic", where, max_len=MAX_TOPIC) or ""
    start_time = _opt_datetime(obj, "start_time", where)
    tracking_fields = _tracking_fields(obj, where)
    if event == "meeting.started":
        return MeetingStarted(
            event=event,
            event_ts=event_ts,
            account_id=account_id,
            meeting_uuid=meeting_uuid,
            meeting_id=meeting_id,
            host_id=host_id,
            host_email=host_email,
            topic=topic,
            start_time=start_time,
            tracking_fields=tracking_fields,
        )
    return MeetingEnded(
        event=event,
        event_ts=event_ts,
        account_id=account_id,
        meeting_uuid=meeting_uuid,
        meeting_id=meeting_id,
        host_id=host_id,
        host_email=host_email,
        topic=topic,
        start_time=start_time,
        end_time=_opt_datetime(obj, "end_time", where),
        tracking_fields=tracking_fields,
    )


def _split_server_urls(payload: Mapping[str, object]) -> tuple[str, ...]:
    # zoom-protocol.md §2.1: one string, "multiple URLs for different protocols will be separated by
    # commas". Other schemes are kept: choosing the WebSocket one is the gateway's business.
    raw = _str(payload, "server_urls", "payload", max_len=_MAX_SERVER_URLS)
    urls = tuple(part.strip() for part in raw.split(",") if part.strip())
    if not urls:
        raise ProtocolError("payload.server_urls: no URL")
    for url in urls:
        if len(url) > _MAX_URL or not url.isprintable() or any(c.isspace() for c in url):
            raise ProtocolError("payload.server_urls: malformed URL")
    return urls


def _parse_rtms(event: str, event_ts: int, payload: dict[str, object]) -> ZoomEvent:
    prefix, _, kind = event.partition(".")
    product, uuid_key, id_key = _RTMS_PRODUCTS[prefix]
    instance_uuid = _id(payload, uuid_key, "payload", max_len=MAX_MEETING_UUID)
    stream_id = _id(payload, "rtms_stream_id", "payload", max_len=MAX_STREAM_ID)
    if kind == "rtms_started":
        return RtmsStarted(
            event=event,
            event_ts=event_ts,
            meeting_uuid=instance_uuid,
            rtms_stream_id=stream_id,
            server_urls=_split_server_urls(payload),
            operator_id=_id(payload, "operator_id", "payload"),
            account_id=_opt_id(payload, "account_id", "payload", max_len=MAX_ACCOUNT_ID),
            meeting_id=_opt_meeting_id(payload, id_key, "payload"),
            product=product,
        )
    if kind == "rtms_stopped":
        reason = _int(payload, "stop_reason", "payload", lo=_INT32_MIN, hi=_INT32_MAX)
        return RtmsStopped(
            event=event,
            event_ts=event_ts,
            meeting_uuid=instance_uuid,
            rtms_stream_id=stream_id,
            stop_reason=_known(StopReason, reason),
            product=product,
        )
    return RtmsInterrupted(
        event=event, event_ts=event_ts, meeting_uuid=instance_uuid, rtms_stream_id=stream_id, product=product
    )


# zoom-protocol.md §4.6: `id_field` carries whichever id the product uses; the meeting-named variant
# of the event puts `meeting_uuid` at the top level instead.
def _parse_concurrency(event: str, event_ts: int, payload: dict[str, object]) -> ConcurrencyLimited:
    id_field: dict[str, str] = {}
    raw = payload.get("id_field")
    if raw is not None:
        raw_ids = _require_dict(raw, "payload.id_field")
        if len(raw_ids) > 8:
            raise ProtocolError("payload.id_field: too many keys")
        for i, key in enumerate(raw_ids):
            # The message names the key by position: a key is the sender's text, never echoed.
            if len(key) > _MAX_EVENT_NAME:
                raise ProtocolError(f"payload.id_field[{i}]: key too long", reason="field_too_long")
            id_field[key] = _id({"value": raw_ids[key]}, "value", f"payload.id_field[{i}]")
    if "meeting_uuid" not in id_field and payload.get("meeting_uuid") is not None:
        id_field["meeting_uuid"] = _id(payload, "meeting_uuid", "payload", max_len=MAX_MEETING_UUID)
    return ConcurrencyLimited(
        event=event,
        event_ts=event_ts,
        operator_id=_id(payload, "operator_id", "payload"),
        concurrency_number=_int(payload, "concurrency_number", "payload", lo=0),
        id_field=id_field,
    )


_MEETING_EVENTS: Final = frozenset({"meeting.started", "meeting.ended"})
_RTMS_EVENTS: Final = frozenset(
    f"{prefix}.{kind}"
    for prefix in _RTMS_PRODUCTS
    for kind in ("rtms_started", "rtms_stopped", "rtms_interrupted")
)
_CONCURRENCY_EVENTS: Final = frozenset({"rtms.concurrency_limited", "meeting.rtms_concurrency_limited"})
_URL_VALIDATION: Final = "endpoint.url_validation"


# zoom-protocol.md §4.1: `{"event", "event_ts" (ms), "payload"}`, the same over the webhook and inside
# an event-subscription WebSocket message (§5).
def parse_event(body: object) -> ZoomEvent:
    try:
        return _parse_event(body)
    except ProtocolError:
        raise
    except (TypeError, ValueError, KeyError, AttributeError, ArithmeticError, RecursionError) as exc:
        # A last line of defence: the helpers above should already have named the field.
        raise ProtocolError(f"malformed event ({type(exc).__name__})") from None


def _parse_event(body: object) -> ZoomEvent:
    top = _require_dict(body, "body")
    event = _str(top, "event", "body", max_len=_MAX_EVENT_NAME)
    if not event or not event.isprintable():
        raise ProtocolError("body.event: expected a non-empty printable name")
    event_ts = _int(top, "event_ts", "body", lo=0)
    if event == _URL_VALIDATION:
        payload = _require_dict(top.get("payload"), "body.payload")
        token = _str(payload, "plainToken", "payload", max_len=_MAX_ID)
        if not token:
            raise ProtocolError("payload.plainToken: empty")
        return UrlValidation(event=event, event_ts=event_ts, plain_token=token)
    if event in _MEETING_EVENTS:
        return _parse_meeting(event, event_ts, _require_dict(top.get("payload"), "body.payload"))
    if event in _RTMS_EVENTS:
        return _parse_rtms(event, event_ts, _require_dict(top.get("payload"), "body.payload"))
    if event in _CONCURRENCY_EVENTS:
        return _parse_concurrency(event, event_ts, _require_dict(top.get("payload"), "body.payload"))
    return UnknownEvent(event=event, event_ts=event_ts)


# ---------------------------------------------------------------------------------------------------
# Dedupe keys (zoom-protocol.md §4.5)
# ---------------------------------------------------------------------------------------------------

DEDUPE_KEY_MAX_LEN: Final = 255


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _canonical_json(value: object) -> str:
    try:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=True)
    except (TypeError, ValueError, RecursionError):
        raise ProtocolError("body: not JSON-serialisable") from None


def dedupe_key(event: ZoomEvent, body: object) -> str:
    """The inbox's unique key for one Zoom event, the same whichever channel delivered it.

    ``body`` is the decoded body ``event`` was parsed from; only events without a natural id use it.
    """
    # zoom-protocol.md §4.5: event_ts is part of every key. Keying RTMS events on the stream alone
    # would swallow a failover, which re-sends rtms_started for the same stream id with a new
    # event_ts and new server_urls.
    if isinstance(event, RtmsStarted | RtmsStopped | RtmsInterrupted):
        return _bounded(event.event, event.rtms_stream_id, event.event_ts)
    if isinstance(event, MeetingStarted | MeetingEnded):
        return _bounded(event.event, event.meeting_uuid, event.event_ts)
    # No natural id: the body is all we have, canonicalised so the webhook's and the WebSocket's
    # serialisations of the same event agree.
    payload = body.get("payload") if isinstance(body, dict) else None
    digest = _sha256(_canonical_json([event.event, event.event_ts, payload]))
    return f"{event.event}:{event.event_ts}:{digest}"


def _bounded(name: str, natural_id: str, event_ts: int) -> str:
    key = f"{name}:{natural_id}:{event_ts}"
    if len(key) <= DEDUPE_KEY_MAX_LEN:
        return key
    # Event names are at most 128 characters, so name + ":h:" + 64 hex characters always fits.
    return f"{name}:h:{_sha256(f'{natural_id}:{event_ts}')}"


# ---------------------------------------------------------------------------------------------------
# Data-centre hint (zoom-protocol.md §2.1: real URLs carry codes such as rtms-sjc1.zoom.us, UNCONFIRMED)
# ---------------------------------------------------------------------------------------------------

_DC_LABEL = re.compile(r"rtms-([a-z0-9]{2,16})", re.IGNORECASE)


def data_centre_hint(server_urls: Sequence[str]) -> str | None:
    """The Zoom data centre named in the first URL that names one, for the residency audit."""
    urls: Iterable[object] = (server_urls,) if isinstance(server_urls, str) else server_urls
    for url in urls:
        if not isinstance(url, str) or len(url) > _MAX_URL:
            continue
        try:
            parts = urlsplit(url.strip())
            host = parts.hostname or ""
        except ValueError:
            continue
        for segment in (*host.split("."), *parts.path.split("/")):
            match = _DC_LABEL.fullmatch(segment)
            if match:
                return match.group(1).lower()
    return None
