"""Admin for compliance staff: read-mostly, region-scoped (regions/admin_scoping.py)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.template.response import TemplateResponse
from django.urls import path

from compliance.admin_actions import (
    Confirmation,
    MeetingActionsMixin,
    confirmed_reason,
    erase_meetings,
    export_transcript,
    meetings_scoped,
    start_rtms,
    stop_rtms,
)
from compliance.audit_export import audit_csv_response
from controlplane.client_ip import client_ip
from regions.access import scope_for
from regions.admin_scoping import (
    ReadOnlyAdminMixin,
    RegionScopedAdmin,
    SuperuserOnlyAdminMixin,
    SuperuserWritesMixin,
)
from regions.models import Region
from regions.storage import RegionStorageNotConfigured, content_alias
from rtms.inbox.payloads import PayloadMissing, event_body
from rtms.inbox.reroute import meeting_reroute
from rtms.models import (
    AuditLog,
    InboundEvent,
    Meeting,
    MeetingDetails,
    MeetingTransition,
    RefusedDelivery,
    RtmsStream,
    StreamTransition,
    TranscriptSegment,
    ZoomAccount,
)
from rtms.models.accounts import CREDENTIAL_ENV_FIELDS
from rtms.personal import details_for, details_of, email_hashes_to_search, meetings_with_topic
from rtms.quarantine import QUARANTINED_EVENTS, quarantined_meetings
from rtms.selectors import accounts_serving
from rtms.services import ContentAccess, content_access_record


@admin.register(ZoomAccount)
class ZoomAccountAdmin(SuperuserWritesMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    """Staff see the accounts serving their regions (names of credential variables, never secrets); only
    a superuser adds or changes one."""

    list_display = ["zoom_account_id", "name", "mode", "default_region", "active"]
    list_filter = ["mode", "active"]
    search_fields = ["zoom_account_id", "name"]
    fieldsets = [
        (None, {"fields": ["zoom_account_id", "name", "mode", "default_region", "active"]}),
        (
            "Credentials (names of environment variables; secrets are never stored)",
            {"fields": list(CREDENTIAL_ENV_FIELDS)},
        ),
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[ZoomAccount]:
        return accounts_serving(scope_for(request.user)).select_related("default_region")


class StreamInline(ReadOnlyAdminMixin, admin.TabularInline):  # type: ignore[type-arg]
    model = RtmsStream
    fields = readonly_fields = (
        "rtms_stream_id",
        "state",
        "stop_reason",
        "zoom_data_centre",
        "data_centre_mismatch",
        "lease_owner",
    )
    extra = 0
    show_change_link = True


class MeetingTransitionInline(ReadOnlyAdminMixin, admin.TabularInline):  # type: ignore[type-arg]
    model = MeetingTransition
    fields = readonly_fields = ("at", "from_state", "to_state", "cause")
    extra = 0


@admin.action(
    description="Re-route quarantined events (after adding a residency rule)…", permissions=["reroute"]
)
def reroute_quarantined(
    modeladmin: Any, request: HttpRequest, queryset: QuerySet[Any]
) -> TemplateResponse | None:
    meetings = (
        Meeting.objects.filter(pk__in=queryset.values("meeting_id"))
        if queryset.model is InboundEvent
        else queryset
    )
    meetings = meetings_scoped(request, meetings).filter(region__isnull=True)
    reason = confirmed_reason(
        modeladmin,
        request,
        queryset,
        Confirmation(
            title="Re-route quarantined events",
            verb="Re-route",
            warning="The quarantined events of these meetings go back through the residency rules; a "
            "meeting a rule now matches is captured and stored in that region.",
        ),
        meetings=meetings,
    )
    if isinstance(reason, TemplateResponse):
        return reason
    total = 0
    for meeting in meetings:
        total += meeting_reroute(
            meeting,
            actor=request.user.get_username(),
            source_ip=client_ip(request),
            reason=reason,
            via="admin",
        )
    modeladmin.message_user(
        request, f"{total} quarantined event(s) sent back through routing.", messages.SUCCESS
    )
    return None


class MeetingChangeList(ChangeList):
    """Reads the page's topics and e-mails from the regions' databases at once (one query per region)."""

    def get_results(self, request: HttpRequest) -> None:
        super().get_results(request)
        details = details_for(self.result_list)
        for meeting in self.result_list:
            meeting._details = details.get(meeting.pk)


@admin.register(Meeting)
class MeetingAdmin(MeetingActionsMixin, ReadOnlyAdminMixin, RegionScopedAdmin):
    quarantined_q = quarantined_meetings()
    list_display = [
        "id",
        "zoom_meeting_id",
        "topic",
        "host_email",
        "region",
        "routing_status",
        "state",
        "started_at",
        "ended_at",
        "rtms_start_error_code",
    ]
    # RelatedOnly: the choices are the regions and accounts of the meetings the user may see.
    list_filter = [
        "state",
        "routing_status",
        ("region", admin.RelatedOnlyFieldListFilter),
        ("account", admin.RelatedOnlyFieldListFilter),
    ]
    # The topic and e-mail are not in this database: get_search_results finds them in the regions.
    search_fields = ["zoom_uuid", "=zoom_meeting_id", "=host_id"]
    exclude = ["legacy_topic", "legacy_host_email", "host_email_hash"]
    readonly_fields = ["topic", "host_email"]
    date_hierarchy = "started_at"
    list_select_related = ["region"]
    inlines = [StreamInline, MeetingTransitionInline]
    actions = [export_transcript, erase_meetings, stop_rtms, start_rtms, reroute_quarantined]

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return MeetingChangeList

    def _details(self, meeting: Meeting) -> MeetingDetails | None:
        if not hasattr(meeting, "_details"):
            meeting._details = details_of(meeting)  # type: ignore[attr-defined]
        details: MeetingDetails | None = meeting._details  # type: ignore[attr-defined]
        return details

    @admin.display(description="topic")
    def topic(self, meeting: Meeting) -> str:
        details = self._details(meeting)
        return details.topic if details else ""

    @admin.display(description="host e-mail")
    def host_email(self, meeting: Meeting) -> str:
        details = self._details(meeting)
        return details.host_email if details else ""

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Meeting], search_term: str
    ) -> tuple[QuerySet[Meeting], bool]:
        """Ids as usual; an exact e-mail through its keyed hash; a topic inside each region the user may
        see (issue #19: neither is in this database)."""
        found, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        term = search_term.strip()
        if not term:
            return found, may_have_duplicates
        scope = scope_for(request.user)
        codes = [code for code in Region.objects.values_list("code", flat=True) if scope.allows(code)]
        also = Q(pk__in=meetings_with_topic(codes, term))
        if "@" in term:
            also |= Q(host_email_hash__in=email_hashes_to_search(term))
        return found | queryset.filter(also), may_have_duplicates


class StreamTransitionInline(ReadOnlyAdminMixin, admin.TabularInline):  # type: ignore[type-arg]
    model = StreamTransition
    fields = readonly_fields = ("at", "from_state", "to_state", "cause", "stop_reason")
    extra = 0


@admin.register(RtmsStream)
class RtmsStreamAdmin(ReadOnlyAdminMixin, RegionScopedAdmin):
    region_code_path = "meeting__region__code"
    quarantined_q = quarantined_meetings("meeting__")
    list_display = [
        "rtms_stream_id",
        "meeting",
        "region",
        "state",
        "stop_reason",
        "zoom_data_centre",
        "data_centre_mismatch",
        "lease_owner",
        "lease_expires_at",
        "restart_attempts",
    ]
    list_filter = [
        "state",
        ("region", admin.RelatedOnlyFieldListFilter),
        "data_centre_mismatch",
        "stop_reason",
    ]
    search_fields = ["rtms_stream_id", "meeting__zoom_uuid", "=meeting__zoom_meeting_id"]
    list_select_related = ["meeting", "region"]
    inlines = [StreamTransitionInline]


@admin.register(MeetingTransition)
class MeetingTransitionAdmin(ReadOnlyAdminMixin, RegionScopedAdmin):
    region_code_path = "meeting__region__code"
    quarantined_q = quarantined_meetings("meeting__")
    list_display = ["at", "meeting", "from_state", "to_state", "cause"]
    list_filter = ["to_state", "cause"]
    search_fields = ["meeting__zoom_uuid"]


@admin.register(StreamTransition)
class StreamTransitionAdmin(ReadOnlyAdminMixin, RegionScopedAdmin):
    region_code_path = "stream__meeting__region__code"
    quarantined_q = quarantined_meetings("stream__meeting__")
    list_display = ["at", "stream", "from_state", "to_state", "cause", "stop_reason"]
    list_filter = ["to_state", "cause", "stop_reason"]
    search_fields = ["stream__rtms_stream_id"]


@admin.register(InboundEvent)
class InboundEventAdmin(MeetingActionsMixin, ReadOnlyAdminMixin, RegionScopedAdmin):
    quarantined_q = QUARANTINED_EVENTS
    # What someone on call needs first (is it stuck or failed, and why) before the delivery details.
    list_display = [
        "id",
        "event_type",
        "status",
        "attempts",
        "error",
        "region",
        "event_ts",
        "first_channel",
        "delivery_count",
        "webhook_received_at",
        "websocket_received_at",
    ]
    list_filter = ["status", "event_type", "first_channel", ("region", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["dedupe_key", "=meeting_uuid"]
    date_hierarchy = "received_at"
    actions = [reroute_quarantined]
    readonly_fields = ["body"]

    @admin.display(description="body (from the region's database once routed)")
    def body(self, row: InboundEvent) -> str:
        try:
            return json.dumps(event_body(row), indent=2, ensure_ascii=False)
        except PayloadMissing:
            return json.dumps(row.payload, indent=2, ensure_ascii=False)


@admin.register(RefusedDelivery)
class RefusedDeliveryAdmin(ReadOnlyAdminMixin, SuperuserOnlyAdminMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    """Deliveries whose body could not be stored: when, over which channel, which event type and why.
    No payload and no region (nothing of the body was kept): no region to scope by, so superusers only."""

    list_display = ["received_at", "channel", "event_type", "reason"]
    list_filter = ["reason", "channel"]
    date_hierarchy = "received_at"


class SegmentRegionFilter(admin.SimpleListFilter):
    """Transcript segments live in the region's own database, so the list shows one region at a time."""

    title = "region"
    parameter_name = "region_code"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        scope = scope_for(request.user)
        regions = Region.objects.all()
        return [(r.code, r.name) for r in regions if scope.allows(r.code)]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return queryset  # applied in TranscriptSegmentAdmin.get_queryset, which also picks the database


@admin.register(TranscriptSegment)
class TranscriptSegmentAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["stream_id", "seq", "speaker_name", "start_ms", "text", "region_code"]
    list_filter = [SegmentRegionFilter]
    search_fields = ["=meeting_id", "=stream_id"]

    def _region_code(self, request: HttpRequest) -> str | None:
        code = request.GET.get("region_code")
        if not code and "_changelist_filters" in request.GET:
            code = parse_qs(request.GET["_changelist_filters"]).get("region_code", [None])[0]
        scope = scope_for(request.user)
        if code and scope.allows(code):
            return code
        for region_code in Region.objects.values_list("code", flat=True):
            if scope.allows(region_code):
                return region_code
        return None

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        code = self._region_code(request)
        qs = super().get_queryset(request)
        if code is None:
            return qs.none().using("default")
        try:
            alias = content_alias(code)
        except RegionStorageNotConfigured:
            return qs.none().using("default")
        return qs.using(alias).filter(region_code=code)

    # Showing segments discloses what people said: every page of them is audited (transcript.view).
    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        response = super().changelist_view(request, extra_context)
        changelist = getattr(response, "context_data", {}).get("cl") if response.status_code == 200 else None
        if changelist is not None:
            self._audit_view(request, list(changelist.result_list), surface="list")
        return response

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        response = super().change_view(request, object_id, form_url, extra_context)
        original = (
            getattr(response, "context_data", {}).get("original") if response.status_code == 200 else None
        )
        if original is not None:
            self._audit_view(request, [original], surface="detail")
        return response

    def _audit_view(self, request: HttpRequest, segments: list[TranscriptSegment], *, surface: str) -> None:
        if not segments:
            return
        meeting_ids = sorted({s.meeting_id for s in segments})
        content_access_record(
            ContentAccess.TRANSCRIPT_VIEW,
            actor=request.user.get_username(),
            via="admin",
            meeting_ids=meeting_ids,
            region_code=segments[0].region_code,
            source_ip=client_ip(request),
            detail={"surface": surface, "segments": len(segments), "meetings": meeting_ids},
        )


@admin.register(AuditLog)
class AuditLogAdmin(ReadOnlyAdminMixin, RegionScopedAdmin):
    """Evidence: nobody adds, edits or deletes rows here (ReadOnlyAdminMixin, and a database trigger).
    Staff filter it and download the filtered list as CSV; the download is itself audited."""

    region_code_path = "region_code"  # rows of no region (token changes, ...) are a superuser's only
    list_display = ["at", "actor", "action", "object_type", "object_id", "region_code", "source_ip"]
    list_filter = [
        "action",
        "actor",
        "region_code",
        "object_type",
        ("at", admin.DateFieldListFilter),
    ]
    search_fields = ["actor", "object_id"]
    date_hierarchy = "at"
    change_list_template = "admin/compliance/auditlog_change_list.html"

    def get_urls(self) -> list[Any]:
        name = f"{self.opts.app_label}_{self.opts.model_name}_export_csv"
        export = path("export.csv", self.admin_site.admin_view(self.export_csv_view), name=name)
        return [export, *super().get_urls()]

    def export_csv_view(self, request: HttpRequest) -> HttpResponseBase:
        """The changelist's own filters (same query string), region-scoped like the list."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        return audit_csv_response(self, request)
