"""Configuration: command-line flags, environment variables and the Zoom credential sets."""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

log = logging.getLogger("zoomsim.config")

# Used only when the corresponding variable is unset (a bare `python -m zoomsim` for a demo).
DEV_DEFAULTS: dict[str, str] = {
    "ZOOM_CLIENT_ID": "zoomsim-rtms-client-id",
    "ZOOM_CLIENT_SECRET": "zoomsim-rtms-client-secret",
    "ZOOM_WEBHOOK_SECRET_TOKEN": "zoomsim-webhook-secret-token",
    "ZOOM_ACCOUNT_ID": "zoomsimAccount0000001",
    "ZOOM_EVENT_SUBSCRIPTION_ID": "zoomsim-subscription-0001",
}


START_ON_RUNNING = ("refuse", "replace")


@dataclass(frozen=True)
class AppCreds:
    """An OAuth app: client id and secret."""

    client_id: str
    client_secret: str


@dataclass(frozen=True)
class AccountConfig:
    """A Zoom account with its Server-to-Server OAuth app and its event subscription."""

    account_id: str
    s2s: AppCreds
    subscription_id: str
    data_centre: str = "sjc1"
    rtms_plan: bool = True  # False: no Developer Pack/plan -> rtms_app/status answers 2310
    rtms_concurrency_cap: int | None = None  # None: the global cap
    metrics_rate_per_minute: int | None = None  # None: the global rate
    domains: tuple[str, ...] = ()  # unknown hosts with these e-mail domains are created in this account
    # The account's time zone: /metrics/meetings matches meetings by their start date in it.
    timezone: str = "UTC"


@dataclass(frozen=True)
class SimConfig:
    """Everything zoomsim needs. Durations are in *simulated* seconds unless named `_real_`."""

    host: str = "127.0.0.1"
    port: int = 9000
    public_url: str | None = None  # e.g. http://127.0.0.1:9000; default derived from host/port
    webhook_url: str | None = None
    scenario_path: str | None = None
    time_scale: float = 1.0
    token_ttl_s: float = 3600.0
    metrics_rate_per_minute: int = 20
    metrics_daily_cap: int = 60_000
    rtms_status_rate_per_second: int = 60
    rtms_concurrency_cap: int = 2000
    # A start while the meeting's stream still runs: "refuse" (400 2310) or "replace" (the old stream is
    # stopped with reason 2 and a new one starts). Zoom has been seen doing both (docs/zoomsim.md).
    rtms_start_on_running: str = "refuse"
    # The RTMS app (a General app): its client id/secret and webhook secret token.
    rtms_app: AppCreds = field(
        default_factory=lambda: AppCreds(DEV_DEFAULTS["ZOOM_CLIENT_ID"], DEV_DEFAULTS["ZOOM_CLIENT_SECRET"])
    )
    webhook_secret_token: str = DEV_DEFAULTS["ZOOM_WEBHOOK_SECRET_TOKEN"]
    # The default account; its s2s app is the RTMS app when ZOOM_S2S_* is unset.
    account: AccountConfig = field(
        default_factory=lambda: AccountConfig(
            account_id=DEV_DEFAULTS["ZOOM_ACCOUNT_ID"],
            s2s=AppCreds(DEV_DEFAULTS["ZOOM_CLIENT_ID"], DEV_DEFAULTS["ZOOM_CLIENT_SECRET"]),
            subscription_id=DEV_DEFAULTS["ZOOM_EVENT_SUBSCRIPTION_ID"],
        )
    )
    # Timers (simulated seconds; all multiplied by time_scale).
    rtms_event_delay_s: float = 1.0  # PATCH rtms_app/status -> event
    auto_start_delay_s: float = 2.0  # meeting start -> auto-start RTMS
    webhook_retry_schedule_s: tuple[float, ...] = (300.0, 1200.0, 3600.0)
    url_revalidation_interval_s: float = 72 * 3600.0
    ws_heartbeat_timeout_s: float = 90.0
    # RTMS servers (part 2; docs/zoomsim.md "RTMS servers").
    rtms_keepalive_interval_s: float = 10.0  # KEEP_ALIVE_REQ after this much idleness on a socket
    rtms_keepalive_misses: int = 3  # unanswered keep-alives before the socket is interrupted
    rtms_signaling_window_s: float = 60.0  # reconnect window after a signaling interruption/failover
    rtms_media_window_s: float = 30.0  # reconnect window after a media interruption
    rtms_connect_window_s: float = 60.0  # rtms_started -> first ready client, else rtms_stopped 11
    rtms_handshake_timeout_s: float = 10.0  # upgrade -> first handshake message (at least 1 s real)
    page_token_ttl_s: float = 15 * 60.0
    rate_window_s: float = 60.0
    daily_window_s: float = 86400.0
    # Real seconds, never scaled.
    webhook_timeout_real_s: float = 3.0  # Zoom's 3 s; override only in zoomsim's own tests
    rest_timeout_fault_hold_real_s: float = 30.0
    log_level: str = "INFO"
    # TLS for the RTMS servers: a test CA + server cert (DNS SAN localhost) in tls_dir, served on
    # tls_port (0 = ephemeral). When tls_dir is set, server_urls are wss://localhost:<tls port>/...
    tls_dir: str | None = None
    tls_port: int = 0

    @property
    def s2s_is_rtms_app(self) -> bool:
        return self.account.s2s.client_id == self.rtms_app.client_id

    def scaled(self, sim_seconds: float) -> float:
        """Real seconds for a simulated duration."""
        return sim_seconds * self.time_scale

    def base_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "", "::") else self.host
        return f"http://{host}:{self.port}"

    def with_overrides(self, **kwargs: object) -> SimConfig:
        return replace(self, **kwargs)  # type: ignore[arg-type]


