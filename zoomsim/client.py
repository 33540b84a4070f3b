"""A small synchronous client for zoomsim's control API (/_sim/...). Used by tests and tools."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import requests


class SimClientError(RuntimeError):
    def __init__(self, response: requests.Response) -> None:
        super().__init__(
            f"{response.request.method} {response.url} -> {response.status_code}: {response.text}"
        )
        self.response = response
        self.status_code = response.status_code


def meeting_path(meeting_uuid: str, double: bool = False) -> str:
    """The path segment for a meeting UUID: URL-encoded once, or twice (Zoom's rule for '/' and '//')."""
    once = quote(meeting_uuid, safe="")
    return quote(once, safe="") if double else once


class SimClient:
    def __init__(self, base_url: str, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.http = requests.Session()

    def close(self) -> None:
        self.http.close()

    def _call(
        self,
        method: str,
        path: str,
        json: Any = None,
        params: dict[str, Any] | None = None,
        expect: tuple[int, ...] = (200, 201, 204),
    ) -> Any:
        resp = self.http.request(method, self.base_url + path, json=json, params=params, timeout=self.timeout)
        if resp.status_code not in expect:
            raise SimClientError(resp)
        if resp.status_code == 204 or not resp.content:
            return None
        return resp.json()

    # -- meetings --
    def create_meeting(
        self,
        host_email: str,
        topic: str | None = None,
        rtms: str | None = None,
        transcript: list[dict[str, Any]] | None = None,
        segment_interval_ms: int | None = None,
        speak_from: str | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"host_email": host_email, **extra}
        for k, v in (
            ("rtms", rtms),
            ("topic", topic),
            ("transcript", transcript),
            ("segment_interval_ms", segment_interval_ms),
            ("speak_from", speak_from),
        ):
            if v is not None:
                body[k] = v
        result: dict[str, Any] = self._call("POST", "/_sim/meetings", json=body)
        return result

    def get_meeting(self, meeting_uuid: str, double: bool = False) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", "/_sim/meetings/" + meeting_path(meeting_uuid, double))
        return result

    def list_meetings(self, state: str | None = None) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._call(
            "GET", "/_sim/meetings", params={"state": state} if state else None
        )["meetings"]
        return result

    def end_meeting(self, meeting_uuid: str, double: bool = False) -> dict[str, Any]:
        result: dict[str, Any] = self._call(
            "POST", "/_sim/meetings/" + meeting_path(meeting_uuid, double) + "/end"
        )
        return result

    def host_rtms(self, meeting_uuid: str, action: str, stop_reason: int | None = None) -> dict[str, Any]:
        """What the host does in the Zoom client: start RTMS, or stop it (stop_reason default 1)."""
        body: dict[str, Any] = {"action": action}
        if stop_reason is not None:
            body["stop_reason"] = stop_reason
        result: dict[str, Any] = self._call(
            "POST", "/_sim/meetings/" + meeting_path(meeting_uuid) + "/rtms", json=body
        )
        return result

    def add_host(
        self,
        email: str,
        account: str | None = None,
        name: str | None = None,
        id: str | None = None,
        rtms_auto_start: bool | None = None,
    ) -> dict[str, Any]:
        """A host; ``rtms_auto_start`` is Zoom's per-user setting (None: zoomsim's default, auto)."""
        body: dict[str, Any] = {
            k: v for k, v in {"email": email, "account": account, "name": name, "id": id}.items() if v
        }
        if rtms_auto_start is not None:
            body["rtms_auto_start"] = rtms_auto_start
        result: dict[str, Any] = self._call("POST", "/_sim/hosts", json=body)
        return result

    def load_scenario(self, scenario: dict[str, Any]) -> None:
        self._call("POST", "/_sim/scenario", json=scenario)

    # -- faults --
    def add_event_fault(
        self,
        event: str = "*",
        channel: str = "*",
        action: str = "drop",
        *,
        count: int | None = None,
        delay_s: float | None = None,
        times: int | None = None,
        meeting_uuid: str | None = None,
    ) -> int:
        body: dict[str, Any] = {"event": event, "channel": channel, "action": action}
        for k, v in (
            ("count", count),
            ("delay_s", delay_s),
            ("times", times),
            ("meeting_uuid", meeting_uuid),
        ):
            if v is not None:
                body[k] = v
        return int(self._call("POST", "/_sim/faults/events", json=body)["id"])

    def rest_fault(
        self,
        status: int | str,
        *,
        path: str | None = None,
        path_prefix: str | None = None,
        times: int | None = None,
        method: str | None = None,
        delay_s: float | None = None,
    ) -> int:
        body: dict[str, Any] = {"status": status}
        for k, v in (
            ("path", path),
            ("path_prefix", path_prefix),
            ("times", times),
            ("method", method),
            ("delay_s", delay_s),
        ):
            if v is not None:
                body[k] = v
        return int(self._call("POST", "/_sim/faults/rest", json=body)["id"])

    def ws_down(self, duration_s: float) -> dict[str, Any]:
        result: dict[str, Any] = self._call("POST", "/_sim/faults/ws_down", json={"duration_s": duration_s})
        return result

    def faults(self) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", "/_sim/faults")
        return result

    def delete_fault(self, fault_id: int) -> None:
        self._call("DELETE", f"/_sim/faults/{fault_id}")

    def clear_faults(self) -> None:
        self._call("DELETE", "/_sim/faults")

    def expire_tokens(self, client_id: str | None = None, account_id: str | None = None) -> int:
        body = {k: v for k, v in {"client_id": client_id, "account_id": account_id}.items() if v}
        return int(self._call("POST", "/_sim/tokens/expire", json=body)["expired"])

    # -- RTMS streams (part 2) --
    def stream_runtime(self, rtms_stream_id: str) -> dict[str, Any]:
        """The RTMS servers' view of a stream: connections, readiness, open windows."""
        result: dict[str, Any] = self._call("GET", f"/_sim/streams/{rtms_stream_id}")
        return result

    def stream_fault(self, rtms_stream_id: str, kind: str, **params: Any) -> dict[str, Any]:
        """POST /_sim/streams/<id>/faults {"kind": kind, ...params}."""
        result: dict[str, Any] = self._call(
            "POST", f"/_sim/streams/{rtms_stream_id}/faults", json={"kind": kind, **params}
        )
        return result

    def refuse_signaling(self, meeting_uuid: str, times: int = 1) -> dict[str, Any]:
        """POST /_sim/faults/rtms_signaling: the next ``times`` signaling handshakes of the meeting's streams
        are refused with status 2."""
        result: dict[str, Any] = self._call(
            "POST", "/_sim/faults/rtms_signaling", json={"meeting_uuid": meeting_uuid, "times": times}
        )
        return result

    def kill_signaling(self, rtms_stream_id: str) -> dict[str, Any]:
        return self.stream_fault(rtms_stream_id, "kill_signaling")

    def kill_media(self, rtms_stream_id: str, media: str | None = None) -> dict[str, Any]:
        return self.stream_fault(rtms_stream_id, "kill_media", **({"media": media} if media else {}))

    def failover(self, rtms_stream_id: str) -> dict[str, Any]:
        return self.stream_fault(rtms_stream_id, "failover")

    def stop_stream(self, rtms_stream_id: str, stop_reason: int = 1) -> dict[str, Any]:
        return self.stream_fault(rtms_stream_id, "stop", stop_reason=stop_reason)

    def keepalive_silence(self, rtms_stream_id: str, duration_s: float | None = None) -> dict[str, Any]:
        """The stream's RTMS server goes silent (no keep-alives, media or answers) for `duration_s`
        simulated seconds (None: until called again with 0)."""
        params = {} if duration_s is None else {"duration_s": duration_s}
        return self.stream_fault(rtms_stream_id, "keepalive_silence", **params)

    def tls(self) -> dict[str, Any]:
        """{"tls_port", "ca_file"}: where wss:// is served and the CA to verify it with."""
        result: dict[str, Any] = self._call("GET", "/_sim/tls")
        return result

    # -- ledger and admin --
    def ledger(
        self,
        kind: str | None = None,
        meeting_uuid: str | None = None,
        since: int | None = None,
        event: str | None = None,
    ) -> list[dict[str, Any]]:
        params = {
            k: v
            for k, v in {"kind": kind, "meeting_uuid": meeting_uuid, "since": since, "event": event}.items()
            if v is not None
        }
        result: list[dict[str, Any]] = self._call("GET", "/_sim/ledger", params=params)["entries"]
        return result

    def wait_for(
        self,
        kind: str | None = None,
        count: int = 1,
        timeout: float = 5.0,
        where: Callable[[dict[str, Any]], bool] | None = None,
        interval: float = 0.02,
        **filters: Any,
    ) -> list[dict[str, Any]]:
        """Poll the ledger until at least `count` matching entries exist; raise TimeoutError otherwise."""
        deadline = time.monotonic() + timeout
        while True:
            entries = [e for e in self.ledger(kind=kind, **filters) if where is None or where(e)]
            if len(entries) >= count:
                return entries
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"ledger: wanted {count} x kind={kind} {filters}, got {len(entries)}: {entries}"
                )
            time.sleep(interval)

    def reset(self, scenario: bool = False) -> None:
        self._call("POST", "/_sim/reset", json={"scenario": scenario})

    def set_webhook_url(self, url: str | None) -> dict[str, Any]:
        result: dict[str, Any] = self._call("POST", "/_sim/webhook", json={"url": url})
        return result

    def validate_webhook(self) -> bool:
        return bool(self._call("POST", "/_sim/webhook/validate")["validated"])

    def info(self) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", "/_sim/info")
        return result

    def health(self) -> bool:
        try:
            return bool(self._call("GET", "/_sim/health")["ok"])
        except (requests.RequestException, SimClientError):
            return False
