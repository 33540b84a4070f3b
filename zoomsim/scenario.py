"""JSON scenarios: extra accounts, hosts and scheduled meetings.

{
  "accounts": [{"account_id", "s2s_client_id", "s2s_client_secret" | "s2s_client_secret_env",
                "subscription_id", "data_centre", "rtms_plan", "rtms_concurrency_cap",
                "metrics_rate_per_minute", "domains": ["eu.example.com"], "timezone"}],
  "hosts": [{"id", "email", "account", "name", "rtms_auto_start"}],
  "rate_limits": {"meeting_get_per_second", "user_get_per_second"},
  "rtms_behaviour": {"start_on_running": "refuse" | "replace"},
  "meetings": [{"host_email", "topic", "rtms", "start_offset_s", "end_offset_s", "data_centre",
                "tracking_fields", "transcript", "segment_interval_ms", "speak_from", "transcript_generate",
                "participants",
                "meeting_uuid", "meeting_id", "type", "duration", "rtms_plan",
                "omit_host_email_in_events"}]
}
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from zoomsim.config import START_ON_RUNNING, AccountConfig, AppCreds
from zoomsim.sim import Simulator


class ScenarioError(ValueError):
    pass


def _secret(spec: dict[str, Any], name: str) -> str | None:
    if spec.get(name):
        return str(spec[name])
    env_name = spec.get(name + "_env")
    return os.environ.get(str(env_name)) if env_name else None


def load_file(path: str) -> dict[str, Any]:
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    if not isinstance(data, dict):
        raise ScenarioError("a scenario is a JSON object")
    return data


def set_lookup_rates(sim: Simulator, rates: Any) -> None:
    """{"meeting_get_per_second": n, "user_get_per_second": n}: either key may be left out."""
    if not isinstance(rates, dict):
        raise ScenarioError("rate_limits must be an object")
    unknown = set(rates) - set(sim.lookup_rates)
    if unknown:
        raise ScenarioError(f"unknown rate limits: {sorted(unknown)}")
    for key, value in rates.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ScenarioError(f"{key} must be a positive integer")
    sim.lookup_rates.update(rates)


def apply_accounts_and_hosts(sim: Simulator, data: dict[str, Any]) -> None:
    if "rate_limits" in data:
        set_lookup_rates(sim, data["rate_limits"])
    for spec in data.get("accounts", []):
        account_id = spec.get("account_id")
        if not account_id:
            raise ScenarioError("account_id is required")
        existing = sim.accounts.get(account_id)
        if existing is not None:
            cfg = existing.config
        else:
            cid, secret = spec.get("s2s_client_id"), _secret(spec, "s2s_client_secret")
            if not cid or not secret or not spec.get("subscription_id"):
                raise ScenarioError(
                    f"account {account_id}: s2s_client_id, secret and subscription_id required"
                )
            cfg = AccountConfig(account_id, AppCreds(str(cid), secret), str(spec["subscription_id"]))
        cfg = replace(
            cfg,
            data_centre=str(spec.get("data_centre", cfg.data_centre)),
            rtms_plan=bool(spec.get("rtms_plan", cfg.rtms_plan)),
            rtms_concurrency_cap=spec.get("rtms_concurrency_cap", cfg.rtms_concurrency_cap),
            metrics_rate_per_minute=spec.get("metrics_rate_per_minute", cfg.metrics_rate_per_minute),
            domains=tuple(str(d).lower() for d in spec.get("domains", cfg.domains)),
            timezone=_timezone(spec.get("timezone", cfg.timezone)),
        )
        sim.add_account(cfg)
    for spec in data.get("hosts", []):
        if not spec.get("email"):
            raise ScenarioError("host email is required")
        sim.add_host(
            str(spec["email"]),
            spec.get("account"),
            spec.get("id"),
            spec.get("name"),
            rtms_auto_start=_optional_bool(spec, "rtms_auto_start"),
        )
    if "rtms_behaviour" in data:
        set_rtms_behaviour(sim, data["rtms_behaviour"])


def _timezone(name: Any) -> str:
    try:
        ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError):
        raise ScenarioError(f"unknown time zone {name!r}") from None
    return str(name)


def _optional_bool(spec: dict[str, Any], key: str) -> bool | None:
    value = spec.get(key)
    if value is not None and not isinstance(value, bool):
        raise ScenarioError(f"{key} must be true, false or null")
    return value


def set_rtms_behaviour(sim: Simulator, behaviour: Any) -> None:
    """{"start_on_running": "refuse" | "replace"}."""
    if not isinstance(behaviour, dict) or set(behaviour) - {"start_on_running"}:
        raise ScenarioError('rtms_behaviour is {"start_on_running": "refuse" | "replace"}')
    value = behaviour.get("start_on_running", sim.start_on_running)
    if value not in START_ON_RUNNING:
        raise ScenarioError(f"start_on_running must be one of {START_ON_RUNNING}")
    sim.start_on_running = value


def schedule_meetings(sim: Simulator, data: dict[str, Any]) -> None:
    for spec in data.get("meetings", []):
        try:
            m = sim.new_meeting(spec)
        except ValueError as exc:
            raise ScenarioError(str(exc)) from exc
        end = spec.get("end_offset_s")
        sim.schedule_meeting(
            m, float(spec.get("start_offset_s", 0.0)), float(end) if end is not None else None
        )
