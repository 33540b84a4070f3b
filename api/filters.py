"""Query filters. Every value is validated by a form field, so bad input is a 400 naming the parameter."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import django_filters as filters
from django import forms
from django.db.models import Q, QuerySet

from api.serializers import MAX_ID
from reconciler.models import ReconcileRun, RunStatus
from regions.models import ResidencyRule, RuleField, RuleTier
from rtms.models import Channel, InboundEvent, InboxStatus, Meeting
from rtms.models.meetings import MEETING_STATE_CHOICES, ROUTING_STATUS_CHOICES
from rtms.personal import email_hashes_to_search


class IdFilter(filters.Filter):  # type: ignore[misc]
    """An integer id within PostgreSQL's bigint range (a bigger one would be a database error)."""

    field_class = forms.IntegerField

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", 0)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(*args, **kwargs)


class UtcDateTimeField(filters.fields.IsoDateTimeField):  # type: ignore[misc]
    """ISO 8601, converted to UTC here: PostgreSQL refuses offsets beyond ±15:59 (which ISO allows), and a
    value that leaves the calendar after conversion is invalid input, not a server error."""

    def to_python(self, value: Any) -> datetime | None:
        parsed: datetime | None = super().to_python(value)
        if parsed is None:
            return None
        try:
            return parsed.astimezone(UTC)
        except (OverflowError, ValueError):
            raise forms.ValidationError("date and time out of range", code="invalid") from None


class UtcDateTimeFilter(filters.IsoDateTimeFilter):  # type: ignore[misc]
    field_class = UtcDateTimeField


class MeetingFilter(filters.FilterSet):  # type: ignore[misc]
    region = filters.CharFilter(field_name="region__code", max_length=63, help_text="Region code.")
    state = filters.ChoiceFilter(choices=MEETING_STATE_CHOICES)
    routing_status = filters.ChoiceFilter(choices=ROUTING_STATUS_CHOICES)
    host = filters.CharFilter(
        method="filter_host",
        max_length=320,
        help_text="Host e-mail (exact, case-insensitive; matched through its keyed hash, the e-mail itself "
        "is in the region) or Zoom host id.",
    )
    zoom_meeting_id = IdFilter(field_name="zoom_meeting_id")
    started_after = UtcDateTimeFilter(field_name="started_at", lookup_expr="gte")
    started_before = UtcDateTimeFilter(field_name="started_at", lookup_expr="lt")

    class Meta:
        model = Meeting
        fields: list[str] = []

    def filter_host(self, queryset: QuerySet[Meeting], name: str, value: str) -> QuerySet[Meeting]:
        return queryset.filter(Q(host_email_hash__in=email_hashes_to_search(value)) | Q(host_id=value))


class InboundEventFilter(filters.FilterSet):  # type: ignore[misc]
    type = filters.CharFilter(field_name="event_type", max_length=100, help_text="e.g. meeting.rtms_started")
    channel = filters.ChoiceFilter(
        choices=Channel.choices, method="filter_channel", help_text="Delivered (at least) on this channel."
    )
    status = filters.ChoiceFilter(choices=InboxStatus.choices)
    quarantine = filters.ChoiceFilter(
        choices=[("true", "true"), ("false", "false")],
        method="filter_quarantine",
        help_text="true: quarantined events only; false: all others.",
    )
    region = filters.CharFilter(field_name="region__code", max_length=63)
    meeting = IdFilter(field_name="meeting_id")
    received_after = UtcDateTimeFilter(field_name="received_at", lookup_expr="gte")
    received_before = UtcDateTimeFilter(field_name="received_at", lookup_expr="lt")

    class Meta:
        model = InboundEvent
        fields: list[str] = []

    def filter_channel(
        self, queryset: QuerySet[InboundEvent], name: str, value: str
    ) -> QuerySet[InboundEvent]:
        if value == Channel.WEBHOOK:
            return queryset.filter(webhook_received_at__isnull=False)
        return queryset.filter(websocket_received_at__isnull=False)

    def filter_quarantine(
        self, queryset: QuerySet[InboundEvent], name: str, value: str
    ) -> QuerySet[InboundEvent]:
        if value == "true":
            return queryset.filter(status=InboxStatus.QUARANTINED)
        return queryset.exclude(status=InboxStatus.QUARANTINED)


class ResidencyRuleFilter(filters.FilterSet):  # type: ignore[misc]
    region = filters.CharFilter(field_name="region__code", max_length=63)
    field = filters.ChoiceFilter(choices=RuleField.choices)
    tier = filters.ChoiceFilter(choices=RuleTier.choices)
    active = filters.BooleanFilter()

    class Meta:
        model = ResidencyRule
        fields: list[str] = []


class ReconcileRunFilter(filters.FilterSet):  # type: ignore[misc]
    account = filters.CharFilter(field_name="account__zoom_account_id", max_length=64)
    status = filters.ChoiceFilter(choices=RunStatus.choices)
    trigger = filters.CharFilter(max_length=32)
    started_after = UtcDateTimeFilter(field_name="started_at", lookup_expr="gte")
    started_before = UtcDateTimeFilter(field_name="started_at", lookup_expr="lt")

    class Meta:
        model = ReconcileRun
        fields: list[str] = []
