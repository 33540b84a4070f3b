"""The parsers' limits are the columns' (issue #19 point 5): a value the parser accepts always fits where
it is stored, and a longer one is refused at the door instead of failing in a worker."""

from __future__ import annotations

import pytest
from django.db import models

from rtms.models import Meeting, MeetingDetails, RtmsStream, ZoomAccount
from rtms.zoom import protocol


@pytest.mark.parametrize(
    ("limit", "model", "field"),
    [
        ("MAX_MEETING_UUID", Meeting, "zoom_uuid"),
        ("MAX_HOST_ID", Meeting, "host_id"),
        ("MAX_EMAIL", MeetingDetails, "host_email"),
        ("MAX_TOPIC", MeetingDetails, "topic"),
        ("MAX_STREAM_ID", RtmsStream, "rtms_stream_id"),
        ("MAX_ACCOUNT_ID", ZoomAccount, "zoom_account_id"),
    ],
)
def test_each_parser_limit_is_its_column_length(limit: str, model: type[models.Model], field: str) -> None:
    column = model._meta.get_field(field)
    assert isinstance(column, models.CharField)
    assert getattr(protocol, limit) == column.max_length


@pytest.mark.parametrize(
    ("field", "at_limit"),
    [("uuid", protocol.MAX_MEETING_UUID), ("host_id", protocol.MAX_HOST_ID), ("topic", protocol.MAX_TOPIC)],
)
def test_a_meeting_field_at_its_limit_parses_and_one_longer_is_refused(field: str, at_limit: int) -> None:
    def body(length: int) -> dict[str, object]:
        obj: dict[str, object] = {"uuid": "u==", "id": 1, "host_id": "h", "topic": "t", field: "x" * length}
        return {"event": "meeting.started", "event_ts": 1, "payload": {"account_id": "a", "object": obj}}

    protocol.parse_event(body(at_limit))
    with pytest.raises(protocol.ProtocolError) as refused:
        protocol.parse_event(body(at_limit + 1))
    assert refused.value.reason == "field_too_long"
    assert "x" * 10 not in str(refused.value)


def test_check_storable_walks_any_depth_without_recursion() -> None:
    deep: object = "leaf"
    for _ in range(50_000):
        deep = [deep]
    with pytest.raises(protocol.ProtocolError) as refused:
        protocol.check_storable({"event": "x", "payload": deep})
    assert refused.value.reason == "too_deep"
    protocol.check_storable({"event": "x", "payload": {"a": [1, 2.5, None, True, {"b": "c"}]}})
