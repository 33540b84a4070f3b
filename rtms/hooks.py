"""Where rtms hands work to the apps above it. Layers import only downward (docs/architecture.md), so rtms
never imports reconciler, live or compliance: each of them connects its receiver to a signal here in its
``AppConfig.ready()``. A signal nobody listens to does nothing, which is what a deployment without that
app wants.

- ``reconcile_wanted`` (zoom_account_id, reason): the event WebSocket had a gap, or a gateway learned that
  Zoom wants a stream restarted; reconciler/apps.py enqueues a run.
- ``stream_revoked`` (stream_id, stop_reason): Zoom said STREAM_REVOKED; compliance/apps.py deletes the
  stream's content. Sent after the stop committed.
- ``meeting_erased`` (meeting_id): a meeting's erasure committed; live/apps.py closes its open live pages.
- ``segments_committed`` (segments): transcript segments are stored; live/apps.py sends them to the live
  pages. Sent with ``asend`` from the gateway's event loop; its receiver must be a coroutine.

Senders never fail because of a receiver: ``ask_*`` use ``send_robust`` and log what a receiver raised.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from asgiref.sync import sync_to_async
from django.dispatch import Signal

logger = logging.getLogger(__name__)

reconcile_wanted = Signal()
stream_revoked = Signal()
meeting_erased = Signal()
segments_committed = Signal()


def _log_failures(hook: str, responses: list[tuple[Any, object]]) -> None:
    for receiver, response in responses:
        if isinstance(response, Exception):
            logger.error(
                "hook.receiver_failed",
                extra={
                    "hook": hook,
                    "receiver": getattr(receiver, "__qualname__", repr(receiver)),
                    "error": type(response).__name__,
                },
            )


def ask_reconcile(*, zoom_account_id: str, reason: str) -> None:
    """Ask for a reconciliation now (every account when ``zoom_account_id`` is empty). Never raises: a
    lost request only waits for the next scheduled run. Blocking: call it off an event loop."""
    _log_failures(
        "reconcile_wanted",
        reconcile_wanted.send_robust(sender=None, zoom_account_id=zoom_account_id, reason=reason),
    )


async def ask_reconcile_from_loop(*, zoom_account_id: str, reason: str) -> None:
    """``ask_reconcile`` from an event loop: publishing to the broker is blocking I/O (and retries while
    the broker is down), so it runs in a thread, never on the loop, where it would stall heartbeats and
    lease renewals."""
    await sync_to_async(ask_reconcile, thread_sensitive=False)(zoom_account_id=zoom_account_id, reason=reason)


def announce_stream_revoked(*, stream_id: int, stop_reason: int) -> None:
    """Never raises: the stop stays applied, and the next retention sweep retries what is left."""
    _log_failures(
        "stream_revoked",
        stream_revoked.send_robust(sender=None, stream_id=stream_id, stop_reason=stop_reason),
    )


def announce_meeting_erased(*, meeting_id: int) -> None:
    """Never raises: the erasure stands; a page left open shows nothing more (its content is gone)."""
    _log_failures("meeting_erased", meeting_erased.send_robust(sender=None, meeting_id=meeting_id))


async def publish_segments(segments: Sequence[Any]) -> None:
    """Raises what a receiver raised: the gateway's publisher bounds and logs each publish itself."""
    await segments_committed.asend(sender=None, segments=segments)
