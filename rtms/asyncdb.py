"""ORM work from asyncio processes (gateway, event subscriber): off the event loop, on one DB thread."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar

from asgiref.sync import sync_to_async
from django.db import close_old_connections

P = ParamSpec("P")
R = TypeVar("R")


def db(fn: Callable[P, R]) -> Callable[P, Awaitable[R]]:
    """``await db(fn)(...)`` runs ``fn`` in the sync thread, on a connection checked before use (a
    long-running process must survive a database restart)."""

    def wrapped(*args: P.args, **kwargs: P.kwargs) -> R:
        close_old_connections()
        return fn(*args, **kwargs)

    return sync_to_async(wrapped, thread_sensitive=True)
