"""Django's ASGI handler without the reference cycle it leaves behind every request.

Django 5.2's ``ASGIHandler.handle`` runs the view beside a task that waits for the client's
``http.disconnect``; daphne sends one after every response. That task raises ``RequestAborted``, and
``handle`` re-raises it through ``task.result()`` and ignores it. The exception's traceback holds
``handle``'s frame, whose locals hold the task that holds the exception: a cycle that keeps the whole
request (request, response, session and message storage, the body file) alive until the cyclic garbage
collector finds it. Under load that garbage reached the oldest generation, whose collections took up to
about 100 ms of daphne's CPU each, all requests waiting (docs/benchmarks.md, "ingest").

Returning instead of raising changes nothing else in 5.2: ``handle`` waits for the first task to finish,
cancels the other whichever way the first ended, and ignores ``RequestAborted``. The cycle is Django
ticket #36700 ("ASGIHandler creates reference cycles that require a gc pass to free", reported by Saleor,
whose containers were OOM-killed by that garbage). The override was checked against the 5.2 ``handle``
only, so ``handler_class`` uses it on Django 5.x and Django's own handler on any other major version.
"""

from __future__ import annotations

from typing import Any

import django
from django.core.handlers.asgi import ASGIHandler


class CycleFreeASGIHandler(ASGIHandler):
    async def listen_for_disconnect(self, receive: Any) -> None:
        message = await receive()
        if message["type"] == "http.disconnect":
            return  # Django raises RequestAborted here; handle() treats a return the same way
        raise AssertionError(f"Invalid ASGI message after request body: {message['type']}")


def handler_class() -> type[ASGIHandler]:
    """The cycle-free handler where its premise holds (Django 5.x), else Django's own."""
    return CycleFreeASGIHandler if django.VERSION[0] == 5 else ASGIHandler
