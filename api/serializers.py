"""What the API shows of each object. Internal ids in URLs; secrets, leases and raw server URLs never."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from api.access import Principal
from compliance.export import EXPORT_FORMATS
from reconciler.models import ReconcileRun
from regions.models import Region, ResidencyRule, RuleField, RuleTier
from rtms.inbox.payloads import PayloadMissing, event_body
from rtms.models import (
    InboundEvent,
    Meeting,
    MeetingDetails,
    MeetingTransition,
    RtmsStream,
    StreamTransition,
    TranscriptSegment,
)
from rtms.personal import details_for, details_of

MAX_ID = 2**63 - 1  # PostgreSQL bigint: a larger id is invalid input, not a database error
MAX_SEQ = 2**31 - 1


class RegionSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    class Meta:
        model = Region
        fields = ["code", "name", "jurisdiction", "zoom_data_centres", "capture_audio", "active"]


class ResidencyRuleSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    region = serializers.SlugRelatedField(slug_field="code", queryset=Region.objects.all())
    position = serializers.IntegerField(min_value=0, max_value=MAX_SEQ)

    class Meta:
        model = ResidencyRule
        fields = [
            "id",
            "position",
            "tier",
            "field",
            "tracking_field_name",
            "value",
            "region",
            "active",
            "note",
            "updated_at",
        ]
        # The tier is the author's: a superuser's rules are staff rules, an API client's are client rules.
        read_only_fields = ["id", "tier", "updated_at"]
        # DRF's own validators for the model's unique constraints would ignore the tier (read-only here)
        # and reveal other regions' positions: _validate_position_free checks, the database decides.
        validators: list[Any] = []

    def validate_region(self, region: Region) -> Region:
        principal: Principal = self.context["principal"]
        if not principal.allows(region.code):
            # Indistinguishable from a region that does not exist.
            raise serializers.ValidationError(f"Object with code={region.code} does not exist.")
        return region

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        field = attrs.get("field", getattr(self.instance, "field", None))
        name = attrs.get("tracking_field_name", getattr(self.instance, "tracking_field_name", ""))
        if field == RuleField.TRACKING_FIELD and not name:
            raise serializers.ValidationError({"tracking_field_name": ["required for tracking-field rules"]})
        self._validate_position_free(attrs)
        return attrs

    def _validate_position_free(self, attrs: dict[str, Any]) -> None:
        """Staff positions are unique among staff rules; a client rule's only within its region, so the
        answer names nothing of another region (issue #20)."""
        principal: Principal = self.context["principal"]
        tier = RuleTier.CLIENT if principal.client is not None else RuleTier.STAFF
        if self.instance is not None:
            tier = self.instance.tier
        position: int = attrs.get("position", getattr(self.instance, "position", 0))
        taken = ResidencyRule.objects.filter(tier=tier, position=position)
        if tier == RuleTier.CLIENT:
            region = attrs.get("region", getattr(self.instance, "region", None))
            taken = taken.filter(region=region)
        if self.instance is not None:
            taken = taken.exclude(pk=self.instance.pk)
        if taken.exists():
            where = "in this region" if tier == RuleTier.CLIENT else "among staff rules"
            raise serializers.ValidationError({"position": [f"another rule {where} has this position"]})


class MeetingTransitionSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    class Meta:
        model = MeetingTransition
        fields = ["from_state", "to_state", "cause", "at"]


class StreamTransitionSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    class Meta:
        model = StreamTransition
        fields = ["from_state", "to_state", "cause", "stop_reason", "at"]


class StreamSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    transitions = StreamTransitionSerializer(many=True, read_only=True)

    class Meta:
        model = RtmsStream
        fields = [
            "id",
            "rtms_stream_id",
            "state",
            "state_changed_at",
            "stop_reason",
            "zoom_data_centre",
            "data_centre_mismatch",
            "server_generation",
            "created_at",
            "transitions",
        ]


class MeetingListSerializer(serializers.ListSerializer):  # type: ignore[type-arg]
    """Reads the page's topics and e-mails from the regions' databases at once: one query per region."""

    def to_representation(self, data: Any) -> Any:
        meetings = list(data.all() if hasattr(data, "all") else data)
        self._context["details"] = details_for(meetings)
        return super().to_representation(meetings)


class MeetingSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    region = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)  # type: ignore[var-annotated]
    account = serializers.SlugRelatedField(slug_field="zoom_account_id", read_only=True, allow_null=True)  # type: ignore[var-annotated]
    host_email = serializers.SerializerMethodField(
        help_text="Read from the meeting's region (personal data); empty for a quarantined meeting."
    )
    topic = serializers.SerializerMethodField(
        help_text="Read from the meeting's region (personal data); empty for a quarantined meeting."
    )

    class Meta:
        model = Meeting
        list_serializer_class = MeetingListSerializer
        fields = [
            "id",
            "zoom_uuid",
            "zoom_meeting_id",
            "account",
            "host_id",
            "host_email",
            "topic",
            "region",
            "routing_status",
            "state",
            "started_at",
            "ended_at",
            "rtms_start_error_code",
            "rtms_start_error",
            "rtms_manual_stop_at",
        ]

    def _details(self, meeting: Meeting) -> MeetingDetails | None:
        known: dict[int, MeetingDetails] | None = self.context.get("details")
        return known.get(meeting.pk) if known is not None else details_of(meeting)

    def get_host_email(self, meeting: Meeting) -> str:
        details = self._details(meeting)
        return details.host_email if details else ""

    def get_topic(self, meeting: Meeting) -> str:
        details = self._details(meeting)
        return details.topic if details else ""


