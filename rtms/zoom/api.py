"""Zoom REST client: S2S OAuth tokens shared between processes, typed results, errors callers can act on.

zoom-protocol.md §6. Every request has a timeout. A 401 refreshes the token once (tokens can be revoked
or expire early); a 429 is retried after Zoom's ``Retry-After`` (or a short capped back-off) a bounded
number of times, then raised as :class:`ZoomRateLimited` so the caller can back off for longer.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Literal, Protocol
from urllib.parse import quote

import requests

from rtms.zoom.credentials import AccountApiCredentials

RtmsAction = Literal["start", "stop", "pause", "resume"]


class TokenCache(Protocol):
    """Where access tokens are shared between processes (Redis in production)."""

    def get(self, key: str) -> str | None: ...

    def set(self, key: str, value: str, ttl_seconds: int) -> None: ...

    def delete(self, key: str) -> None: ...


class MemoryTokenCache:
    def __init__(self) -> None:
        self._items: dict[str, tuple[str, float]] = {}

    def get(self, key: str) -> str | None:
        item = self._items.get(key)
        if item is None or item[1] <= time.monotonic():
            return None
        return item[0]

    def set(self, key: str, value: str, ttl_seconds: int) -> None:
        self._items[key] = (value, time.monotonic() + ttl_seconds)

    def delete(self, key: str) -> None:
        self._items.pop(key, None)


class ZoomApiError(Exception):
    """A Zoom answer we could not use. ``code`` is Zoom's own error code when it sent one."""

    def __init__(self, status: int, code: int | None, message: str) -> None:
        super().__init__(
            f"Zoom answered {status}" + (f" (code {code})" if code is not None else "") + f": {message}"
        )
        self.status = status
        self.code = code
        self.message = message


class ZoomAuthError(ZoomApiError):
    """Credentials refused: retrying will not help until someone fixes the configuration."""


class ZoomRateLimited(ZoomApiError):
    def __init__(self, status: int, code: int | None, message: str, retry_after: float | None) -> None:
        super().__init__(status, code, message)
        self.retry_after = retry_after


class ZoomUnavailable(ZoomApiError):
    """5xx, timeout or connection failure: transient, worth retrying with back-off."""


class ZoomNotFound(ZoomApiError):
    pass


class ZoomRefused(ZoomApiError):
    """A 4xx with a reason (e.g. 2308 not allowed, 2310 no plan, 3001 not live): recorded, not retried."""


@dataclass(frozen=True)
class LiveMeeting:
    """One row of ``GET /metrics/meetings`` (§6.3). There is no host id in it."""

    uuid: str
    id: int
    topic: str = field(repr=False)
    host: str = field(repr=False)
    email: str | None = field(repr=False)
    start_time: datetime | None
    tracking_fields: tuple[tuple[str, str], ...] = field(repr=False)


@dataclass(frozen=True)
class MeetingsPage:
    meetings: tuple[LiveMeeting, ...]
    next_page_token: str
    total_records: int | None


@dataclass(frozen=True)
class MeetingDetails:
    """``GET /meetings/{id}``: the facts residency routing may need."""

    uuid: str
    id: int
    host_id: str
    host_email: str | None = field(repr=False)
    topic: str = field(repr=False)
    tracking_fields: tuple[tuple[str, str], ...] = field(repr=False)


@dataclass(frozen=True)
class UserDetails:
    id: str
    email: str | None = field(repr=False)


def _parse_time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _tracking(value: object) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, list):
        return ()
    pairs = []
    for item in value:
        if isinstance(item, dict) and isinstance(item.get("field"), str):
            raw = item.get("value")
            pairs.append((item["field"], raw if isinstance(raw, str) else ""))
    return tuple(pairs)


