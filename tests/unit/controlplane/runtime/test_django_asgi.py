"""What controlplane/runtime/django_asgi.py assumes of Django's ASGI handler, and its fallback."""

from __future__ import annotations

import inspect
from typing import Any

from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.base import BaseHandler

from controlplane.runtime.django_asgi import WebASGIHandler, handler_class
from tests.unit.controlplane.runtime.conftest import SkippedEvents

EMPTY = inspect.Parameter.empty


def _parameters(function: object) -> list[tuple[str, object]]:
    assert callable(function)
    return [(p.name, p.default) for p in inspect.signature(function).parameters.values()]


def test_djangos_handler_builds_a_middleware_chain_that_get_response_async_awaits() -> None:
    """The override replaces ``_middleware_chain`` after ``load_middleware`` built it, and relies on
    ``get_response_async`` awaiting whatever is there."""
    assert _parameters(BaseHandler.load_middleware) == [("self", EMPTY), ("is_async", False)]
    handler: Any = ASGIHandler()
    assert callable(handler._middleware_chain)
    assert "await self._middleware_chain(request)" in inspect.getsource(BaseHandler.get_response_async)


def test_djangos_handle_ignores_request_aborted_from_the_disconnect_listener() -> None:
    """The override's listener returns where Django's raises RequestAborted: ``handle`` must treat a
    finished listener the same either way (cancel the view if it still runs, swallow RequestAborted)."""
    assert _parameters(ASGIHandler.listen_for_disconnect) == [("self", EMPTY), ("receive", EMPTY)]
    assert "raise RequestAborted()" in inspect.getsource(ASGIHandler.listen_for_disconnect)
    handle = inspect.getsource(ASGIHandler.handle)
    assert "asyncio.create_task(self.listen_for_disconnect(receive))" in handle
    assert "return_when=asyncio.FIRST_COMPLETED" in handle
    assert "except RequestAborted:" in handle
    assert "task.cancel()" in handle


def test_the_handler_is_this_projects_on_the_django_it_was_written_for(skipped_events: SkippedEvents) -> None:
    assert handler_class() is WebASGIHandler
    assert skipped_events() == []


def test_the_handler_is_djangos_own_and_the_skip_is_logged_when_django_is_another_version(
    on_other_versions: SkippedEvents,
) -> None:
    assert handler_class() is ASGIHandler
    assert on_other_versions() == [
        {"patch": "django_asgi", "library": "django", "found": "0.0", "expected": "5.2"}
    ]