class MeetingDetailSerializer(MeetingSerializer):
    transitions = MeetingTransitionSerializer(many=True, read_only=True)
    streams = StreamSerializer(many=True, read_only=True)

    class Meta(MeetingSerializer.Meta):
        fields = [*MeetingSerializer.Meta.fields, "transitions", "streams"]


class InboundEventSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    region = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)  # type: ignore[var-annotated]
    meeting = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)  # type: ignore[var-annotated]

    class Meta:
        model = InboundEvent
        fields = [
            "id",
            "event_type",
            "event_ts",
            "first_channel",
            "received_at",
            "webhook_received_at",
            "websocket_received_at",
            "delivery_count",
            "status",
            "region",
            "meeting",
            "attempts",
            "processed_at",
            "error",
        ]


class InboundEventDetailSerializer(InboundEventSerializer):
    payload = serializers.SerializerMethodField(
        help_text="Zoom's event body (personal data), read from the owning region's database once the event "
        "is routed; a stub {event, event_ts, redacted} once erasure or retention removed it."
    )

    class Meta(InboundEventSerializer.Meta):
        fields = [*InboundEventSerializer.Meta.fields, "payload"]

    @extend_schema_field(serializers.JSONField())
    def get_payload(self, row: InboundEvent) -> object:
        try:
            return event_body(row)
        except PayloadMissing:
            return row.payload  # the stub: the body was removed from the region too


class ReconcileRunSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    account = serializers.SlugRelatedField(slug_field="zoom_account_id", read_only=True)  # type: ignore[var-annotated]
    errors = serializers.SerializerMethodField(  # type: ignore[assignment]
        help_text="Error classes and Zoom codes; null unless the caller sees every region (errors may name "
        "other regions' meetings)."
    )

    class Meta:
        model = ReconcileRun
        fields = [
            "id",
            "account",
            "started_at",
            "finished_at",
            "status",
            "trigger",
            "pages",
            "api_calls",
            "meetings_seen",
            "repairs",
            "errors",
        ]

    def get_errors(self, run: ReconcileRun) -> list[str] | None:
        principal: Principal | None = self.context.get("principal")
        if principal is None or not principal.scope.all_regions:
            return None
        return list(run.errors)


class SegmentSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    speaker = serializers.CharField(source="speaker_name")

    class Meta:
        model = TranscriptSegment
        fields = ["stream_id", "seq", "speaker_id", "speaker", "text", "start_ms", "end_ms", "language"]


class TranscriptPageSerializer(serializers.Serializer):  # type: ignore[type-arg]
    meeting = serializers.IntegerField()
    results = SegmentSerializer(many=True)
    next = serializers.CharField(
        allow_null=True, help_text="URL of the next page, or null at the end (so far)."
    )


class TranscriptQuerySerializer(serializers.Serializer):  # type: ignore[type-arg]
    stream = serializers.IntegerField(
        required=False, min_value=1, max_value=MAX_ID, help_text="Only this stream."
    )
    after_stream = serializers.IntegerField(
        required=False, min_value=0, max_value=MAX_ID, help_text="Continue after this stream's segment..."
    )
    after_seq = serializers.IntegerField(
        required=False, min_value=0, max_value=MAX_SEQ, help_text="...with this seq (the last one you have)."
    )
    limit = serializers.IntegerField(required=False, min_value=1, max_value=1000, default=200)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "after_seq" in attrs and "after_stream" not in attrs and "stream" not in attrs:
            raise serializers.ValidationError(
                {"after_stream": ["required with after_seq unless stream is given"]}
            )
        if "after_stream" in attrs and "after_seq" not in attrs:
            raise serializers.ValidationError({"after_seq": ["required with after_stream"]})
        return attrs


class ExportQuerySerializer(serializers.Serializer):  # type: ignore[type-arg]
    format = serializers.ChoiceField(choices=list(EXPORT_FORMATS), default="json")


class ActionSerializer(serializers.Serializer):  # type: ignore[type-arg]
    reason = serializers.CharField(
        max_length=500, help_text="Why; written to the audit log (keep personal data out of it)."
    )


class ActionResultSerializer(serializers.Serializer):  # type: ignore[type-arg]
    status = serializers.CharField()
    detail = serializers.CharField()


class RerouteResultSerializer(serializers.Serializer):  # type: ignore[type-arg]
    status = serializers.CharField()
    events_requeued = serializers.IntegerField()


class ErasureResultSerializer(serializers.Serializer):  # type: ignore[type-arg]
    meeting = serializers.IntegerField()
    already_erased = serializers.BooleanField()
    requested_by = serializers.CharField()
    requested_at = serializers.DateTimeField()
    completed_at = serializers.DateTimeField(allow_null=True)
    segments_deleted = serializers.IntegerField()
    audio_files_deleted = serializers.IntegerField()
    payloads_scrubbed = serializers.IntegerField()
