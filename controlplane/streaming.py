"""Downloads that stay streamed under ASGI, and a cap on how many one client runs at once (issue #20).

Django serves a ``StreamingHttpResponse`` built on a *synchronous* iterator under ASGI by reading it whole
into a list first (``sync_to_async(list)``): a 300 MB WAV became 300 MB of the web process, which also
answers Zoom's webhooks. ``streamed`` turns such an iterator into an asynchronous one that pulls a few
chunks at a time in a worker thread, so a download holds about ``batch`` chunks in memory whatever its
size (daphne then waits for the client: controlplane/runtime/daphne_backpressure.py).

At most ``DOWNLOAD_THREADS`` blocks (2 by default) are being made at once in a process, whatever the
number of downloads: more threads at work only take the interpreter from the webhooks the process also
answers (bench/downloads.py). Files are read on that many shared threads; readers of the database on the
request's own thread (``thread_sensitive``), as Django does for the rest of the request, and they hand their
connection back to the pool after each block: ten exports holding a connection each for their whole
length took every pooled connection from the webhooks (500s, bench/downloads.py). A reader that holds a
server-side cursor (``holds_cursor``: the audit CSV) keeps its connection to the end. All downloads of a
process also share a budget of bytes a second and of CPU seconds a second (``Budgets``).

A download slot is a member of a Redis sorted set per client, scored by when it lapses: taken before the
response starts (over the cap: the caller answers 429), refreshed while bytes flow, removed when the
download ends or is cut off. A process killed mid-download leaves a slot that lapses within
``SLOT_TTL_S``.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
import weakref
from collections.abc import AsyncIterator, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import redis
from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.cache import cache
from django.db import close_old_connections, connections
from django.http import HttpResponse

logger = logging.getLogger(__name__)

SLOT_TTL_S = 120
SLOT_REFRESH_S = 30

# Prune lapsed slots, count, take one if under the cap: one atomic step for every web process.
_TAKE = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then
  return 0
end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[4])
redis.call('EXPIRE', KEYS[1], ARGV[5])
return 1
"""

_client: redis.Redis | None = None


def _redis() -> redis.Redis:
    global _client
    if _client is None:
        _client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
    return _client


@dataclass(frozen=True)
class DownloadSlot:
    key: str
    member: str

    def refresh(self) -> None:
        _redis().zadd(self.key, {self.member: time.time() + SLOT_TTL_S}, xx=True)

    def release(self) -> None:
        _redis().zrem(self.key, self.member)


def download_slot_take(holder: str) -> DownloadSlot | None:
    """A slot for one heavy download by ``holder`` (an API client or a member of staff), or None when
    ``DOWNLOADS_PER_CLIENT`` of theirs are running. Redis down: the download goes ahead unslotted (a cap
    is not worth refusing a compliance export for), and that is logged."""
    key = cache.make_key(f"downloads:{holder}")
    member = uuid.uuid4().hex
    now = time.time()
    try:
        taken = _redis().eval(
            _TAKE, 1, key, now, now + SLOT_TTL_S, settings.DOWNLOADS_PER_CLIENT, member, SLOT_TTL_S * 2
        )
    except redis.RedisError as exc:
        logger.warning("download.slot_unavailable", extra={"error": type(exc).__name__})
        return DownloadSlot(key="", member="")
    if not taken:
        logger.info("download.over_cap", extra={"holder": holder[:120]})
        return None
    return DownloadSlot(key=key, member=member)


def too_many_downloads() -> HttpResponse:
    """The admin's answer over the cap (the API raises DRF's Throttled, the same 429 in its error body)."""
    response = HttpResponse(
        f"{settings.DOWNLOADS_PER_CLIENT} downloads of yours are running; wait for one to end.\n",
        status=429,
        content_type="text/plain; charset=utf-8",
    )
    response["Retry-After"] = str(SLOT_REFRESH_S)
    return response


def _quietly(action: str, slot: DownloadSlot) -> None:
    if not slot.key:
        return
    try:
        slot.refresh() if action == "refresh" else slot.release()
    except redis.RedisError as exc:  # the slot lapses on its own
        logger.warning("download.slot_" + action + "_failed", extra={"error": type(exc).__name__})


BLOCK_BYTES = 256 * 1024  # the web handler's chunk size (controlplane/runtime/django_asgi.py)


Block = tuple[bytes, float]  # the bytes, and the thread's CPU seconds it took to make them


