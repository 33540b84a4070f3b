"""``POST /zoom/webhook`` (contract): verify, store, enqueue after commit, answer. No Zoom call, no slow work.

Answers: 200 stored (also for event types we do not know: stored and ignored), 200 with the token pair for
``endpoint.url_validation``, 400 malformed or not storable (NUL, lone surrogates, over-deep nesting,
over-long fields: counted and recorded, nothing of it stored or logged; rtms/inbox/refused.py), 401 bad
or stale signature, or an account that is not ours (or ours without its secret set: logged, the same
answer so that no caller learns which account ids exist), 405 wrong method, 413 too large, 503 when no
webhook secret is configured at all, so Zoom retries once an operator fixes it, and 503 with Retry-After
while PostgreSQL cannot be reached.

Accounts are bound to their secrets (issue #20): an event that names its ``account_id`` verifies only with
that account's secret; one that names none (``endpoint.url_validation``, older RTMS events) with each active
account's in turn, and the account whose secret verified it is recorded on the event (``source_account``)
for routing. A secret several accounts share names none of them.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import DatabaseError
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
from rtms.zoom.signing import WebhookVerdict, url_validation_response, verify_webhook

logger = logging.getLogger(__name__)


def _error(status: int, message: str) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


@dataclass(frozen=True)
class WebhookKey:
    account_pk: int
    zoom_account_id: str
    secret: str


_ROWS_TTL_S = 10.0
_AccountRow = tuple[int, str, str]  # pk, Zoom account id, name of the secret's variable
_account_rows: tuple[float, tuple[_AccountRow, ...]] = (-_ROWS_TTL_S, ())


def webhook_keys_forget(**kwargs: object) -> None:
    """Read the accounts afresh at the next delivery (connected to ZoomAccount saves and deletes)."""
    global _account_rows
    _account_rows = (-_ROWS_TTL_S, ())


def webhook_keys() -> list[WebhookKey]:
    """Each active account with its webhook secret set.

    Which variables to read is configuration, cached for a few seconds so the hot path does not query
    the accounts table on every delivery; the values are always read from the environment."""
    global _account_rows
    fetched_at, rows = _account_rows
    if time.monotonic() - fetched_at > _ROWS_TTL_S:
        rows = tuple(
            ZoomAccount.objects.filter(active=True)
            .order_by("pk")
            .values_list("pk", "zoom_account_id", "webhook_secret_token_env")
        )
        _account_rows = (time.monotonic(), rows)
    # Only credential variables (ZOOM_...): a row naming DEBUG must not make "true" a webhook secret.
    return [
        WebhookKey(pk, account_id, value)
        for pk, account_id, name in rows
        if is_credential_env_name(name) and (value := os.environ.get(name, "").strip())
    ]


def _named_account_id(body: object) -> str | None:
    """The ``payload.account_id`` the body claims, read before the signature is checked only to pick the
    secret to check it with; None when the body names none (or is not JSON: then every secret is tried)."""
    payload = body.get("payload") if isinstance(body, dict) else None
    account_id = payload.get("account_id") if isinstance(payload, dict) else None
    return account_id if isinstance(account_id, str) and account_id else None


@dataclass(frozen=True)
class Verified:
    key: WebhookKey
    source_account_pk: int | None  # None when several accounts share the secret that verified it


def _verify(
    request: HttpRequest, raw: bytes, body: object, keys: list[WebhookKey]
) -> Verified | JsonResponse:
    now = SYSTEM_CLOCK.now().timestamp()
    tolerance = int(settings.WEBHOOK_TIMESTAMP_TOLERANCE.total_seconds())
    timestamp = request.headers.get("x-zm-request-timestamp")
    signature = request.headers.get("x-zm-signature")

    def verdict(key: WebhookKey) -> WebhookVerdict:
        return verify_webhook(key.secret, timestamp, signature, raw, now, tolerance)

    named = _named_account_id(body)
    candidates = keys if named is None else [k for k in keys if k.zoom_account_id == named]
    if named is not None and not candidates:
        # The same answer whether the account is not ours or ours without a secret set: an unsigned caller
        # must not learn which account ids exist. The second is an operator's to fix, so it is logged.
        if ZoomAccount.objects.filter(zoom_account_id=named, active=True).exists():
            logger.error("webhook.no_secret_for_account", extra={"zoom_account_id": named[:64]})
            return _refused("no_secret_for_account")
        return _refused("unknown_account")
    verdicts = [verdict(key) for key in candidates]
    passed = [key for key, v in zip(candidates, verdicts, strict=True) if v.ok]
    if not passed:
        # Signed with another account's secret: the claim of account_id is what is forged.
        if named is not None and any(verdict(k).ok for k in keys if k.zoom_account_id != named):
            return _refused("account_mismatch")
        return _refused(verdicts[0].name.lower())
    # Account ids are unique, so a named account passes alone; unnamed, every account sharing the secret
    # passes, and then the event names none of them.
    return Verified(passed[0], passed[0].account_pk if len(passed) == 1 else None)


def _refused(reason: str) -> JsonResponse:
    metrics.SIGNATURE_FAILURES.labels(reason).inc()
    logger.warning("webhook.rejected", extra={"reason": reason})
    return _error(401, f"webhook refused: {reason.replace('_', ' ')}")


def _too_large(request: HttpRequest) -> bool:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0) > settings.WEBHOOK_MAX_BODY_BYTES
    except ValueError:
        return False


DATABASE_RETRY_AFTER_S = 5


def _database_unavailable_is_503(
    view: Callable[[HttpRequest], JsonResponse],
) -> Callable[[HttpRequest], JsonResponse]:
    """PostgreSQL away (restarting, backends terminated, the pool exhausted): 503 with Retry-After, so Zoom
    retries the delivery, and never a 500 traceback (issue #21). Nothing was stored: the inbox insert is one
    statement, committed or not."""

    @wraps(view)
    def wrapped(request: HttpRequest) -> JsonResponse:
        try:
            return view(request)
        except DatabaseError as exc:
            metrics.SIGNATURE_FAILURES.labels("database_unavailable").inc()
            logger.warning("webhook.database_unavailable", extra={"error": type(exc).__name__})
            response = _error(503, "the inbox is unavailable for a moment; retry")
            response["Retry-After"] = str(DATABASE_RETRY_AFTER_S)
            return response

    return wrapped


@csrf_exempt
@require_POST
@_database_unavailable_is_503
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

    keys = webhook_keys()
    if not keys:
        logger.error("webhook.no_secret_configured")
        return _error(503, "webhook secret token is not configured")
    # Parsed before the signature is checked only to read which account it names (a body that is not JSON
    # is refused below once signed, and answered 401 if not).
    try:
        body: object = loads_body(raw)
        malformed: ProtocolError | None = None
    except ProtocolError as exc:
        body, malformed = None, exc
    verified = _verify(request, raw, body, keys)
    if isinstance(verified, JsonResponse):
        return verified
    if malformed is not None:
        metrics.SIGNATURE_FAILURES.labels("malformed").inc()
        delivery_refuse(channel=Channel.WEBHOOK, reason=malformed.reason)
        return _error(400, "body is not valid JSON")
    try:
        # records its own refusals
        result = ingest(body, channel=Channel.WEBHOOK, source_account_pk=verified.source_account_pk)
    except ProtocolError as exc:
        metrics.SIGNATURE_FAILURES.labels("malformed").inc()
        # The message names the field, never its value (rtms/zoom/protocol/fields.py).
        return _error(400, f"not a Zoom event: {exc}")
    if isinstance(result.event, UrlValidation):
        return JsonResponse(url_validation_response(verified.key.secret, result.event.plain_token))
    return JsonResponse({"status": "ok"})
