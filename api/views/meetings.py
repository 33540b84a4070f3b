"""Meetings, their streams, transcripts, audio, and the actions on them."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, Throttled
from rest_framework.request import Request
from rest_framework.response import Response

from api.audio import RecordingTooLong, meeting_recording, wav_chunks
from api.errors import Conflict
from api.filters import MeetingFilter
from api.selectors import segment_page
from api.serializers import (
    ActionResultSerializer,
    ActionSerializer,
    ErasureResultSerializer,
    ExportQuerySerializer,
    MeetingDetailSerializer,
    MeetingSerializer,
    TranscriptPageSerializer,
    TranscriptQuerySerializer,
)
from api.views.common import ID_REGEX, PassThroughNegotiation, ScopedQuerysetMixin
from compliance.acts import Act
from compliance.erasure import meeting_erase
from compliance.export import EXPORT_FORMATS, export_filename, transcript_export
from controlplane.client_ip import client_ip
from controlplane.streaming import SLOT_REFRESH_S, DownloadSlot, download_slot_take, streamed
from rtms.capture import rtms_start_manual, rtms_stop_manual
from rtms.models import Meeting
from rtms.services import ContentAccess, content_access_record

EXPORT_MEDIA = {
    (200, "application/json"): OpenApiTypes.OBJECT,
    (200, "text/plain"): OpenApiTypes.STR,
    (200, "text/vtt"): OpenApiTypes.STR,
}


class MeetingViewSet(ScopedQuerysetMixin, viewsets.ReadOnlyModelViewSet):  # type: ignore[type-arg]
    """Meetings of the caller's regions (plus quarantined ones, with quarantine access)."""

    lookup_value_regex = ID_REGEX
    filterset_class = MeetingFilter
    error_statuses = {
        "transcript": ("503",),
        "transcript_export": ("503",),
        "audio": ("409", "503"),
        "rtms_start": ("409", "502"),
        "rtms_stop": ("409", "502"),
        "erase": ("409", "503"),
    }

    def base_queryset(self) -> QuerySet[Meeting]:
        qs = Meeting.objects.select_related("region", "account")
        if self.action == "retrieve":
            qs = qs.prefetch_related("transitions", "streams__transitions")
        return qs

    def get_serializer_class(self) -> Any:
        return MeetingDetailSerializer if self.action == "retrieve" else MeetingSerializer

    # --- transcript ------------------------------------------------------------------------------
    @extend_schema(
        parameters=[TranscriptQuerySerializer],
        responses={200: TranscriptPageSerializer},
        summary="A page of the meeting's transcript, in (stream, seq) order",
    )
    @action(detail=True, methods=["get"], pagination_class=None, filterset_class=None)
    def transcript(self, request: Request, pk: str | None = None) -> Response:
        meeting = self.get_object()
        query = TranscriptQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        stream_id = params.get("stream")
        after: tuple[int, int] | None = None
        if "after_seq" in params:
            after = (params.get("after_stream", stream_id or 0), params["after_seq"])
        limit = params["limit"]
        segments = segment_page(meeting, stream_id=stream_id, after=after, limit=limit + 1)
        more, segments = len(segments) > limit, segments[:limit]
        content_access_record(
            ContentAccess.TRANSCRIPT_READ,
            actor=self.principal.actor,
            via="api",
            meeting_ids=[meeting.pk],
            region_code=meeting.region_code,
            source_ip=client_ip(request),
            detail={"segments": len(segments), "after": list(after) if after else None},
        )
        next_url = None
        if more:
            last = segments[-1]
            next_query = {"after_stream": last.stream_id, "after_seq": last.seq, "limit": limit}
            if stream_id is not None:
                next_query["stream"] = stream_id
            next_url = request.build_absolute_uri(f"{request.path}?{urlencode(next_query)}")
        body = TranscriptPageSerializer({"meeting": meeting.pk, "results": segments, "next": next_url}).data
        return Response(body)

    @extend_schema(
        parameters=[ExportQuerySerializer],
        responses=EXPORT_MEDIA,
        summary="The whole transcript as JSON, plain text ([time] speaker: text) or WebVTT, streamed",
    )
    @action(
        detail=True,
        methods=["get"],
        url_path="transcript/export",
        pagination_class=None,
        filterset_class=None,
        content_negotiation_class=PassThroughNegotiation,
    )
    def transcript_export(self, request: Request, pk: str | None = None) -> StreamingHttpResponse:
        meeting = self.get_object()
        query = ExportQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        fmt = query.validated_data["format"]
        slot = self._download_slot()
        content_access_record(
            ContentAccess.TRANSCRIPT_EXPORT,
            actor=self.principal.actor,
            via="api",
            meeting_ids=[meeting.pk],
            region_code=meeting.region_code,
            source_ip=client_ip(request),
            detail={"format": fmt},
        )
        chunks = streamed(transcript_export(meeting, fmt), reads_database=True, slot=slot)
        response = StreamingHttpResponse(chunks, content_type=EXPORT_FORMATS[fmt])
        response["Content-Disposition"] = f'attachment; filename="{export_filename(meeting, fmt)}"'
        return response

    def _download_slot(self) -> DownloadSlot:
        """One of the caller's DOWNLOADS_PER_CLIENT slots for a heavy download, or 429."""
        slot = download_slot_take(self.principal.actor)
        if slot is None:
            raise Throttled(
                wait=SLOT_REFRESH_S,
                detail=f"{settings.DOWNLOADS_PER_CLIENT} downloads of yours are running; wait for one to end",
            )
        return slot

    @extend_schema(
        responses={(200, "audio/wav"): OpenApiTypes.BINARY},
        summary="The meeting's audio recording as one WAV (16 kHz mono PCM), streamed",
    )
    @action(
        detail=True,
        methods=["get"],
        pagination_class=None,
        filterset_class=None,
        content_negotiation_class=PassThroughNegotiation,
    )
    def audio(self, request: Request, pk: str | None = None) -> StreamingHttpResponse:
        meeting = self.get_object()
        code = meeting.region_code
        if not code:
            raise NotFound("this meeting has no audio recording")
        try:
            recording = meeting_recording(code, meeting.pk)
        except RecordingTooLong as exc:
            raise Conflict(str(exc)) from None
        if not recording.parts:
            raise NotFound("this meeting has no audio recording")
        slot = self._download_slot()
        content_access_record(
            ContentAccess.AUDIO_DOWNLOAD,
            actor=self.principal.actor,
            via="api",
            meeting_ids=[meeting.pk],
            region_code=code,
            source_ip=client_ip(request),
            detail={"parts": len(recording.parts), "bytes": recording.content_length},
        )
        # A block of 256 KiB in memory per download, read on the download threads.
        chunks = streamed(wav_chunks(recording), reads_database=False, slot=slot)
        response = StreamingHttpResponse(chunks, content_type="audio/wav")
        response["Content-Length"] = str(recording.content_length)
        response["Content-Disposition"] = f'attachment; filename="meeting-{meeting.pk}-audio.wav"'
        return response

    # --- actions ---------------------------------------------------------------------------------
    def _reason(self, request: Request) -> str:
        body = ActionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        reason: str = body.validated_data["reason"]
        return reason

    @extend_schema(
        request=ActionSerializer,
        responses={202: ActionResultSerializer},
        summary="Ask Zoom to start RTMS for a live meeting (recorded in the audit log)",
    )
    @action(detail=True, methods=["post"], url_path="rtms/start", pagination_class=None, filterset_class=None)
    def rtms_start(self, request: Request, pk: str | None = None) -> Response:
        meeting = self.get_object()
        self.principal.require(Act.CONTROL_RTMS)
        reason = self._reason(request)
        rtms_start_manual(meeting, actor=self.principal.actor, reason=reason, source_ip=client_ip(request))
        return Response(
            {
                "status": "requested",
                "detail": "Zoom accepted the start; the stream appears when Zoom reports it",
            },
            status=status.HTTP_202_ACCEPTED,
        )

    @extend_schema(
        request=ActionSerializer,
        responses={202: ActionResultSerializer},
        summary="Ask Zoom to stop RTMS for a live meeting; the reconciler will not restart it",
    )
    @action(detail=True, methods=["post"], url_path="rtms/stop", pagination_class=None, filterset_class=None)
    def rtms_stop(self, request: Request, pk: str | None = None) -> Response:
        meeting = self.get_object()
        self.principal.require(Act.CONTROL_RTMS)
        reason = self._reason(request)
        rtms_stop_manual(meeting, actor=self.principal.actor, reason=reason, source_ip=client_ip(request))
        return Response(
            {
                "status": "requested",
                "detail": "Zoom accepted the stop; nothing will restart it automatically",
            },
            status=status.HTTP_202_ACCEPTED,
        )

    @extend_schema(
        request=ActionSerializer,
        responses={200: ErasureResultSerializer},
        summary="Erase the meeting's content and personal data, keeping a tombstone",
    )
    @action(detail=True, methods=["post"], pagination_class=None, filterset_class=None)
    def erase(self, request: Request, pk: str | None = None) -> Response:
        meeting = self.get_object()
        self.principal.require(Act.ERASE)
        reason = self._reason(request)
        tombstone = meeting_erase(
            meeting, actor=self.principal.actor, reason=reason, source_ip=client_ip(request)
        )
        body = ErasureResultSerializer(
            {
                "meeting": meeting.pk,
                "already_erased": tombstone.already_erased,
                "requested_by": tombstone.requested_by,
                "requested_at": tombstone.requested_at,
                "completed_at": tombstone.completed_at,
                "segments_deleted": tombstone.segments_deleted,
                "audio_files_deleted": tombstone.audio_files_deleted,
                "payloads_scrubbed": tombstone.payloads_scrubbed,
            }
        ).data
        return Response(body)
