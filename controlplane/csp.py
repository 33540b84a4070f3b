"""Content-Security-Policy headers (issue #20): the admin's, set by a middleware, and ``with_csp`` for a
view that sends a policy of its own (the API docs). The live pages compute theirs per request
(live/views.py: the socket's origin is part of it).

The admin's policy: scripts from this origin only, no framing.

Django's admin runs no inline script (its templates load every script as a file), but it writes a few styles
inline (a <style> element on some change lists, and style attributes from its scripts), so styles may be
inline. Pages that set their own, stricter policy keep it (the live pages, the API docs).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse

View = Callable[..., HttpResponse]

ADMIN_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "font-src 'self' data:; connect-src 'self'; object-src 'none'; frame-ancestors 'none'; "
    "base-uri 'self'; form-action 'self'"
)
ADMIN_PREFIX = "/admin/"


class AdminContentSecurityPolicy:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if request.path.startswith(ADMIN_PREFIX):
            response.setdefault("Content-Security-Policy", ADMIN_CSP)
        return response


def with_csp(policy: str) -> Callable[[View], View]:
    """A view decorator: ``policy`` on every response that has none of its own."""

    def decorate(view: View) -> View:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            response = view(request, *args, **kwargs)
            response.setdefault("Content-Security-Policy", policy)
            return response

        return wrapped

    return decorate
