"""The simulator core: accounts, meetings, RTMS stream lifecycle and event emission."""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
from collections.abc import Callable, Coroutine
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web

from zoomsim import ids
from zoomsim.clock import iso_z, now_ms, utcnow
from zoomsim.config import AccountConfig, SimConfig
from zoomsim.events_ws import EventWsHub
from zoomsim.faults import Faults
from zoomsim.ledger import Ledger
from zoomsim.log import log_event
from zoomsim.oauth import TokenStore
from zoomsim.ratelimit import RateLimiter
from zoomsim.state import Account, Host, Meeting, Stream
from zoomsim.webhooks import WebhookDeliverer

log = logging.getLogger("zoomsim.sim")

RTMS_MODES = ("auto", "api", "none")
STOP_USER_TRIGGERED = 2
STOP_MEETING_ENDED = 6
DEFAULT_LOOKUP_RATES = {"meeting_get_per_second": 30, "user_get_per_second": 20}


class SimError(Exception):
    """A REST-visible error: HTTP status + Zoom body."""

    def __init__(self, status: int, code: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.body: dict[str, Any] = {"code": code, "message": message, **extra}


class Simulator:
    def __init__(self, config: SimConfig) -> None:
        self.config = config
        self.ledger = Ledger()
        self.faults = Faults()
        self.tokens = TokenStore(config)
        self.accounts: dict[str, Account] = {}
        self.meetings: dict[str, Meeting] = {}
        self.base_url = config.base_url()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._stream_tasks: dict[str, asyncio.Task[Any]] = {}
        self._generation = itertools.count(1)
        self.metrics_limiter = RateLimiter(
            config.scaled(config.rate_window_s), config.scaled(config.daily_window_s)
        )
        # Per-second limits are never scaled: they race the product's own speed (its threads, its pacing),
        # which the time scale does not compress. A scaled 0.2 s window holding a fifth of the calls would
        # be stricter than Zoom's second and refuse evenly paced calls that merely arrive a little bunched.
        self.status_limiter = RateLimiter(1.0)
        # GET /v2/meetings/{id} (Light) and GET /v2/users/{id} (Medium): per account per second.
        # Defaults are Zoom Pro's; change them with POST /_sim/rate_limits or a scenario's "rate_limits".
        self.lookup_rates: dict[str, int] = dict(DEFAULT_LOOKUP_RATES)
        # What a start meets when a stream still runs (config, or a scenario's "rtms_behaviour").
        self.start_on_running = config.rtms_start_on_running
        self.meeting_get_limiter = RateLimiter(1.0)
        self.user_get_limiter = RateLimiter(1.0)
        self.page_tokens: dict[str, dict[str, Any]] = {}
        self.webhooks = WebhookDeliverer(self)
        self.events_ws = EventWsHub(self)
        self.loop: asyncio.AbstractEventLoop | None = None
        # Called as listener(meeting, stream, change) with change in started|stopped|paused|resumed|
        # cancelled; part 2 (RTMS media servers) hooks in here.
        # A listener may return an asyncio.Task for "stopped": meeting.rtms_stopped waits for it.
        self.stream_listeners: list[Callable[[Meeting, Stream, str], object]] = []
        # Called as listener(meeting, change) with change in started|ended (the RTMS media servers
        # start and stop what the meeting's participants say).
        self.meeting_listeners: list[Callable[[Meeting, str], None]] = []
        # Set by app.start_site when TLS is enabled: server_urls are then wss://localhost:<port>/...
        self.tls_port: int | None = None
        self.tls_ca_file: str | None = None
        # Awaited with a reason ("reset" or "shutdown") before tasks are cancelled: the RTMS servers
        # close their sockets here.
        self.close_hooks: list[Callable[[str], Coroutine[Any, Any, None]]] = []
        self.add_account(config.account)
        self.tokens.register_app(config.rtms_app, config.account.account_id, "general")

    # ---- infrastructure -------------------------------------------------------------------------

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log_event(
                log, "zoomsim.task.failed", logging.ERROR, task=task.get_name(), error=repr(task.exception())
            )

    async def sleep(self, sim_seconds: float) -> None:
        await asyncio.sleep(max(0.0, self.config.scaled(sim_seconds)))

    async def cancel_tasks(self, timeout: float = 5.0) -> None:
        tasks = [t for t in self._tasks if t is not asyncio.current_task()]
        for t in tasks:
            t.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=timeout)
        self._stream_tasks.clear()

    async def startup(self) -> None:
        self.loop = asyncio.get_running_loop()
        await self.webhooks.start()

    async def _run_close_hooks(self, reason: str) -> None:
        for hook in list(self.close_hooks):
            try:
                await asyncio.wait_for(hook(reason), timeout=5.0)
            except Exception as exc:
                log_event(log, "zoomsim.close_hook.failed", logging.ERROR, error=repr(exc))

    async def shutdown(self) -> None:
        await self.events_ws.close_all("shutdown")
        await self._run_close_hooks("shutdown")
        await self.cancel_tasks()
        await self.webhooks.stop()

    async def reset(self) -> None:
        """Clear meetings, faults, ledger, pending timers and deliveries. Tokens and event sockets stay;
        RTMS sockets are closed (their streams are gone)."""
        await self._run_close_hooks("reset")
        await self.cancel_tasks()
        self.webhooks.restart_loops()
        self.meetings.clear()
        self.faults.clear()
        self.ledger.clear()
        self.metrics_limiter.clear()
        self.status_limiter.clear()
        self.meeting_get_limiter.clear()
        self.user_get_limiter.clear()
        self.page_tokens.clear()
        self.start_on_running = self.config.rtms_start_on_running
        self.ledger.record("sim.reset")

    # ---- accounts and hosts ---------------------------------------------------------------------

    def add_account(self, cfg: AccountConfig) -> Account:
        acc = Account(cfg)
        old = self.accounts.get(cfg.account_id)
        if old is not None:
            acc.hosts = old.hosts
        self.accounts[cfg.account_id] = acc
        self.tokens.register_app(cfg.s2s, cfg.account_id, "s2s")
        return acc

    @property
    def default_account(self) -> Account:
        return self.accounts[self.config.account.account_id]

    def account_for_subscription(self, subscription_id: str) -> Account | None:
        for acc in self.accounts.values():
            if acc.config.subscription_id == subscription_id:
                return acc
        return None

    def find_host(self, email: str) -> Host | None:
        for acc in self.accounts.values():
            host = acc.hosts.get(email.lower())
            if host is not None:
                return host
        return None

    def add_host(
        self,
        email: str,
        account_id: str | None = None,
        host_id: str | None = None,
        name: str | None = None,
        rtms_auto_start: bool | None = None,
    ) -> Host:
        acc = self.accounts.get(account_id or self.default_account.id)
        if acc is None:
            raise ValueError(f"unknown account {account_id}")
        local = email.split("@", 1)[0]
        host = Host(
            id=host_id or ids.user_id_for(email),
            email=email,
            account_id=acc.id,
            name=name or " ".join(p.capitalize() for p in local.replace("_", ".").split(".") if p) or local,
            rtms_auto_start=rtms_auto_start,
        )
        acc.hosts[email.lower()] = host
        return host

    def host_for(self, email: str, account_id: str | None = None) -> Host:
        """The known host, or a new one: in `account_id`, else the account owning the e-mail's domain,
        else the default account."""
        host = self.find_host(email)
        if host is not None:
            return host
        if account_id is None:
            domain = email.rsplit("@", 1)[-1].lower()
            owners = [a.id for a in self.accounts.values() if domain in a.config.domains]
            account_id = owners[0] if owners else None
        return self.add_host(email, account_id)

    # ---- meetings -------------------------------------------------------------------------------

    def find_meeting(self, key: str) -> Meeting | None:
        m = self.meetings.get(key)
        if m is not None:
            return m
        if key.isdigit():
            candidates = [m for m in self.meetings.values() if m.id == int(key)]
            live = [m for m in candidates if m.state == "live"]
            pool = live or candidates
            return pool[-1] if pool else None
        return None

    def account_meeting(self, key: str, account_id: str) -> Meeting | None:
        """A meeting of `account_id` by UUID, or by number (the live instance, else the latest one)."""
        m = self.meetings.get(key)
        if m is not None:
            return m if m.account_id == account_id else None
        if not key.isdigit():
            return None
        candidates = [m for m in self.meetings.values() if m.id == int(key) and m.account_id == account_id]
        live = [m for m in candidates if m.state == "live"]
        pool = live or candidates
        return pool[-1] if pool else None

    def account_host(self, key: str, account_id: str) -> Host | None:
        """A host of `account_id` by user id or e-mail (case-insensitive)."""
        acc = self.accounts.get(account_id)
        if acc is None:
            return None
        host = acc.hosts.get(key.lower())
        if host is not None:
            return host
        return next((h for h in acc.hosts.values() if h.id == key), None)

    def live_meeting_by_number(self, number: int, account_id: str) -> Meeting | None:
        for m in self.meetings.values():
            if m.id == number and m.account_id == account_id and m.state == "live":
                return m
        return None

    def new_meeting(self, spec: dict[str, Any]) -> Meeting:
        email = spec.get("host_email")
        if not email or "@" not in str(email):
            raise ValueError("host_email is required")
        rtms = spec.get("rtms")
        if rtms is not None and rtms not in RTMS_MODES:
            raise ValueError(f"rtms must be one of {RTMS_MODES}")
        speak_from = spec.get("speak_from", "meeting_start")
        if speak_from not in ("meeting_start", "first_client"):
            raise ValueError("speak_from must be meeting_start or first_client")
        transcript = spec.get("transcript") or []
        if not isinstance(transcript, list) or not all(
            isinstance(t, dict) and "text" in t for t in transcript
        ):
            raise ValueError("transcript must be a list of {speaker, text}")
        generate = spec.get("transcript_generate")
        if generate is not None:
            from zoomsim.speech import validate_generate

            generate = validate_generate(generate)
        for line in transcript:
            if "language" in line:
                from zoomsim.speech import language_code

                language_code(line["language"])  # raises ValueError on an unknown language
        host = self.host_for(str(email), spec.get("account"))
        acc = self.accounts[host.account_id]
        if rtms is None:  # the host's own setting decides, as in Zoom
            rtms = "api" if host.rtms_auto_start is False else "auto"
        uuid = spec.get("meeting_uuid") or ids.meeting_uuid()
        while uuid in self.meetings:
            uuid = ids.meeting_uuid()
        number = int(spec.get("meeting_id") or ids.meeting_number())
        m = Meeting(
            uuid=uuid,
            id=number,
            account_id=acc.id,
            host=host,
            topic=str(spec.get("topic") or f"{host.name}'s Zoom Meeting"),
            rtms=rtms,
            data_centre=str(spec.get("data_centre") or acc.config.data_centre),
            type=int(spec.get("type", 1)),
            duration=int(spec.get("duration", 60)),
            participants=int(spec.get("participants", 2)),
            rtms_plan=spec.get("rtms_plan"),
            tracking_fields=_tracking_fields(spec.get("tracking_fields")),
            custom_keys=list(spec.get("custom_keys") or []),
            transcript=transcript,
            transcript_generate=generate,
            segment_interval_ms=int(spec.get("segment_interval_ms", 1500)),
            speak_from=speak_from,
            omit_host_email_in_events=bool(spec.get("omit_host_email_in_events", False)),
        )
        self.meetings[uuid] = m
        self.ledger.record(
            "meeting.created",
            meeting_uuid=uuid,
            meeting_id=number,
            account=acc.id,
            host_email=host.email,
            rtms=rtms,
        )
        return m

    def start_meeting(self, m: Meeting, start_time: datetime | None = None, emit: bool = True) -> None:
        if m.state != "scheduled":
            raise ValueError(f"meeting is {m.state}")
        m.state = "live"
        m.start_time = (start_time or utcnow()).replace(microsecond=0)
        self.ledger.record("meeting.started", meeting_uuid=m.uuid, meeting_id=m.id, emitted=emit)
        if emit:
            self.emit("meeting.started", self._meeting_payload(m), m.account_id, meeting_uuid=m.uuid)
        self._notify_meeting(m, "started")
        if m.rtms == "auto" and self.rtms_plan(m):
            self.spawn(self._auto_start(m), f"auto-start:{m.uuid}")

    async def _auto_start(self, m: Meeting) -> None:
        await self.sleep(self.config.auto_start_delay_s)
        if m.state == "live" and m.active_stream is None:
            self.begin_stream(m, operator_id=m.host.id, delay_s=0.0)

    def end_meeting(self, m: Meeting) -> None:
        if m.state != "live":
            raise ValueError(f"meeting is {m.state}")
        stream = m.active_stream
        stopping: asyncio.Task[Any] | None = None
        if stream is not None:
            task = self._stream_tasks.pop(stream.rtms_stream_id, None)
            if task is not None:
                task.cancel()
            if stream.state == "starting":
                stream.state = "cancelled"
                self._notify(m, stream, "cancelled")
            else:
                reason = STOP_USER_TRIGGERED if stream.state == "stopping" else STOP_MEETING_ENDED
                stopping = self._stop_stream(m, stream, reason)
        m.state = "ended"
        m.end_time = max(utcnow().replace(microsecond=0), m.start_time or utcnow())
        self._notify_meeting(m, "ended")
        self.ledger.record("meeting.ended", meeting_uuid=m.uuid, meeting_id=m.id)
        payload = self._meeting_payload(m)
        if stopping is None:
            self.emit("meeting.ended", payload, m.account_id, meeting_uuid=m.uuid)
        else:
            # After the RTMS servers' teardown and meeting.rtms_stopped.
            async def ended() -> None:
                await asyncio.wait([stopping], timeout=10.0)
                self.emit("meeting.ended", payload, m.account_id, meeting_uuid=m.uuid)

            self.spawn(ended(), f"ended:{m.uuid}")

    def schedule_meeting(self, m: Meeting, start_in_s: float, end_in_s: float | None) -> None:
        """Start after `start_in_s` and end at `end_in_s` simulated seconds from now (scaled timers).

        A negative start means the meeting was already running: it is live at once, its start_time is
        in the past (unscaled, so "yesterday" is yesterday) and no meeting.started is sent (that event
        was Zoom's before zoomsim existed; the product can only find it through /metrics/meetings).
        """
        if start_in_s <= 0:
            self.start_meeting(m, start_time=utcnow() + timedelta(seconds=start_in_s), emit=start_in_s == 0)
        else:

            async def later_start() -> None:
                await self.sleep(start_in_s)
                if m.state == "scheduled":
                    self.start_meeting(m)

            self.spawn(later_start(), f"start:{m.uuid}")
        if end_in_s is not None:

            async def later_end() -> None:
                await self.sleep(end_in_s)
                if m.state == "live":
                    self.end_meeting(m)

            self.spawn(later_end(), f"end:{m.uuid}")

    def rtms_plan(self, m: Meeting) -> bool:
        if m.rtms_plan is not None:
            return bool(m.rtms_plan)
        return self.accounts[m.account_id].config.rtms_plan

    def _meeting_payload(self, m: Meeting) -> dict[str, Any]:
        obj: dict[str, Any] = {
            "id": str(m.id),
            "uuid": m.uuid,
            "host_id": m.host.id,
            "host_email": m.host.email,
            "topic": m.topic,
            "type": m.type,
            "start_time": iso_z(m.start_time) if m.start_time else None,
            "timezone": m.host.timezone,
            "duration": m.duration,
        }
        if m.omit_host_email_in_events:
            del obj["host_email"]
        if m.end_time is not None:
            obj["end_time"] = iso_z(m.end_time)
        return {"account_id": m.account_id, "object": obj}

    # ---- RTMS streams ---------------------------------------------------------------------------

    def concurrency_cap(self, account_id: str) -> int:
        cap = self.accounts[account_id].config.rtms_concurrency_cap
        return self.config.rtms_concurrency_cap if cap is None else cap

    def active_stream_count(self, account_id: str) -> int:
        return sum(
            1 for m in self.meetings.values() if m.account_id == account_id and m.active_stream is not None
        )

    def ws_base(self, tls: bool | None = None) -> str:
        """The base of RTMS URLs: wss://localhost:<tls port> when TLS is on (and asked), else ws://."""
        if self.tls_port is not None and tls is not False:
            return f"wss://localhost:{self.tls_port}"
        return self.base_url.replace("https://", "wss://").replace("http://", "ws://")

    def server_url(self, dc: str, generation: int) -> str:
        return f"{self.ws_base()}/rtms-{dc}/{generation}/signaling"

    def begin_stream(self, m: Meeting, operator_id: str, delay_s: float | None = None) -> Stream | None:
        """Start a stream: a 'starting' stream now, meeting.rtms_started after the delay.

        At the account's concurrency cap: rtms.concurrency_limited instead, and no stream.
        """
        delay = self.config.rtms_event_delay_s if delay_s is None else delay_s
        active = self.active_stream_count(m.account_id)
        cap = self.concurrency_cap(m.account_id)
        if active >= cap:
            self.ledger.record(
                "rtms.limited", meeting_uuid=m.uuid, account=m.account_id, active=active, cap=cap
            )

            async def limited() -> None:
                await self.sleep(delay)
                self.emit(
                    "rtms.concurrency_limited",
                    {
                        "operator_id": operator_id,
                        "concurrency_number": active + 1,
                        "id_field": {"meeting_uuid": m.uuid},
                    },
                    m.account_id,
                    meeting_uuid=m.uuid,
                )

            self.spawn(limited(), f"limited:{m.uuid}")
            return None
        stream = Stream(rtms_stream_id=ids.stream_id(), state="starting", operator_id=operator_id)
        m.streams.append(stream)

        async def started() -> None:
            await self.sleep(delay)
            self._stream_tasks.pop(stream.rtms_stream_id, None)
            if stream.state != "starting" or m.state != "live":
                return
            self.announce_stream(m, stream)

        self._stream_tasks[stream.rtms_stream_id] = self.spawn(
            started(), f"rtms-start:{stream.rtms_stream_id}"
        )
        return stream

    def announce_stream(self, m: Meeting, stream: Stream, new_generation: bool = True) -> None:
        """Send meeting.rtms_started for `stream` (also used by part 2 for failover: same id, new URLs)."""
        if new_generation or stream.server_urls is None:
            stream.generation = next(self._generation)
            stream.server_urls = self.server_url(m.data_centre, stream.generation)
        stream.state = "started"
        self._notify(m, stream, "started")
        body = self.emit(
            "meeting.rtms_started",
            {
                "meeting_uuid": m.uuid,
                "operator_id": stream.operator_id or m.host.id,
                "rtms_stream_id": stream.rtms_stream_id,
                "server_urls": stream.server_urls,
                "account_id": m.account_id,
                "is_original_host": True,
                "meeting_id": m.id,
            },
            m.account_id,
            meeting_uuid=m.uuid,
            rtms_stream_id=stream.rtms_stream_id,
        )
        stream.started_event_ts = body["event_ts"]

    def _notify_meeting(self, m: Meeting, change: str) -> None:
        for listener in list(self.meeting_listeners):
            try:
                listener(m, change)
            except Exception as exc:  # a listener must not break Zoom's side
                log_event(log, "zoomsim.listener.failed", logging.ERROR, error=repr(exc))

    def stop_stream_now(self, m: Meeting, stream: Stream, reason: int) -> None:
        """Stop a started/paused/stopping stream at once (RTMS servers: timeouts, close request)."""
        if stream.state not in ("started", "paused", "stopping"):
            return
        task = self._stream_tasks.pop(stream.rtms_stream_id, None)
        if task is not None and task is not asyncio.current_task():
            task.cancel()
        self._stop_stream(m, stream, reason)

    def find_stream(self, rtms_stream_id: str) -> tuple[Meeting, Stream] | None:
        for m in self.meetings.values():
            for s in m.streams:
                if s.rtms_stream_id == rtms_stream_id:
                    return m, s
        return None

    def _notify(self, m: Meeting, stream: Stream, change: str) -> list[asyncio.Task[Any]]:
        """Call the stream listeners; the tasks they return are teardowns to wait for."""
        waits: list[asyncio.Task[Any]] = []
        for listener in list(self.stream_listeners):
            try:
                result = listener(m, stream, change)
            except Exception as exc:  # a listener must not break Zoom's side
                log_event(log, "zoomsim.listener.failed", logging.ERROR, error=repr(exc))
                continue
            if isinstance(result, asyncio.Task):
                waits.append(result)
        return waits

    def _stop_stream(self, m: Meeting, stream: Stream, reason: int) -> asyncio.Task[Any] | None:
        """Stop now. meeting.rtms_stopped goes out after the RTMS servers have sent their final state
        updates and closed the stream's sockets (a returned task), or at once when nobody is connected."""
        stream.state = "stopped"
        stream.stop_reason = reason
        waits = self._notify(m, stream, "stopped")

        def emit_stopped() -> None:
            self.emit(
                "meeting.rtms_stopped",
                {"meeting_uuid": m.uuid, "rtms_stream_id": stream.rtms_stream_id, "stop_reason": reason},
                m.account_id,
                meeting_uuid=m.uuid,
                rtms_stream_id=stream.rtms_stream_id,
            )

        if not waits:
            emit_stopped()
            return None

        async def after_teardown() -> None:
            await asyncio.wait(waits, timeout=10.0)
            emit_stopped()

        return self.spawn(after_teardown(), f"rtms-stopped:{stream.rtms_stream_id}")

    def stop_stream_later(
        self, m: Meeting, stream: Stream, reason: int, delay_s: float | None = None
    ) -> None:
        stream.state = "stopping"
        delay = self.config.rtms_event_delay_s if delay_s is None else delay_s

        async def stop() -> None:
            await self.sleep(delay)
            self._stream_tasks.pop(stream.rtms_stream_id, None)
            if stream.state == "stopping":
                self._stop_stream(m, stream, reason)

        self._stream_tasks[stream.rtms_stream_id] = self.spawn(stop(), f"rtms-stop:{stream.rtms_stream_id}")

    def rtms_action(self, m: Meeting, action: str, operator_id: str) -> None:
        """The effect of PATCH rtms_app/status once authorised and validated; raises SimError."""
        failed = SimError(400, 2310, "Failed to perform RTMS app operation")
        stream = m.active_stream
        if action == "start":
            if stream is not None and (self.start_on_running == "refuse" or stream.state == "stopping"):
                raise failed
            if stream is not None:
                # Replaced: the running stream stops as if its app user stopped it, and a new one starts.
                self.ledger.record("rtms.replaced", meeting_uuid=m.uuid, rtms_stream_id=stream.rtms_stream_id)
                self.stop_stream_later(m, stream, STOP_USER_TRIGGERED)
            self.begin_stream(m, operator_id)
        elif action == "stop":
            if stream is None or stream.state not in ("started", "paused"):
                raise failed
            self.stop_stream_later(m, stream, STOP_USER_TRIGGERED)
        elif action == "pause":
            if stream is None or stream.state != "started":
                raise failed
            stream.state = "paused"
            self._notify(m, stream, "paused")
        elif action == "resume":
            if stream is None or stream.state != "paused":
                raise failed
            stream.state = "started"
            self._notify(m, stream, "resumed")
        current = m.active_stream or stream
        self.ledger.record(
            "rtms.action",
            meeting_uuid=m.uuid,
            action=action,
            rtms_stream_id=current.rtms_stream_id if current else None,
        )

    # ---- events ---------------------------------------------------------------------------------

    def emit(
        self,
        event: str,
        payload: dict[str, Any],
        account_id: str,
        meeting_uuid: str | None = None,
        rtms_stream_id: str | None = None,
    ) -> dict[str, Any]:
        """Build one event and hand the same bytes (same event_ts) to both channels."""
        body = {"event": event, "event_ts": now_ms(), "payload": payload}
        raw = json.dumps(body, separators=(",", ":")).encode()
        meta = {
            "event": event,
            "event_ts": body["event_ts"],
            "meeting_uuid": meeting_uuid,
            "rtms_stream_id": rtms_stream_id,
            "account": account_id,
        }
        self.ledger.record("event.emitted", payload=payload, **meta)
        log_event(log, "zoomsim.event.emitted", zoom_event=event, event_ts=body["event_ts"])
        for channel in ("webhook", "ws"):
            rule = self.faults.take_event_rule(event, channel, meeting_uuid)
            copies, delay = 1, 0.0
            if rule is not None and rule.action != "deliver":
                self.ledger.record("fault.applied", channel=channel, rule=rule.id, action=rule.action, **meta)
                if rule.action == "drop":
                    self.ledger.record(f"{channel}.dropped", **meta)
                    continue
                if rule.action == "duplicate":
                    copies = rule.count
                if rule.action == "delay":
                    delay = rule.delay_s
            for copy in range(1, copies + 1):
                if channel == "webhook":
                    self.webhooks.enqueue(raw, meta, copy, delay)
                else:
                    self.spawn(self._ws_after(raw, meta, copy, delay), f"ws:{event}")
        return body

    async def _ws_after(self, raw: bytes, meta: dict[str, Any], copy: int, delay: float) -> None:
        if delay:
            await self.sleep(delay)
        await self.events_ws.deliver(raw.decode(), meta, copy)


SIM_KEY: web.AppKey[Simulator] = web.AppKey("zoomsim", Simulator)


def _tracking_fields(raw: Any) -> list[dict[str, str]]:
    if raw is None:
        return []
    if not isinstance(raw, list) or not all(
        isinstance(t, dict) and isinstance(t.get("field"), str) and isinstance(t.get("value", ""), str)
        for t in raw
    ):
        raise ValueError("tracking_fields must be a list of {field, value} strings")
    return [{"field": t["field"], "value": t.get("value", "")} for t in raw]
