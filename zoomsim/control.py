"""The control API under /_sim/ (documented in docs/zoomsim.md). No authentication: loopback only."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from urllib.parse import unquote

from aiohttp import web

from zoomsim.clock import monotonic
from zoomsim.faults import FaultError
from zoomsim.rtms.faults import FaultError as RtmsFaultError
from zoomsim.rtms.server import RtmsServer
from zoomsim.scenario import (
    ScenarioError,
    apply_accounts_and_hosts,
    load_file,
    schedule_meetings,
    set_lookup_rates,
)
from zoomsim.sim import SIM_KEY, Simulator
from zoomsim.state import Meeting

PREFIX = "/_sim/meetings/"


def _sim(request: web.Request) -> Simulator:
    return request.app[SIM_KEY]


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


async def _body(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    try:
        data = await request.json()
    except ValueError as exc:
        raise web.HTTPBadRequest(
            text=json.dumps({"error": "invalid JSON"}), content_type="application/json"
        ) from exc
    if not isinstance(data, dict):
        raise web.HTTPBadRequest(
            text=json.dumps({"error": "expected an object"}), content_type="application/json"
        )
    return data


def _meeting_from_path(sim: Simulator, raw_rest: str) -> Meeting | None:
    """The meeting named by a raw (still percent-encoded) path segment: accepts the UUID encoded once,
    encoded twice (Zoom's rule for UUIDs starting with '/' or containing '//'), or a meeting number."""
    candidates = [raw_rest, unquote(raw_rest), unquote(unquote(raw_rest))]
    for c in candidates:
        m = sim.find_meeting(c)
        if m is not None:
            return m
    return None


async def create_meeting(request: web.Request) -> web.Response:
    sim = _sim(request)
    spec = await _body(request)
    try:
        start_time = (
            datetime.fromisoformat(spec["start_time"].replace("Z", "+00:00"))
            if spec.get("start_time")
            else None
        )
        m = sim.new_meeting(spec)
        sim.start_meeting(m, start_time=start_time, emit=bool(spec.get("emit_started", True)))
        if spec.get("end_offset_s") is not None:
            _schedule_end(sim, m, spec)
    except (ValueError, KeyError) as exc:
        return _error(400, str(exc))
    return web.json_response({"meeting_uuid": m.uuid, "meeting_id": m.id}, status=201)


def _schedule_end(sim: Simulator, m: Meeting, spec: dict[str, Any]) -> None:
    end_in = float(spec["end_offset_s"])

    async def later_end() -> None:
        await sim.sleep(end_in)
        if m.state == "live":
            sim.end_meeting(m)

    sim.spawn(later_end(), f"end:{m.uuid}")


async def list_meetings(request: web.Request) -> web.Response:
    sim = _sim(request)
    state = request.query.get("state")
    return web.json_response(
        {"meetings": [m.view() for m in sim.meetings.values() if state is None or m.state == state]}
    )


async def meeting_dispatch(request: web.Request) -> web.Response:
    """GET /_sim/meetings/<uuid>, POST /_sim/meetings/<uuid>/end, POST /_sim/meetings/<uuid>/rtms."""
    sim = _sim(request)
    raw = request.rel_url.raw_path[len(PREFIX) :]
    action = None
    for suffix in ("/end", "/rtms"):
        if request.method == "POST" and raw.endswith(suffix):
            raw, action = raw[: -len(suffix)], suffix[1:]
            break
    m = _meeting_from_path(sim, raw)
    if m is None:
        return _error(404, "no such meeting")
    if request.method == "GET" and action is None:
        return web.json_response(m.view())
    if action == "end":
        try:
            sim.end_meeting(m)
        except ValueError as exc:
            return _error(409, str(exc))
        return web.json_response(m.view())
    if action == "rtms":
        return await _host_rtms(sim, m, await _body(request))
    return _error(405, "method not allowed")


async def _host_rtms(sim: Simulator, m: Meeting, spec: dict[str, Any]) -> web.Response:
    """What a host or participant does in the Zoom client: start RTMS, or stop it with a reason."""
    action = spec.get("action")
    if m.state != "live":
        return _error(409, f"meeting is {m.state}")
    stream = m.active_stream
    if action == "start":
        if stream is not None:
            return _error(409, "a stream is already active")
        sim.begin_stream(m, operator_id=m.host.id)
    elif action == "stop":
        if stream is None or stream.state not in ("started", "paused"):
            return _error(409, "no started stream")
        sim.stop_stream_later(m, stream, int(spec.get("stop_reason", 1)))
    else:
        return _error(400, "action must be start or stop")
    return web.json_response(m.view())


async def add_event_fault(request: web.Request) -> web.Response:
    try:
        rule = _sim(request).faults.add_event_rule(await _body(request))
    except (FaultError, ValueError, TypeError) as exc:
        return _error(400, str(exc))
    return web.json_response({"id": rule.id}, status=201)


async def add_rest_fault(request: web.Request) -> web.Response:
    try:
        rule = _sim(request).faults.add_rest_rule(await _body(request))
    except (FaultError, ValueError, TypeError) as exc:
        return _error(400, str(exc))
    return web.json_response({"id": rule.id}, status=201)


async def ws_down(request: web.Request) -> web.Response:
    sim = _sim(request)
    spec = await _body(request)
    try:
        duration = float(spec.get("duration_s", 0))
    except (TypeError, ValueError):
        return _error(400, "duration_s must be a number")
    if duration <= 0:
        return _error(400, "duration_s must be > 0")
    sim.faults.ws_down_until = monotonic() + sim.config.scaled(duration)
    sim.ledger.record("fault.ws_down", duration_s=duration, real_s=sim.config.scaled(duration))
    await sim.events_ws.close_all("ws_down")
    return web.json_response({"down_for_real_s": sim.config.scaled(duration)})


async def list_faults(request: web.Request) -> web.Response:
    return web.json_response(_sim(request).faults.view())


async def clear_faults(request: web.Request) -> web.Response:
    _sim(request).faults.clear()
    return web.Response(status=204)


async def delete_fault(request: web.Request) -> web.Response:
    try:
        ok = _sim(request).faults.remove(int(request.match_info["id"]))
    except ValueError:
        ok = False
    return web.Response(status=204) if ok else _error(404, "no such fault")


async def expire_tokens(request: web.Request) -> web.Response:
    sim = _sim(request)
    spec = await _body(request)
    expired = sim.tokens.expire(spec.get("client_id"), spec.get("account_id"))
    sim.ledger.record(
        "tokens.expired", count=len(expired), client_id=spec.get("client_id"), account=spec.get("account_id")
    )
    await sim.events_ws.close_for_tokens(expired)
    return web.json_response({"expired": len(expired)})


async def ledger(request: web.Request) -> web.Response:
    q = request.query
    try:
        since = int(q["since"]) if q.get("since") else None
    except ValueError:
        return _error(400, "since must be an integer")
    entries = _sim(request).ledger.query(
        kind=q.get("kind"), meeting_uuid=q.get("meeting_uuid"), since=since, event=q.get("event")
    )
    return web.json_response({"entries": entries})


async def reset(request: web.Request) -> web.Response:
    sim = _sim(request)
    spec = await _body(request)
    await sim.reset()
    if spec.get("scenario") and sim.config.scenario_path:
        schedule_meetings(sim, load_file(sim.config.scenario_path))
    return web.Response(status=204)


async def set_webhook(request: web.Request) -> web.Response:
    sim = _sim(request)
    spec = await _body(request)
    url = spec.get("url") or None
    await sim.webhooks.set_url(url)
    return web.json_response({"url": url, "validated": sim.webhooks.validation_ok})


async def revalidate_webhook(request: web.Request) -> web.Response:
    sim = _sim(request)
    ok = await sim.webhooks.validate()
    return web.json_response({"validated": ok})


async def add_scenario(request: web.Request) -> web.Response:
    sim = _sim(request)
    data = await _body(request)
    try:
        apply_accounts_and_hosts(sim, data)
        schedule_meetings(sim, data)
    except ScenarioError as exc:
        return _error(400, str(exc))
    return web.Response(status=204)


async def add_host(request: web.Request) -> web.Response:
    sim = _sim(request)
    spec = await _body(request)
    if not spec.get("email"):
        return _error(400, "email is required")
    auto_start = spec.get("rtms_auto_start")
    if auto_start is not None and not isinstance(auto_start, bool):
        return _error(400, "rtms_auto_start must be true, false or null")
    try:
        h = sim.add_host(
            str(spec["email"]), spec.get("account"), spec.get("id"), spec.get("name"), auto_start
        )
    except ValueError as exc:
        return _error(400, str(exc))
    return web.json_response(
        {
            "id": h.id,
            "email": h.email,
            "account": h.account_id,
            "name": h.name,
            "rtms_auto_start": h.rtms_auto_start,
        },
        status=201,
    )


async def info(request: web.Request) -> web.Response:
    """Non-secret facts about this zoomsim: base URL, time scale, account and app ids."""
    sim = _sim(request)
    c = sim.config
    return web.json_response(
        {
            "base_url": sim.base_url,
            "time_scale": c.time_scale,
            "webhook_url": sim.webhooks.url,
            "webhook_validated": sim.webhooks.validation_ok,
            "rtms_client_id": c.rtms_app.client_id,
            "tls_port": sim.tls_port,
            "tls_ca_file": sim.tls_ca_file,
            "s2s_is_rtms_app": c.s2s_is_rtms_app,
            "accounts": [
                {
                    "account_id": a.id,
                    "s2s_client_id": a.config.s2s.client_id,
                    "subscription_id": a.config.subscription_id,
                    "data_centre": a.config.data_centre,
                    "rtms_plan": a.config.rtms_plan,
                    "rtms_concurrency_cap": sim.concurrency_cap(a.id),
                    "hosts": [{"id": h.id, "email": h.email, "name": h.name} for h in a.hosts.values()],
                }
                for a in sim.accounts.values()
            ],
            "ws_connections": [
                {"subscription_id": s, "connection": c.id} for s, c in sim.events_ws.conns.items()
            ],
        }
    )


async def rate_limits(request: web.Request) -> web.Response:
    """GET: the lookup endpoints' per-second limits. POST {"meeting_get_per_second"?, "user_get_per_second"?}
    changes them (counters are kept)."""
    sim = _sim(request)
    if request.method == "POST":
        try:
            set_lookup_rates(sim, await _body(request))
        except ScenarioError as exc:
            return _error(400, str(exc))
    return web.json_response(sim.lookup_rates)


async def tls_info(request: web.Request) -> web.Response:
    """{"tls_port", "ca_file"} (nulls when TLS is off)."""
    sim = _sim(request)
    return web.json_response({"tls_port": sim.tls_port, "ca_file": sim.tls_ca_file})


async def health(request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/_sim/health", health)
    r.add_get("/_sim/info", info)
    r.add_post("/_sim/meetings", create_meeting)
    r.add_get("/_sim/meetings", list_meetings)
    r.add_route("*", "/_sim/meetings/{rest:.+}", meeting_dispatch)
    r.add_post("/_sim/hosts", add_host)
    r.add_post("/_sim/scenario", add_scenario)
    r.add_get("/_sim/faults", list_faults)
    r.add_delete("/_sim/faults", clear_faults)
    r.add_delete("/_sim/faults/{id:\\d+}", delete_fault)
    r.add_post("/_sim/faults/events", add_event_fault)
    r.add_post("/_sim/faults/rest", add_rest_fault)
    r.add_post("/_sim/faults/ws_down", ws_down)
    r.add_post("/_sim/tokens/expire", expire_tokens)
    r.add_get("/_sim/rate_limits", rate_limits)
    r.add_post("/_sim/rate_limits", rate_limits)
    r.add_get("/_sim/ledger", ledger)
    r.add_get("/_sim/tls", tls_info)
    r.add_post("/_sim/reset", reset)
    r.add_post("/_sim/webhook", set_webhook)
    r.add_post("/_sim/webhook/validate", revalidate_webhook)


def add_rtms_routes(app: web.Application, rtms: RtmsServer) -> None:
    """GET /_sim/streams/<id> (the RTMS servers' view of a stream) and POST /_sim/streams/<id>/faults."""

    async def stream_view(request: web.Request) -> web.Response:
        try:
            return web.json_response(rtms.view(request.match_info["id"]))
        except RtmsFaultError as exc:
            return _error(exc.status, str(exc))

    async def stream_fault(request: web.Request) -> web.Response:
        spec = await _body(request)
        try:
            return web.json_response(await rtms.fault(request.match_info["id"], spec))
        except RtmsFaultError as exc:
            return _error(exc.status, str(exc))

    async def refuse_signaling(request: web.Request) -> web.Response:
        try:
            return web.json_response(rtms.refuse_signaling(await _body(request)), status=201)
        except RtmsFaultError as exc:
            return _error(exc.status, str(exc))

    app.router.add_get("/_sim/streams/{id}", stream_view)
    app.router.add_post("/_sim/streams/{id}/faults", stream_fault)
    app.router.add_post("/_sim/faults/rtms_signaling", refuse_signaling)