def _env(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name)
    return value if value else None


def credentials_from_env(env: Mapping[str, str]) -> dict[str, object]:
    """The Zoom credential variables, read exactly as the product reads them (DESIGN "Configuration")."""
    missing = [k for k in DEV_DEFAULTS if not _env(env, k)]
    if missing:
        log.warning("zoomsim.config.dev_defaults", extra={"fields": {"variables": missing}})
    rtms = AppCreds(
        _env(env, "ZOOM_CLIENT_ID") or DEV_DEFAULTS["ZOOM_CLIENT_ID"],
        _env(env, "ZOOM_CLIENT_SECRET") or DEV_DEFAULTS["ZOOM_CLIENT_SECRET"],
    )
    s2s_id, s2s_secret = _env(env, "ZOOM_S2S_CLIENT_ID"), _env(env, "ZOOM_S2S_CLIENT_SECRET")
    s2s = AppCreds(s2s_id, s2s_secret) if s2s_id and s2s_secret else rtms
    account = AccountConfig(
        account_id=_env(env, "ZOOM_ACCOUNT_ID") or DEV_DEFAULTS["ZOOM_ACCOUNT_ID"],
        s2s=s2s,
        subscription_id=_env(env, "ZOOM_EVENT_SUBSCRIPTION_ID") or DEV_DEFAULTS["ZOOM_EVENT_SUBSCRIPTION_ID"],
        data_centre=_env(env, "ZOOMSIM_DATA_CENTRE") or "sjc1",
    )
    return {
        "rtms_app": rtms,
        "webhook_secret_token": _env(env, "ZOOM_WEBHOOK_SECRET_TOKEN")
        or DEV_DEFAULTS["ZOOM_WEBHOOK_SECRET_TOKEN"],
        "account": account,
    }


def build_parser(env: Mapping[str, str]) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m zoomsim", description="A local simulator of Zoom.")
    p.add_argument("--host", default=env.get("ZOOMSIM_HOST", "127.0.0.1"))
    p.add_argument("--port", type=int, default=int(env.get("ZOOMSIM_PORT", "9000")))
    p.add_argument("--public-url", default=_env(env, "ZOOMSIM_PUBLIC_URL"))
    p.add_argument("--webhook-url", default=_env(env, "ZOOMSIM_WEBHOOK_URL"))
    p.add_argument("--scenario", default=_env(env, "ZOOMSIM_SCENARIO"))
    p.add_argument("--time-scale", type=float, default=float(env.get("ZOOMSIM_TIME_SCALE", "1.0")))
    p.add_argument("--token-ttl", type=float, default=float(env.get("ZOOMSIM_TOKEN_TTL_SECONDS", "3600")))
    p.add_argument("--log-level", default=env.get("ZOOMSIM_LOG_LEVEL", "INFO"))
    p.add_argument("--tls-dir", default=_env(env, "ZOOMSIM_TLS_DIR"))
    p.add_argument("--tls-port", type=int, default=int(env.get("ZOOMSIM_TLS_PORT", "0")))
    return p


def config_from_args(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> SimConfig:
    env = os.environ if env is None else env
    args = build_parser(env).parse_args(argv)
    if args.time_scale <= 0:
        raise SystemExit("--time-scale must be > 0")
    start_on_running = env.get("ZOOMSIM_RTMS_START_ON_RUNNING", "refuse")
    if start_on_running not in START_ON_RUNNING:
        raise SystemExit(f"ZOOMSIM_RTMS_START_ON_RUNNING must be one of {START_ON_RUNNING}")
    return SimConfig(
        host=args.host,
        port=args.port,
        public_url=args.public_url,
        webhook_url=args.webhook_url,
        scenario_path=args.scenario,
        time_scale=args.time_scale,
        token_ttl_s=args.token_ttl,
        metrics_rate_per_minute=int(env.get("ZOOMSIM_METRICS_RATE_PER_MINUTE", "20")),
        metrics_daily_cap=int(env.get("ZOOMSIM_METRICS_DAILY_CAP", "60000")),
        rtms_status_rate_per_second=int(env.get("ZOOMSIM_RTMS_STATUS_RATE_PER_SECOND", "60")),
        rtms_start_on_running=start_on_running,
        rtms_concurrency_cap=int(env.get("ZOOMSIM_RTMS_CONCURRENCY_CAP", "2000")),
        rtms_event_delay_s=float(env.get("ZOOMSIM_RTMS_EVENT_DELAY_SECONDS", "1.0")),
        auto_start_delay_s=float(env.get("ZOOMSIM_AUTO_START_DELAY_SECONDS", "2.0")),
        log_level=args.log_level,
        tls_dir=args.tls_dir,
        tls_port=args.tls_port,
        rtms_signaling_window_s=float(env.get("ZOOMSIM_RTMS_SIGNALING_WINDOW_SECONDS", "60")),
        rtms_media_window_s=float(env.get("ZOOMSIM_RTMS_MEDIA_WINDOW_SECONDS", "30")),
        rtms_connect_window_s=float(env.get("ZOOMSIM_RTMS_CONNECT_WINDOW_SECONDS", "60")),
        rtms_keepalive_interval_s=float(env.get("ZOOMSIM_RTMS_KEEPALIVE_SECONDS", "10")),
        **credentials_from_env(env),  # type: ignore[arg-type]
    )
