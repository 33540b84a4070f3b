"""How a connection ends, as values the session's loop acts on (zoom-protocol.md §2.6, §2.4.10).

Any task of a connection may decide; the first decision wins (``ConnectionScope.decide``). A ``Finish``
ends the session with its outcome, a ``Reconnect`` starts a new connection. Opening a socket raises
``Refused`` or ``Fatal`` when asking again cannot help, one of ``TRANSIENT`` when it may.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from websockets.exceptions import ConnectionClosed, InvalidHandshake

from rtms.zoom.protocol import StatusCode, StopReason
from rtms.zoom.stop_policy import StopPolicy, stop_policy
from rtms.zoom.transport import OutcomeKind, SessionOutcome, StatusKind, StreamStatus


@dataclass(frozen=True)
class Finish:
    outcome: SessionOutcome


@dataclass(frozen=True)
class Reconnect:
    reason: str
    immediate: bool = False  # Zoom or the gateway asked for it: no backoff before the first attempt


Decision = Finish | Reconnect


class Refused(Exception):
    def __init__(self, status: StatusCode | int, socket_kind: str) -> None:
        super().__init__(f"{socket_kind} handshake refused")
        self.status = status
        self.socket_kind = socket_kind


class Fatal(Exception):
    """Retrying cannot help: no media URL, a TLS downgrade, a certificate that does not verify."""

    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


# What a failed open or handshake may raise that a later attempt may not.
TRANSIENT: Final = (OSError, TimeoutError, ConnectionClosed, InvalidHandshake)


def finish_stopped(reason: StopReason | int | None) -> Finish:
    """§2.6 last row and §2.4.10: one table (stop_policy) says whether a restart is wanted."""
    policy = stop_policy(reason)
    kind = OutcomeKind.RESTART_REQUESTED if policy is StopPolicy.RESTART else OutcomeKind.STOPPED
    return Finish(SessionOutcome(kind, stop_reason=reason, policy=policy))


def finish_refused(exc: Refused) -> Finish:
    # §2.1: status 8 means another connection holds this stream's signaling. Someone else (another
    # gateway, or a ghost of ours Zoom has not dropped yet) has it; asking again could kick them out.
    if exc.socket_kind == "signaling" and exc.status == StatusCode.DUPLICATE_SIGNAL_REQUEST:
        return Finish(SessionOutcome(OutcomeKind.DUPLICATE, status_code=exc.status))
    return Finish(SessionOutcome(OutcomeKind.REFUSED, status_code=exc.status, error=exc.socket_kind))


def final_status(outcome: SessionOutcome) -> StreamStatus:
    """The last status the sink hears, once the session has ended with ``outcome``."""
    if outcome.kind in (OutcomeKind.STOPPED, OutcomeKind.RESTART_REQUESTED):
        return StreamStatus(StatusKind.STOPPED, outcome.stop_reason, outcome.kind.value)
    if outcome.kind is OutcomeKind.CLOSED:
        return StreamStatus(StatusKind.CLOSED)
    detail = outcome.error or outcome.kind.value
    if outcome.status_code is not None:
        detail = f"{outcome.kind.value}_{int(outcome.status_code)}"
    return StreamStatus(StatusKind.FAILED, detail=detail)
