"""The aiohttp application: one port for OAuth, REST, the event WebSocket and the control API."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from aiohttp import web

from zoomsim import control, rest
from zoomsim.config import SimConfig
from zoomsim.log import log_event
from zoomsim.rtms.server import RtmsServer
from zoomsim.scenario import apply_accounts_and_hosts, load_file, schedule_meetings
from zoomsim.sim import SIM_KEY, Simulator

log = logging.getLogger("zoomsim.app")
RTMS_KEY: web.AppKey[RtmsServer] = web.AppKey("zoomsim-rtms", RtmsServer)


def create_app(config: SimConfig, sim: Simulator | None = None) -> web.Application:
    """Build the app. Part 2 adds its RTMS routes to the returned app (same port, same Simulator)."""
    sim = sim or Simulator(config)
    scenario = load_file(config.scenario_path) if config.scenario_path else None
    if scenario is not None:
        apply_accounts_and_hosts(sim, scenario)
    app = web.Application(middlewares=[rest.rest_middleware])
    app[SIM_KEY] = sim
    rest.add_routes(app)
    control.add_routes(app)
    app.router.add_get("/ws", sim.events_ws.handle)
    rtms = RtmsServer(sim)
    app[RTMS_KEY] = rtms
    rtms.add_routes(app)
    control.add_rtms_routes(app, rtms)

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        await sim.startup()
        if scenario is not None:
            schedule_meetings(sim, scenario)
        log_event(
            log,
            "zoomsim.started",
            base_url=sim.base_url,
            time_scale=config.time_scale,
            webhook_url=config.webhook_url,
            accounts=list(sim.accounts),
        )
        yield
        await sim.shutdown()
        log_event(log, "zoomsim.stopped")

    app.cleanup_ctx.append(lifecycle)

    async def on_shutdown(app: web.Application) -> None:
        await sim.events_ws.close_all("shutdown")
        await rtms.close_all("shutdown")

    app.on_shutdown.append(on_shutdown)
    return app


async def start_site(app: web.Application, config: SimConfig) -> tuple[web.AppRunner, int]:
    """Set up and bind; with port 0 the real port is used for api_url and server_urls."""
    runner = web.AppRunner(app, shutdown_timeout=2.0, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, config.host, config.port)
    try:
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    port = int(runner.addresses[0][1])
    sim = app[SIM_KEY]
    if port != config.port and not config.public_url:
        sim.base_url = config.with_overrides(port=port).base_url()
    if config.tls_dir:
        from zoomsim.tls import ensure_tls_files, server_context

        files = ensure_tls_files(config.tls_dir)
        tls_site = web.TCPSite(runner, config.host, config.tls_port, ssl_context=server_context(files))
        before = {tuple(a) for a in runner.addresses}
        try:
            await tls_site.start()
        except BaseException:
            await runner.cleanup()
            raise
        new = [a for a in runner.addresses if tuple(a) not in before]
        sim.tls_port = int(new[0][1]) if new else config.tls_port
        sim.tls_ca_file = files.ca
        log_event(log, "zoomsim.tls", tls_port=sim.tls_port, ca_file=files.ca)
    return runner, port