def _block(iterator: Iterator[bytes | str], size: int) -> Block:
    """The next ``size`` bytes or so of the download, joined: one send per block, however small the
    pieces (a transcript export yields a line per segment; one send each took the event loop from the
    webhooks). Empty at the end."""
    started = time.thread_time()
    parts: list[bytes] = []
    total = 0
    for piece in iterator:
        data = piece.encode() if isinstance(piece, str) else piece
        parts.append(data)
        total += len(data)
        if total >= size:
            break
    return b"".join(parts), time.thread_time() - started


def _block_returning_connections(iterator: Iterator[bytes | str], size: int) -> Block:
    try:
        return _block(iterator, size)
    finally:
        # Back to the pool until the next block. Not inside a transaction (a test's, say): that is the
        # caller's to end.
        if not any(conn.in_atomic_block for conn in connections.all(initialized_only=True)):
            close_old_connections()


class Budget:
    """A token bucket refilled at ``rate`` units a second, holding a tenth of a second's worth; spending
    more puts it in debt, and the spender sleeps until it is paid back. Used on the event loop only."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.capacity = rate / 10
        self.tokens = self.capacity
        self.updated = time.monotonic()

    async def spend(self, amount: float) -> None:
        if self.rate <= 0:
            return
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        self.tokens -= amount
        if self.tokens < 0:  # in debt: wait until it is paid back (sleeping lets the webhooks in)
            await asyncio.sleep(-self.tokens / self.rate)


@dataclass
class Budgets:
    """What all of a web process's downloads together may use, so the webhooks it also answers on the same
    core keep their latency (bench/downloads.py): bytes sent a second (the event loop's share), and CPU
    seconds a second of the download threads (making a transcript export is mostly Python)."""

    bytes_sent: Budget
    cpu_seconds: Budget


_budgets: Budgets | None = None


def _shared_budgets() -> Budgets:
    global _budgets
    if _budgets is None:
        _budgets = Budgets(
            Budget(float(settings.DOWNLOAD_BYTES_PER_SECOND)), Budget(settings.DOWNLOAD_CPU_PERCENT / 100)
        )
    return _budgets


_gates: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = weakref.WeakKeyDictionary()


def _gate() -> asyncio.Semaphore:
    """DOWNLOAD_THREADS blocks at once, per event loop (one in the web process; tests run several)."""
    loop = asyncio.get_running_loop()
    gate = _gates.get(loop)
    if gate is None:
        gate = _gates[loop] = asyncio.Semaphore(settings.DOWNLOAD_THREADS)
    return gate


def _close(iterator: Iterator[bytes | str]) -> None:
    """A generator's files and cursors are closed now, not when it is collected."""
    close = getattr(iterator, "close", None)
    if close is not None:
        close()


_download_threads: ThreadPoolExecutor | None = None


def _executor() -> ThreadPoolExecutor:
    global _download_threads
    if _download_threads is None:
        _download_threads = ThreadPoolExecutor(settings.DOWNLOAD_THREADS, thread_name_prefix="download")
    return _download_threads


def streamed(
    chunks: Iterable[bytes | str],
    *,
    reads_database: bool,
    holds_cursor: bool = False,
    slot: DownloadSlot | None = None,
) -> AsyncIterator[bytes]:
    """``chunks`` as an asynchronous iterator of blocks of about BLOCK_BYTES (text in UTF-8); the slot is
    released at the end, however it ends."""
    iterator = iter(chunks)
    if reads_database:
        pull = sync_to_async(_block if holds_cursor else _block_returning_connections, thread_sensitive=True)
        run_close = sync_to_async(_close, thread_sensitive=True)
    else:
        pull = sync_to_async(_block, thread_sensitive=False, executor=_executor())
        run_close = sync_to_async(_close, thread_sensitive=False, executor=_executor())

    budgets = _shared_budgets()

    async def flow() -> AsyncIterator[bytes]:
        refreshed = time.monotonic()
        try:
            while True:
                async with _gate():
                    data, cpu_seconds = await pull(iterator, BLOCK_BYTES)
                if not data:
                    break
                await budgets.cpu_seconds.spend(cpu_seconds)
                await budgets.bytes_sent.spend(len(data))
                yield data
                if slot is not None and time.monotonic() - refreshed > SLOT_REFRESH_S:
                    await sync_to_async(_quietly, thread_sensitive=False)("refresh", slot)
                    refreshed = time.monotonic()
        finally:
            await run_close(iterator)
            if slot is not None:
                await sync_to_async(_quietly, thread_sensitive=False)("release", slot)

    return flow()
