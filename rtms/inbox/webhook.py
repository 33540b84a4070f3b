"""``POST /zoom/webhook`` (contract): verify, store, enqueue after commit, answer. No Zoom call, no slow work.

Answers: 200 stored (also for event types we do not know: stored and ignored), 200 with the token pair for
``endpoint.url_validation``, 400 malformed or not storable (NUL, lone surrogates, over-deep nesting,
over-long fields: counted and recorded, nothing of it stored or logged; rtms/inbox/refused.py), 401 bad
or stale signature, 405 wrong method, 413 too large, 503 when no webhook secret is configured (so Zoom
retries once an operator fixes it).
"""

from __future__ import annotations

import logging
import os
import time

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from controlplane.clock import SYSTEM_CLOCK
from rtms import metrics
from rtms.inbox.receive import ingest
from rtms.inbox.refused import delivery_refuse
from rtms.models import Channel, ZoomAccount
from rtms.models.accounts import is_credential_env_name
from rtms.zoom.protocol import ProtocolError, UrlValidation, loads_body
from rtms.zoom.signing import url_validation_response, verify_webhook

logger = logging.getLogger(__name__)


def _error(status: int, message: str) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


_SECRET_NAMES_TTL_S = 10.0
_secret_names: tuple[float, frozenset[str]] = (-_SECRET_NAMES_TTL_S, frozenset())


def webhook_secrets() -> list[str]:
    """The secret tokens of every active account's RTMS app (accounts may share one app).

    Which variables to read is configuration, cached for a few seconds so the hot path does not query
    the accounts table on every delivery; the values are always read from the environment."""
    global _secret_names
    fetched_at, names = _secret_names
    if time.monotonic() - fetched_at > _SECRET_NAMES_TTL_S:
        names = frozenset(
            ZoomAccount.objects.filter(active=True).values_list("webhook_secret_token_env", flat=True)
        ) | {"ZOOM_WEBHOOK_SECRET_TOKEN"}
        _secret_names = (time.monotonic(), names)
    # Only credential variables (ZOOM_...): a row naming DEBUG must not make "true" a webhook secret.
    named = (name for name in names if is_credential_env_name(name))
    return sorted({value for name in named if (value := os.environ.get(name, "").strip())})


def _too_large(request: HttpRequest) -> bool:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0) > settings.WEBHOOK_MAX_BODY_BYTES
    except ValueError:
        return False


@csrf_exempt
@require_POST
def zoom_webhook(request: HttpRequest) -> JsonResponse:
    if _too_large(request):
        metrics.SIGNATURE_FAILURES.labels("too_large").inc()
        return _error(413, f"body larger than {settings.WEBHOOK_MAX_BODY_BYTES} bytes")
    try:
        raw = request.body
    except RequestDataTooBig:
        metrics.SIGNATURE_FAILURES.labels("too_large").inc()
        return _error(413, f"body larger than {settings.WEBHOOK_MAX_BODY_BYTES} bytes")
    if len(raw) > settings.WEBHOOK_MAX_BODY_BYTES:
        metrics.SIGNATURE_FAILURES.labels("too_large").inc()
        return _error(413, f"body larger than {settings.WEBHOOK_MAX_BODY_BYTES} bytes")

    secrets = webhook_secrets()
    if not secrets:
        logger.error("webhook.no_secret_configured")
        return _error(503, "webhook secret token is not configured")
    now = SYSTEM_CLOCK.now().timestamp()
    tolerance = int(settings.WEBHOOK_TIMESTAMP_TOLERANCE.total_seconds())
    timestamp = request.headers.get("x-zm-request-timestamp")
    signature = request.headers.get("x-zm-signature")
    verdicts = [verify_webhook(s, timestamp, signature, raw, now, tolerance) for s in secrets]
    if not any(v.ok for v in verdicts):
        reason = verdicts[0].name.lower()
        metrics.SIGNATURE_FAILURES.labels(reason).inc()
        logger.warning("webhook.rejected", extra={"reason": reason})
        return _error(401, f"webhook refused: {reason.replace('_', ' ')}")

    try:
        body = loads_body(raw)
    except ProtocolError as exc:
        metrics.SIGNATURE_FAILURES.labels("malformed").inc()
        delivery_refuse(channel=Channel.WEBHOOK, reason=exc.reason)
        return _error(400, "body is not valid JSON")
    try:
        result = ingest(body, channel=Channel.WEBHOOK)  # records its own refusals
    except ProtocolError as exc:
        metrics.SIGNATURE_FAILURES.labels("malformed").inc()
        # The message names the field, never its value (rtms/zoom/protocol/fields.py).
        return _error(400, f"not a Zoom event: {exc}")
    if isinstance(result.event, UrlValidation):
        secret = next(s for s, v in zip(secrets, verdicts, strict=True) if v.ok)
        return JsonResponse(url_validation_response(secret, result.event.plain_token))
    return JsonResponse({"status": "ok"})
