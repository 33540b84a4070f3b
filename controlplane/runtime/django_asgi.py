"""The web process's HTTP handler: Django's ASGI handler with two costs per request taken out.

1. **One thread hop per request, on a fixed pool of threads.** Under ASGI, Django 5.2 runs each sync
   middleware hook (``process_request``, ``process_view``, ``process_response``) and then the view through
   its own ``sync_to_async`` call, about a dozen hops between the event loop and a thread per request, on a
   new thread per request that opens a new database connection wrapper. Here the whole sync middleware
   chain and the view run in one call on one of ``WEB_REQUEST_THREADS`` long-lived threads, as in a threaded
   WSGI server: each thread keeps its connection wrapper and, like Django's WSGI handler, closes obsolete
   connections (handing pooled ones back) before and after every request (measured in docs/benchmarks.md,
   "ingest"). The fixed pool also bounds how many middleware chains and views use the database at once
   (settings.py checks the connection pool is at least that large); a streamed body is read by Django
   outside the pool, as before, on a connection of its own.
2. **No reference cycle per request.** Django 5.2's ``handle`` runs the view beside a task that waits for
   the client's ``http.disconnect`` (daphne sends one after every response). That task raises
   ``RequestAborted``, and ``handle`` re-raises it through ``task.result()`` and ignores it. The exception's
   traceback holds ``handle``'s frame, whose locals hold the task that holds the exception: a cycle that
   keeps the whole request alive until the cyclic garbage collector finds it, whose oldest-generation
   collections paused daphne under load (docs/benchmarks.md, "ingest"). ``listen_for_disconnect`` here
   returns instead; ``handle`` treats the two the same (it waits for the first task, cancels the other,
   ignores ``RequestAborted``). The cycle is Django ticket #36700 ("ASGIHandler creates reference cycles
   that require a gc pass to free").

What stays as in Django: request_started/request_finished, the response (streamed bodies included, which
Django iterates outside the middleware chain) and every middleware's behaviour. Both changes rely on
private parts of Django 5.2's handler (``_middleware_chain``, what ``handle`` does with its two tasks), so
``handler_class`` returns Django's own handler on any other version (docs/patches.md).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.handlers.asgi import ASGIHandler
from django.db import close_old_connections
from django.http import HttpRequest, HttpResponseBase

from controlplane.runtime.patch import Patch, Pin

PATCH = Patch("django_asgi", (Pin("django", ((5, 2),)),))


class WebASGIHandler(ASGIHandler):
    # Django sends a streamed body in pieces of this size; 256 KiB instead of 64 KiB makes a quarter of the
    # event-loop round trips per byte downloaded (bench/downloads.py).
    chunk_size = 2**18

    def __init__(self) -> None:
        self._request_threads = ThreadPoolExecutor(
            settings.WEB_REQUEST_THREADS, thread_name_prefix="web-request"
        )
        super().__init__()

    def load_middleware(self, is_async: bool = False) -> None:
        # Build the chain as the WSGI handler does (sync middleware calling sync middleware) and enter it
        # once per request; get_response_async awaits the result.
        super().load_middleware(is_async=False)
        chain: Callable[[HttpRequest], HttpResponseBase] = self._middleware_chain  # type: ignore[has-type]
        self._middleware_chain = sync_to_async(
            _with_connections_checked(chain), thread_sensitive=False, executor=self._request_threads
        )

    async def listen_for_disconnect(self, receive: Any) -> None:
        message = await receive()
        if message["type"] == "http.disconnect":
            return  # Django raises RequestAborted here; handle() treats a return the same way
        raise AssertionError(f"Invalid ASGI message after request body: {message['type']}")


def _with_connections_checked(
    chain: Callable[[HttpRequest], HttpResponseBase],
) -> Callable[[HttpRequest], HttpResponseBase]:
    """What Django's request_started/request_finished receivers do for the thread that serves a request:
    a connection that broke or outlived its age is closed, a pooled one goes back to its pool."""

    def serve(request: HttpRequest) -> HttpResponseBase:
        close_old_connections()
        try:
            return chain(request)
        finally:
            close_old_connections()

    return serve


def handler_class() -> type[ASGIHandler]:
    """This project's handler on the Django it was written against, else Django's own (and a warning)."""
    return WebASGIHandler if PATCH.check() else ASGIHandler
