"""Database connections of the event loop's worker threads, closed when a test ends.

The gateway runs its batches through ``sync_to_async(..., thread_sensitive=False)``: the loop's default
executor, one Django connection per worker thread, checked out of the per-process pool and kept until that
thread's next call. Each test has its own event loop, so those threads (and their connections) would be
abandoned with it: the pool runs dry after a few tests and the test databases cannot be dropped. A test
that drives such code uses ``owned_default_executor`` to give the loop an executor it can clean up.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager

from asgiref.sync import sync_to_async
from django.db import connections

WORKERS = 4


@asynccontextmanager
async def owned_default_executor() -> AsyncIterator[None]:
    loop = asyncio.get_running_loop()
    executor = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="test-db-worker")
    loop.set_default_executor(executor)
    try:
        yield
    finally:
        # One call per started thread, each held at a barrier until all arrived: every thread runs one.
        started = len(executor._threads)
        if started:
            barrier = threading.Barrier(started, timeout=30)

            def close() -> None:
                barrier.wait()
                connections.close_all()

            await asyncio.gather(*(loop.run_in_executor(executor, close) for _ in range(started)))
        executor.shutdown(wait=True)
        await sync_to_async(connections.close_all)()  # asgiref's shared database thread