def _int(value: object, what: str) -> int:
    if isinstance(value, bool):
        raise ZoomApiError(200, None, f"malformed {what}")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    raise ZoomApiError(200, None, f"malformed {what}")


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _str(value: object, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise ZoomApiError(200, None, f"malformed {what}")
    return value


def _retry_after(headers: Mapping[str, str], now: float) -> float | None:
    raw = headers.get("Retry-After")
    if not raw:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        try:
            when = parsedate_to_datetime(raw)
        except (TypeError, ValueError):
            return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now)


class ZoomApi:
    def __init__(
        self,
        credentials: AccountApiCredentials,
        *,
        api_base_url: str,
        token_url: str,
        timeout_s: float,
        refresh_margin_s: float,
        cache: TokenCache,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        max_rate_limit_retries: int = 2,
        max_rate_limit_wait_s: float = 5.0,
    ) -> None:
        self._creds = credentials
        self._base = api_base_url.rstrip("/")
        self._token_url = token_url
        self._timeout = timeout_s
        self._margin = refresh_margin_s
        self._cache = cache
        self._session = session or requests.Session()
        self._sleep = sleep
        self._max_429_retries = max_rate_limit_retries
        self._max_429_wait = max_rate_limit_wait_s
        digest = hashlib.sha256(f"{credentials.client_id}:{credentials.account_id}".encode()).hexdigest()[:24]
        self._cache_key = f"zoom-token:{digest}"

    # --- OAuth (§6.1) -------------------------------------------------------------------------------
    def access_token(self, *, force_refresh: bool = False) -> str:
        if not force_refresh:
            cached = self._cache.get(self._cache_key)
            if cached:
                return cached
        try:
            response = self._session.post(
                self._token_url,
                data={"grant_type": "account_credentials", "account_id": self._creds.account_id},
                auth=(self._creds.client_id, self._creds.client_secret),
                timeout=self._timeout,
            )
        except requests.RequestException as exc:
            raise ZoomUnavailable(0, None, f"token request failed: {type(exc).__name__}") from None
        if response.status_code in (400, 401, 403):
            raise ZoomAuthError(response.status_code, None, _error_text(response))
        if response.status_code >= 500:
            raise ZoomUnavailable(response.status_code, None, _error_text(response))
        body = _json_body(response)
        token = body.get("access_token")
        expires_in = body.get("expires_in")
        if not isinstance(token, str) or not token or not isinstance(expires_in, int | float):
            raise ZoomApiError(response.status_code, None, "malformed token response")
        # Keep it until shortly before Zoom's expiry; never cache for less than a second.
        self._cache.set(self._cache_key, token, max(1, int(expires_in - self._margin)))
        return token

    def invalidate_token(self) -> None:
        self._cache.delete(self._cache_key)

    # --- transport ------------------------------------------------------------------------------------
    def _request(
        self, method: str, path: str, *, params: Mapping[str, str | int] | None = None, body: object = None
    ) -> requests.Response:
        refreshed = False
        rate_limited = 0
        while True:
            token = self.access_token(force_refresh=refreshed)
            try:
                response = self._session.request(
                    method,
                    f"{self._base}{path}",
                    params=params,
                    data=None if body is None else json.dumps(body),
                    headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
                    timeout=self._timeout,
                )
            except requests.RequestException as exc:
                raise ZoomUnavailable(0, None, f"{method} {path} failed: {type(exc).__name__}") from None
            if response.status_code == 401 and not refreshed:
                self.invalidate_token()
                refreshed = True
                continue
            if response.status_code == 429:
                code, message = _error_fields(response)
                wait = _retry_after(response.headers, time.time())
                if rate_limited >= self._max_429_retries or (wait is not None and wait > self._max_429_wait):
                    raise ZoomRateLimited(429, code, message, wait)
                rate_limited += 1
                self._sleep(wait if wait is not None else min(self._max_429_wait, 0.5 * 2**rate_limited))
                continue
            if response.status_code >= 400:
                raise _error_for(response)
            return response

    # --- endpoints --------------------------------------------------------------------------------
    def list_meetings(
        self,
        *,
        meeting_type: Literal["live", "past", "pastOne"],
        from_date: date,
        to_date: date,
        page_size: int = 300,
        next_page_token: str = "",
    ) -> MeetingsPage:
        """One page of ``GET /metrics/meetings`` (§6.3); the caller pages and keeps the rate budget."""
        params: dict[str, str | int] = {
            "type": meeting_type,
            "from": from_date.isoformat(),
            "to": to_date.isoformat(),
            "page_size": page_size,
        }
        if next_page_token:
            params["next_page_token"] = next_page_token
        body = _json_body(self._request("GET", "/metrics/meetings", params=params))
        raw = body.get("meetings")
        if not isinstance(raw, list):
            raise ZoomApiError(200, None, "malformed meetings list")
        meetings = []
        for item in raw:
            if not isinstance(item, dict):
                raise ZoomApiError(200, None, "malformed meeting")
            email = item.get("email")
            meetings.append(
                LiveMeeting(
                    uuid=_str(item.get("uuid"), "meeting uuid"),
                    id=_int(item.get("id"), "meeting id"),
                    topic=_text(item.get("topic")),
                    host=_text(item.get("host")),
                    email=email if isinstance(email, str) and email else None,
                    start_time=_parse_time(item.get("start_time")),
                    tracking_fields=_tracking(item.get("tracking_fields")),
                )
            )
        token = body.get("next_page_token")
        total = body.get("total_records")
        return MeetingsPage(
            meetings=tuple(meetings),
            next_page_token=token if isinstance(token, str) else "",
            total_records=total if isinstance(total, int) and not isinstance(total, bool) else None,
        )

    def get_meeting(self, meeting_id: int) -> MeetingDetails:
        body = _json_body(self._request("GET", f"/meetings/{int(meeting_id)}"))
        email = body.get("host_email")
        return MeetingDetails(
            uuid=_str(body.get("uuid"), "meeting uuid"),
            id=_int(body.get("id"), "meeting id"),
            host_id=_str(body.get("host_id"), "host id"),
            host_email=email if isinstance(email, str) and email else None,
            topic=_text(body.get("topic")),
            tracking_fields=_tracking(body.get("tracking_fields")),
        )

    def get_user(self, user_id: str) -> UserDetails:
        body = _json_body(self._request("GET", f"/users/{quote(user_id, safe='')}"))
        email = body.get("email")
        return UserDetails(
            id=_str(body.get("id"), "user id"), email=email if isinstance(email, str) and email else None
        )

    def rtms_app_status(self, meeting_id: int, action: RtmsAction, *, rtms_client_id: str) -> None:
        """``PATCH /live_meetings/{id}/rtms_app/status`` (§6.2): 204, then Zoom's events say what happened."""
        self._request(
            "PATCH",
            f"/live_meetings/{int(meeting_id)}/rtms_app/status",
            body={"action": action, "settings": {"client_id": rtms_client_id}},
        )


def _json_body(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        raise ZoomApiError(response.status_code, None, "response is not JSON") from None
    if not isinstance(body, dict):
        raise ZoomApiError(response.status_code, None, "response is not a JSON object")
    return body


def _error_fields(response: requests.Response) -> tuple[int | None, str]:
    try:
        body = response.json()
    except ValueError:
        return None, (response.text or response.reason or "")[:200]
    if not isinstance(body, dict):
        return None, ""
    code = body.get("code")
    message = body.get("message") or body.get("reason") or body.get("error") or ""
    return (code if isinstance(code, int) and not isinstance(code, bool) else None), str(message)[:200]


def _error_text(response: requests.Response) -> str:
    return _error_fields(response)[1]


def _error_for(response: requests.Response) -> ZoomApiError:
    code, message = _error_fields(response)
    status = response.status_code
    if status >= 500:
        return ZoomUnavailable(status, code, message)
    if status in (401, 403):
        return ZoomAuthError(status, code, message)
    if status == 404:
        return ZoomNotFound(status, code, message)
    return ZoomRefused(status, code, message)
