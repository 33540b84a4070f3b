"""Starting RTMS through Zoom's REST API (accounts in start-through-API mode), once per meeting.

The claim (``rtms_start_requested_at``) is taken when ``meeting.started`` is applied; this service makes the
call and records Zoom's answer. Zoom's refusals (2308 not allowed, 2310 no plan or wrong state, 3001 not
live) are recorded on the meeting for the admin and the reconciler, not retried here.
"""

from __future__ import annotations

import logging

from controlplane.clock import SYSTEM_CLOCK, Clock
from rtms import metrics
from rtms.accounts import rtms_app_credentials
from rtms.lifecycle import STREAM_ACTIVE, MeetingState
from rtms.models import Meeting
from rtms.zoom.api import ZoomApiError, ZoomRateLimited, ZoomUnavailable
from rtms.zoom.credentials import MissingCredentials

logger = logging.getLogger(__name__)


def _record_error(meeting_id: int, code: int | None, message: str) -> None:
    Meeting.objects.filter(pk=meeting_id).update(
        rtms_start_error_code=code, rtms_start_error=message[:255], rtms_start_error_at=SYSTEM_CLOCK.now()
    )


def meeting_rtms_start(meeting_id: int, *, clock: Clock = SYSTEM_CLOCK) -> str:
    from rtms.zoom_clients import zoom_api_for

    meeting = Meeting.objects.select_related("account").get(pk=meeting_id)
    if meeting.state != MeetingState.LIVE:
        return "not_live"
    if meeting.rtms_start_called_at is not None:
        return "already_called"  # a redelivered task must not call Zoom twice
    if meeting.rtms_manual_stop_at is not None:
        return "stopped_manually"  # an operator stopped capture after this task was queued
    if Meeting.objects.filter(pk=meeting_id, erasure__isnull=False).exists():
        return "erased"
    if meeting.streams.filter(state__in=list(STREAM_ACTIVE)).exists():
        return "stream_exists"
    if meeting.account is None or meeting.zoom_meeting_id is None:
        _record_error(meeting_id, None, "no account or meeting id to start RTMS with")
        return "cannot_start"
    try:
        client_id = rtms_app_credentials(meeting.account).client_id
        api = zoom_api_for(meeting.account)
        api.rtms_app_status(meeting.zoom_meeting_id, "start", rtms_client_id=client_id)
    except MissingCredentials as exc:
        _record_error(meeting_id, None, str(exc))
        metrics.RTMS_STARTS.labels("misconfigured").inc()
        return "misconfigured"
    except (ZoomUnavailable, ZoomRateLimited):
        metrics.RTMS_STARTS.labels("transient").inc()
        raise
    except ZoomApiError as exc:
        _record_error(meeting_id, exc.code, exc.message or str(exc))
        metrics.RTMS_STARTS.labels("refused").inc()
        logger.warning(
            "rtms.start_refused", extra={"meeting_id": meeting_id, "status": exc.status, "code": exc.code}
        )
        return "refused"
    Meeting.objects.filter(pk=meeting_id).update(
        rtms_start_called_at=clock.now(), rtms_start_error_code=None, rtms_start_error=""
    )
    metrics.RTMS_STARTS.labels("called").inc()
    logger.info("rtms.start_called", extra={"meeting_id": meeting_id})
    return "called"


def meeting_rtms_start_failed(meeting_id: int, exc: Exception) -> None:
    _record_error(meeting_id, getattr(exc, "code", None), f"gave up after retries: {type(exc).__name__}")
    metrics.RTMS_STARTS.labels("gave_up").inc()
