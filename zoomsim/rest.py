"""OAuth token endpoint and the REST API (/v2/...), with the REST middleware (faults, tracking id, ledger)."""

from __future__ import annotations

import asyncio
import json
import math
import re
import secrets
from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from typing import Any
from urllib.parse import unquote
from zoneinfo import ZoneInfo

from aiohttp import web

from zoomsim import ids
from zoomsim.clock import iso_z, monotonic, utcnow
from zoomsim.faults import RestFault
from zoomsim.oauth import APP_SCOPES, S2S_SCOPES, OAuthError, Token
from zoomsim.ratelimit import RateLimiter, Verdict
from zoomsim.sim import SIM_KEY, SimError, Simulator
from zoomsim.state import Host, Meeting

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

MSG_RATE_QPS = "You have reached the maximum per-second rate limit for this API. Try again later."
MSG_RATE_DAILY = (
    "You have reached the maximum daily rate limit for this API. "
    "Refer to the response header for details on when you can make another request."
)
LEDGER: web.RequestKey[dict[str, Any]] = web.RequestKey("zoomsim_ledger", dict)
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class RestError(Exception):
    def __init__(
        self,
        status: int,
        body: dict[str, Any],
        reason: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(body.get("message", ""))
        self.status = status
        self.body = body
        self.reason = reason
        self.headers = headers or {}


def sim_of(request: web.Request) -> Simulator:
    return request.app[SIM_KEY]


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response(body, status=status, headers=headers, dumps=lambda o: json.dumps(o))


def validation_error(field: str, message: str = "Invalid field.") -> RestError:
    return RestError(
        400,
        {"code": 300, "message": "Validation Failed.", "errors": [{"field": field, "message": message}]},
        reason="validation",
    )


# ---- middleware ---------------------------------------------------------------------------------


@web.middleware
async def rest_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """For /v2/ and /oauth/: injected faults, x-zm-trackingid on every answer, one ledger entry per call."""
    path = request.path
    if not (path.startswith("/v2/") or path.startswith("/oauth/")):
        return await handler(request)
    sim = sim_of(request)
    request[LEDGER] = {}
    rule = sim.faults.take_rest_rule(request.method, path)
    try:
        if rule is not None:
            request[LEDGER]["fault_rule"] = rule.id
            sim.ledger.record("fault.applied", channel="rest", rule=rule.id, path=path, status=rule.status)
            await _apply_rest_fault(sim, request, rule)
        response = await handler(request)
    except RestError as exc:
        response = _json(exc.status, exc.body, exc.headers)
        if exc.reason:
            request[LEDGER]["reason"] = exc.reason
        request[LEDGER]["code"] = exc.body.get("code")
    except web.HTTPException as exc:
        response = _json(exc.status, {"code": exc.status, "message": exc.reason})
    response.headers["x-zm-trackingid"] = ids.tracking_id()
    info = request[LEDGER]
    kind = "oauth.token" if path.startswith("/oauth/") else "rest.call"
    sim.ledger.record(
        kind,
        method=request.method,
        path=path,
        query=request.query_string or None,
        status=response.status,
        **info,
    )
    return response


async def _apply_rest_fault(sim: Simulator, request: web.Request, rule: RestFault) -> None:
    """An injected fault: raises the error it answers with; a ``delay`` returns once the delay has passed,
    and the request is then handled as usual (a slow Zoom, which may answer a caller that gave up)."""
    if rule.status == "delay":
        request[LEDGER]["reason"] = "fault_delay"
        await sim.sleep(rule.delay_s)
        return
    if rule.status == "timeout":
        request[LEDGER]["reason"] = "fault_timeout"
        await asyncio.sleep(sim.config.rest_timeout_fault_hold_real_s)
        raise RestError(504, {"code": 504, "message": "Gateway Timeout"}, reason="fault_timeout")
    status = int(rule.status)
    if status == 429:
        raise RestError(
            429,
            {"code": 429, "message": MSG_RATE_QPS},
            reason="fault",
            headers={"X-RateLimit-Category": "Resource-intensive", "X-RateLimit-Type": "QPS"},
        )
    raise RestError(
        status,
        {
            "code": status,
            "message": "Internal Server Error" if status == 500 else "Service Unavailable",
        },
        reason="fault",
    )


# ---- OAuth --------------------------------------------------------------------------------------


async def oauth_token(request: web.Request) -> web.Response:
    sim = sim_of(request)
    form: dict[str, str] = dict(request.query)
    if request.can_read_body:
        posted = await request.post()
        form.update({k: str(v) for k, v in posted.items()})
    grant = form.get("grant_type")
    request[LEDGER].update(grant_type=grant, account=form.get("account_id"))
    try:
        app = sim.tokens.authenticate(request.headers.get("Authorization"))
        request[LEDGER]["client_id"] = app.creds.client_id
        token = sim.tokens.issue(app, grant, form.get("account_id"))
    except OAuthError as exc:
        request[LEDGER]["reason"] = exc.body.get("error")
        return _json(exc.status, exc.body)
    expires_in = max(1, int(sim.config.scaled(sim.config.token_ttl_s)))
    return _json(
        200,
        {
            "access_token": token.value,
            "token_type": "bearer",
            "expires_in": expires_in,
            "scope": S2S_SCOPES if token.account_level else APP_SCOPES,
            "api_url": sim.base_url,
        },
    )


# ---- auth for /v2 -------------------------------------------------------------------------------


def authenticate(request: web.Request) -> Token:
    """A Bearer token of the account's S2S app, obtained with account_credentials."""
    sim = sim_of(request)
    header = request.headers.get("Authorization", "")
    value = header[7:].strip() if header.lower().startswith("bearer ") else None
    token = sim.tokens.lookup(value)
    invalid = RestError(401, {"code": 124, "message": "Invalid access token."}, reason="invalid_token")
    if token is None:
        raise invalid
    request[LEDGER].update(account=token.account_id, client_id=token.client_id)
    if token.expired:
        raise RestError(401, {"code": 124, "message": "Access token is expired."}, reason="expired_token")
    account = sim.accounts.get(token.account_id)
    if account is None or token.client_id != account.config.s2s.client_id or not token.account_level:
        invalid.reason = "wrong_app_token"
        raise invalid
    return token


def rate_limited(category: str, v: Verdict) -> RestError:
    headers = {
        "X-RateLimit-Category": category,
        "X-RateLimit-Type": v.kind,
        "X-RateLimit-Limit": str(v.limit),
        "X-RateLimit-Remaining": "0",
    }
    if v.kind == "Daily-limit":
        headers["Retry-After"] = iso_z(utcnow() + timedelta(seconds=math.ceil(v.retry_after_s)))
        return RestError(
            429, {"code": 429, "message": MSG_RATE_DAILY}, reason="rate_limit_daily", headers=headers
        )
    return RestError(429, {"code": 429, "message": MSG_RATE_QPS}, reason="rate_limit", headers=headers)


# ---- GET /v2/metrics/meetings -------------------------------------------------------------------


def _parse_date(raw: str | None, field: str) -> date:
    if not raw:
        raise validation_error(field, f"The '{field}' parameter is required.")
    if not DATE_RE.match(raw):
        raise validation_error(field, "Invalid date format, expected yyyy-mm-dd.")
    try:
        return date.fromisoformat(raw)
    except ValueError as exc:
        raise validation_error(field, "Invalid date.") from exc


def _hms(seconds: float) -> str:
    s = max(0, int(seconds))
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


async def metrics_meetings(request: web.Request) -> web.Response:
    sim = sim_of(request)
    token = authenticate(request)
    acc = sim.accounts[token.account_id]
    rate = acc.config.metrics_rate_per_minute or sim.config.metrics_rate_per_minute
    verdict = sim.metrics_limiter.check(acc.id, rate, sim.config.metrics_daily_cap)
    if not verdict.allowed:
        raise rate_limited("Resource-intensive", verdict)
    rl_headers = {
        "X-RateLimit-Category": "Resource-intensive",
        "X-RateLimit-Type": "QPS",
        "X-RateLimit-Limit": str(verdict.limit),
        "X-RateLimit-Remaining": str(verdict.remaining),
    }
    q = request.query
    page_token = q.get("next_page_token") or None
    if page_token:
        saved = sim.page_tokens.get(page_token)
        if saved is None or saved["account"] != acc.id or monotonic() >= saved["expires_at"]:
            sim.page_tokens.pop(page_token, None)
            raise RestError(
                400,
                {"code": 300, "message": "The next page token is invalid or expired."},
                reason="bad_page_token",
            )
        mtype, d_from, d_to, offset = saved["type"], saved["from"], saved["to"], saved["offset"]
        default_size = saved["page_size"]
    else:
        mtype = q.get("type", "live")
        if mtype not in ("live", "past", "pastOne"):
            raise validation_error("type")
        d_from, d_to = _parse_date(q.get("from"), "from"), _parse_date(q.get("to"), "to")
        today = utcnow().date()
        if d_to < d_from:
            raise RestError(
                400,
                {"code": 300, "message": "The 'to' date must be after the 'from' date."},
                reason="validation",
            )
        if (d_to - d_from).days > 31:
            raise RestError(
                400, {"code": 300, "message": "The date range must be within one month."}, reason="validation"
            )
        if d_from < today - timedelta(days=183):
            raise RestError(
                400, {"code": 300, "message": "Only provide report in recent 6 months."}, reason="validation"
            )
        offset, default_size = 0, 30
    raw_size = q.get("page_size")
    if raw_size is None:
        page_size = default_size
    else:
        try:
            page_size = int(raw_size)
        except ValueError as exc:
            raise validation_error("page_size") from exc
        if page_size < 1:
            raise validation_error("page_size")
        page_size = min(page_size, 300)  # Zoom clamps silently; the answer's page_size shows it

    now = utcnow()
    # Zoom matches start dates in the account's time zone: near midnight that is another day than UTC's.
    account_zone = ZoneInfo(acc.config.timezone)

    def selected(m: Meeting) -> bool:
        if m.account_id != acc.id or m.start_time is None:
            return False
        if not (d_from <= m.start_time.astimezone(account_zone).date() <= d_to):
            return False
        if mtype == "live":
            return bool(m.state == "live")
        if m.state != "ended":
            return False
        return bool(m.participants <= 1) if mtype == "pastOne" else bool(m.participants > 1)

    chosen = sorted((m for m in sim.meetings.values() if selected(m)), key=lambda m: (m.start_time, m.uuid))
    total = len(chosen)
    page = chosen[offset : offset + page_size]
    next_token = ""
    if offset + page_size < total:
        next_token = secrets.token_urlsafe(24)
        sim.page_tokens[next_token] = {
            "account": acc.id,
            "type": mtype,
            "from": d_from,
            "to": d_to,
            "offset": offset + page_size,
            "page_size": page_size,
            "expires_at": monotonic() + sim.config.scaled(sim.config.page_token_ttl_s),
        }
    meetings = []
    for m in page:
        end = m.end_time if m.state == "ended" else None
        assert m.start_time is not None
        item: dict[str, Any] = {
            "uuid": m.uuid,
            "id": m.id,
            "topic": m.topic,
            "host": m.host.name,
            "email": m.host.email,
            "user_type": m.host.user_type,
            "start_time": iso_z(m.start_time),
            "duration": _hms(((end or now) - m.start_time).total_seconds()),
            "participants": m.participants,
            "has_pstn": False,
            "has_voip": True,
            "has_3rd_party_audio": False,
            "has_video": True,
            "has_screen_share": False,
            "has_recording": False,
            "has_sip": False,
            "has_archiving": False,
            "has_manual_captions": False,
            "has_automated_captions": False,
            "has_external_participant": False,
            "in_room_participants": 0,
            "dept": "",
            "custom_keys": m.custom_keys,
            "tracking_fields": m.tracking_fields,
            "audio_quality": "good",
            "video_quality": "good",
            "screen_share_quality": "",
        }
        if end is not None:
            item["end_time"] = iso_z(end)
        meetings.append(item)
    request[LEDGER]["returned"] = len(meetings)
    return _json(
        200,
        {
            "from": d_from.isoformat(),
            "to": d_to.isoformat(),
            "page_count": math.ceil(total / page_size) if total else 0,
            "page_size": page_size,
            "total_records": total,
            "next_page_token": next_token,
            "meetings": meetings,
        },
        headers=rl_headers,
    )


# ---- PATCH /v2/live_meetings/{meetingId}/rtms_app/status ----------------------------------------


async def rtms_app_status(request: web.Request) -> web.Response:
    sim = sim_of(request)
    token = authenticate(request)
    acc = sim.accounts[token.account_id]
    verdict = sim.status_limiter.check(acc.id, sim.config.rtms_status_rate_per_second)
    if not verdict.allowed:
        raise rate_limited("Medium", verdict)
    raw_id = request.match_info["meeting_id"]
    not_found = RestError(
        404, {"code": 3001, "message": f"Meeting does not exist: {raw_id}."}, reason="not_found"
    )
    if not raw_id.isdigit():
        raise not_found
    meeting = sim.live_meeting_by_number(int(raw_id), acc.id)
    if meeting is None:
        raise not_found
    request[LEDGER]["meeting_uuid"] = meeting.uuid
    try:
        body = await request.json()
    except (ValueError, UnicodeDecodeError) as exc:
        raise RestError(
            400, {"code": 300, "message": "Request Body should be a valid JSON object."}, reason="validation"
        ) from exc
    if not isinstance(body, dict):
        raise RestError(
            400, {"code": 300, "message": "Request Body should be a valid JSON object."}, reason="validation"
        )
    action = body.get("action")
    request[LEDGER]["action"] = action
    if action not in ("start", "stop", "pause", "resume"):
        raise validation_error("action")
    settings = body.get("settings")
    client_id = settings.get("client_id") if isinstance(settings, dict) else None
    if not client_id:
        raise validation_error("settings.client_id")
    not_allowed = RestError(
        400, {"code": 2308, "message": "Not allowed to start RTMS app"}, reason="not_allowed"
    )
    if client_id != sim.config.rtms_app.client_id or meeting.rtms == "none":
        raise not_allowed
    if not sim.rtms_plan(meeting):
        raise RestError(
            400, {"code": 2310, "message": "Failed to perform RTMS app operation"}, reason="no_plan"
        )
    try:
        sim.rtms_action(meeting, action, operator_id=meeting.host.id)
    except SimError as exc:
        request[LEDGER]["reason"] = "refused"
        raise RestError(exc.status, exc.body, reason="refused") from exc
    return web.Response(status=204)


# ---- GET /v2/meetings/{meetingId} and GET /v2/users/{userId} ------------------------------------


def _lookup_auth(
    request: web.Request, limiter: RateLimiter, rate_key: str, category: str
) -> tuple[str, dict[str, str]]:
    """Authenticate and apply the per-account limit: the account id and the success's X-RateLimit-*."""
    sim = sim_of(request)
    token = authenticate(request)
    verdict = limiter.check(token.account_id, sim.lookup_rates[rate_key])
    if not verdict.allowed:
        raise rate_limited(category, verdict)
    return token.account_id, {
        "X-RateLimit-Category": category,
        "X-RateLimit-Type": "QPS",
        "X-RateLimit-Limit": str(verdict.limit),
        "X-RateLimit-Remaining": str(verdict.remaining),
    }


MEETINGS_PREFIX = "/v2/meetings/"


async def get_meeting(request: web.Request) -> web.Response:
    """Zoom's "Get a meeting" (Light). The path names a meeting number, or a UUID encoded once or
    twice (Zoom's rule for UUIDs that start with '/' or contain '//')."""
    sim = sim_of(request)
    account_id, headers = _lookup_auth(request, sim.meeting_get_limiter, "meeting_get_per_second", "Light")
    raw = request.rel_url.raw_path[len(MEETINGS_PREFIX) :]
    if not raw or "/" in raw:  # a literal '/' is a sub-resource zoomsim does not serve
        raise RestError(404, {"code": 404, "message": "Not Found"}, reason="no_route")
    once = unquote(raw)
    meeting = None
    for key in dict.fromkeys((raw, once, unquote(once))):
        meeting = sim.account_meeting(key, account_id)
        if meeting is not None:
            break
    if meeting is None:
        raise RestError(
            404, {"code": 3001, "message": f"Meeting does not exist: {once}."}, reason="not_found"
        )
    request[LEDGER]["meeting_uuid"] = meeting.uuid
    start = meeting.start_time or meeting.created_at
    body = {
        "uuid": meeting.uuid,
        "id": meeting.id,
        "host_id": meeting.host.id,
        "host_email": meeting.host.email,
        "assistant_id": "",
        "topic": meeting.topic,
        "type": meeting.type,
        # Zoom's enum has only these two: an ended meeting is "waiting" again.
        "status": "started" if meeting.state == "live" else "waiting",
        "start_time": iso_z(start),
        "duration": meeting.duration,
        "timezone": meeting.host.timezone,
        "agenda": "",
        "created_at": iso_z(meeting.created_at),
        "join_url": f"{sim.base_url}/j/{meeting.id}",
        "pre_schedule": False,
        "tracking_fields": [{"field": t["field"], "value": t["value"]} for t in meeting.tracking_fields],
    }
    return _json(200, body, headers=headers)


_USER_TYPES = {"Basic": 1, "Licensed": 2}


async def get_user(request: web.Request) -> web.Response:
    """Zoom's "Get a user" (Medium): a user id, an e-mail, or `me` (the account's first user)."""
    sim = sim_of(request)
    account_id, headers = _lookup_auth(request, sim.user_get_limiter, "user_get_per_second", "Medium")
    key = request.match_info["user_id"]
    host: Host | None
    if key == "me":
        host = next(iter(sim.accounts[account_id].hosts.values()), None)
    else:
        host = sim.account_host(key, account_id)
    if host is None:
        raise RestError(404, {"code": 1001, "message": f"User does not exist: {key}."}, reason="not_found")
    request[LEDGER]["user_id"] = host.id
    first, _, last = host.name.partition(" ")
    body = {
        "id": host.id,
        "email": host.email,
        "first_name": first,
        "last_name": last,
        "display_name": host.name,
        "type": _USER_TYPES.get(host.user_type, 2),
        "account_id": host.account_id,
        "timezone": host.timezone,
        "status": "active",
    }
    return _json(200, body, headers=headers)


async def v2_not_found(request: web.Request) -> web.Response:
    raise RestError(404, {"code": 404, "message": "Not Found"}, reason="no_route")


def add_routes(app: web.Application) -> None:
    app.router.add_post("/oauth/token", oauth_token)
    app.router.add_get("/v2/metrics/meetings", metrics_meetings)
    app.router.add_patch("/v2/live_meetings/{meeting_id}/rtms_app/status", rtms_app_status)
    app.router.add_get("/v2/meetings/{meeting_id:.+}", get_meeting)
    app.router.add_get("/v2/users/{user_id}", get_user)
    app.router.add_route("*", "/v2/{tail:.*}", v2_not_found)
