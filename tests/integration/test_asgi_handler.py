"""The web process's ASGI handler: Django's, with the middleware chain entered once per request on a fixed
pool of threads and without its per-request reference cycle (controlplane/runtime/django_asgi.py)."""

from __future__ import annotations

import asyncio
import gc
import threading
from collections.abc import Iterator
from typing import Any

import django
import pytest
from asgiref.testing import ApplicationCommunicator
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler
from django.db import connections

from controlplane import health
from controlplane.asgi import django_asgi_app
from controlplane.runtime.django_asgi import WebASGIHandler, handler_class

DEADLINE_S = 10.0


def _scope(path: str) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver")],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }


class Communicator:
    """asgiref's ApplicationCommunicator (untyped) with types and this module's deadline."""

    def __init__(self, app: ASGIHandler, path: str) -> None:
        self._app = ApplicationCommunicator(app, _scope(path))  # type: ignore[no-untyped-call]

    async def send(self, message: dict[str, Any]) -> None:
        await self._app.send_input(message)  # type: ignore[no-untyped-call]

    async def receive(self) -> dict[str, Any]:
        message: dict[str, Any] = await self._app.receive_output(DEADLINE_S)  # type: ignore[no-untyped-call]
        return message

    async def finished(self) -> None:
        await self._app.wait(DEADLINE_S)  # type: ignore[no-untyped-call]


@pytest.fixture
def collector_paused() -> Iterator[None]:
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _aborted_exceptions() -> int:
    return sum(1 for o in gc.get_objects() if isinstance(o, RequestAborted))


async def _get(handler: ASGIHandler, path: str) -> int:
    app = Communicator(handler, path)
    await app.send({"type": "http.request", "body": b""})
    start = await app.receive()
    assert start["type"] == "http.response.start"
    await app.receive()  # the body
    await app.send({"type": "http.disconnect"})  # what daphne sends after every response
    await app.finished()
    return int(start["status"])


def test_the_web_process_uses_this_projects_handler_on_django_5() -> None:
    assert django.VERSION[0] == 5, "review controlplane/runtime/django_asgi.py for this Django version"
    assert handler_class() is WebASGIHandler
    assert type(django_asgi_app) is WebASGIHandler


@pytest.mark.django_db(transaction=True)
async def test_a_served_request_leaves_no_aborted_exception_for_the_collector(collector_paused: None) -> None:
    before = _aborted_exceptions()
    for _ in range(3):
        assert await _get(WebASGIHandler(), "/healthz") == 200
    # Django's own handler leaves one unreachable RequestAborted (and the request with it) per request.
    assert _aborted_exceptions() == before


@pytest.mark.parametrize("handler", [ASGIHandler, WebASGIHandler])
async def test_a_client_that_disconnects_mid_request_still_cancels_the_view(
    handler: type[ASGIHandler],
) -> None:
    """The same behaviour as Django's handler, which the override must not change."""
    view_started = asyncio.Event()
    view_cancelled = asyncio.Event()

    class SlowView(handler):  # type: ignore[valid-type,misc]
        async def run_get_response(self, request: Any) -> Any:
            view_started.set()
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                view_cancelled.set()
                raise

    app = Communicator(SlowView(), "/slow")
    await app.send({"type": "http.request", "body": b""})
    await asyncio.wait_for(view_started.wait(), DEADLINE_S)
    await app.send({"type": "http.disconnect"})
    await app.finished()  # handle() returned: the request is over
    assert view_cancelled.is_set()


async def test_an_unexpected_message_after_the_body_is_still_an_error() -> None:
    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"more"}

    with pytest.raises(AssertionError, match="Invalid ASGI message after request body: http.request"):
        await WebASGIHandler().listen_for_disconnect(receive)


@pytest.mark.django_db(transaction=True, databases="__all__")
async def test_requests_run_on_the_request_threads_and_hand_their_connections_back(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.WEB_REQUEST_THREADS = 2
    handler = WebASGIHandler()
    served_on: list[str] = []
    check_database = health._check_database

    def recording_check(alias: str) -> str | None:
        served_on.append(threading.current_thread().name)
        return check_database(alias)

    monkeypatch.setattr(health, "_check_database", recording_check)
    for _ in range(4):
        assert await _get(handler, "/readyz") == 200  # every database answered, through the request threads
    assert served_on and all(name.startswith("web-request") for name in served_on)
    assert len(set(served_on)) <= 2

    def open_connections() -> list[str]:
        return [alias for alias in connections if connections[alias].connection is not None]

    # Like a threaded WSGI server: between requests a request thread holds no connection.
    for _ in range(2):
        assert await asyncio.wrap_future(handler._request_threads.submit(open_connections)) == []


async def test_an_exception_in_the_chain_still_becomes_a_response() -> None:
    assert await _get(WebASGIHandler(), "/no-such-page") == 404  # Http404 from the resolver, as in Django
