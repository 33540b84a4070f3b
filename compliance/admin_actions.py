"""Admin actions on meetings: erase, export, start and stop RTMS. They call the same services as the API.

Dangerous actions render a confirmation page (templates/admin/compliance/confirm_action.html) that asks
for a reason; nothing happens until the page is posted back with one. The queryset an action receives is
the changelist's, which is already region-scoped; each action scopes it again so that a forged
``_selected_action`` can never reach a meeting of another region.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponseBase, StreamingHttpResponse
from django.template.response import TemplateResponse

from compliance.acts import Act, user_may
from compliance.erasure import ErasureRefused, meeting_erase
from compliance.export import EXPORT_FORMATS, export_filename, transcript_export
from controlplane.client_ip import client_ip
from controlplane.streaming import download_slot_take, streamed, too_many_downloads
from regions.access import scope_for, scope_queryset
from rtms.capture import IllegalState, rtms_start_manual, rtms_stop_manual
from rtms.models import Meeting
from rtms.quarantine import quarantined_meetings
from rtms.services import ContentAccess, content_access_record
from rtms.zoom.api import ZoomApiError

logger = logging.getLogger(__name__)

REASON_MAX_LENGTH = 500


class ReasonForm(forms.Form):
    reason = forms.CharField(
        max_length=REASON_MAX_LENGTH,
        strip=True,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="Why (ticket or request number). Recorded in the audit log; no transcript text.",
    )


class ExportForm(forms.Form):
    fmt = forms.ChoiceField(
        label="Format",
        choices=[
            ("json", "JSON"),
            ("text", "Plain text ([time] speaker: text)"),
            ("iso", "Zoom's transcript file ([ISO time] speaker: text)"),
            ("vtt", "WebVTT subtitles"),
        ],
    )


def meetings_scoped(request: HttpRequest, queryset: QuerySet[Meeting]) -> QuerySet[Meeting]:
    scope = scope_for(request.user)
    return scope_queryset(queryset, scope, "region__code", quarantined_meetings()).select_related(
        "region", "account"
    )


@dataclass(frozen=True)
class Confirmation:
    title: str
    verb: str
    warning: str


def _confirmation_page(
    modeladmin: admin.ModelAdmin[Any],
    request: HttpRequest,
    queryset: QuerySet[Any],
    form: forms.Form,
    confirmation: Confirmation,
    *,
    meetings: QuerySet[Meeting] | None = None,
    template: str = "admin/compliance/confirm_action.html",
) -> TemplateResponse:
    """``queryset`` is what the action was given (its ids are posted back); ``meetings`` what it touches."""
    opts = modeladmin.model._meta
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": confirmation.title,
        "confirmation": confirmation,
        "selected": list(queryset.values_list("pk", flat=True)),
        "objects": list(meetings if meetings is not None else queryset),
        "form": form,
        "action": request.POST.get("action", ""),
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        "opts": opts,
        "app_label": opts.app_label,
        "media": modeladmin.media + form.media,
    }
    request.current_app = modeladmin.admin_site.name
    return TemplateResponse(request, template, context)


def confirmed_reason(
    modeladmin: admin.ModelAdmin[Any],
    request: HttpRequest,
    queryset: QuerySet[Any],
    confirmation: Confirmation,
    *,
    meetings: QuerySet[Meeting] | None = None,
) -> str | TemplateResponse:
    """The reason once the confirmation page was posted with one; otherwise the page (again)."""
    form = ReasonForm(request.POST if "confirm" in request.POST else None)
    if form.is_valid():
        return str(form.cleaned_data["reason"])
    return _confirmation_page(modeladmin, request, queryset, form, confirmation, meetings=meetings)


def _each(
    modeladmin: admin.ModelAdmin[Any],
    request: HttpRequest,
    meetings: QuerySet[Meeting],
    act: Callable[[Meeting], str],
    refused: tuple[type[Exception], ...],
) -> None:
    done = 0
    for meeting in meetings:
        try:
            note = act(meeting)
        except refused as exc:
            text = getattr(exc, "message", None) or str(exc)
            modeladmin.message_user(request, f"Meeting {meeting.pk}: {text}", messages.ERROR)
            continue
        done += 1
        if note:
            modeladmin.message_user(request, f"Meeting {meeting.pk}: {note}", messages.SUCCESS)
    if not done:
        modeladmin.message_user(request, "Nothing was done.", messages.WARNING)


@admin.action(description="Erase selected meetings (content, audio, personal data)…", permissions=["erase"])
def erase_meetings(
    modeladmin: admin.ModelAdmin[Any],
    request: HttpRequest,
    queryset: QuerySet[Meeting],
) -> TemplateResponse | None:
    meetings = meetings_scoped(request, queryset)
    reason = confirmed_reason(
        modeladmin,
        request,
        meetings,
        Confirmation(
            title="Erase meetings",
            verb="Erase",
            warning="Transcripts, audio, host e-mail, topic and raw Zoom events of these meetings are "
            "deleted for good, in their region's database and media root. A tombstone and an audit row "
            "remain.",
        ),
    )
    if isinstance(reason, TemplateResponse):
        return reason
    user = request.user.get_username()

    def erase(meeting: Meeting) -> str:
        tombstone = meeting_erase(meeting, actor=user, reason=reason, source_ip=client_ip(request))
        if tombstone.already_erased:
            return "already erased (recorded again)"
        return (
            f"erased: {tombstone.segments_deleted} segment(s), "
            f"{tombstone.audio_files_deleted} audio file(s), {tombstone.payloads_scrubbed} raw event(s)"
        )

    _each(modeladmin, request, meetings, erase, (ErasureRefused,))
    return None


def _rtms_action(verb: str) -> Callable[..., TemplateResponse | None]:
    def action(
        modeladmin: admin.ModelAdmin[Any],
        request: HttpRequest,
        queryset: QuerySet[Meeting],
    ) -> TemplateResponse | None:
        meetings = meetings_scoped(request, queryset)
        label = f"{verb.capitalize()} RTMS"
        warning = (
            "Zoom is asked to start capturing these live meetings."
            if verb == "start"
            else "Zoom is asked to stop capturing these meetings; nothing restarts them until someone starts "
            "them by hand."
        )
        reason = confirmed_reason(
            modeladmin,
            request,
            meetings,
            Confirmation(title=label, verb=label, warning=warning),
        )
        if isinstance(reason, TemplateResponse):
            return reason
        service = rtms_start_manual if verb == "start" else rtms_stop_manual
        user = request.user.get_username()

        def call(meeting: Meeting) -> str:
            try:
                service(meeting, actor=user, reason=reason, source_ip=client_ip(request))
            except ZoomApiError as exc:
                raise IllegalState(f"Zoom refused ({exc.status}, code {exc.code})") from None
            return f"RTMS {verb} requested from Zoom"

        _each(modeladmin, request, meetings, call, (IllegalState,))
        return None

    action.__name__ = f"{verb}_rtms"
    description = f"{verb.capitalize()} RTMS for selected meetings…"
    return admin.action(description=description, permissions=["control_rtms"])(action)


start_rtms = _rtms_action("start")
stop_rtms = _rtms_action("stop")


@admin.action(description="Export the transcript of the selected meeting…", permissions=["view"])
def export_transcript(
    modeladmin: admin.ModelAdmin[Any],
    request: HttpRequest,
    queryset: QuerySet[Meeting],
) -> HttpResponseBase | None:
    meetings = list(meetings_scoped(request, queryset)[:2])
    if len(meetings) != 1:
        modeladmin.message_user(request, "Select exactly one meeting to export.", messages.ERROR)
        return None
    meeting = meetings[0]
    form = ExportForm(request.POST if "confirm" in request.POST else None)
    if not form.is_valid():
        confirmation = Confirmation(
            title="Export transcript",
            verb="Download",
            warning="The download is recorded in the audit log with your name and address.",
        )
        return _confirmation_page(modeladmin, request, meetings_scoped(request, queryset), form, confirmation)
    fmt = str(form.cleaned_data["fmt"])
    slot = download_slot_take(request.user.get_username())
    if slot is None:
        return too_many_downloads()
    content_access_record(
        ContentAccess.TRANSCRIPT_EXPORT,
        actor=request.user.get_username(),
        via="admin",
        meeting_ids=[meeting.pk],
        region_code=meeting.region_code,
        source_ip=client_ip(request),
        detail={"format": fmt},
    )
    chunks = streamed(transcript_export(meeting, fmt), reads_database=True, slot=slot)
    response = StreamingHttpResponse(chunks, content_type=EXPORT_FORMATS[fmt])
    response["Content-Disposition"] = f'attachment; filename="{export_filename(meeting, fmt)}"'
    response["Cache-Control"] = "no-store"
    return response


class MeetingActionsMixin:
    """Permission hooks Django's admin asks for (``permissions=[...]`` on each action): the acts' one
    permission each (compliance/acts.py), as the API checks them."""

    def has_erase_permission(self, request: HttpRequest) -> bool:
        return user_may(request.user, Act.ERASE)

    def has_control_rtms_permission(self, request: HttpRequest) -> bool:
        return user_may(request.user, Act.CONTROL_RTMS)

    def has_reroute_permission(self, request: HttpRequest) -> bool:
        return user_may(request.user, Act.REROUTE) and scope_for(request.user).quarantine
